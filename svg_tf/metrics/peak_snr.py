"""PSNR with data range 1, per channel then averaged over channels (as the authors'
eval_seq, SRVP and FitVid)."""

from __future__ import annotations

import tensorflow as tf

from svg_tf.metrics.base import FRAME, Metric


def psnr(x, y, data_range=1.0):
    """Peak signal-to-noise ratio in dB, per channel then averaged over channels.

    Args:
      x, y: frames `[..., H, W, C]` (y may broadcast against x).
      data_range: the value range of the frames.

    Returns:
      PSNR `[...]`.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    mse = tf.reduce_mean(tf.square(x - y), axis=[-3, -2])  # [..., C]
    value = 10.0 * tf.math.log(data_range ** 2 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)
    return tf.reduce_mean(value, axis=-1)



@tf.function(reduce_retracing=True)
def _scores(samples, truth, resource=None):
    return psnr(samples, truth)


PSNR = Metric("psnr", higher_is_better=True, kind=FRAME, frame_scores=_scores, unit="dB",
              convention="10 log10(1 / mse), data range 1, per channel then channel mean")
