"""The training program as a library: run directory, resumable loop, summaries.

`train(config, logdir, ...)` is what `python -m svg_tf.train` calls; tests call it directly.
A run directory holds:
    config.json                 the resolved SVGConfig (a resume must match it)
    checkpoints/ckpt-N.*        model, optimizer, step (= data position), via CheckpointManager
    train/, test/               TensorBoard event files (scalars, images, GIFs, hparams)
    samples/epoch_NNN.gif|png   ground truth, posterior reconstruction and prior samples
TensorFlow writes checkpoints to temporary files and renames them, and updates the
`checkpoint` index last, so a kill at any moment leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from svg_tf import datasets, run_dir, visualize
from svg_tf.config import SVGConfig
from svg_tf.distribute import make_strategy
from svg_tf.models import build_model

# Fields that may change between runs in one directory: extending training is a resume.
RESUMABLE_FIELDS = ("niter",)
NUM_VIS_SEQUENCES = 4
NUM_VIS_SAMPLES = 3


class TrainingError(RuntimeError):
    """Training stopped on purpose (non-finite loss, mismatching run directory)."""


def check_run_dir(logdir: str, config: SVGConfig) -> bool:
    """Write config.json, or check it matches on resume. Returns True when resuming."""
    path = run_dir.config_path(logdir)
    tf.io.gfile.makedirs(logdir)
    resuming = tf.io.gfile.exists(path)
    if resuming:
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
        current = config.to_dict()
        differ = sorted(k for k in set(saved) | set(current)
                        if k not in RESUMABLE_FIELDS and saved.get(k) != current.get(k))
        if differ:
            details = ", ".join(f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}"
                                for k in differ)
            raise TrainingError(f"{path} was written with a different config ({details}). "
                                "Use another --logdir, or repeat the original flags.")
    run_dir.write_config(logdir, config)
    return resuming


def train_dataset(config: SVGConfig, data_dir=None, step=0, **options):
    """The endless training stream at the global batch size, from the data position of
    `step`. SM-MNIST continues exactly (sequence i is a function of (seed, i)); KTH and BAIR
    restart a fresh shuffled order seeded by (seed, step), reproducible without re-reading
    what was already consumed."""
    kwargs = dict(seq_len=config.seq_len, data_dir=data_dir, batch_size=config.batch_size,
                  seed=config.seed)
    if config.dataset == "smmnist":
        kwargs.update(num_digits=config.num_digits, image_size=config.image_size,
                      start=step * config.batch_size)
    else:
        kwargs.update(image_size=config.image_size, seed=config.seed * 1_000_003 + step)
    kwargs.update(options)
    return datasets.load(config.dataset, "train", **kwargs)


def visual_batch(config: SVGConfig, data_dir=None, **options):
    """Fixed test sequences (n_eval frames) that every epoch's pictures show."""
    kwargs = dict(seq_len=config.n_eval, data_dir=data_dir, seed=config.seed,
                  image_size=config.image_size)
    if config.dataset == "smmnist":
        kwargs.update(num_digits=config.num_digits, num_sequences=NUM_VIS_SEQUENCES)
    kwargs.update(options)
    data = datasets.load(config.dataset, "test", **kwargs)
    return np.stack(list(data.take(NUM_VIS_SEQUENCES).as_numpy_iterator()))


def write_pictures(model, videos, config, step, epoch, logdir, writer):
    """GIF + still grid of ground truth, posterior reconstruction and prior samples."""
    n_future = config.n_eval - config.n_past
    context = videos[:, :config.n_past]
    samples = model.sample(context, n_future, num_samples=NUM_VIS_SAMPLES,
                           seed=[config.seed, 12345]).numpy()
    reconstruction = model.reconstruct(videos).numpy()
    sampled = np.concatenate(
        [np.repeat(context[:, None], NUM_VIS_SAMPLES, axis=1), samples], axis=2)
    columns = np.concatenate([videos[:, None], reconstruction[:, None], sampled], axis=1)
    frames = visualize.video_grid(columns, config.n_past)
    still = visualize.still_grid(columns.reshape(-1, *columns.shape[2:]), config.n_past)
    sample_dir = os.path.join(logdir, "samples")
    tf.io.gfile.makedirs(sample_dir)
    gif_path = os.path.join(sample_dir, f"epoch_{epoch:03d}.gif")
    visualize.save_gif(gif_path, frames)
    visualize.save_png(os.path.join(sample_dir, f"epoch_{epoch:03d}.png"), still)
    with writer.as_default():
        visualize.gif_summary("samples/animated", frames, step)
        tf.summary.image("samples/grid", still[None], step=step)
    return gif_path


