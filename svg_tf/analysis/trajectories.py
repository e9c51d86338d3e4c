"""Figure 5: does the model's distribution of post-collision motion match the true one?

    python -m svg_tf.analysis.trajectories --logdir=RUN [--index=-1] [--num_sequences=20]
        [--num_samples=50] [--num_steps=10]

Single-digit SM-MNIST. The first n_past frames of test trajectory `index` are kept and the
rest re-drawn by the true generator, many times and with different digits (the data
pipeline's fixed_frames option): that gives the true per-step distribution of (dx, dy). The
model continues the same conditioning frames num_samples times; the digit is located in each
generated frame by cross-correlation with the digit cropped from the first context frame.
index=-1 (default) picks the first test trajectory whose digit hits a wall early in the
predicted window, as the paper's examples do: without a collision the true distribution is
a point and the figure says nothing about bounces.
Writes RUN/analysis/trajectories.{png,json}; the JSON has, per step, the total-variation
distance between the two (dx, dy) histograms (exact pixel bins, harsh on 1-px localisation
errors) and the 1-D Wasserstein distances of dx and dy summed (in pixels, robust to them),
and their means over the steps after the collision.
"""

from __future__ import annotations

import os
import warnings

from absl import app, flags

from svg_tf import cli


import numpy as np
import tensorflow as tf

from svg_tf import config as config_lib
from svg_tf.datasets.mnist_digits import load_digits
from svg_tf.datasets import smmnist
from svg_tf.datasets.smmnist import sequence_spec
from svg_tf.analysis.common import load_smmnist_run, savefig, write_json

MAX_DELTA = 8  # clamping at walls can move a digit by more than the speed limit of 4


