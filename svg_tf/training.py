"""The training program as a library: run directory, resumable loop, summaries.

`train(config, logdir, ...)` is what `python -m svg_tf.train` calls; tests call it directly.
A run directory holds:
    config.json                 the resolved SVGConfig (a resume must match it)
    data.json, train.lock       the data_dir used; the running process (see run_dir.py)
    checkpoints/ckpt-N.*        model, optimizer, step (= data position), via CheckpointManager
    train/, test/               TensorBoard event files (scalars, images, GIFs, hparams)
    samples/epoch_NNN.gif|png   ground truth, posterior reconstruction and prior samples
TensorFlow writes checkpoints to temporary files and renames them, and updates the
`checkpoint` index last, so a kill at any moment leaves the previous checkpoint usable.
Nothing is written before the config, the model, the checkpoint and the first batch of
data have been checked, so a failed start leaves the directory as it was.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from svg_tf import datasets, memory, run_dir, visualize
from svg_tf.config import SVGConfig
from svg_tf.datasets import records
from svg_tf.distribute import make_strategy
from svg_tf.models import build_model

NUM_VIS_SEQUENCES = 4
NUM_VIS_SAMPLES = 3


class TrainingError(RuntimeError):
    """Training stopped on purpose (non-finite loss, mismatching run directory, damaged data,
    a full disk)."""


class TrainingInterrupted(TrainingError):
    """SIGINT (Ctrl-C) or SIGTERM (a cluster's preemption) stopped training after the step
    under way, whose checkpoint was saved; `exit_status` is the shell's 128 + signal."""

    def __init__(self, message, signal_number):
        super().__init__(message)
        self.signal_number = signal_number
        self.exit_status = 128 + signal_number


class _StopSignals:
    """While training: the first SIGINT or SIGTERM asks the loop to stop after the current
    step (and save it); a second SIGINT stops at once, without saving. Only the main thread
    can own signal handlers: elsewhere (a library caller's thread) nothing is installed."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, log):
        self.log = log
        self.received = None
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        if self.received is not None:  # asked twice: the user does not want to wait
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.received = number
        self.log(f"\n{signal.Signals(number).name} received: stopping after this step and "
                 "saving a checkpoint (Ctrl-C again stops at once, without saving)")


def resume_changes(logdir: str, config: SVGConfig) -> dict:
    """The fields a resume changes ({field: (saved, now)}, only optimizer/schedule ones);
    raises TrainingError naming the others. A run without a checkpoint may change anything:
    a failed start must not lock in its config."""
    saved = run_dir.saved_config_dict(logdir)
    if saved is None or run_dir.latest_checkpoint(logdir) is None:
        return {}
    refused, allowed = run_dir.config_changes(saved, config)
    if refused:
        details = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in refused.items())
        raise TrainingError(f"{run_dir.config_path(logdir)} was written with a different config "
                            f"({details}). Use another --logdir, or repeat the original flags.")
    return allowed


def visual_batch(config: SVGConfig, data_dir=None, **options):
    """Fixed test sequences (n_eval frames) that every epoch's pictures show: videos
    `[N, T, H, W, C]`, or {"video", "actions"} for a dataset with actions."""
    data = datasets.test_stream(config, NUM_VIS_SEQUENCES, config.n_eval, data_dir, **options)
    items = list(data.as_numpy_iterator())
    videos = [datasets.split_batch(item)[0] for item in items]
    if not videos:
        raise TrainingError(f"the {config.dataset} test split holds no sequence of "
                            f"n_eval={config.n_eval} frames (pictures are drawn from it): "
                            "lower --n_eval, or check the data")
    if config.sample_bn == "batch" and len(videos) < 2:  # found now, not after an epoch
        raise TrainingError(f"the {config.dataset} test split holds 1 sequence of n_eval="
                            f"{config.n_eval} frames; the pictures of each epoch sample with "
                            "sample_bn=batch, whose statistics need at least 2: add test "
                            "videos, lower --n_eval, or pass --sample_bn=running")
    if isinstance(items[0], dict):
        return {key: np.stack([item[key] for item in items]) for key in items[0]}
    return np.stack(videos)


def write_pictures(model, batch, config, step, epoch, logdir, writer):
    """GIF + still grid of ground truth, posterior reconstruction and prior samples (a
    conditioned model follows the test sequences' true actions)."""
    videos, actions = datasets.split_batch(batch)
    n_future = config.n_eval - config.n_past
    context = videos[:, :config.n_past]
    samples = model.sample(context, n_future, num_samples=NUM_VIS_SAMPLES,
                           seed=[config.seed, 12345], actions=actions).numpy()
    reconstruction = model.reconstruct(videos, actions=actions).numpy()
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
        hp.hparams({k: str(v) if isinstance(v, list) else v  # hparams takes scalars only
                    for k, v in config.to_dict().items()}, trial_id=None)


def train(config: SVGConfig, logdir: str, *, data_dir=None, strategy="auto",
          checkpoint_every: int = 0, summary_every: int = 50, jit_compile=False,
          verbose: int = 1, dataset_options=None, max_steps=None, keep_every: int = 0,
          lpips_weights=None, log=print):
    """Train the run in `logdir` until config.niter epochs are done, resuming where it stopped.

    Nothing is written before the config, the model, the checkpoint and the first batch are
    known to work; a resume with a config that changes the model is refused by field name.

    Args:
      config: the experiment's SVGConfig.
      logdir: the run directory (created, or resumed if it holds checkpoints).
      data_dir: the dataset's folder (file-backed datasets).
      strategy: auto, default, mirrored or multi_worker (svg_tf.distribute), or a
        tf.distribute.Strategy.
      checkpoint_every: steps between checkpoints inside an epoch (0: at epoch ends only).
      summary_every: steps between TensorBoard scalar summaries.
      jit_compile: compile the training step with XLA.
      verbose: 1 shows a progress bar, 0 prints nothing per step.
      dataset_options: options of the dataset (`svg_tf.datasets.options(name)`).
      max_steps: stop after this many steps in this call (smoke runs, tests).
      keep_every: also keep every checkpoint whose step is a multiple of this in
        checkpoints/kept/ (never deleted), for analyses over training; 0: none.
      lpips_weights: the LPIPS .npz (python -m svg_tf.convert_lpips) of the loss's
        lpips_weight term; needed when config.lpips_weight > 0, on every call (a run
        keeps no copy).
      log: where progress lines go.

    Returns:
      A dict: step, metrics (the last step's), complete, steps_this_call, total_steps,
      checkpoint (latest prefix), logdir, sample_gif, seconds, seconds_per_step and model.

    Example:
      >>> result = train(get_config("smmnist", "lp"), "runs/smmnist_lp")
    """
    if not isinstance(summary_every, int) or summary_every < 1:
        raise ValueError(f"summary_every={summary_every!r} is invalid: expected an integer >= 1")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is invalid: expected an "
                         "integer >= 0 (0: at epoch ends only)")
    if not isinstance(keep_every, int) or keep_every < 0:
        raise ValueError(f"keep_every={keep_every!r} is invalid: expected an integer >= 0 "
                         "(0: keep only the last three checkpoints)")
    logdir = run_dir.resolve(logdir)
    memory.check_training(config)  # before anything is built or read
    perceptual = _perceptual_loss(config, lpips_weights)
    dataset_options = dict(dataset_options or {})
    strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the "
                         f"{replicas} replicas of the strategy")
    chief, worker_id = _chief(strategy)
    if not chief:  # workers other than the chief keep their files out of the run directory
        logdir = os.path.join(logdir, "workers", f"worker_{worker_id}")
    latest = run_dir.latest_checkpoint(logdir)  # refuses ckpt-* files without their index
    changes = resume_changes(logdir, config)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_model(config, jit_compile=False)
        step_var = tf.Variable(0, dtype=tf.int64, name="step", trainable=False)
    model.perceptual_loss = perceptual
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, run_dir.checkpoint_dir(logdir),
                                         max_to_keep=3)
    if latest:
        run_dir.restore(checkpoint, latest, logdir)
        log(f"resumed from {latest} at step {int(step_var.numpy())}")
        for name, (saved, now) in changes.items():
            log(f"changed on resume: {name} {saved!r} -> {now!r}")
        model.optimizer.learning_rate.assign(config.lr)  # the checkpoint holds the old one
    step = int(step_var.numpy())
    total_steps = config.niter * config.epoch_size
    stream = _TrainStream(config, data_dir, strategy, dataset_options, log)
    first_batch = stream.next(step)  # data problems surface before anything is written
    videos = visual_batch(config, data_dir, **_test_options(dataset_options))
    with run_dir.lock(logdir, log=log):
        for path in run_dir.remove_temporary_checkpoints(logdir):
            log(f"removed {path}, left by an interrupted checkpoint save")
        if run_dir.saved_config_dict(logdir) != config.to_dict():
            run_dir.write_config(logdir, config)
        run_dir.write_data_dir(logdir, data_dir)
        session = _Session(model, config, logdir, manager, step_var, strategy, chief, log)
        schedule = _Schedule(total_steps, summary_every, checkpoint_every, jit_compile,
                             verbose, max_steps, keep_every)
        with _StopSignals(log) as stop:
            return _loop(session, schedule, step, stream, first_batch, videos, stop)


