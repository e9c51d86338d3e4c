"""Figure 6: the learned prior's sigma rises when a digit hits a wall.

    python -m svg_tf.analysis.prior_sigma --logdir=RUN [--num_sequences=100] [--num_steps=100]

Many SM-MNIST test sequences share one trajectory (different test digits); the model, after
its n_past context frames, generates num_steps frames while we record the prior's sigma
(mean over z dimensions) at each step. A wall hit at frame f makes frame f+1 unpredictable,
so the prior that generates frame f+1 should be wide: those are the "collision steps".
Writes RUN/analysis/prior_sigma.{png,json} (mean sigma at collision steps, elsewhere, ratio).
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags

from svg_tf import datasets
from svg_tf.analysis.common import load_smmnist_run, savefig, write_json


def prior_sigma(logdir, num_sequences=100, num_steps=100, trajectory_seed=0, seed=0,
                batch_size=25, digits="auto", out_dir=None):
    model, config = load_smmnist_run(logdir)
    if config.model != "lp":
        raise ValueError(f"{logdir} is an SVG-{config.model.upper()} run: only SVG-LP has a "
                         "learned prior")
    seq_len = config.n_past + num_steps
    data = datasets.load("smmnist", "test", seq_len=seq_len, seed=seed,
                         num_digits=config.num_digits, num_sequences=num_sequences,
                         trajectory_seed=trajectory_seed, return_trajectories=True,
                         digits=digits, batch_size=batch_size)
    sigmas, hits = [], None
    for index, (videos, trajectory) in enumerate(data):
        _, _, sigma = model.sample(videos[:, :config.n_past], num_steps, num_samples=1,
                                   seed=[seed, index], return_prior=True)
        sigmas.append(sigma.numpy()[:, 0].mean(-1))  # [B, steps]
        hits = trajectory["wall_hit"].numpy()[0]  # [T, D], shared by every sequence
    sigmas = np.concatenate(sigmas)
    frames = np.arange(config.n_past, seq_len)  # frame generated at each step (0-based)
    hit_frames = {d: [int(f) for f in np.flatnonzero(hits[:, d])] for d in range(hits.shape[1])}
    collision = np.zeros(num_steps, bool)
    for d, fs in hit_frames.items():
        for f in fs:
            if config.n_past <= f + 1 < seq_len:
                collision[f + 1 - config.n_past] = True
    per_step = sigmas.mean(0)
    at = float(per_step[collision].mean()) if collision.any() else None
    elsewhere = float(per_step[~collision].mean()) if (~collision).any() else None
    result = {
        "num_sequences": int(sigmas.shape[0]), "num_steps": num_steps,
        "n_past": config.n_past, "trajectory_seed": trajectory_seed,
        "wall_hit_frames": {str(d): fs for d, fs in hit_frames.items()},
        "collision_frames": [int(f) for f in frames[collision]],
        "sigma_mean_per_step": per_step.tolist(),
        "sigma_std_per_step": sigmas.std(0).tolist(),
        "mean_sigma_at_collisions": at, "mean_sigma_elsewhere": elsewhere,
        "ratio": at / elsewhere if at is not None and elsewhere else None,
    }
    out_dir = out_dir or os.path.join(logdir, "analysis")
    write_json(os.path.join(out_dir, "prior_sigma.json"), result)
    _plot(frames, sigmas, hit_frames, os.path.join(out_dir, "prior_sigma.png"))
    return result


def _plot(frames, sigmas, hit_frames, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean, std = sigmas.mean(0), sigmas.std(0)
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    ax.plot(frames, mean, color="black", label="prior sigma (mean over z)")
    ax.fill_between(frames, mean - std, mean + std, color="grey", alpha=0.3)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange"]
    for d, fs in hit_frames.items():
        for i, f in enumerate(fs):
            if frames[0] <= f + 1 <= frames[-1]:
                ax.axvline(f + 1, color=colors[d % 4], linestyle="--", linewidth=1,
                           label=f"digit {d + 1} bounces" if i == 0 else None)
    ax.set_xlabel("frame")
    ax.set_ylabel("learned prior sigma")
    ax.legend(loc="upper right", fontsize=8)
    savefig(fig, path)


FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "SVG-LP SM-MNIST run directory.")
    flags.DEFINE_integer("num_sequences", 100, "Sequences sharing the trajectory.")
    flags.DEFINE_integer("num_steps", 100, "Generated steps after the context.")
    flags.DEFINE_integer("trajectory_seed", 0, "Which shared trajectory.")
    flags.DEFINE_integer("seed", 0, "Digits and sampling seed.")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source.")


def main(argv):
    del argv
    if not FLAGS.logdir:
        raise app.UsageError("--logdir is required")
    try:
        result = prior_sigma(FLAGS.logdir, FLAGS.num_sequences, FLAGS.num_steps,
                             FLAGS.trajectory_seed, FLAGS.seed, digits=FLAGS.digits)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    print(f"mean sigma at collisions {result['mean_sigma_at_collisions']}, elsewhere "
          f"{result['mean_sigma_elsewhere']}, ratio {result['ratio']}")
    print(f"wrote {os.path.join(FLAGS.logdir, 'analysis')}/prior_sigma.png, prior_sigma.json")


if __name__ == "__main__":
    define_flags()
    app.run(main)