def locate(frames, template):
    """Top-left (y, x) of the best match of `template` `[s, s]` in frames `[N, H, W]`."""
    frames = tf.convert_to_tensor(frames, tf.float32)[..., None]
    kernel = tf.convert_to_tensor(template, tf.float32)[:, :, None, None]
    score = tf.nn.conv2d(frames, kernel, strides=1, padding="VALID")[..., 0]
    flat = tf.argmax(tf.reshape(score, [tf.shape(score)[0], -1]), axis=1, output_type=tf.int32)
    width = tf.shape(score)[2]
    return tf.stack([flat // width, flat % width], axis=1).numpy()


def histogram(deltas):
    """Normalised 2-D histogram of integer (dy, dx) `[N, 2]` over [-8, 8]^2."""
    counts = np.zeros((2 * MAX_DELTA + 1, 2 * MAX_DELTA + 1))
    clipped = np.clip(deltas, -MAX_DELTA, MAX_DELTA) + MAX_DELTA
    np.add.at(counts, (clipped[:, 0], clipped[:, 1]), 1)
    return counts / max(len(deltas), 1)


def total_variation(p, q):
    return 0.5 * float(np.abs(p - q).sum())


def wasserstein_1d(a, b, num_quantiles=1000):
    """Earth mover's distance between two 1-D samples (mean gap of their quantiles)."""
    q = (np.arange(num_quantiles) + 0.5) / num_quantiles
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def first_collision(seed, index, n_past, seq_len, num_available):
    """Frame at which the test trajectory's digit first hits a wall at or after the last
    context frame (motion into the next frame is then random), or None."""
    *_, hits = sequence_spec(seed, "test", index, seq_len, 1, num_available,
                             fixed_frames=n_past, fixed_trajectory_index=index)
    later = np.flatnonzero(hits[n_past - 1:, 0])
    return int(later[0]) + n_past - 1 if later.size else None


def choose_trajectory(seed, n_past, num_steps, num_available, max_index=1000):
    """First test trajectory with a deterministic predicted step before its first collision
    and at least half the analysed steps after it."""
    seq_len = n_past + num_steps
    for index in range(max_index):
        hit = first_collision(seed, index, n_past, seq_len, num_available)
        if hit is not None and n_past <= hit < n_past + num_steps // 2:
            return index
    raise ValueError(f"none of the first {max_index} test trajectories hits a wall in "
                     f"frames {n_past}-{n_past + num_steps // 2 - 1}: pass --index")


def trajectories(logdir, index=-1, num_sequences=20, num_samples=50, num_steps=10,
                 num_truth=2000, seed=0, digits="auto", out_dir=None, bn=None):
    model, config = load_smmnist_run(logdir)
    note = None
    if config.num_digits != 1:
        note = (f"{logdir} was trained on {config.num_digits}-digit sequences; this analysis "
                "conditions it on single-digit sequences (one digit to locate per frame), "
                "which it never saw in training. Train with --num_digits=1 for figure 5.")
        warnings.warn(note, stacklevel=2)
    bn = bn or config.sample_bn
    if bn == "batch" and num_sequences < 2:
        raise ValueError("bn='batch' samples the conditioning sequences as one batch and needs "
                         "num_sequences >= 2; pass bn='running'")
    n_past = config.n_past
    seq_len = n_past + num_steps
    num_available = len(load_digits("test", digits)[0])
    if index < 0:
        index = choose_trajectory(seed, n_past, num_steps, num_available)
    hit = first_collision(seed, index, n_past, seq_len, num_available)
    common = dict(seq_len=seq_len, seed=seed, num_digits=1, fixed_frames=n_past,
                  fixed_trajectory_index=index, return_trajectories=True, digits=digits)
    truth = smmnist.load("test", num_sequences=num_truth, batch_size=500, **common)
    true_pos = np.concatenate([t["position"].numpy()[:, :, 0] for _, t in truth])  # [N, T, 2]
    true_deltas = np.diff(true_pos, axis=1)[:, n_past - 1:]  # motion into each future frame

    model_deltas = [[] for _ in range(num_steps)]
    contexts = smmnist.load("test", num_sequences=num_sequences,
                             batch_size=num_sequences, **common)
    # One batch: with bn='batch' the conditioning sequences share batch-norm statistics.
    videos, trajectory = next(iter(contexts))
    all_samples = model.sample(videos[:, :n_past], num_steps, num_samples=num_samples,
                               seed=[seed, 0], bn=bn).numpy()  # [N, S, steps, H, W, 1]
    for i, video in enumerate(videos.numpy()):
        positions = trajectory["position"].numpy()[i, :, 0]
        y, x = positions[0]
        template = video[0, y:y + 32, x:x + 32, 0]
        samples = all_samples[i]
        found = locate(samples[..., 0].reshape(-1, *samples.shape[2:4]), template)
        found = found.reshape(num_samples, num_steps, 2)
        previous = np.concatenate(
            [np.broadcast_to(positions[n_past - 1], (num_samples, 1, 2)), found], axis=1)
        deltas = np.diff(previous, axis=1)
        for t in range(num_steps):
            model_deltas[t].append(deltas[:, t])
    model_deltas = [np.concatenate(d) for d in model_deltas]

    steps, tv, emd = [], [], []
    model_hists, true_hists = [], []
    for t in range(num_steps):
        p, q = histogram(model_deltas[t]), histogram(true_deltas[:, t])
        model_hists.append(p)
        true_hists.append(q)
        steps.append(n_past + t)
        tv.append(total_variation(p, q))
        emd.append(sum(wasserstein_1d(model_deltas[t][:, k], true_deltas[:, t, k])
                       for k in range(2)))
    # Step t moves the digit from frame n_past-1+t to n_past+t: random once past the hit.
    after = [t for t in range(num_steps) if hit is not None and n_past - 1 + t >= hit]
    result = {"index": index, "n_past": n_past, "frames": steps,
              "first_collision_frame": hit, "steps_after_collision": after,
              "num_model_trajectories": int(len(model_deltas[0])),
              "num_true_trajectories": int(len(true_deltas)),
              "total_variation_per_step": tv, "mean_total_variation": float(np.mean(tv)),
              "wasserstein_per_step": emd, "mean_wasserstein": float(np.mean(emd)),
              "mean_wasserstein_after_collision":
                  float(np.mean([emd[t] for t in after])) if after else None,
              "mean_total_variation_after_collision":
                  float(np.mean([tv[t] for t in after])) if after else None,
              "delta_range": [-MAX_DELTA, MAX_DELTA], "bn": bn,
              "num_digits_trained": config.num_digits, "num_digits_analysed": 1}
    if note:
        result["note"] = note
    out_dir = out_dir or os.path.join(logdir, "analysis")
    write_json(os.path.join(out_dir, "trajectories.json"), result)
    _plot(steps, model_hists, true_hists, tv, emd, after,
          os.path.join(out_dir, "trajectories.png"))
    return result


def _plot(steps, model_hists, true_hists, tv, emd, after, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(steps)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.2), dpi=100, squeeze=False)
    extent = [-MAX_DELTA - 0.5, MAX_DELTA + 0.5, MAX_DELTA + 0.5, -MAX_DELTA - 0.5]
    for t in range(n):
        for row, hists, name in ((0, model_hists, "model"), (1, true_hists, "truth")):
            ax = axes[row, t]
            ax.imshow(hists[t], extent=extent, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if t == 0:
                ax.set_ylabel(name)
        bounce = " *" if after and t == after[0] else ""
        axes[0, t].set_title(f"t={steps[t] + 1}{bounce}\nTV {tv[t]:.2f} W {emd[t]:.1f}",
                             fontsize=8)
    fig.suptitle("distribution of (dx, dy) per step (* first step after the wall hit; "
                 "TV: total variation, W: Wasserstein of dx + dy in px)", fontsize=9)
    savefig(fig, path)


FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "SM-MNIST run directory (best trained with num_digits=1).")
    flags.DEFINE_integer("index", -1, "Test trajectory whose first frames are kept; -1 picks "
                         "the first one that hits a wall early in the predicted frames.")
    flags.DEFINE_integer("num_sequences", 20, "Conditioning sequences (different digits).")
    flags.DEFINE_integer("num_samples", 50, "Model samples per conditioning sequence.")
    flags.DEFINE_integer("num_steps", 10, "Predicted steps analysed.")
    flags.DEFINE_integer("num_truth", 2000, "True continuations drawn from the generator.")
    flags.DEFINE_integer("seed", 0, "Seed.")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source.")
    flags.DEFINE_enum("bn", None, config_lib.SAMPLE_BN, config_lib.BN_HELP)


def main(argv):
    cli.check_arguments(argv, "logdir")
    try:
        result = trajectories(FLAGS.logdir, FLAGS.index, FLAGS.num_sequences,
                              FLAGS.num_samples, FLAGS.num_steps, FLAGS.num_truth, FLAGS.seed,
                              FLAGS.digits, bn=FLAGS.bn)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    if "note" in result:
        print(f"note: {result['note']}")
    print(f"trajectory {result['index']}, first wall hit at frame "
          f"{result['first_collision_frame']}")
    print("total variation per step: " + ", ".join(
        f"{v:.2f}" for v in result["total_variation_per_step"]))
    print("Wasserstein (px) per step: " + ", ".join(
        f"{v:.2f}" for v in result["wasserstein_per_step"]))
    print(f"wrote {os.path.join(FLAGS.logdir, 'analysis')}/trajectories.png, trajectories.json")


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
