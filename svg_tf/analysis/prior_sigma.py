"""Figure 6: the learned prior's sigma rises when a digit hits a wall.

    python -m svg_tf.analysis.prior_sigma --logdir=RUN [--num_sequences=100] [--num_steps=100]

Many SM-MNIST test sequences share one trajectory (different test digits). As in the paper
("test video sequences ... were fed into the learned prior"), the true frames go into the
prior and we record sigma_psi(x_{1:t-1}) (mean over z dimensions) for every frame t after
the n_past context frames (--conditioning=true_frames, the default). With
--conditioning=generated the model instead generates num_steps frames from the context and
the prior sees its own frames, which also measures how long the model keeps the digit sharp.
A wall hit at frame f makes frame f+1 unpredictable, so the prior for frame f+1 should be
wide: those are the "collision steps".
Writes RUN/analysis/prior_sigma.{png,json} (mean sigma at collision steps, elsewhere, ratio).
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags

from svg_tf import cli
from svg_tf import config as config_lib
from svg_tf.datasets import smmnist
from svg_tf.analysis.common import load_smmnist_run, savefig, write_json


def prior_sigma(logdir, num_sequences=100, num_steps=100, trajectory_seed=0, seed=0,
                batch_size=25, digits="auto", out_dir=None, conditioning="true_frames",
                bn=None, checkpoint=None):
    """Sigma of the learned prior along one shared trajectory (see the module docstring).
    checkpoint: a checkpoint prefix of the run (default: its latest); its results go to
    analysis/<checkpoint name>/ unless out_dir is given."""
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning={conditioning!r}: expected one of {CONDITIONINGS}")
    model, config = load_smmnist_run(logdir, checkpoint)
    if config.model != "lp":
        raise ValueError(f"{logdir} is an SVG-{config.model.upper()} run: only SVG-LP has a "
                         "learned prior")
    seq_len = config.n_past + num_steps
    data = smmnist.load("test", seq_len=seq_len, seed=seed,
                         num_digits=config.num_digits, num_sequences=num_sequences,
                         trajectory_seed=trajectory_seed, return_trajectories=True,
                         digits=digits, batch_size=batch_size)
    sigmas, hits = [], None
    for index, (videos, trajectory) in enumerate(data):
        if conditioning == "true_frames":
            _, sigma = model.prior_on_frames(videos, bn=bn)  # [B, T-1, z]: entry t-1 -> frame t
            sigma = sigma.numpy()[:, config.n_past - 1:]
        else:
            _, _, sigma = model.sample(videos[:, :config.n_past], num_steps, num_samples=1,
                                       seed=[seed, index], return_prior=True, bn=bn)
            sigma = sigma.numpy()[:, 0]
        sigmas.append(sigma.mean(-1))  # [B, steps]
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
    at, elsewhere = _split_means(per_step, collision)
    # Where the peak sits relative to the collision step: a prior that anticipates the wall
    # peaks one step early, one that only reacts peaks late.
    ratio_by_offset = {}
    for offset in range(-3, 4):
        shifted = np.zeros_like(collision)
        steps = np.flatnonzero(collision) + offset
        shifted[steps[(steps >= 0) & (steps < num_steps)]] = True
        on, off = _split_means(per_step, shifted)
        ratio_by_offset[str(offset)] = on / off if on is not None and off else None
    result = {
        "checkpoint": checkpoint,
        "bn": bn or config.sample_bn,
        "num_sequences": int(sigmas.shape[0]), "num_steps": num_steps,
        "n_past": config.n_past, "conditioning": conditioning,
        "trajectory_seed": trajectory_seed,
        "wall_hit_frames": {str(d): fs for d, fs in hit_frames.items()},
        "collision_frames": [int(f) for f in frames[collision]],
        "sigma_mean_per_step": per_step.tolist(),
        "sigma_std_per_step": sigmas.std(0).tolist(),
        "mean_sigma_at_collisions": at, "mean_sigma_elsewhere": elsewhere,
        "ratio": at / elsewhere if at is not None and elsewhere else None,
        "ratio_by_offset": ratio_by_offset,
    }
    if out_dir is None:
        out_dir = os.path.join(logdir, "analysis")
        if checkpoint:
            out_dir = os.path.join(out_dir, os.path.basename(checkpoint))
    write_json(os.path.join(out_dir, "prior_sigma.json"), result)
    _plot(frames, sigmas, hit_frames, os.path.join(out_dir, "prior_sigma.png"))
    return dict(result, out_dir=out_dir)


def _split_means(values, mask):
    """Mean of values where mask holds and where it does not (None for an empty side)."""
    on = float(values[mask].mean()) if mask.any() else None
    off = float(values[~mask].mean()) if (~mask).any() else None
    return on, off


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


CONDITIONINGS = ("true_frames", "generated")
FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "SVG-LP SM-MNIST run directory.")
    flags.DEFINE_integer("num_sequences", 100, "Sequences sharing the trajectory.")
    flags.DEFINE_integer("num_steps", 100, "Generated steps after the context.")
    flags.DEFINE_integer("trajectory_seed", 0, "Which shared trajectory.")
    flags.DEFINE_integer("seed", 0, "Digits and sampling seed.")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source.")
    flags.DEFINE_enum("bn", None, config_lib.SAMPLE_BN, config_lib.BN_HELP)
    flags.DEFINE_enum("conditioning", "true_frames", list(CONDITIONINGS),
                      "What the prior sees: true_frames (the paper's figure 6: the test "
                      "frames are fed into the prior) or generated (the model's own samples "
                      "after the n_past context frames).")
    flags.DEFINE_string("checkpoint", None,
                        "Checkpoint prefix to analyse (e.g. RUN/checkpoints/kept/ckpt-2000, "
                        "kept by train --keep_every); default: the latest. Results then go "
                        "to RUN/analysis/ckpt-N/.")


def main(argv):
    cli.check_arguments(argv, "logdir")
    try:
        result = prior_sigma(FLAGS.logdir, FLAGS.num_sequences, FLAGS.num_steps,
                             FLAGS.trajectory_seed, FLAGS.seed, digits=FLAGS.digits,
                             conditioning=FLAGS.conditioning, bn=FLAGS.bn,
                             checkpoint=FLAGS.checkpoint)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    at, elsewhere, ratio = (result[k] for k in ("mean_sigma_at_collisions",
                                                "mean_sigma_elsewhere", "ratio"))
    print(f"mean sigma at collisions {_fmt(at)}, elsewhere {_fmt(elsewhere)}, "
          f"ratio {_fmt(ratio)}")
    print(f"wrote {result['out_dir']}/prior_sigma.png, prior_sigma.json")


def _fmt(value):
    return "n/a (no collision in the window)" if value is None else f"{value:.4f}"


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
