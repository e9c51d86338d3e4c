"""One experiment configuration and the paper's presets.

Every program (train, evaluate, generate, export) reads the same `SVGConfig`, and a run
directory stores it as JSON, so a checkpoint can always be rebuilt with the model that wrote
it. The presets are the paper's settings (section 4 of the paper and the authors' code); see
the README's presets table for where each number comes from.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from svg_tf import presets as preset_data

MODELS = ("lp", "fp", "det")
SKIP_MODES = ("last", "original", "every")
BN_STATISTICS = ("frame", "batch")
OPTIMIZERS = ("torch_adam", "keras_adam")
MIXED_PRECISION = ("none", "float16", "bfloat16")
SAMPLE_BN = ("batch", "running")
CONDITIONINGS = ("none", "actions")
RECONSTRUCTIONS = ("mse", "l1")
ARCHITECTURES = ("svg", "svg_prime")  # svg_tf.models.architectures.REGISTRY builds them


SECTIONS = ("model", "data", "training")


def _field(default, section, help, *, choices=None, flag=None, resumable=False, cli=True):
    """A config field with what the rest of the program needs to know about it: its section
    (a model's get_config keeps the `model` ones), its --help text and choices (the CLI
    flags are generated from them), its flag name, whether a resume may change it, and
    whether it is a flag at all (cli=False: the data decides it)."""
    return dataclasses.field(default=default, metadata=dict(
        section=section, help=help, choices=choices, flag=flag or None, resumable=resumable,
        cli=cli))


def _backbone_names():
    from svg_tf.models.backbones import REGISTRY

    return tuple(REGISTRY)  # read when asked: a backbone registered later counts


@dataclasses.dataclass(frozen=True)
class SVGConfig:
    """All hyper-parameters of one experiment.

    The defaults are the Stochastic Moving MNIST preset; use `get_config` for the others.
    """

    dataset: str = _field("smmnist", "data", "Dataset and paper preset; every other flag "
                          "given overrides the preset. videos: your own videos, prepared by "
                          "python -m svg_tf.prepare_videos (model from --preset).",
                          choices=lambda: _dataset_names())
    model: str = _field("lp", "model", "lp: learned prior (SVG-LP); fp: fixed N(0, I) prior "
                        "(SVG-FP); det: deterministic LSTM baseline.", choices=MODELS)
    architecture: str = _field(
        "svg", "model", "svg: the paper's LSTMs on a vector h. svg_prime: SVG' (Villegas et "
        "al. 2019), conv-LSTMs on the encoder's 8x8 feature map with a spatial z (backbone "
        "vgg_map); its K (encoder/decoder channels) is --width/64 and its M (recurrent "
        "channels) --rnn_size/512, and it starts from the SVG' defaults of the VP2 code (K "
        "0.5, M 0.1: width 32, rnn_size 51; g_dim 128, z_dim 10, lr 3e-4).",
        choices=ARCHITECTURES)
    backbone: str = _field("dcgan", "model", "Frame encoder/decoder.", choices=_backbone_names)
    image_size: int = _field(64, "model", "Frame size in pixels.", flag="image_width")
    channels: int = _field(1, "model", "Frame channels.")
    g_dim: int = _field(128, "model", "|h| = |g|: encoder output and frame-predictor output "
                        "size.")
    width: int = _field(64, "model", "Channels of the first conv stage (the paper's 64); the "
                        "others scale with it. A deviation for small CPU experiments.")
    z_dim: int = _field(10, "model", "Latent size |z|.")
    rnn_size: int = _field(256, "model", "LSTM cells per layer.")
    predictor_rnn_layers: int = _field(2, "model", "Frame-predictor LSTM layers.")
    posterior_rnn_layers: int = _field(1, "model", "Posterior LSTM layers.")
    prior_rnn_layers: int = _field(1, "model", "Learned-prior LSTM layers.")
    n_past: int = _field(5, "model", "Context frames.")
    n_future: int = _field(10, "model", "Frames predicted in training.")
    n_eval: int = _field(30, "data", "Frames (context + predicted) in evaluation and the "
                         "pictures of each epoch.")
    beta: float = _field(1e-4, "model", "Weight of the KL term.")
    reconstruction: str = _field("mse", "model", "Reconstruction term of the loss: mse (the "
                                 "paper) or l1 (mean absolute error, an option of the VP2 "
                                 "SVG' code).", choices=RECONSTRUCTIONS)
    lpips_weight: float = _field(0.0, "model", "Weight of an LPIPS term added to the loss, "
                                 "lpips_weight * sum_t LPIPS(x_hat_t, x_t) (an option of the VP2 "
                                 "SVG' code; 0: none, the paper). Needs --lpips_weights.")
    lr: float = _field(0.002, "training", "Adam learning rate (may change on resume).",
                       resumable=True)
    beta1: float = _field(0.9, "training", "Adam beta1 (may change on resume).",
                          resumable=True)
    batch_size: int = _field(100, "training", "Global batch size, split over replicas.")
    niter: int = _field(300, "training", "Epochs. Raise it to extend a run.", resumable=True)
    epoch_size: int = _field(600, "training", "Training steps per epoch.")
    num_digits: int = _field(2, "data", "Digits per SM-MNIST sequence.")
    skip: str = _field("last", "model", "Skip-connection source: last (the paper: the last "
                       "context frame), original (the authors' code: frame n_past-2), every "
                       "(the previous frame at every step, the authors' --last_frame_skip).",
                       choices=SKIP_MODES)
    bn_statistics: str = _field("frame", "model", "Batch-norm statistics in training: frame "
                                "(one set per time step, as the authors' per-frame calls) or "
                                "batch (pooled over all frames).", choices=BN_STATISTICS)
    optimizer: str = _field("torch_adam", "training", "torch_adam (torch.optim.Adam's "
                            "arithmetic, eps 1e-8 after bias correction, as the authors) or "
                            "keras_adam (keras.optimizers.Adam, eps 1e-7 before it).",
                            choices=OPTIMIZERS)
    sample_bn: str = _field("batch", "model", "Batch norm of this run's samples, pictures and "
                            "evaluation: batch (test-batch statistics at each frame: the "
                            "authors' generation, behind every published number) or running "
                            "(a sample independent of the rest of the batch).",
                            choices=SAMPLE_BN)
    mixed_precision: str = _field("none", "model", "Compute dtype: none (float32), float16 "
                                  "(GPUs; with loss scaling) or bfloat16 (TPUs, Ampere+ GPUs, "
                                  "CPUs with AVX512-BF16/AMX). Weights, batch-norm statistics, "
                                  "KL, loss and optimizer state stay float32. A resume refuses "
                                  "a change.", choices=MIXED_PRECISION)
    # In the model section: the posterior noise of train_step and the default sampling seed
    # are the model's, so a model rebuilt from its Keras config must keep it.
    seed: int = _field(1, "model", "Seed of initialisation, data and noise.")
    conditioning: str = _field("none", "model", "none, or actions: the frame predictor also "
                               "sees the action taken after the previous frame, [h_{t-1}, "
                               "a_{t-1}, z_t] (as FitVid and VP2's SVG'); needs a dataset "
                               "with actions (pushed_mnist, bair).", choices=CONDITIONINGS)
    # Set from the dataset's ActionSpec when conditioning=actions (never flags): the width
    # of an action and how it is normalised, (a - offset) / scale, per dimension.
    action_dim: int = _field(0, "model", "Floats per action (from the dataset).", cli=False)
    action_offset: tuple = _field((), "model", "Per-dimension offset of the actions' "
                                  "normalisation (from the dataset).", cli=False)
    action_scale: tuple = _field((), "model", "Per-dimension scale of the actions' "
                                 "normalisation (from the dataset).", cli=False)

    def __post_init__(self):
        data = _dataset_spec(self.dataset)
        _check_choice("model", self.model, MODELS)
        backbone = _backbone_spec(self.backbone)
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        if _architecture_spec(self.architecture).on_map != (backbone.feature_map is not None):
            maps = [n for n in _backbone_names() if _backbone_spec(n).feature_map]
            raise ValueError(
                f"backbone={self.backbone} does not fit architecture={self.architecture}: "
                + (f"it needs a backbone whose h is a feature map ({', '.join(maps)})"
                   if _architecture_spec(self.architecture).on_map else
                   f"{self.backbone}'s h is a feature map, for architecture=svg_prime"))
        _check_choice("image_size", self.image_size,
                      [s for s in data.image_sizes if s in backbone.image_sizes])
        _check_choice("skip", self.skip, SKIP_MODES)
        _check_choice("bn_statistics", self.bn_statistics, BN_STATISTICS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("sample_bn", self.sample_bn, SAMPLE_BN)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_choice("reconstruction", self.reconstruction, RECONSTRUCTIONS)
        _check_positive_int("channels", self.channels)
        for name, most in SIZE_LIMITS.items():
            value = getattr(self, name)
            if not _is_int(value) or not 1 <= value <= most:
                raise ValueError(f"{name}={value!r} is invalid: expected an integer from 1 to "
                                 f"{most:,} (the bound svg_tf sets on {name})")
        if not _is_int(self.n_eval) or not self.n_past < self.n_eval <= MAX_FRAMES:
            raise ValueError(f"n_eval={self.n_eval!r} is invalid: expected an integer > "
                             f"n_past={self.n_past} and <= {MAX_FRAMES:,}")
        # NaN compares False with everything, so each test is written to fail for it.
        if not _is_number(self.lr) or not 0 < self.lr < math.inf:
            raise ValueError(f"lr={self.lr!r} is invalid: expected a finite number > 0")
        if not _is_number(self.beta) or not 0 <= self.beta < math.inf:
            raise ValueError(f"beta={self.beta!r} is invalid: expected a finite number >= 0")
        if not _is_number(self.lpips_weight) or not 0 <= self.lpips_weight < math.inf:
            raise ValueError(f"lpips_weight={self.lpips_weight!r} is invalid: expected a finite "
                             "number >= 0")
        if not _is_number(self.beta1) or not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1={self.beta1!r} is invalid: expected a number in [0, 1)")
        if not _is_int(self.seed) or not 0 <= self.seed < 2 ** 31:
            raise ValueError(f"seed={self.seed!r} is invalid: expected an integer from 0 to "
                             f"{2 ** 31 - 1:,}")
        self._check_conditioning(data)
        if self.channels not in data.channels:
            raise ValueError(f"channels={self.channels!r} is invalid: expected "
                             f"{' or '.join(map(str, data.channels))} for {self.dataset}")

    def _check_conditioning(self, data):
        """conditioning=actions needs a dataset with actions; the action width and its
        normalisation come from the dataset (stored, a resume must match them)."""
        _check_choice("conditioning", self.conditioning, CONDITIONINGS)
        for name in ("action_offset", "action_scale"):  # JSON gives lists
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.conditioning == "none":
            if self.action_dim or self.action_offset or self.action_scale:
                raise ValueError(f"action_dim={self.action_dim}: actions are set only with "
                                 "conditioning=actions")
            return
        actions = data.actions
        if actions is None and data.fields_from_data is not None and self.action_dim:
            actions = _DataActions(self.action_dim, self.action_offset, self.action_scale)
        if actions is None:
            with_actions = [n for n in _dataset_names() if _dataset_spec(n).actions]
            raise ValueError(f"conditioning=actions needs a dataset with actions; "
                             f"{self.dataset} has none (datasets with actions: "
                             f"{', '.join(with_actions)}; videos prepared with actions "
                             "files)")
        for name, value in (("action_dim", actions.dim), ("action_offset", actions.offset),
                            ("action_scale", actions.scale)):
            if not getattr(self, name):
                object.__setattr__(self, name, tuple(value) if name != "action_dim" else value)
        if self.action_dim != actions.dim:
            raise ValueError(f"action_dim={self.action_dim} is invalid: {self.dataset}'s "
                             f"actions have {actions.dim} dimensions")
        for name in ("action_offset", "action_scale"):
            if len(getattr(self, name)) != self.action_dim:
                raise ValueError(f"{name}={getattr(self, name)} is invalid: expected "
                                 f"{self.action_dim} numbers")
        if not all(math.isfinite(v) and v > 0 for v in self.action_scale) or not all(
                math.isfinite(v) for v in self.action_offset):
            raise ValueError(f"action_scale={self.action_scale} must be finite and > 0, "
                             f"action_offset={self.action_offset} finite")

    @property
    def seq_len(self) -> int:
        """Frames per training sequence."""
        return self.n_past + self.n_future

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    def section(self, name: str) -> dict[str, Any]:
        """The fields of one section (model, data or training) as a dict."""
        _check_choice("section", name, SECTIONS)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata["section"] == name}

    def replace(self, **overrides) -> "SVGConfig":
        _check_fields(overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON would read them back (tuples as lists), so that a saved
        config.json compares equal to the config it was written from."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SVGConfig":
        _check_fields(values)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "SVGConfig":
        return cls.from_dict(json.loads(text))


# The paper's settings per dataset: svg_tf/presets.py holds them with their parameter counts
# and published numbers.
PRESETS: dict[str, dict[str, Any]] = {name: dict(preset.settings)
                                      for name, preset in preset_data.PRESETS.items()}


# Settings a resume may change: they act on the optimizer or the schedule only, never on a
# saved variable's shape or dtype (extending niter, or lowering lr to rescue a run).
RESUMABLE_FIELDS = tuple(f.name for f in dataclasses.fields(SVGConfig)
                         if f.metadata["resumable"])


def field_help(name: str) -> str:
    """--help text of a field: what it is, its range, then its value in each preset."""
    field = {f.name: f for f in dataclasses.fields(SVGConfig)}[name]
    values = {dataset: preset.get(name, field.default) for dataset, preset in PRESETS.items()}
    if name == "dataset":
        return field.metadata["help"]
    text = field.metadata["help"]
    if name in SIZE_LIMITS:
        text += f" Range: 1 to {SIZE_LIMITS[name]:,}."
    if len(set(values.values())) == 1:
        return f"{text} Preset: {field.default}."
    return f"{text} Presets: " + ", ".join(f"{d} {v}" for d, v in values.items()) + "."


def choices_are_registered(name: str) -> bool:
    """Whether a field's choices come from a registry (read when asked) rather than a
    fixed tuple."""
    return callable({f.name: f for f in dataclasses.fields(SVGConfig)}[name].metadata["choices"])


def field_choices(name: str):
    """The allowed values of a field with a fixed set of them (else None)."""
    choices = {f.name: f for f in dataclasses.fields(SVGConfig)}[name].metadata["choices"]
    return tuple(choices()) if callable(choices) else choices


BN_HELP = ("Batch norm when sampling: batch (the authors' generation script and every "
           "published number: each frame normalised with the statistics of the test batch, so "
           "results depend on the batch of sequences; the authors used 100) or running "
           "(running statistics: each sequence independent of the batch). Default: the run's "
           "sample_bn.")


DEFAULT_DATASET = "smmnist"


def get_config(dataset: str = DEFAULT_DATASET, model: str = "lp", preset: str | None = None,
               **overrides) -> SVGConfig:
    """The experiment settings of a paper preset, with any field overridden.

    Args:
      dataset: smmnist, kth, bair (the paper's settings) or videos (your own, which has none).
      model: lp (learned prior), fp (fixed prior) or det (deterministic baseline).
      preset: for videos, the paper dataset whose settings to start from (default: the one the
        dataset's spec names, kth); for a paper dataset it may only name the dataset itself.
      **overrides: SVGConfig fields, validated (an invalid value raises ValueError naming it).

    Returns:
      An SVGConfig.

    Example:
      >>> config = get_config("bair", "lp", batch_size=8)
    """
    _check_choice("dataset", dataset, _dataset_names())
    _check_fields(overrides)
    if dataset in PRESETS:
        if preset not in (None, dataset):
            raise ValueError(f"preset={preset!r} is invalid for dataset={dataset!r}: a paper "
                             "dataset uses its own preset (override single flags instead)")
        preset = dataset
    else:
        preset = preset or _dataset_spec(dataset).default_preset
        _check_choice("preset", preset, list(PRESETS))
    values = dict(PRESETS[preset], dataset=dataset)
    values["model"] = model
    # An architecture's own sizes (SVG': the VP2 defaults) replace the dataset preset's.
    values.update(preset_data.ARCHITECTURE_SETTINGS.get(overrides.get("architecture"), {}))
    values.update(overrides)
    return SVGConfig(**values)


def _dataset_names():
    from svg_tf import datasets

    return datasets.NAMES


def _dataset_spec(name):
    from svg_tf import datasets  # the registries import TensorFlow: only when validating

    return datasets.spec(name)


def _architecture_spec(name):
    from svg_tf.models import architectures

    return architectures.REGISTRY[name]


def _backbone_spec(name):
    from svg_tf.models import backbones

    _check_choice("backbone", name, list(backbones.REGISTRY))
    return backbones.REGISTRY[name]


# The largest value of each size field: far beyond every published model (8x the paper's
# widths, 30x its frames), and small enough that a mistyped or hostile value (a config.json
# or an authors' checkpoint saying width=100000 or n_past=1e9) is refused in one line
# before anything is built, instead of exhausting memory.
MAX_FRAMES = 1_000
MAX_SAMPLES = 10_000  # samples per sequence in one evaluation or picture (papers use 100)
SIZE_LIMITS = {
    "width": 512, "g_dim": 4_096, "z_dim": 1_024, "rnn_size": 4_096,
    "predictor_rnn_layers": 32, "posterior_rnn_layers": 32, "prior_rnn_layers": 32,
    "n_past": MAX_FRAMES - 1, "n_future": MAX_FRAMES, "batch_size": 16_384,
    "niter": 10_000_000, "epoch_size": 10_000_000, "num_digits": 16,
}


@dataclasses.dataclass(frozen=True)
class _DataActions:
    """The actions of a dataset whose data decides them (videos prepared with actions
    files): what the data gave the config."""
    dim: int
    offset: tuple
    scale: tuple


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


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_positive_int(name, value):
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid: expected a positive integer")
