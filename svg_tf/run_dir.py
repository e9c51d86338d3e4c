"""The run directory: where its files live and how they are read and written.

    config.json                 the resolved SVGConfig (a resume must match it)
    data.json                   where the training data was read from (evaluate/generate
                                default to it)
    train.lock                  held by the training process (pid, host) while it runs
    checkpoints/ckpt-N.*        model, optimizer, step, via tf.train.CheckpointManager
    checkpoints/kept/ckpt-N.*   checkpoints kept for analyses (train --keep_every)
    train/, test/               TensorBoard event files
    samples/, eval/, analysis/  pictures, metrics and analyses written by the programs

Trained runs (python -m svg_tf.train) and converted ones (python -m svg_tf.convert_pytorch)
have the same layout, so every program reads both through `load_run`. All I/O goes through
tf.io.gfile, so gs:// run directories work too.

A run path is resolved once, where it enters (`resolve`: `train`, `load_run`, the
converters): relative, absolute, `~`, a trailing slash and a symlink to the folder all name
the same run, and so the same lock.
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
from svg_tf.errors import FileReadError
from svg_tf.json_file import read_json

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
LOCK_FILE = "train.lock"
CHECKPOINT_DIR = "checkpoints"
KEPT_DIR = "kept"


class RunLockedError(RuntimeError):
    """Another live process trains in this run directory (or writes this folder)."""


class MissingRunFile(FileReadError, FileNotFoundError):
    """A file a run directory must hold is not there (config.json, a checkpoint)."""


def resolve(logdir: str) -> str:
    """The one name of a run directory: `~` expanded, made absolute from the working
    directory, symlinks resolved, no trailing slash (object-store URLs: only the slash)."""
    logdir = os.fspath(logdir)
    if "://" in logdir:
        return logdir.rstrip("/") or logdir
    return os.path.realpath(os.path.expanduser(logdir))


def config_path(logdir: str) -> str:
    return os.path.join(logdir, CONFIG_FILE)


def checkpoint_dir(logdir: str) -> str:
    return os.path.join(logdir, CHECKPOINT_DIR)


def read_config(logdir: str) -> SVGConfig:
    """The run's config; a missing, unreadable or invalid config.json is a FileReadError
    naming it."""
    path = config_path(logdir)
    saved = saved_config_dict(logdir)
    if saved is None:
        raise MissingRunFile(path, f"not found: is {logdir} a run directory (written by "
                                   "python -m svg_tf.train or python -m svg_tf.convert_pytorch)?")
    try:
        return SVGConfig.from_dict(saved)
    except (TypeError, ValueError, KeyError) as error:
        raise FileReadError(path, f"is not a valid svg_tf config ({error})") from None


def saved_config_dict(logdir: str) -> dict | None:
    """config.json as a dict, or None when the run has none yet; a FileReadError when it is
    there but not a JSON object (truncated, empty, garbage, a folder)."""
    path = config_path(logdir)
    if not tf.io.gfile.exists(path):
        return None
    return read_json(path, "svg_tf config")


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
    """The checkpoint the index names, or None when the run has no checkpoint; a
    FileReadError when ckpt-* files are there but the index is missing, unreadable or names
    a checkpoint whose files are gone (starting over would overwrite them)."""
    directory = checkpoint_dir(logdir)
    index = os.path.join(directory, "checkpoint")
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001 - text_format's ParseError, a folder named checkpoint, ...
        state = None
    # TensorFlow has already joined a relative name in the index onto `directory`.
    named = state.model_checkpoint_path if state else None
    if named and tf.io.gfile.exists(named + ".index"):
        return named
    present = sorted((p[:-len(".index")] for p in
                      tf.io.gfile.glob(os.path.join(directory, "ckpt-*.index"))),
                     key=_step_of)
    if not present and not named:
        return None
    if not present:
        raise MissingRunFile(index, f"names {os.path.basename(named)}, whose files are missing, "
                                    "and no other checkpoint is there")
    newest = os.path.basename(present[-1])
    problem = (f"names {os.path.basename(named)}, whose files are missing" if named else
               "is missing or unreadable")
    raise FileReadError(index, f"{problem}, but {', '.join(os.path.basename(p) for p in present)}"
                               f" are there; nothing was changed. To resume from {newest}: "
                               f"printf 'model_checkpoint_path: \"{newest}\"\\n' > {index} "
                               "(or use another --logdir to start over)")


def _step_of(prefix: str) -> int:
    try:
        return int(prefix.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def restore(checkpoint: tf.train.Checkpoint, path: str, logdir: str) -> None:
    """Restore every object of `checkpoint` from `path`, requiring an exact fit: every
    variable of the model has a value there and every value there has its variable (a
    config.json that no longer fits its checkpoint is refused, naming the first variable
    that differs; never a partial restore). Damaged files are a FileReadError naming them."""
    problem = _restore_or_problem(checkpoint, path, logdir)
    if problem is not None:
        # TensorFlow warns, when the abandoned objects are collected (possibly only at
        # exit), about the values they never took: the refusal already says it all.
        _RestoreNoise.install()
        raise problem


class _RestoreNoise(logging.Filter):
    """Drops TensorFlow's warnings about unrestored values, once a restore was refused."""

    installed = False

    @classmethod
    def install(cls):
        if not cls.installed:
            tf.get_logger().addFilter(cls())
            cls.installed = True

    def filter(self, record):
        message = record.getMessage()
        return not ("unrestored values" in message
                    or "could not be found in the restored object" in message)


