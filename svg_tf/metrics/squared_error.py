"""Per-frame mean squared error (data range 1), lower is better: the reconstruction term's
own unit, which PSNR's log hides when errors are compared across models."""

from __future__ import annotations

import tensorflow as tf

from svg_tf.metrics.base import FRAME, Metric


def mse(x, y):
    """Mean squared error per frame over pixels and channels: `[..., H, W, C]` -> `[...]`."""
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    return tf.reduce_mean(tf.square(x - y), axis=[-3, -2, -1])


@tf.function(reduce_retracing=True)
def _scores(samples, truth, resource=None):
    return mse(samples, truth)


MSE = Metric("mse", higher_is_better=False, kind=FRAME, frame_scores=_scores,
             convention="mean over pixels and channels of the squared error, data range 1")