def _perceptual_loss(config, lpips_weights):
    """The LPIPS term's network (None without one), its file checked before anything is
    written; a file given for a run without the term is refused, not ignored."""
    from svg_tf.models.perceptual_loss import PerceptualLoss, missing_weights_message

    if not config.lpips_weight:
        if lpips_weights:
            raise ValueError(f"lpips_weights={lpips_weights} is given but lpips_weight is 0: "
                             "set lpips_weight > 0 to add the LPIPS term, or leave the file out")
        return None
    if not lpips_weights:
        raise ValueError(missing_weights_message(config.lpips_weight))
    return PerceptualLoss(lpips_weights)


@dataclasses.dataclass(frozen=True)
class _Session:
    """What the training loop works on once `train` holds and has written the run
    directory."""
    model: keras.Model
    config: SVGConfig
    logdir: str
    manager: tf.train.CheckpointManager
    step_var: tf.Variable
    strategy: tf.distribute.Strategy
    chief: bool
    log: Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class _Schedule:
    """When the loop stops, logs, saves, and how it runs a step (train's arguments)."""
    total_steps: int
    summary_every: int
    checkpoint_every: int
    jit_compile: bool
    verbose: int
    max_steps: int | None
    keep_every: int = 0


def _loop(session: _Session, schedule: _Schedule, step, stream, first_batch, videos,
          stop=None):
    """The epochs of `train` from `step` (its first batch already read); `stop`
    (_StopSignals) ends it after a step, saved, when a signal came."""
    model, config, logdir, manager, log = (session.model, session.config, session.logdir,
                                           session.manager, session.log)
    total_steps, summary_every, max_steps = (schedule.total_steps, schedule.summary_every,
                                             schedule.max_steps)

    def one_step(batch):
        session.strategy.run(model.train_step, args=(batch,))
        return {m.name: m.result() for m in model.metrics}

    step_fn = tf.function(one_step, jit_compile=schedule.jit_compile or None,
                          autograph=False)  # no tensor-dependent Python control flow
    train_writer = tf.summary.create_file_writer(os.path.join(logdir, "train"))
    test_writer = tf.summary.create_file_writer(os.path.join(logdir, "test"))
    stream.attach(train_writer, step)
    if step == 0:
        _write_hparams(train_writer, config)
    gif_path = None
    logs = {}
    steps_this_call = 0
    start_time = time.time()
    while step < total_steps:
        epoch = step // config.epoch_size
        if schedule.verbose:
            log(f"epoch {epoch + 1}/{config.niter}")
        progress = keras.utils.Progbar(config.epoch_size, verbose=schedule.verbose,
                                       stateful_metrics=["loss", "mse", "kl"])
        if step % config.epoch_size:
            progress.update(step % config.epoch_size)
        for metric in model.metrics:
            metric.reset_state()
        while step < (epoch + 1) * config.epoch_size:
            batch = first_batch if first_batch is not None else stream.next(step)
            first_batch = None
            logs = {k: float(v) for k, v in step_fn(batch).items()}
            if not all(math.isfinite(v) for v in logs.values()):
                raise TrainingError(
                    f"non-finite loss at step {step + 1} ({logs}); stopped without saving. "
                    f"The last good checkpoint is {manager.latest_checkpoint}.")
            step += 1
            steps_this_call += 1
            session.step_var.assign(step)
            progress.update(step - epoch * config.epoch_size, list(logs.items()))
            if step % summary_every == 0 or step == total_steps:
                with train_writer.as_default():
                    for name, value in logs.items():
                        tf.summary.scalar(f"per_frame/{name}", value, step=step)
                    tf.summary.scalar("learning_rate",
                                      float(keras.ops.convert_to_numpy(
                                          model.optimizer.learning_rate)), step=step)
            if schedule.checkpoint_every and step % schedule.checkpoint_every == 0:
                _save(manager, step, logdir, schedule.keep_every)
            if stop is not None and stop.received is not None:
                _stop_saved(session, step, stop.received, schedule.keep_every,
                            [train_writer, test_writer])
            if max_steps is not None and steps_this_call >= max_steps:
                break
        if max_steps is not None and steps_this_call >= max_steps:
            _save(manager, step, logdir, schedule.keep_every)
            if schedule.verbose and step % config.epoch_size:
                print()  # end the progress bar's line before the caller's summary
            break
        _save(manager, step, logdir, schedule.keep_every)
        if session.chief:
            gif_path = write_pictures(model, videos, config, step, epoch + 1, logdir,
                                      test_writer)
        train_writer.flush()
        test_writer.flush()
    train_writer.flush()
    test_writer.flush()
    seconds = time.time() - start_time
    return {"step": step, "metrics": logs, "complete": step >= total_steps,
            "steps_this_call": steps_this_call, "total_steps": total_steps,
            "checkpoint": manager.latest_checkpoint,
            "logdir": logdir, "sample_gif": gif_path, "seconds": seconds,
            "seconds_per_step": seconds / max(steps_this_call, 1), "model": model}


