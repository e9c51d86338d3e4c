"""The run directory: where its files live and how they are read and written.

    config.json                 the resolved SVGConfig (a resume must match it)
    checkpoints/ckpt-N.*        model, optimizer, step, via tf.train.CheckpointManager
    train/, test/               TensorBoard event files
    samples/, eval/, analysis/  pictures, metrics and analyses written by the programs

Trained runs (python -m svg_tf.train) and converted ones (python -m svg_tf.convert_pytorch)
have the same layout, so every program reads both through `load_run`. All I/O goes through
tf.io.gfile, so gs:// run directories work too.
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf

from svg_tf.config import SVGConfig

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def config_path(logdir: str) -> str:
    return os.path.join(logdir, CONFIG_FILE)


def checkpoint_dir(logdir: str) -> str:
    return os.path.join(logdir, CHECKPOINT_DIR)


def read_config(logdir: str) -> SVGConfig:
    path = config_path(logdir)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: is {logdir} a run directory (written by "
                                "python -m svg_tf.train or python -m svg_tf.convert_pytorch)?")
    with tf.io.gfile.GFile(path) as f:
        return SVGConfig.from_json(f.read())


def write_config(logdir: str, config: SVGConfig) -> None:
    tf.io.gfile.makedirs(logdir)
    atomic_write(config_path(logdir), config.to_json())


def atomic_write(path: str, text: str) -> None:
    """Write to a temporary file and rename it, so a kill never leaves half a file."""
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(text)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def latest_checkpoint(logdir: str) -> str | None:
    return tf.train.latest_checkpoint(checkpoint_dir(logdir))


def load_run(logdir: str, checkpoint: str | None = None):
    """(config, model) of any run directory, trained or converted, at its latest (or the
    given) checkpoint. The model is built but not compiled."""
    from svg_tf.models import build_model

    config = read_config(logdir)
    model = build_model(config, compile=False)
    checkpoint = checkpoint or latest_checkpoint(logdir)
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint in {checkpoint_dir(logdir)}")
    tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    logging.info("restored %s", checkpoint)
    return config, model


def save_model(logdir: str, model, step: int = 0) -> str:
    """Write `model` as checkpoint `step` of the run (what a converter produces)."""
    step_var = tf.Variable(step, dtype=tf.int64, name="step", trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir(logdir), max_to_keep=3)
    return manager.save(checkpoint_number=step)
