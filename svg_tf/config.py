"""One experiment configuration and the paper's presets.

Every program (train, evaluate, generate, export) reads the same `SVGConfig`, and a run
directory stores it as JSON, so a checkpoint can always be rebuilt with the model that wrote
it. The presets are the paper's settings (section 4 of the paper and the authors' code); see
the README's presets table for where each number comes from.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

MODELS = ("lp", "fp", "det")
SKIP_MODES = ("last", "original", "every")
BN_STATISTICS = ("frame", "batch")
OPTIMIZERS = ("torch_adam", "keras_adam")
MIXED_PRECISION = ("none", "float16", "bfloat16")
SAMPLE_BN = ("batch", "running")


@dataclasses.dataclass(frozen=True)
class SVGConfig:
    """All hyper-parameters of one experiment.

    The defaults are the Stochastic Moving MNIST preset; use `get_config` for the others.
    """

    dataset: str = "smmnist"
    model: str = "lp"  # lp: learned prior, fp: fixed N(0, I) prior, det: no latent
    backbone: str = "dcgan"
    image_size: int = 64
    channels: int = 1
    g_dim: int = 128  # |h| = |g|: encoder output and frame-predictor output size
    width: int = 64  # channels of the first conv stage (64 in the paper); others scale with it
    z_dim: int = 10
    rnn_size: int = 256
    predictor_rnn_layers: int = 2
    posterior_rnn_layers: int = 1
    prior_rnn_layers: int = 1
    n_past: int = 5
    n_future: int = 10
    n_eval: int = 30  # frames (context + predicted) used at evaluation
    beta: float = 1e-4
    lr: float = 0.002
    beta1: float = 0.9
    batch_size: int = 100  # global batch, split over replicas
    niter: int = 300  # epochs
    epoch_size: int = 600  # steps per epoch
    num_digits: int = 2  # SM-MNIST only
    # Where the decoder's skip tensors come from: "last" = encoder at the last context frame
    # (the paper), "original" = frame n_past - 2 (the authors' code), "every" = the previous
    # frame at every step (the authors' --last_frame_skip).
    skip: str = "last"
    # Batch-norm statistics in training: "frame" = one set per time step, as the authors'
    # per-frame encoder/decoder calls compute them; "batch" = pooled over all frames.
    bn_statistics: str = "frame"
    # Adam arithmetic: "torch_adam" = torch.optim.Adam, eps 1e-8 after bias correction (the
    # authors'); "keras_adam" = keras.optimizers.Adam (eps 1e-7 before bias correction).
    optimizer: str = "torch_adam"
    # Batch norm when sampling, reconstructing and evaluating: "batch" = statistics of the
    # test batch at each frame (the authors' generation script, behind every published
    # number); "running" = running statistics (a sample independent of the rest of the batch).
    sample_bn: str = "batch"
    # Compute dtype: "none" (float32), "float16" (GPUs; loss scaling) or "bfloat16" (TPUs,
    # Ampere+ GPUs, CPUs with AVX512-BF16/AMX). Weights, batch-norm statistics, KL, loss and
    # optimizer state stay float32. Part of the config, so a resume refuses a change by name.
    mixed_precision: str = "none"
    seed: int = 1

    def __post_init__(self):
        data = _dataset_spec(self.dataset)
        _check_choice("model", self.model, MODELS)
        backbone = _backbone_spec(self.backbone)
        _check_choice("image_size", self.image_size,
                      [s for s in data.image_sizes if s in backbone.image_sizes])
        _check_choice("skip", self.skip, SKIP_MODES)
        _check_choice("bn_statistics", self.bn_statistics, BN_STATISTICS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("sample_bn", self.sample_bn, SAMPLE_BN)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        for name in ("channels", "g_dim", "width", "z_dim", "rnn_size", "predictor_rnn_layers",
                     "posterior_rnn_layers", "prior_rnn_layers", "batch_size", "niter",
                     "epoch_size", "num_digits"):
            _check_positive_int(name, getattr(self, name))
        for name in ("n_past", "n_future"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid: expected an integer >= 1")
        if not _is_int(self.n_eval) or self.n_eval <= self.n_past:
            raise ValueError(
                f"n_eval={self.n_eval!r} is invalid: expected an integer > n_past={self.n_past}")
        for name in ("lr",):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name}={value!r} is invalid: expected a number > 0")
        if not isinstance(self.beta, (int, float)) or self.beta < 0:
            raise ValueError(f"beta={self.beta!r} is invalid: expected a number >= 0")
        if not isinstance(self.beta1, (int, float)) or not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1={self.beta1!r} is invalid: expected a number in [0, 1)")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} is invalid: expected an integer >= 0")
        if self.channels not in data.channels:
            raise ValueError(f"channels={self.channels!r} is invalid: expected "
                             f"{' or '.join(map(str, data.channels))} for {self.dataset}")

    @property
    def seq_len(self) -> int:
        """Frames per training sequence."""
        return self.n_past + self.n_future

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    def replace(self, **overrides) -> "SVGConfig":
        _check_fields(overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SVGConfig":
        _check_fields(values)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "SVGConfig":
        return cls.from_dict(json.loads(text))


# The paper's settings per dataset (paper section 4 and the authors' code). KTH follows the authors' released
# command (z 24, beta 1e-6, lr 8e-4); the paper's text gives |z| = 32 for KTH.
PRESETS: dict[str, dict[str, Any]] = {
    "smmnist": dict(dataset="smmnist", backbone="dcgan", channels=1, z_dim=10, n_past=5,
                    n_future=10, n_eval=30, beta=1e-4, lr=0.002, num_digits=2),
    "kth": dict(dataset="kth", backbone="vgg", channels=1, z_dim=24, n_past=10, n_future=10,
                n_eval=40, beta=1e-6, lr=0.0008),
    "bair": dict(dataset="bair", backbone="vgg", channels=3, z_dim=64, n_past=2, n_future=10,
                 n_eval=30, beta=1e-4, lr=0.002),
}


BN_HELP = ("Batch norm when sampling: batch (the authors' generation script and every "
           "published number: each frame normalised with the statistics of the test batch, so "
           "results depend on the batch of sequences; the authors used 100) or running "
           "(running statistics: each sequence independent of the batch). Default: the run's "
           "sample_bn.")


DEFAULT_DATASET = "smmnist"


def get_config(dataset: str = DEFAULT_DATASET, model: str = "lp", **overrides) -> SVGConfig:
    """The paper preset for `dataset` with `model` and any field overridden."""
    _check_choice("dataset", dataset, list(PRESETS))
    _check_fields(overrides)
    values = dict(PRESETS[dataset])
    values["model"] = model
    values.update(overrides)
    return SVGConfig(**values)


def _dataset_spec(name):
    from svg_tf import datasets  # the registries import TensorFlow: only when validating

    return datasets.spec(name)


def _backbone_spec(name):
    from svg_tf.models import backbones

    _check_choice("backbone", name, backbones.BACKBONE_NAMES)
    return backbones.REGISTRY[name]


def _check_fields(values):
    names = {f.name for f in dataclasses.fields(SVGConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}: allowed fields are {sorted(names)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is invalid: expected one of {list(allowed)}")


def _check_positive_int(name, value):
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid: expected a positive integer")