def _stop_saved(session, step, signal_number, keep_every, writers):
    """Save the checkpoint of `step` (unless it is the latest already) and raise
    TrainingInterrupted saying where, and how the re-run resumes."""
    manager, logdir = session.manager, session.logdir
    if not (manager.latest_checkpoint or "").endswith(f"ckpt-{step}"):
        _save(manager, step, logdir, keep_every)
    for writer in writers:
        writer.flush()
    config = session.config
    raise TrainingInterrupted(
        f"stopped by {signal.Signals(signal_number).name} at step {step} of "
        f"{config.niter * config.epoch_size}: saved {manager.latest_checkpoint}. Re-run the "
        "same command to resume from it", signal_number)


def _save(manager, step, logdir, keep_every=0):
    """manager.save, turning a full disk into one clear line and removing the partial
    temporary files a failed save leaves (they would block the next start). Checkpoints at
    multiples of keep_every are also copied to checkpoints/kept/."""
    try:
        path = manager.save(checkpoint_number=step)
        if keep_every and step % keep_every == 0:
            run_dir.keep_checkpoint(logdir, path)
        return path
    except (tf.errors.OpError, OSError) as error:
        run_dir.remove_temporary_checkpoints(logdir)
        message = getattr(error, "message", None) or str(error)
        if "No space left on device" in message or getattr(error, "errno", None) == 28:
            raise TrainingError(
                f"disk full while writing checkpoint {step} in {run_dir.checkpoint_dir(logdir)}"
                f"; removed its partial files. The last good checkpoint is "
                f"{manager.latest_checkpoint}: free some space and re-run the same command "
                "to resume.") from None
        raise


