"""What every program shares: --help exits 0 and is grouped, bad flags are one line with
status 2 and are checked before TensorFlow loads, warnings are one line."""

import subprocess
import sys

from svg_tf import cli

PROGRAMS = ["svg_tf.train", "svg_tf.evaluate", "svg_tf.convert_pytorch", "svg_tf.prepare_videos"]


def test_help_exits_zero_and_lists_the_flags():
    processes = [subprocess.Popen([sys.executable, "-m", program, "--help"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for program in PROGRAMS]
    for program, process in zip(PROGRAMS, processes):
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (program, stderr[-2000:])
        assert "--" in stdout and "python -m " + program in stdout
        # TensorFlow was loaded quietly (cli.QuietImport), or not at all
        assert not any(word in stderr for word in ("oneDNN", "cuda", "cpu_feature_guard")), \
            (program, stderr[-2000:])


def test_warnings_are_one_line_without_the_source_line():
    text = cli._one_line_warning("digits from the subset", UserWarning, "x.py", 3,
                                 "images, _, _ = load_digits(split)")
    assert text == "UserWarning: digits from the subset\n"


# Programs whose flags need no TensorFlow: --help and a refused flag never load it.
FLAGS_FIRST = ["svg_tf.train", "svg_tf.generate", "svg_tf.export", "svg_tf.convert_pytorch",
               "svg_tf.convert_lpips"]


def test_a_mistyped_flag_is_one_line_with_status_2_before_tensorflow_loads():
    """absl exited with status 1 (docs/training.md says 2) after loading TensorFlow (7-12 s):
    `python -X importtime` lists every module imported, so the check needs no clock."""
    processes = {program: subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", program, "--num_digit=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for program in FLAGS_FIRST + ["svg_tf.evaluate"]}
    for program, process in processes.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, (program, stderr[-2000:])
        name = program.split(".")[-1]
        messages = [line for line in stderr.splitlines() if not line.startswith("import time:")]
        assert messages == [f"{name}: error: Unknown command line flag 'num_digit'"
                            + (". Did you mean: num_digits ?" if name == "train" else ""),
                            "(--help lists every flag)"], (program, messages)
        imported = {line.split("|")[-1].strip() for line in stderr.splitlines()
                    if line.startswith("import time:")}
        assert ("tensorflow" in imported) == (program == "svg_tf.evaluate"), program


def test_train_help_is_grouped_by_concern():
    stdout = subprocess.run([sys.executable, "-m", "svg_tf.train", "--help"],
                            capture_output=True, text=True, timeout=300).stdout
    headings = [line[:-1] for line in stdout.splitlines() if line.endswith(":")
                and not line.startswith(" ")]
    assert headings == ["data", "model", "training", "output"], headings
    blocks, current = {}, None
    for line in stdout.splitlines():
        if line[:-1] in headings and line.endswith(":"):
            current = line[:-1]
        elif current and line.startswith("  --"):
            blocks.setdefault(current, []).append(line.split("=")[0].strip()[2:])
    assert {"dataset", "data_dir", "digits", "num_digits"} <= set(blocks["data"])
    assert {"model", "backbone", "z_dim", "beta", "preset"} <= set(blocks["model"])
    assert {"lr", "batch_size", "niter", "strategy"} <= set(blocks["training"])
    assert {"logdir", "checkpoint_every", "verbose"} <= set(blocks["output"])
    assert sum(map(len, blocks.values())) == len(set().union(*blocks.values()))  # each once
