"""KTH conversion and reading on AVI files the test writes; BAIR read from TFRecords written
in the exact original softmotion30_44k format; bad input of every kind."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from svg_tf import datasets
from svg_tf.datasets import kth_convert
from svg_tf.datasets.records import CorruptRecordError

pytestmark = pytest.mark.seconds(36)

# ---------------------------------------------------------------- KTH


def _write_avi(path, frames):
    import av

    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"qscale": "2"}
        for gray in frames:
            rgb = np.repeat(gray[..., None], 3, axis=-1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _moving_block(num_frames, offset):
    frames = np.full((num_frames, 120, 160), 30, np.uint8)
    for t in range(num_frames):
        x = (offset + 4 * t) % 120
        frames[t, 40:80, x:x + 40] = 220
    return frames


@pytest.fixture(scope="module")
def kth_raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("kth_raw")
    lines = []
    for person in (1, 2, 3):
        for action in ("boxing", "walking"):
            name = f"person{person:02d}_{action}_d1"
            os.makedirs(raw / action, exist_ok=True)
            _write_avi(raw / action / f"{name}_uncomp.avi", _moving_block(30, 10 * person))
            lines.append(f"{name}\t\tframes\t1-12, 13-28\n")
    (raw / "00sequences.txt").write_text("".join(lines))
    return raw


@pytest.fixture(scope="module")
def kth_dir(kth_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("kth_64")
    kth_convert.convert(str(kth_raw), str(out), str(kth_raw / "00sequences.txt"),
                        train_persons="1-2", test_persons="3", progress=False)
    return out


def test_kth_manifest_counts_and_rerun_is_noop(kth_raw, kth_dir):
    manifest = json.loads((kth_dir / "manifest.json").read_text())
    assert manifest["splits"]["train"]["clips"] == 8  # 2 persons x 2 actions x 2 clips
    assert manifest["splits"]["train"]["frames"] == 8 * 14  # clips of 12 and 16 frames
    assert manifest["splits"]["test"]["actions"]["walking"] == {"clips": 2, "frames": 28}
    shards = sorted(p.name for p in (kth_dir / "train").iterdir())
    assert shards == ["person01_boxing.tfrecord", "person01_walking.tfrecord",
                      "person02_boxing.tfrecord", "person02_walking.tfrecord"]
    before = {p: p.stat().st_mtime_ns for p in kth_dir.rglob("*.tfrecord")}
    again = kth_convert.convert(str(kth_raw), str(kth_dir), str(kth_raw / "00sequences.txt"),
                                train_persons="1-2", test_persons="3", progress=False)
    assert again["splits"] == manifest["splits"]
    assert {p: p.stat().st_mtime_ns for p in kth_dir.rglob("*.tfrecord")} == before
    assert not list(kth_dir.rglob("*.tmp"))


def test_kth_reader_values_match_the_decoded_video(kth_raw, kth_dir):
    test = list(datasets.load("kth", "test", seq_len=10, data_dir=str(kth_dir), seed=0)
                .as_numpy_iterator())
    assert len(test) == 4 and test[0].shape == (10, 64, 64, 1) and test[0].dtype == np.float32
    again = list(datasets.load("kth", "test", seq_len=10, data_dir=str(kth_dir), seed=0)
                 .as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(test), np.stack(again))  # fixed windows
    decoded = kth_convert.decode_video(str(kth_raw / "boxing" / "person03_boxing_d1_uncomp.avi"))
    assert decoded.shape == (30, 64, 64)
    clip = decoded[0:12] / 255.0  # first clip of the first test shard
    matches = [s for s in range(3) if np.allclose(test[0][..., 0], clip[s:s + 10], atol=1e-6)]
    assert matches, "the test window is not a window of the decoded clip"
    # and the content is the drawn block: bright where the block is, dark elsewhere
    assert test[0].max() > 0.75 and test[0].min() < 0.2


def test_kth_train_stream_and_short_clips(kth_dir, caplog):
    batch = next(iter(datasets.load("kth", "train", seq_len=8, batch_size=3,
                                    data_dir=str(kth_dir), seed=1)))
    assert batch.shape == (3, 8, 64, 64, 1)
    with caplog.at_level("WARNING"):
        test = list(datasets.load("kth", "test", seq_len=14, data_dir=str(kth_dir))
                    .as_numpy_iterator())
    assert len(test) == 2  # the two 12-frame clips are skipped ...
    assert "skipping 2 of 4 clips shorter than seq_len=14" in caplog.text  # ... and counted


def test_kth_split_without_a_long_enough_clip_is_refused_up_front(kth_dir):
    """Used to hang forever at "epoch 1/1" (train) or crash with "need at least one array
    to stack" (test) when every clip was shorter than the sequence."""
    with pytest.raises(ValueError, match=r"kth train: all 8 clips are shorter than seq_len=40 "
                                         r"frames \(the longest has 16\).*--n_past/--n_future"):
        datasets.load("kth", "train", seq_len=40, data_dir=str(kth_dir))
    with pytest.raises(ValueError, match=r"kth test: all 4 clips.*seq_len=20.*--n_eval"):
        datasets.load("kth", "test", seq_len=20, data_dir=str(kth_dir))


def test_kth_wrong_frame_size(kth_raw, tmp_path):
    out = tmp_path / "kth_128"
    kth_convert.convert(str(kth_raw), str(out), None, image_size=128, train_persons="1",
                        test_persons="3", progress=False)
    with pytest.raises(ValueError, match="128 px.*image_size=64"):
        datasets.load("kth", "test", seq_len=5, data_dir=str(out))
    os.remove(out / "manifest.json")  # without a manifest the decoder catches it
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected \[64, 64\]"):
        list(datasets.load("kth", "test", seq_len=5, data_dir=str(out)))


