"""Look at samples: `python -m svg_tf.generate --logdir=RUN --out=samples.gif`.

One test sequence (--index) side by side: ground truth, the best of --num_samples samples
(by mean SSIM against the ground truth) and --num_random random samples (figures 3 and 4);
for a run conditioned on actions, the best under the sequence's true actions, then one
sample under each of --num_random other test sequences' actions;
context frames have green borders, predicted frames red. `.gif` animates them, `.png` lays
time out left to right, one row each.
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags

from svg_tf import cli
from svg_tf import config as config_lib

FLAGS = flags.FLAGS

# A picture in seconds on a CPU: 10 samples of the 4 sequences of one batch (the 100 x 16 of
# before took 193 s on 2 cores). Samples are drawn in passes of SAMPLES_PER_PASS, with a
# progress bar when there is more than one.
DEFAULT_SAMPLES = 10
DEFAULT_BATCH = 4
SAMPLES_PER_PASS = 10
# Beyond these a request is a typo (memory is checked separately, for what fits).
MAX_INDEX = 100_000
MAX_BATCH = 4_096


def define_flags():
    """Flags of this program (defined on demand, so that importing the module for its
    functions does not clash with other programs' flags)."""
    flags.DEFINE_string("logdir", None, "Training run directory.")
    flags.DEFINE_string("out", None, "Output file: .gif (animated) or .png (still grid).")
    flags.DEFINE_integer("num_samples", DEFAULT_SAMPLES,
                         "Samples drawn to pick the best one from. The default gives a picture "
                         "in seconds on a CPU; the paper's figures show the best of 100 "
                         "(--num_samples=100, about 20x longer, with a progress bar), and "
                         "python -m svg_tf.evaluate scores best-of-100 over the test set.")
    flags.DEFINE_integer("num_random", 3, "Random samples shown beside the best one.")
    flags.DEFINE_integer("n_eval", None, "Frames, context included (default: the run's n_eval).")
    flags.DEFINE_integer("index", 0, "Which test sequence.")
    flags.DEFINE_integer("seed", 0, "Sampling seed.")
    flags.DEFINE_enum("bn", None, config_lib.SAMPLE_BN, config_lib.BN_HELP)
    flags.DEFINE_integer("batch_size", DEFAULT_BATCH,
                         "Test sequences sampled together (with --bn=batch they share "
                         "batch-norm statistics; the authors used 100).")
    flags.DEFINE_string("data_dir", None, "Dataset folder for KTH/BAIR (default: the one the "
                        "run was trained on, recorded in RUN/data.json).")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source.")


def generate(logdir, out, num_samples=DEFAULT_SAMPLES, num_random=3, n_eval=None, index=0,
             seed=0, data_dir=None, dataset_options=None, bn=None, batch_size=DEFAULT_BATCH,
             verbose=0):
    """Write the comparison picture; returns (path, rows) with rows `[R, T, H, W, C]`.
    Pass p of the samples (SAMPLES_PER_PASS each) draws its noise from seed [seed, first
    sequence of the batch + 1,000,003 p]; verbose=1 shows a progress bar over passes."""
    from svg_tf import metrics, visualize
    from svg_tf import datasets
    from svg_tf.run_dir import data_dir as trained_data_dir
    from svg_tf.run_dir import load_run, resolve

    if not out.endswith((".gif", ".png")):
        raise ValueError(f"--out={out} must end in .gif or .png")
    from svg_tf import memory
    from svg_tf.config import MAX_FRAMES, MAX_SAMPLES
    from svg_tf.run_dir import read_config

    for name, value, least, most in (("index", index, 0, MAX_INDEX),
                                     ("num_samples", num_samples, 1, MAX_SAMPLES),
                                     ("num_random", num_random, 0, MAX_SAMPLES),
                                     ("batch_size", batch_size, 1, MAX_BATCH),
                                     ("n_eval", n_eval or 2, 2, MAX_FRAMES)):
        if not isinstance(value, int) or not least <= value <= most:
            raise ValueError(f"{name}={value!r} is invalid: expected an integer from {least} "
                             f"to {most:,}")
    logdir = resolve(logdir)
    config = read_config(logdir)
    n_eval = n_eval or config.n_eval
    memory.check_sampling(config, batch_size, num_samples, n_eval)  # before the model is built
    config, model = load_run(logdir)
    data_dir = trained_data_dir(logdir, data_dir)
    bn = bn or config.sample_bn
    # The batch holding `index`: with bn='batch' its sequences share batch-norm statistics.
    first = index - index % batch_size
    videos = datasets.test_stream(config, first + batch_size, n_eval, data_dir, batch_size,
                                  **(dataset_options or {}))
    available, batch, actions = 0, None, None
    for number, candidate in enumerate(videos):  # only the batch of `index` is kept
        candidate, candidate_actions = datasets.split_batch(candidate)
        available += int(candidate.shape[0])
        if number == first // batch_size:
            batch = candidate.numpy()  # [B, T, H, W, C]
            actions = None if candidate_actions is None else candidate_actions.numpy()
    if batch is None or index - first >= len(batch):
        raise ValueError(f"index={index} is past the test set ({available} sequences of "
                         f"{n_eval} frames)")
    row = index - first
    if not model.conditioned:
        actions = None  # the data's actions mean nothing to this model
    if bn == "batch" and len(batch) < 2:
        bn = "running"  # a lone last sequence: batch statistics would be degenerate
    video = batch[row:row + 1]
    n_future = n_eval - config.n_past
    samples = _draw(model, batch[:, :config.n_past], n_future, num_samples, [seed, first], bn,
                    verbose, actions)[row]
    truth = video[0, config.n_past:]
    scores = metrics.ssim(samples, np.broadcast_to(truth, samples.shape)).numpy().mean(-1)
    best = int(np.argmax(scores))
    context = video[0, :config.n_past]
    if actions is None:
        rng = np.random.default_rng(seed)
        random = rng.choice(num_samples, size=min(num_random, num_samples), replace=False)
        others = [samples[i] for i in random]
    else:  # one context under other sequences' actions: does the model follow them?
        others = [_draw(model, batch[:, :config.n_past], n_future, 1, [seed, first], bn, 0,
                        np.roll(actions, k, axis=0))[row, 0]
                  for k in range(1, min(num_random, len(batch) - 1) + 1)]
    rows = [video[0]] + [np.concatenate([context, future]) for future in
                         [samples[best], *others]]
    rows = np.stack(rows)
    import tensorflow as tf

    tf.io.gfile.makedirs(os.path.dirname(os.path.abspath(out)) if "://" not in out
                         else os.path.dirname(out))
    if out.endswith(".gif"):
        visualize.save_gif(out, visualize.video_grid(rows[None], config.n_past))
    else:
        visualize.save_png(out, visualize.still_grid(rows, config.n_past))
    return out, rows


def _draw(model, context, n_future, num_samples, seed, bn, verbose, actions=None):
    """`[B, num_samples, n_future, H, W, C]`, in passes of SAMPLES_PER_PASS samples
    (following `actions` for a conditioned model)."""
    import keras

    passes = range(0, num_samples, SAMPLES_PER_PASS)
    progress = keras.utils.Progbar(num_samples, unit_name="sample") if (
        verbose and len(passes) > 1) else None
    pieces = []
    for p, start in enumerate(passes):
        count = min(SAMPLES_PER_PASS, num_samples - start)
        pieces.append(model.sample(context, n_future, num_samples=count,
                                   seed=[seed[0], seed[1] + 1_000_003 * p], bn=bn,
                                   actions=actions).numpy())
        if progress is not None:
            progress.update(start + count)
    return np.concatenate(pieces, axis=1)


def main(argv):
    cli.check_arguments(argv, "logdir", "out")
    options = cli.run_dataset_options(FLAGS.logdir, FLAGS)
    print(f"sampling {FLAGS.num_samples} continuations of test sequence {FLAGS.index} (with "
          f"the {FLAGS.batch_size} sequences of its batch) ...", flush=True)
    try:
        path, rows = generate(FLAGS.logdir, FLAGS.out, FLAGS.num_samples, FLAGS.num_random,
                              FLAGS.n_eval, FLAGS.index, FLAGS.seed, FLAGS.data_dir, options,
                              bn=FLAGS.bn, batch_size=FLAGS.batch_size, verbose=1)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    layout = "panels, left to right" if path.endswith(".gif") else "rows, top to bottom"
    print(f"wrote {path} ({layout}): ground truth, best of {FLAGS.num_samples} by SSIM, "
          f"{len(rows) - 2} random samples; green frames are context, red predicted")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