def _restore_or_problem(checkpoint, path, logdir) -> FileReadError | None:
    status = None
    try:
        status = checkpoint.restore(path)
        status.assert_consumed()
        return None
    except AssertionError as error:
        _quiet(status)
        return FileReadError(path, f"does not fit {config_path(logdir)}: "
                                   f"{_first_mismatch(str(error))}. Was config.json edited? "
                                   "Nothing was loaded")
    except (ValueError, tf.errors.InvalidArgumentError) as error:
        _quiet(status)
        message = getattr(error, "message", None) or str(error)
        return FileReadError(path, f"does not fit {config_path(logdir)}: "
                                   f"{_first_line(message)}")
    except (tf.errors.OpError, OSError, IndexError) as error:  # IndexError: short data file
        _quiet(status)
        message = getattr(error, "message", None) or str(error)
        return FileReadError(path, f"cannot be restored ({_first_line(message)}): a checkpoint "
                                   "file is missing, truncated or damaged")


def _quiet(status):
    if status is not None:
        status.expect_partial()


def _first_line(text: str, limit=300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[:limit] + "..."


def _first_mismatch(message: str) -> str:
    """The first variable named in TensorFlow's restore assertion."""
    import re

    name = re.search(r"name=['\"]?([^'\" ,>]+)", message) or re.search(
        r"\(root\)\.([\w.\[\]/-]+)", message)
    kind = ("the model has variables the checkpoint lacks"
            if "not bound to checkpointed values" in message
            else "the checkpoint has values the model lacks")
    return f"{kind} (first: {name.group(1)})" if name else f"{kind} ({_first_line(message, 200)})"


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
    recorded = read_json(path, "record of the run's training data ({\"data_dir\": ...})")
    value = recorded.get("data_dir")
    if value is not None and not isinstance(value, str):
        raise FileReadError(path, f"data_dir is a {type(value).__name__}: expected a path "
                                  "(or pass --data_dir)")
    return value


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


def kept_dir(logdir: str) -> str:
    return os.path.join(checkpoint_dir(logdir), KEPT_DIR)


def keep_checkpoint(logdir: str, path: str) -> str:
    """Copy checkpoint `path` (a ckpt-N prefix) to checkpoints/kept/, where
    CheckpointManager never deletes it; written as temporary files and renamed."""
    kept = kept_dir(logdir)
    tf.io.gfile.makedirs(kept)
    name = os.path.basename(path)
    sources = tf.io.gfile.glob(path + ".*")
    for source in sources:
        target = os.path.join(kept, os.path.basename(source))
        tf.io.gfile.copy(source, target + ".tmp", overwrite=True)
    for source in sources:
        target = os.path.join(kept, os.path.basename(source))
        tf.io.gfile.rename(target + ".tmp", target, overwrite=True)
    return os.path.join(kept, name)


def kept_checkpoints(logdir: str) -> list[str]:
    """The kept checkpoint prefixes of a run, by step."""
    indexes = tf.io.gfile.glob(os.path.join(kept_dir(logdir), "ckpt-*.index"))
    prefixes = [p[:-len(".index")] for p in indexes]
    return sorted(prefixes, key=_step_of)


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
    with exclusive(path, log, lambda holder, since: (
            f"{logdir} is in use: process {holder.get('pid')} on {holder.get('host')} "
            f"has trained in it since {since}. Wait for it to end, or use another "
            f"--logdir (if that process is gone, delete {path}).")):
        yield path


@contextlib.contextmanager
def new_folder(target: str, log=logging.warning):
    """Write a folder (an export, a converted run) completely or not at all.

    Yields a temporary sibling `TARGET.partial` to write into, renamed to `target` when the
    block ends without error (removed when it fails). A lock file `TARGET.lock` refuses a
    second writer; a `.partial` folder and a lock left by a killed writer are cleaned up by
    the next one. `target` must not exist or be empty.
    """
    target = target.rstrip("/") or target
    if "://" in target:  # object stores: no rename of folders, no O_EXCL; write in place
        _refuse_non_empty(target)
        tf.io.gfile.makedirs(target)
        yield target
        return
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    _refuse_non_empty(target)
    with exclusive(target + ".lock", log, lambda holder, since: (
            f"{target} is being written by process {holder.get('pid')} on "
            f"{holder.get('host')} since {since}: wait for it, or choose another folder")):
        _refuse_non_empty(target)  # another writer may have finished while we waited
        partial = target + ".partial"
        if os.path.exists(partial):
            log(f"removing {partial}, left by an interrupted write")
            tf.io.gfile.rmtree(partial)
        os.makedirs(partial)
        try:
            yield partial
        except BaseException:
            tf.io.gfile.rmtree(partial)
            raise
        if os.path.isdir(target):
            os.rmdir(target)  # empty (checked above)
        os.rename(partial, target)


def _refuse_non_empty(target):
    if tf.io.gfile.exists(target) and (not tf.io.gfile.isdir(target)
                                       or tf.io.gfile.listdir(target)):
        raise FileExistsError(f"{target} exists and is not empty: choose a new folder "
                              "(nothing was written)")


@contextlib.contextmanager
def exclusive(path: str, log, busy_message):
    """Hold lock file `path` (pid, host, since; O_EXCL where the file system has it); a
    live holder is refused (RunLockedError) with busy_message(holder, since), a dead one on
    this host is taken over. (Also what guards a dataset preparation's output folder.)"""
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    local = "://" not in path
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
            raise RunLockedError(busy_message(holder, since))
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


def load_run(logdir: str, checkpoint: str | None = None, return_checkpoint: bool = False):
    """The config and the restored model of a run directory, trained or converted.

    The restore must fit exactly: every variable of the checkpoint finds its place and every
    weight of the model gets a value (see `restore`), or FileReadError names the checkpoint.

    Args:
      logdir: the run directory (config.json, checkpoints/).
      checkpoint: a checkpoint prefix such as RUN/checkpoints/kept/ckpt-1000 (default: the
        latest of the run).
      return_checkpoint: also return the prefix that was restored.

    Returns:
      (config, model), or (config, model, checkpoint) with return_checkpoint. The model is built
      (and compiled only if the checkpoint holds optimizer state).

    Example:
      >>> config, model = load_run("runs/bair_lp")
      >>> frames = model.sample(context, n_future=28, num_samples=10)
    """
    from svg_tf.models import build_model

    logdir = resolve(logdir)
    config = read_config(logdir)
    checkpoint = os.path.expanduser(checkpoint) if checkpoint else latest_checkpoint(logdir)
    if checkpoint is None:
        raise MissingRunFile(checkpoint_dir(logdir), "holds no checkpoint")
    if not tf.io.gfile.exists(checkpoint + ".index"):
        raise MissingRunFile(checkpoint, "not found (expected the prefix of a checkpoint, "
                                         "e.g. RUN/checkpoints/ckpt-300, with its .index file)")
    try:
        keys = [name for name, _ in tf.train.list_variables(checkpoint)]
    except (tf.errors.OpError, OSError, ValueError) as error:
        message = getattr(error, "message", None) or str(error)
        raise FileReadError(checkpoint, f"cannot be read ({_first_line(message)}): its .index "
                                        "is truncated or damaged") from None
    with_optimizer = any(k.startswith("optimizer/") for k in keys)
    model = build_model(config, compile=with_optimizer)
    objects = {"model": model}
    if with_optimizer:  # restore it too, so that every value must find its variable
        objects["optimizer"] = model.optimizer
    if any(k.startswith("step/") for k in keys):
        objects["step"] = tf.Variable(0, dtype=tf.int64, name="step", trainable=False)
    restore(tf.train.Checkpoint(**objects), checkpoint, logdir)
    logging.info("restored %s", checkpoint)
    return (config, model, checkpoint) if return_checkpoint else (config, model)


def save_model(logdir: str, model, step: int = 0) -> str:
    """Write a model's weights as a checkpoint of a run directory (what a converter produces).

    Args:
      logdir: the run directory.
      model: an SVG model.
      step: the checkpoint number (ckpt-`step`).

    Returns:
      The checkpoint prefix written.
    """
    step_var = tf.Variable(step, dtype=tf.int64, name="step", trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir(logdir), max_to_keep=3)
    return manager.save(checkpoint_number=step)