def test_kth_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="convert_kth.py"):
        datasets.load("kth", "train", seq_len=5, data_dir=str(tmp_path / "nothing"))
    os.makedirs(tmp_path / "empty" / "train")
    with pytest.raises(FileNotFoundError, match=r"no TFRecord shards.*empty"):
        datasets.load("kth", "train", seq_len=5, data_dir=str(tmp_path / "empty"))


# ---------------------------------------------------------------- BAIR


def _bair_example(rng, size=64):
    frames, feature = [], {}
    for i in range(30):
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        main = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        frames.append((pixels, main))
        feature[f"{i}/image_aux1/encoded"] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[pixels.tobytes()]))
        feature[f"{i}/image_main/encoded"] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[main.tobytes()]))
        feature[f"{i}/action"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=rng.normal(size=4).tolist()))
        feature[f"{i}/endeffector_pos"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=rng.normal(size=3).tolist()))
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(), frames


def _write_bair(root, records_per_split=3, size=64, seed=0):
    rng = np.random.default_rng(seed)
    truth = {}
    for split in ("train", "test"):
        folder = root / "softmotion30_44k" / split
        os.makedirs(folder, exist_ok=True)
        truth[split] = []
        path = folder / f"traj_0_to_{records_per_split - 1}.tfrecords"
        with tf.io.TFRecordWriter(str(path)) as w:
            for _ in range(records_per_split):
                serialized, frames = _bair_example(rng, size)
                w.write(serialized)
                truth[split].append(frames)
    return truth


def test_bair_reader_returns_the_original_pixels(tmp_path):
    truth = _write_bair(tmp_path)
    test = list(datasets.load("bair", "test", seq_len=12, data_dir=str(tmp_path))
                .as_numpy_iterator())
    assert len(test) == 3 and test[0].shape == (12, 64, 64, 3)
    for video, frames in zip(test, truth["test"]):
        expected = np.stack([aux for aux, _ in frames[:12]])
        np.testing.assert_array_equal(np.round(video * 255).astype(np.uint8), expected)
    main = next(iter(datasets.load("bair", "test", seq_len=2, camera="image_main",
                                   data_dir=str(tmp_path / "softmotion30_44k")))).numpy()
    np.testing.assert_array_equal(np.round(main * 255).astype(np.uint8),
                                  np.stack([m for _, m in truth["test"][0][:2]]))
    batch = next(iter(datasets.load("bair", "train", seq_len=30, batch_size=5,
                                    data_dir=str(tmp_path), seed=0)))
    assert batch.shape == (5, 30, 64, 64, 3)  # 3 records, endless stream


def test_bair_corrupt_and_truncated_records(tmp_path):
    _write_bair(tmp_path)
    path = tmp_path / "softmotion30_44k" / "test" / "traj_0_to_2.tfrecords"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 1000])  # truncated
    with pytest.raises(CorruptRecordError, match="traj_0_to_2.tfrecords: truncated record"):
        datasets.load("bair", "test", seq_len=2, data_dir=str(tmp_path))
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF  # a payload byte: only a full check sees it
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptRecordError, match="traj_0_to_2.tfrecords: corrupted record"):
        datasets.load("bair", "test", seq_len=2, data_dir=str(tmp_path), verify="full")
    with pytest.warns(UserWarning, match=r"skipped 1 damaged TFRecord file\(s\) of 1"):
        with pytest.raises(FileNotFoundError, match="no usable shards"):
            datasets.load("bair", "test", seq_len=2, data_dir=str(tmp_path), verify="full",
                          skip_corrupt=True)


def test_bair_wrong_frame_size_and_missing_folder(tmp_path):
    _write_bair(tmp_path, records_per_split=1, size=32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected 64x64x3 = 12288"):
        list(datasets.load("bair", "test", seq_len=2, data_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*download_bair.sh"):
        datasets.load("bair", "train", seq_len=2, data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="camera='left'"):
        datasets.load("bair", "train", seq_len=2, data_dir=str(tmp_path), camera="left")


# ---------------------------------------------------------------- training end to end


def _tiny(dataset):
    """The data path end to end. The backbone is DCGAN (the presets' VGG costs twice the
    tracing time here; VGG trains end to end in tests/test_own_videos.py)."""
    from svg_tf.config import get_config

    return get_config(dataset, "lp", backbone="dcgan", width=4, g_dim=16, z_dim=4,
                      rnn_size=32, n_past=2, n_future=2, n_eval=6, batch_size=2, niter=1,
                      epoch_size=2)


def test_train_evaluate_on_kth_and_bair_shards(kth_dir, tmp_path):
    from svg_tf.evaluation import evaluate_run
    from svg_tf.training import train

    _write_bair(tmp_path / "bair")
    for dataset, data_dir in (("kth", str(kth_dir)), ("bair", str(tmp_path / "bair"))):
        logdir = str(tmp_path / f"run_{dataset}")
        result = train(_tiny(dataset), logdir, data_dir=data_dir, verbose=0,
                       strategy="default")
        assert result["step"] == 2 and np.isfinite(result["metrics"]["loss"])
        assert os.path.exists(os.path.join(logdir, "samples", "epoch_001.gif"))
        # no data_dir: the run recorded where its data is (RUN/data.json)
        with open(os.path.join(logdir, "data.json")) as f:
            assert json.load(f)["data_dir"] == os.path.abspath(data_dir)
        scores = evaluate_run(logdir, num_samples=2, num_sequences=2, batch_size=2,
                              progress=False)
        assert scores["frames"] == [3, 4, 5, 6]
