"""Video datasets as tf.data pipelines: one entry point, `load`.

Elements are float32 videos `[seq_len, H, W, C]` in [0, 1] (`[B, ...]` with batch_size).
Train streams are shuffled and endless; test streams are fixed and finite.
"""

from __future__ import annotations

import inspect

from svg_tf.datasets import smmnist

NAMES = ("smmnist", "kth", "bair")
SPLITS = ("train", "test")


def _loader(name):
    if name == "smmnist":
        return smmnist.load
    if name == "kth":
        from svg_tf.datasets import kth
        return kth.load
    from svg_tf.datasets import bair
    return bair.load


def options(name: str) -> list[str]:
    """The dataset-specific keyword options `load(name, ...)` accepts."""
    _check(name, "train")
    signature = inspect.signature(_loader(name))
    common = {"split", "seq_len", "data_dir", "batch_size", "seed"}
    return sorted(p for p in signature.parameters if p not in common)


def load(name, split, *, seq_len, data_dir=None, batch_size=None, seed=None, **opts):
    """The `split` stream of dataset `name` as a tf.data.Dataset.

    name: smmnist (generated on the fly), kth or bair (read from data_dir).
    split: train (shuffled, endless; batches drop the remainder) or test (fixed, finite).
    seq_len: frames per video. seed: makes the stream reproducible.
    opts: dataset options; `options(name)` lists them (e.g. smmnist: num_digits,
    deterministic, return_trajectories, trajectory_seed, digits, num_sequences).
    """
    _check(name, split)
    allowed = options(name)
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for dataset {name!r}: allowed options "
                         f"are {allowed}")
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len={seq_len!r} is invalid: expected an integer >= 1")
    return _loader(name)(split, seq_len=seq_len, data_dir=data_dir, batch_size=batch_size,
                         seed=seed, **opts)


def _check(name, split):
    if name not in NAMES:
        raise ValueError(f"dataset={name!r} is invalid: expected one of {list(NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is invalid: expected one of {list(SPLITS)}")
