"""SSIM in the two conventions of the literature; every number must say which:
  gaussian (`ssim`):  11x11 Gaussian window, sigma 1.5, population covariance, data range 1
                      (= tf.image.ssim; used by SRVP and FitVid);
  svg (`ssim_svg`):   the authors' skimage `compare_ssim` defaults per channel: 7x7 uniform
                      window, sample covariance, and for float input a data range of 2.
Both are computed on the windows that fit inside the frame (skimage crops the padded border),
per channel, then averaged over channels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from svg_tf.metrics.base import FRAME, Metric

SSIM_CONVENTIONS = ("gaussian", "svg")
_K1, _K2 = 0.01, 0.03


def _window(convention):
    """(1-D factor of the separable window, covariance normalisation, data range)."""
    if convention == "gaussian":
        coords = np.arange(11, dtype=np.float64) - 5
        g = np.exp(-(coords ** 2) / (2 * 1.5 ** 2))
        return g / g.sum(), 1.0, 1.0
    if convention == "svg":
        n = 7 * 7
        return np.full(7, 1.0 / 7), n / (n - 1.0), 2.0
    raise ValueError(f"convention={convention!r} is invalid: expected one of "
                     f"{list(SSIM_CONVENTIONS)}")


def ssim(x, y, convention="gaussian"):
    """Mean SSIM of frames, per channel then averaged over channels.

    Args:
      x, y: frames `[..., H, W, C]` in [0, 1]. y may broadcast against x (one ground truth
        `[B, 1, T, ...]` for many samples `[B, S, T, ...]`): its local statistics are then
        filtered once, not once per sample.
      convention: gaussian (11x11 window, sigma 1.5, as tf.image.ssim and SRVP) or svg (the
        authors' skimage compare_ssim defaults: a 7x7 uniform window).

    Returns:
      SSIM `[...]`.
    """
    window, cov_norm, data_range = _window(convention)
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    # Both windows are separable: two 1-D passes cost 2k instead of k^2 per pixel.
    rows = tf.constant(window[:, None, None, None], tf.float32)
    cols = tf.constant(window[None, :, None, None], tf.float32)

    def filt(a):
        """Local means of `[..., H, W, C]`, each channel on its own (valid windows)."""
        shape = tf.shape(a)
        images = tf.reshape(a, tf.concat([[-1], shape[-3:]], 0))
        images = tf.transpose(images, [0, 3, 1, 2])  # one single-channel image per channel
        images = tf.reshape(images, [-1, shape[-3], shape[-2], 1])
        images = tf.nn.conv2d(images, rows, strides=1, padding="VALID")
        images = tf.nn.conv2d(images, cols, strides=1, padding="VALID")
        out = tf.shape(images)
        images = tf.reshape(images, [-1, shape[-1], out[1], out[2]])
        images = tf.transpose(images, [0, 2, 3, 1])
        return tf.reshape(images, tf.concat([shape[:-3], out[1:3], shape[-1:]], 0))

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return tf.reduce_mean(s, axis=[-3, -2, -1])  # equal channel weights: per channel, then mean




@tf.function(reduce_retracing=True)
def _gaussian(samples, truth, resource=None):
    return ssim(samples, truth, "gaussian")


@tf.function(reduce_retracing=True)
def _svg(samples, truth, resource=None):
    return ssim(samples, truth, "svg")


SSIM = Metric("ssim", higher_is_better=True, kind=FRAME, frame_scores=_gaussian,
              convention="Gaussian 11x11 window, sigma 1.5, data range 1 (tf.image.ssim; "
                         "SRVP, FitVid); per channel, then channel mean")
SSIM_SVG = Metric("ssim_svg", higher_is_better=True, kind=FRAME, frame_scores=_svg,
                  convention="the authors' skimage compare_ssim defaults: 7x7 uniform window, "
                             "sample covariance, data range 2; per channel, then channel mean")
