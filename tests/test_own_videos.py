"""Your own videos: prepare_videos on mp4, avi, gif and a folder of PNG frames the test
writes, then train, evaluate, export with --dataset=videos; bad inputs in one line."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import svg_tf
from svg_tf import datasets
from svg_tf.datasets import video_files
from svg_tf.datasets.videos_prepare import prepare
from svg_tf.errors import FileReadError

pytestmark = pytest.mark.seconds(60)


def moving_square(num_frames, width=96, height=72, offset=0, color=(230, 60, 40)):
    """uint8 RGB frames `[T, H, W, 3]`: a square moving right on a gray background."""
    frames = np.full((num_frames, height, width, 3), 40, np.uint8)
    for t in range(num_frames):
        x = (offset + 3 * t) % (width - 24)
        frames[t, 24:48, x:x + 24] = color
    return frames


def write_video(path, frames, codec, rate=10):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        if codec != "gif":
            stream.options = {"qscale": "2"} if codec == "mpeg4" else {"crf": "10"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_frames(folder, frames):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for t, rgb in enumerate(frames):  # frame9 before frame10: natural order
        Image.fromarray(rgb).save(os.path.join(folder, f"frame{t}.png"))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """train: an mp4, an avi, a gif and a folder of PNG frames; test: an mp4 and a folder."""
    src = tmp_path_factory.mktemp("my_videos")
    os.makedirs(src / "train")
    write_video(src / "train" / "a.mp4", moving_square(24), "libx264")
    write_video(src / "train" / "b.avi", moving_square(20, offset=10), "mpeg4")
    write_video(src / "train" / "c.gif", moving_square(16, offset=20), "gif")
    write_frames(src / "train" / "d_frames", moving_square(14, offset=5))
    os.makedirs(src / "test")
    write_video(src / "test" / "e.mp4", moving_square(18, offset=7), "libx264")
    write_frames(src / "test" / "f", moving_square(12, offset=3))
    return src


@pytest.fixture(scope="module")
def prepared(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "out"
    prepare(str(source), str(out), image_size=64, channels=3, videos_per_shard=2,
            progress=False)
    return out


def test_manifest_counts_every_clip_of_every_format(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert (manifest["image_size"], manifest["channels"], manifest["resize"]) == (64, 3, "squash")
    assert manifest["splits"]["train"] == {"clips": 4, "frames": 24 + 20 + 16 + 14}
    assert manifest["splits"]["test"] == {"clips": 2, "frames": 18 + 12}
    names = [n for key in sorted(manifest["shards"]) for n in
             manifest["shards"][key]["clip_names"]]
    assert names == [os.path.join("test", "e.mp4"), os.path.join("test", "f"),
                     os.path.join("train", "a.mp4"), os.path.join("train", "b.avi"),
                     os.path.join("train", "c.gif"), os.path.join("train", "d_frames")]
    assert sorted(os.listdir(prepared / "train")) == ["shard-00000.tfrecord",
                                                       "shard-00001.tfrecord"]


def test_frames_hold_the_source_pictures_in_order(prepared, source):
    """The test folder f (lossless PNGs) read back equals its frames squashed to 64x64."""
    from PIL import Image

    test = list(datasets.load("videos", "test", seq_len=12, data_dir=str(prepared),
                              channels=3).as_numpy_iterator())
    assert len(test) == 2 and test[1].shape == (12, 64, 64, 3)
    expected = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BICUBIC))
                         for f in moving_square(12, offset=3)]) / 255.0
    np.testing.assert_allclose(test[1], expected, atol=1e-6)
    # the lossy mp4 keeps the moving red square: red where it was drawn
    mp4 = test[0]
    assert mp4[..., 0].max() > 0.75 and mp4[..., 1].min() < 0.35


def test_resize_conventions(tmp_path):
    from PIL import Image

    frame = np.zeros((60, 120, 3), np.uint8)
    frame[:, :30] = 255  # a bright band on the left quarter
    image = Image.fromarray(frame)
    squashed = video_files.square(image, 64, 1, "squash")
    cropped = video_files.square(image, 64, 1, "crop")
    assert squashed.shape == cropped.shape == (64, 64, 1)
    assert squashed[:, :14].min() > 240  # squash keeps the band (a quarter of the width)
    assert cropped.max() == 0  # the centred 60x60 square does not contain it
    with pytest.raises(ValueError, match="resize='stretch'.*squash.*crop"):
        video_files.square(image, 64, 1, "stretch")


def test_fps_keeps_one_frame_per_interval(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, moving_square(30), "libx264", rate=10)
    every = next(video_files.read_source(str(path), 64, 1))
    half = next(video_files.read_source(str(path), 64, 1, fps=5))
    assert (len(every), len(half)) == (30, 15)
    np.testing.assert_array_equal(half, every[::2])
    clips = list(video_files.read_source(str(path), 64, 1, max_clip_frames=12))
    assert [len(c) for c in clips] == [12, 12, 6]


def test_prepare_train_evaluate_export_with_the_programs(source, tmp_path):
    """The commands of the docs, run through the programs' own flag parsing (in one process:
    one TensorFlow start)."""
    from conftest import run_commands
    from svg_tf import run_dir

    prepared = tmp_path / "prepared"
    logdir = str(tmp_path / "run")
    tiny = ["--width=4", "--g_dim=8", "--z_dim=2", "--rnn_size=8", "--n_past=4",
            "--n_future=4", "--n_eval=10", "--batch_size=2", "--niter=1", "--epoch_size=2",
            "--verbose=0"]
    train = ["--dataset=videos", f"--data_dir={prepared}", *tiny]
    prepare, training, evaluation, export, generate = run_commands([
        ("svg_tf.prepare_videos", [[f"--src={source}", f"--out={prepared}"],
                                   [f"--src={source / 'train'}", f"--out={tmp_path / 'p2'}"]]),
        ("svg_tf.train", [[*train, f"--logdir={logdir}"],
                          [*train, "--channels=1", f"--logdir={logdir}2"]]),
        ("svg_tf.evaluate", [[f"--logdir={logdir}", "--num_samples=2", "--num_sequences=2",
                              "--batch_size=2"],
                             [f"--logdir={logdir}", "--protocol=srvp"]]),
        ("svg_tf.export", [[f"--logdir={logdir}", f"--export_dir={tmp_path / 'serving' / '1'}"]]),
        ("svg_tf.generate", [[f"--logdir={logdir}", "--num_samples=2",
                              f"--out={tmp_path / 'samples.png'}"]]),
    ])
    (code, err), (bad, why) = prepare
    assert code == 0, err
    assert bad == 2 and why.count("\n") <= 2 and "no train/ or test/ subfolder" in why
    (code, err), (refused, why) = training
    assert code == 0, err
    assert refused == 2 and "--channels=1 disagrees" in why and "holds channels 3" in why
    config = run_dir.read_config(logdir)
    assert (config.dataset, config.channels, config.image_size, config.backbone) == \
        ("videos", 3, 64, "vgg")  # channels and size from the manifest, model from kth
    (code, err), (refused, why) = evaluation
    assert code == 0, err
    metrics = json.loads(open(os.path.join(logdir, "eval", "metrics.json")).read())
    assert (metrics["protocol"]["dataset"], metrics["protocol"]["n_eval"]) == ("videos", 10)
    assert metrics["frames"] == [5, 6, 7, 8, 9, 10]  # the run's own n_past and n_eval
    assert refused == 2 and "videos" in why and "--protocol" in why
    [(code, err)] = export
    assert code == 0, err
    assert tf.saved_model.contains_saved_model(str(tmp_path / "serving" / "1"))
    [(code, err)] = generate
    assert code == 0, err
    from PIL import Image

    assert Image.open(tmp_path / "samples.png").size[0] > 10 * 64  # 10 frames side by side
    config, model = svg_tf.load_run(logdir)
    assert model.sample(np.zeros((2, 4, 64, 64, 3), np.float32), n_future=2).shape == \
        (2, 1, 2, 64, 64, 3)


def test_clips_shorter_than_seq_len_are_named_and_a_split_without_any_is_refused(
        prepared, caplog):
    with caplog.at_level("WARNING"):
        next(iter(datasets.load("videos", "train", seq_len=18, data_dir=str(prepared),
                                channels=3, batch_size=1, seed=0)))
    assert "skipping 2 of 4 clips shorter than seq_len=18" in caplog.text
    assert "c.gif (16)" in caplog.text and "d_frames (14)" in caplog.text
    with pytest.raises(ValueError, match=r"videos test: all 2 clips are shorter than "
                                         r"seq_len=20.*--n_eval"):
        datasets.load("videos", "test", seq_len=20, data_dir=str(prepared), channels=3)


def _prepare_error(src, out, **kwargs):
    with pytest.raises((FileReadError, ValueError)) as info:
        prepare(str(src), str(out), progress=False, **kwargs)
    return str(info.value)


def test_bad_sources_are_named_in_one_line(tmp_path, source):
    bad = tmp_path / "bad"
    os.makedirs(bad / "train")
    os.makedirs(bad / "test")
    assert "holds no videos" in _prepare_error(bad, tmp_path / "o1")
    write_video(bad / "test" / "ok.mp4", moving_square(12), "libx264")
    (bad / "train" / "empty.mp4").write_bytes(b"")
    message = _prepare_error(bad, tmp_path / "o2")
    assert message.startswith(str(bad / "train" / "empty.mp4")) and "0 bytes" in message
    (bad / "train" / "empty.mp4").write_bytes(b"this is not a video" * 50)
    message = _prepare_error(bad, tmp_path / "o3")
    assert message.startswith(str(bad / "train" / "empty.mp4")) and "decoded" in message
    assert not list((tmp_path / "o3").rglob("*.tmp"))
    # skip_bad skips it, names it in the manifest, and prepares the rest
    write_video(bad / "train" / "good.mp4", moving_square(12), "libx264")
    manifest = prepare(str(bad), str(tmp_path / "o4"), skip_bad=True, progress=False)
    assert manifest["splits"]["train"]["clips"] == 1
    assert "empty.mp4" in manifest["shards"]["train/shard-00000"]["skipped"][0]
    # frames of one clip of mixed sizes
    from PIL import Image

    os.makedirs(bad / "train" / "mixed")
    Image.new("RGB", (40, 30)).save(bad / "train" / "mixed" / "0.png")
    Image.new("RGB", (50, 30)).save(bad / "train" / "mixed" / "1.png")
    (bad / "train" / "empty.mp4").unlink()
    message = _prepare_error(bad, tmp_path / "o5")
    assert message.startswith(str(bad / "train" / "mixed" / "1.png")) and "50x30" in message
    # no train/test folders, a missing split file entry, bad flag values
    assert "no train/ or test/ subfolder" in _prepare_error(bad / "train", tmp_path / "o6")
    split_file = tmp_path / "split.txt"
    split_file.write_text("train train/a.mp4\ntest nowhere.mp4\n")
    message = _prepare_error(source, tmp_path / "o7", split_file=str(split_file))
    assert message.startswith(str(split_file)) and "line 2: nowhere.mp4 does not exist" in message
    assert "--image_size=100" in _prepare_error(source, tmp_path / "o8", image_size=100)


def test_frames_larger_than_the_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "v.mp4"
    write_video(path, moving_square(3), "libx264")
    monkeypatch.setattr(video_files, "MAX_FRAME_PIXELS", 96 * 72 - 1)
    with pytest.raises(FileReadError, match=r"v\.mp4: declares 96x72 frames, more than "
                                            r"6,911 pixels: refused"):
        next(video_files.read_source(str(path), 64, 3))


def test_videos_of_different_shapes_are_resized_with_one_warning(tmp_path, caplog):
    src = tmp_path / "src"
    os.makedirs(src / "train")
    os.makedirs(src / "test")
    write_video(src / "train" / "wide.mp4", moving_square(12, width=128, height=64), "libx264")
    write_video(src / "train" / "tall.mp4", moving_square(12, width=64, height=96), "libx264")
    write_video(src / "test" / "t.mp4", moving_square(12), "libx264")
    with caplog.at_level("WARNING"):
        manifest = prepare(str(src), str(tmp_path / "out"), channels=1, progress=False)
    assert manifest["splits"]["train"]["frames"] == 24
    assert "differ in aspect ratio" in caplog.text and "--resize=crop" in caplog.text


def test_a_killed_preparation_resumes_and_a_changed_one_is_refused(source, tmp_path):
    out = tmp_path / "out"
    script = (f"import os, signal\n"
              f"from svg_tf.datasets import shard_writer, videos_prepare\n"
              f"real = shard_writer._write_source\n"
              f"calls = []\n"
              f"def dying(*args):\n"
              f"    calls.append(1)\n"
              f"    if len(calls) == 4: os.kill(os.getpid(), signal.SIGKILL)\n"
              f"    return real(*args)\n"
              f"shard_writer._write_source = dying\n"
              f"videos_prepare.prepare({str(source)!r}, {str(out)!r}, videos_per_shard=1, "
              f"progress=False)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and len(manifest["shards"]) == 3
    assert list(out.rglob("*.tmp"))  # the shard being written when killed
    with pytest.raises(FileReadError, match="did not finish.*prepare_videos again"):
        datasets.load("videos", "train", seq_len=5, data_dir=str(out), channels=3)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.tfrecord")}
    manifest = prepare(str(source), str(out), videos_per_shard=1, progress=False)
    assert manifest["complete"] is True and len(manifest["shards"]) == 6
    assert manifest["splits"]["train"]["frames"] == 24 + 20 + 16 + 14
    assert not list(out.rglob("*.tmp"))
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # not rewritten
    message = _prepare_error(source, out, videos_per_shard=1, image_size=128)
    assert "image_size=64" in message and "new folder" in message


def test_video_files_are_squashed_or_cropped_like_frame_folders(tmp_path):
    """Video files are scaled by FFmpeg, frame folders by Pillow: the same convention, and
    pictures that agree up to the filter."""
    frames = np.zeros((4, 60, 120, 3), np.uint8)
    frames[:, :, :30] = 255  # a bright band on the left quarter
    write_video(tmp_path / "v.mp4", frames, "libx264")
    squashed = next(video_files.read_source(str(tmp_path / "v.mp4"), 64, 1, "squash"))
    cropped = next(video_files.read_source(str(tmp_path / "v.mp4"), 64, 1, "crop"))
    assert squashed.shape == cropped.shape == (4, 64, 64, 1)
    assert squashed[:, :, :12].min() > 220 and squashed[:, :, 20:].max() < 40
    assert cropped.max() < 40  # the centred 60x60 square does not contain the band
    write_frames(tmp_path / "f", frames)
    folder = next(video_files.read_source(str(tmp_path / "f"), 64, 1, "squash"))
    assert np.abs(folder.astype(int) - squashed.astype(int)).mean() < 3