def _test_options(dataset_options):
    """The dataset options that also apply to the test stream (not the training-only
    list of files found damaged)."""
    return {k: v for k, v in dataset_options.items() if k != "exclude_files"}


class _TrainStream:
    """The distributed training iterator, which traces a damaged record met mid-run to its
    file: without skip_corrupt it stops naming the file and the record offset; with
    skip_corrupt it drops the file, counts it (log and TensorBoard data/skipped_files) and
    restarts the stream at the current step without it."""

    def __init__(self, config, data_dir, strategy, options, log):
        self.config, self.data_dir, self.strategy, self.log = config, data_dir, strategy, log
        self.options = dict(options)
        self.skip_corrupt = bool(self.options.get("skip_corrupt", False))
        self.excluded = []
        self.writer = None
        self.iterator = None

    def _start(self, step):
        options = dict(self.options)
        if self.excluded:
            options["exclude_files"] = tuple(self.excluded)
        data = datasets.train_stream(self.config, self.data_dir, step, **options)
        self.iterator = iter(self.strategy.experimental_distribute_dataset(data))

    def next(self, step):
        while True:
            if self.iterator is None:
                self._start(step)
            try:
                return next(self.iterator)
            except tf.errors.DataLossError as error:
                self._handle(error, step)
                self.iterator = None
            except tf.errors.InvalidArgumentError as error:
                message = records.data_error_message(error)
                if message is None:
                    raise
                raise TrainingError(f"training data at step {step + 1}: {message}") from None

    def _handle(self, error, step):
        shard_files = datasets.spec(self.config.dataset).shard_files
        files = shard_files(self.data_dir, "train") if shard_files else []
        damaged = [d for d in records.locate_damage(
            [f for f in files if f not in self.excluded])]
        if not damaged:
            raise error
        if not self.skip_corrupt:
            path, problem = damaged[0]
            raise TrainingError(f"damaged training data at step {step + 1}: {path}: "
                                f"{problem}. {records.REMEDY}") from None
        for path, problem in damaged:
            self.log(f"skipping damaged file {path} ({problem}) from step {step + 1}")
        self.excluded += [path for path, _ in damaged]
        self._summarise(step)

    def attach(self, writer, step):
        """Write skip counts to `writer` from now on (and the ones found before it)."""
        self.writer = writer
        if self.excluded:
            self._summarise(step)

    def _summarise(self, step):
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.scalar("data/skipped_files", len(self.excluded), step=step)


def _chief(strategy):
    """(is this process the chief, its worker index) under multi-worker training."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True, 0
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0), task_id
