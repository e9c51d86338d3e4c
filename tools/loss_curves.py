"""Plot and tabulate training curves of several runs from their TensorBoard logs.

    python tools/loss_curves.py --run="fp32=runs/a" --run="bf16=runs/b" \
        --out=docs/reproduction/bf16_loss.png [--tag=per_frame/loss] [--steps=500,1000]

Documentation tooling, not part of the svg_tf package: how the loss comparisons in the
README (parity defaults vs the previous version, bfloat16 vs float32) were drawn. The logged
value is what training writes every `summary_every` steps: the running mean of the epoch so
far, per frame (the authors' convention).
"""

from __future__ import annotations

import glob
import os

from absl import app, flags

from svg_tf import cli


import tensorflow as tf

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined when it runs, so that importing read_scalar does not
    clash with the importer's flags)."""
    flags.DEFINE_multi_string("run", None, "LABEL=RUN_DIR (repeat): a training run to plot.")
    flags.DEFINE_string("out", None, "PNG to write (its folder is created).")
    flags.DEFINE_string("tag", "per_frame/loss", "Scalar to plot, as training logs it.")
    flags.DEFINE_list("steps", ["500", "1000", "2000"], "Steps whose values are printed.")
    flags.DEFINE_string("title", None, "Plot title (default: the tag).")


def read_scalar(run_dir: str, tag: str) -> dict[int, float]:
    """{step: value} of `tag` in RUN/train's event files (later files win on resume)."""
    paths = sorted(glob.glob(os.path.join(run_dir, "train", "events.out.tfevents.*")))
    if not paths:
        raise ValueError(f"{run_dir}: no TensorBoard event files in {run_dir}/train")
    values = {}
    for path in paths:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    if not values:
        raise ValueError(f"{run_dir}: no scalar {tag!r} in its training logs")
    return values


def _parse_run(spec: str) -> tuple[str, str]:
    label, sep, path = spec.rpartition("=")  # a label may hold "=", a path rarely
    if not sep or not label or not path:
        raise app.UsageError(f"--run={spec!r} is invalid: expected LABEL=RUN_DIR")
    return label, path


def main(argv):
    del argv
    if not FLAGS.run:
        raise app.UsageError("--run is required: LABEL=RUN_DIR, once per run")
    try:
        curves = {label: read_scalar(path, FLAGS.tag)
                  for label, path in map(_parse_run, FLAGS.run)}
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    steps = [int(s) for s in FLAGS.steps]
    print("| run | " + " | ".join(f"step {s}" for s in steps) + " |")
    print("|---" * (len(steps) + 1) + "|")
    for label, values in curves.items():
        cells = [f"{values[s]:.5f}" if s in values else "-" for s in steps]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if FLAGS.out:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for label, values in curves.items():
            xs = sorted(values)
            ax.plot(xs, [values[x] for x in xs], label=label)
        ax.set_xlabel("training step")
        ax.set_ylabel(FLAGS.tag)
        ax.set_yscale("log")
        ax.set_title(FLAGS.title or FLAGS.tag)
        ax.legend()
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
        fig.savefig(FLAGS.out, dpi=110)
        print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    cli.run(main, define_flags)
