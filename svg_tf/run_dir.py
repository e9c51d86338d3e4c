"""The run directory: where its files live and how they are read and written.

    config.json                 the resolved SVGConfig (a resume must match it)
    data.json                   where the training data was read from (evaluate/generate
                                default to it)
    train.lock                  held by the training process (pid, host) while it runs
    checkpoints/ckpt-N.*        model, optimizer, step, via tf.train.CheckpointManager
    train/, test/               TensorBoard event files
    samples/, eval/, analysis/  pictures, metrics and analyses written by the programs

Trained runs (python -m svg_tf.train) and converted ones (python -m svg_tf.convert_pytorch)
have the same layout, so every program reads both through `load_run`. All I/O goes through
tf.io.gfile, so gs:// run directories work too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time

import tensorflow as tf

from svg_tf.config import RESUMABLE_FIELDS, SVGConfig

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
LOCK_FILE = "train.lock"
CHECKPOINT_DIR = "checkpoints"


class RunLockedError(RuntimeError):
    """Another live process trains in this run directory."""


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


def saved_config_dict(logdir: str) -> dict | None:
    """config.json as a dict, or None when the run has none yet."""
    path = config_path(logdir)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def config_changes(saved: dict, config: SVGConfig) -> tuple[dict, dict]:
    """({field: (saved, now)} that a resume refuses, {field: (saved, now)} that it allows)."""
    current = config.to_dict()
    changed = {k: (saved.get(k), current.get(k)) for k in sorted(set(saved) | set(current))
               if saved.get(k) != current.get(k)}
    refused = {k: v for k, v in changed.items() if k not in RESUMABLE_FIELDS}
    allowed = {k: v for k, v in changed.items() if k in RESUMABLE_FIELDS}
    return refused, allowed


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


def write_data_dir(logdir: str, data_dir: str | None) -> None:
    """Remember where the training data is, so that evaluation can find it again."""
    if data_dir and "://" not in data_dir:
        data_dir = os.path.abspath(data_dir)
    atomic_write(os.path.join(logdir, DATA_FILE), json.dumps({"data_dir": data_dir}))


def data_dir(logdir: str, given: str | None = None) -> str | None:
    """`given` if set, else the data_dir the run was trained on (None if unknown)."""
    if given:
        return given
    path = os.path.join(logdir, DATA_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f).get("data_dir")


def remove_temporary_checkpoints(logdir: str) -> list[str]:
    """Delete the `ckpt-N_temp*` files a killed or failed save leaves behind (they are never
    read, and can fill a disk). Returns what was removed."""
    removed = []
    for path in tf.io.gfile.glob(os.path.join(checkpoint_dir(logdir), "*_temp*")):
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        else:
            tf.io.gfile.remove(path)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lock(logdir: str, log=logging.warning):
    """Hold the run directory for one training process; a second one is refused with the
    holder's pid and host. A lock left by a dead process on this host is taken over."""
    tf.io.gfile.makedirs(logdir)
    path = os.path.join(logdir, LOCK_FILE)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    local = "://" not in logdir
    while True:
        try:
            if local:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                with os.fdopen(fd, "w") as f:
                    json.dump(me, f)
            elif tf.io.gfile.exists(path):  # object stores have no O_EXCL: best effort
                raise FileExistsError(path)
            else:
                atomic_write(path, json.dumps(me))
            break
        except FileExistsError:
            holder = _read_lock(path)
            if holder is None:  # vanished or half-written between our calls: look again
                time.sleep(0.1)
                if _read_lock(path) is None and tf.io.gfile.exists(path):
                    tf.io.gfile.remove(path)
                continue
            if holder.get("host") == me["host"] and not _alive(int(holder.get("pid", -1))):
                log(f"taking over {path}: its process {holder.get('pid')} on "
                    f"{holder.get('host')} is gone")
                tf.io.gfile.remove(path)
                continue
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
            raise RunLockedError(
                f"{logdir} is in use: process {holder.get('pid')} on {holder.get('host')} "
                f"has trained in it since {since}. Wait for it to end, or use another "
                f"--logdir (if that process is gone, delete {path}).")
    try:
        yield path
    finally:
        holder = _read_lock(path)
        if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            tf.io.gfile.remove(path)


def _read_lock(path):
    try:
        with tf.io.gfile.GFile(path) as f:
            return json.load(f)
    except (tf.errors.NotFoundError, FileNotFoundError, ValueError):
        return None


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
