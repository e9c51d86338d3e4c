"""Figure 5: does the model's distribution of post-collision motion match the true one?

    python -m svg_tf.analysis.trajectories --logdir=RUN [--index=0] [--num_sequences=20]
        [--num_samples=50] [--num_steps=10]

Single-digit SM-MNIST. The first n_past frames of test trajectory `index` are kept and the
rest re-drawn by the true generator, many times and with different digits (the data
pipeline's fixed_frames option): that gives the true per-step distribution of (dx, dy). The
model continues the same conditioning frames num_samples times; the digit is located in each
generated frame by cross-correlation with the digit cropped from the first context frame.
Writes RUN/analysis/trajectories.{png,json}; the JSON has the per-step total-variation
distance between the two distributions of (dx, dy).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from svg_tf import datasets
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


def trajectories(logdir, index=0, num_sequences=20, num_samples=50, num_steps=10,
                 num_truth=2000, seed=0, digits="auto", out_dir=None):
    model, config = load_smmnist_run(logdir)
    n_past = config.n_past
    seq_len = n_past + num_steps
    common = dict(seq_len=seq_len, seed=seed, num_digits=1, fixed_frames=n_past,
                  fixed_trajectory_index=index, return_trajectories=True, digits=digits)
    truth = datasets.load("smmnist", "test", num_sequences=num_truth, batch_size=500, **common)
    true_pos = np.concatenate([t["position"].numpy()[:, :, 0] for _, t in truth])  # [N, T, 2]
    true_deltas = np.diff(true_pos, axis=1)[:, n_past - 1:]  # motion into each future frame

    model_deltas = [[] for _ in range(num_steps)]
    contexts = datasets.load("smmnist", "test", num_sequences=num_sequences, batch_size=1,
                             **common)
    for i, (video, trajectory) in enumerate(contexts):
        video = video.numpy()[0]
        positions = trajectory["position"].numpy()[0, :, 0]
        y, x = positions[0]
        template = video[0, y:y + 32, x:x + 32, 0]
        samples = model.sample(video[None, :n_past], num_steps, num_samples=num_samples,
                               seed=[seed, i]).numpy()[0]  # [S, steps, H, W, 1]
        found = locate(samples[..., 0].reshape(-1, *samples.shape[2:4]), template)
        found = found.reshape(num_samples, num_steps, 2)
        previous = np.concatenate(
            [np.broadcast_to(positions[n_past - 1], (num_samples, 1, 2)), found], axis=1)
        deltas = np.diff(previous, axis=1)
        for t in range(num_steps):
            model_deltas[t].append(deltas[:, t])
    model_deltas = [np.concatenate(d) for d in model_deltas]

    steps, tv = [], []
    model_hists, true_hists = [], []
    for t in range(num_steps):
        p, q = histogram(model_deltas[t]), histogram(true_deltas[:, t])
        model_hists.append(p)
        true_hists.append(q)
        steps.append(n_past + t)
        tv.append(total_variation(p, q))
    result = {"index": index, "n_past": n_past, "frames": steps,
              "num_model_trajectories": int(len(model_deltas[0])),
              "num_true_trajectories": int(len(true_deltas)),
              "total_variation_per_step": tv, "mean_total_variation": float(np.mean(tv)),
              "delta_range": [-MAX_DELTA, MAX_DELTA]}
    out_dir = out_dir or os.path.join(logdir, "analysis")
    write_json(os.path.join(out_dir, "trajectories.json"), result)
    _plot(steps, model_hists, true_hists, tv, os.path.join(out_dir, "trajectories.png"))
    return result


def _plot(steps, model_hists, true_hists, tv, path):
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
        axes[0, t].set_title(f"t={steps[t] + 1}\nTV {tv[t]:.2f}", fontsize=8)
    fig.suptitle("distribution of (dx, dy) per step", fontsize=9)
    savefig(fig, path)


FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "SM-MNIST run directory (best trained with num_digits=1).")
    flags.DEFINE_integer("index", 0, "Test trajectory whose first frames are kept.")
    flags.DEFINE_integer("num_sequences", 20, "Conditioning sequences (different digits).")
    flags.DEFINE_integer("num_samples", 50, "Model samples per conditioning sequence.")
    flags.DEFINE_integer("num_steps", 10, "Predicted steps analysed.")
    flags.DEFINE_integer("num_truth", 2000, "True continuations drawn from the generator.")
    flags.DEFINE_integer("seed", 0, "Seed.")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source.")


def main(argv):
    del argv
    if not FLAGS.logdir:
        raise app.UsageError("--logdir is required")
    try:
        result = trajectories(FLAGS.logdir, FLAGS.index, FLAGS.num_sequences,
                              FLAGS.num_samples, FLAGS.num_steps, FLAGS.num_truth, FLAGS.seed,
                              FLAGS.digits)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    print("total variation per step: " + ", ".join(
        f"{v:.2f}" for v in result["total_variation_per_step"]))
    print(f"wrote {os.path.join(FLAGS.logdir, 'analysis')}/trajectories.png, trajectories.json")


if __name__ == "__main__":
    define_flags()
    app.run(main)
