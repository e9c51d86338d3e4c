"""LPIPS v0.1 with AlexNet features (Zhang et al. 2018), computed as the `lpips` package does.

Frames in [0, 1] are scaled to [-1, 1], shifted and scaled by LPIPS' ScalingLayer, passed
through torchvision's AlexNet up to each of its five ReLUs, normalised over channels,
differenced and squared, weighted by the learned 1x1 linear heads, averaged over space and
summed over the five layers. Grayscale frames are repeated to three channels (as SRVP does).
The weights come from one .npz made by `python -m svg_tf.convert_lpips` out of torchvision's
AlexNet state dict and the package's weights/v0.1/alex.pth, so scoring needs no PyTorch.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

# The weights (and the AlexNet layout) come from the PyTorch files: svg_tf.torch_interop.
from svg_tf.torch_interop.lpips_weights import CONVS, convert_weights  # noqa: F401

SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
SCALE = np.array([0.458, 0.448, 0.450], np.float32)
POOL_BEFORE = (3, 6)  # a 3x3 stride-2 max-pool precedes these convs
EPS = 1e-10



@functools.lru_cache(maxsize=4)
def load_weights(path: str) -> dict:
    """TensorFlow constants of an .npz written by convert_lpips (cached per path)."""
    from svg_tf.input_files import GB, check_input_file

    check_input_file(path, "LPIPS weights .npz (python -m svg_tf.convert_lpips)", GB // 4)
    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"LPIPS weights {path}: cannot be read ({error}); make them with "
                         "python -m svg_tf.convert_lpips") from None
    needed = [f"features.{i}.{n}" for i in CONVS for n in ("weight", "bias")] + [
        f"lin{k}.model.1.weight" for k in range(len(CONVS))]
    missing = [k for k in needed if k not in data.files]
    if missing:
        raise ValueError(f"LPIPS weights {path} lack {missing[:3]}: make them with "
                         "python -m svg_tf.convert_lpips")
    weights = {}
    for index in CONVS:
        weights[f"conv{index}"] = (
            tf.constant(data[f"features.{index}.weight"].transpose(2, 3, 1, 0)),
            tf.constant(data[f"features.{index}.bias"]))
    for k in range(len(CONVS)):
        weights[f"lin{k}"] = tf.constant(data[f"lin{k}.model.1.weight"].reshape(-1))
    return weights


def features(x, weights):
    """The five AlexNet ReLU outputs for images `[N, H, W, 3]` already in LPIPS' scale."""
    outs = []
    for index, (_, _, _, stride, pad) in CONVS.items():
        if index in POOL_BEFORE:
            x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        kernel, bias = weights[f"conv{index}"]
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        x = tf.nn.relu(tf.nn.conv2d(x, kernel, stride, "VALID") + bias)
        outs.append(x)
    return outs


@tf.function(reduce_retracing=True)
def distance(x, y, weights):
    """LPIPS per frame of `[N, H, W, C]` frames in [0, 1], in one pass and differentiable
    (the loss term of svg_tf.models.perceptual_loss uses it); `weights`: load_weights'
    table."""
    def prepare(v):
        if v.shape[-1] == 1:
            v = tf.repeat(v, 3, axis=-1)
        return (2.0 * v - 1.0 - SHIFT) / SCALE

    total = 0.0
    for k, (fx, fy) in enumerate(zip(features(prepare(x), weights),
                                     features(prepare(y), weights))):
        nx = fx / (tf.sqrt(tf.reduce_sum(tf.square(fx), -1, keepdims=True)) + EPS)
        ny = fy / (tf.sqrt(tf.reduce_sum(tf.square(fy), -1, keepdims=True)) + EPS)
        weighted = tf.tensordot(tf.square(nx - ny), weights[f"lin{k}"], [[3], [0]])
        total += tf.reduce_mean(weighted, axis=[1, 2])
    return total


def lpips(x, y, weights: str, batch_size: int = 256):
    """LPIPS distance per frame (AlexNet, the lpips package's default); lower is more similar.

    Args:
      x, y: frames `[..., H, W, C]` in [0, 1], C = 1 or 3.
      weights: path of the .npz written by convert_lpips.
      batch_size: frames per network pass.

    Returns:
      Distances `[...]`.
    """
    table = load_weights(weights)
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    shape = tf.broadcast_dynamic_shape(tf.shape(x), tf.shape(y))
    x, y = tf.broadcast_to(x, shape), tf.broadcast_to(y, shape)
    lead = shape[:-3]
    frames_x = tf.reshape(x, tf.concat([[-1], tf.shape(x)[-3:]], 0))
    frames_y = tf.reshape(y, tf.concat([[-1], tf.shape(y)[-3:]], 0))
    parts = [distance(frames_x[i:i + batch_size], frames_y[i:i + batch_size], table)
             for i in range(0, int(frames_x.shape[0]), batch_size)]
    return tf.reshape(tf.concat(parts, 0), lead)