def _write_hparams(writer, config):
    try:
        from tensorboard.plugins.hparams import api as hp
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        return
    with writer.as_default():
        hp.hparams({k: v for k, v in config.to_dict().items()}, trial_id=None)


def train(config: SVGConfig, logdir: str, *, data_dir=None, strategy="auto",
          checkpoint_every: int = 0, summary_every: int = 50, jit_compile=False,
          verbose: int = 1, dataset_options=None, max_steps=None, log=print):
    """Train (or resume) the run in `logdir` until config.niter epochs are done.

    checkpoint_every: steps between checkpoints inside an epoch (0: at epoch ends only).
    max_steps: stop after this many steps in this call (for tests and smoke runs).
    Returns a dict with the final step, metrics and the paths written.
    """
    if not isinstance(summary_every, int) or summary_every < 1:
        raise ValueError(f"summary_every={summary_every!r} is invalid: expected an integer >= 1")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is invalid: expected an "
                         "integer >= 0 (0: at epoch ends only)")
    dataset_options = dict(dataset_options or {})
    strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the "
                         f"{replicas} replicas of the strategy")
    chief, worker_id = _chief(strategy)
    if not chief:  # workers other than the chief keep their files out of the run directory
        logdir = os.path.join(logdir, "workers", f"worker_{worker_id}")
    check_run_dir(logdir, config)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_model(config, jit_compile=False)
        model.optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, name="step", trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, run_dir.checkpoint_dir(logdir),
                                         max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log(f"resumed from {manager.latest_checkpoint} at step {int(step_var.numpy())}")
    step = int(step_var.numpy())
    total_steps = config.niter * config.epoch_size
    data = train_dataset(config, data_dir, step=step, **dataset_options)
    iterator = iter(strategy.experimental_distribute_dataset(data))
    videos = visual_batch(config, data_dir, **dataset_options)

    def one_step(batch):
        strategy.run(model.train_step, args=(batch,))
        return {m.name: m.result() for m in model.metrics}

    step_fn = tf.function(one_step, jit_compile=jit_compile or None)
    train_writer = tf.summary.create_file_writer(os.path.join(logdir, "train"))
    test_writer = tf.summary.create_file_writer(os.path.join(logdir, "test"))
    if step == 0:
        _write_hparams(train_writer, config)
    gif_path = None
    logs = {}
    steps_this_call = 0
    start_time = time.time()
    while step < total_steps:
        epoch = step // config.epoch_size
        if verbose:
            log(f"epoch {epoch + 1}/{config.niter}")
        progress = keras.utils.Progbar(config.epoch_size, verbose=verbose,
                                       stateful_metrics=["loss", "mse", "kl"])
        if step % config.epoch_size:
            progress.update(step % config.epoch_size)
        for metric in model.metrics:
            metric.reset_state()
        while step < (epoch + 1) * config.epoch_size:
            logs = {k: float(v) for k, v in step_fn(next(iterator)).items()}
            if not all(math.isfinite(v) for v in logs.values()):
                raise TrainingError(
                    f"non-finite loss at step {step + 1} ({logs}); stopped without saving. "
                    f"The last good checkpoint is {manager.latest_checkpoint}.")
            step += 1
            steps_this_call += 1
            step_var.assign(step)
            progress.update(step - epoch * config.epoch_size, list(logs.items()))
            if step % summary_every == 0 or step == total_steps:
                with train_writer.as_default():
                    for name, value in logs.items():
                        tf.summary.scalar(f"per_frame/{name}", value, step=step)
                    tf.summary.scalar("learning_rate",
                                      float(keras.ops.convert_to_numpy(
                                          model.optimizer.learning_rate)), step=step)
            if checkpoint_every and step % checkpoint_every == 0:
                manager.save(checkpoint_number=step)
            if max_steps is not None and steps_this_call >= max_steps:
                break
        if max_steps is not None and steps_this_call >= max_steps:
            manager.save(checkpoint_number=step)
            break
        manager.save(checkpoint_number=step)
        if chief:
            gif_path = write_pictures(model, videos, config, step, epoch + 1, logdir,
                                      test_writer)
        train_writer.flush()
        test_writer.flush()
    train_writer.flush()
    test_writer.flush()
    seconds = time.time() - start_time
    return {"step": step, "metrics": logs, "checkpoint": manager.latest_checkpoint,
            "logdir": logdir, "sample_gif": gif_path, "seconds": seconds,
            "seconds_per_step": seconds / max(steps_this_call, 1), "model": model}


def _chief(strategy):
    """(is this process the chief, its worker index) under multi-worker training."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True, 0
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0), task_id
