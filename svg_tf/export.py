"""Export a run for TF Serving: `python -m svg_tf.export --logdir=RUN --export_dir=DIR/1`.

Writes a SavedModel (signatures serving_default = sampling, and reconstruct) that loads with
nothing but TensorFlow, plus config.json and README.md beside it, and prints the signatures.
"""

from __future__ import annotations

from absl import app, flags

from svg_tf import cli
from svg_tf.serving_limits import ServingLimits

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "Training run directory.")
    flags.DEFINE_string("export_dir", None,
                        "Where to write the SavedModel: a new version folder, DIR/VERSION, as "
                        "TF Serving expects.")
    flags.DEFINE_string("checkpoint", None, "Checkpoint to export (default: the latest).")
    defaults = ServingLimits()
    flags.DEFINE_integer("max_batch", defaults.max_batch,
                         "Most sequences per request (context or frames batch).")
    flags.DEFINE_integer("max_num_samples", defaults.max_num_samples,
                         "Most samples per sequence in one request.")
    flags.DEFINE_integer("max_n_future", defaults.max_n_future,
                         "Most predicted frames per sample in one request.")
    flags.DEFINE_integer("max_frames", defaults.max_frames,
                         "Most predicted frames in one request (batch x num_samples x "
                         "n_future): bounds its memory (1,000 samples of one 64 px context were "
                         "reported to use 2.6 GB).")


def main(argv):
    cli.check_arguments(argv, "logdir", "export_dir")
    from svg_tf.serving import describe_signatures, directory_size, export

    try:
        limits = ServingLimits(max_batch=FLAGS.max_batch, max_num_samples=FLAGS.max_num_samples,
                               max_n_future=FLAGS.max_n_future, max_frames=FLAGS.max_frames)
        path = export(FLAGS.logdir, FLAGS.export_dir, FLAGS.checkpoint, limits)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        raise app.UsageError(str(error))
    print(describe_signatures(path))
    print(f"wrote {path} ({directory_size(path) / 2 ** 20:.1f} MiB)")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
