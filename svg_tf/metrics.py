"""Frame metrics, the Fréchet distance and the best-of-N protocol of the paper.

SSIM has two conventions in the literature, and every number must say which:
  gaussian: 11x11 Gaussian window, sigma 1.5, population covariance, data range 1
            (= tf.image.ssim; used by SRVP and FitVid);
  svg:      the authors' skimage `compare_ssim` defaults per channel: 7x7 uniform window,
            sample covariance, and for float input a data range of 2.
Both are computed on the windows that fit inside the frame (skimage crops the padded border),
per channel, then averaged over channels. PSNR uses data range 1, per channel, averaged over
channels (as the authors' eval_seq).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SSIM_CONVENTIONS = ("gaussian", "svg")
SELECTIONS = ("per_metric", "ssim_mean")
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
    """Mean SSIM of frames `[..., H, W, C]` -> `[...]` (per channel, then channel mean).

    y may broadcast against x (e.g. one ground truth `[B, 1, T, ...]` for many samples
    `[B, S, T, ...]`): its local statistics are then filtered once, not once per sample.
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


def psnr(x, y, data_range=1.0):
    """PSNR (dB) of frames `[..., H, W, C]` -> `[...]`, per channel then channel mean."""
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    mse = tf.reduce_mean(tf.square(x - y), axis=[-3, -2])  # [..., C]
    value = 10.0 * tf.math.log(data_range ** 2 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)
    return tf.reduce_mean(value, axis=-1)


def best_of_n(ssim_values, psnr_values, select="per_metric"):
    """Best sample per sequence from per-sample, per-frame metrics `[B, S, T]`.

    per_metric: the best sample for each metric separately, after averaging over frames
                (SRVP, FitVid);
    ssim_mean:  one best sample by mean SSIM, reported for both metrics (the authors').
    Returns (ssim `[B, T]`, psnr `[B, T]`) of the selected samples.
    """
    ssim_values, psnr_values = np.asarray(ssim_values), np.asarray(psnr_values)
    rows = np.arange(ssim_values.shape[0])
    best_ssim = np.argmax(ssim_values.mean(-1), axis=1)
    if select == "per_metric":
        best_psnr = np.argmax(psnr_values.mean(-1), axis=1)
    elif select == "ssim_mean":
        best_psnr = best_ssim
    else:
        raise ValueError(f"select={select!r} is invalid: expected one of {list(SELECTIONS)}")
    return ssim_values[rows, best_ssim], psnr_values[rows, best_psnr]


def mean_and_ci(values, axis=0):
    """Mean and 95% confidence half-width 1.96 * std / sqrt(n) along `axis` (std with
    ddof=0, as SRVP reports it)."""
    values = np.asarray(values, np.float64)
    n = values.shape[axis]
    return values.mean(axis), 1.96 * values.std(axis) / np.sqrt(n)


def lpips(x, y, weights):
    """LPIPS v0.1 (AlexNet) distance per frame for frames `[..., H, W, C]` in [0, 1]; lower
    is more similar. `weights`: the .npz made by `python -m svg_tf.convert_lpips`."""
    from svg_tf import lpips as lpips_lib

    return lpips_lib.lpips(x, y, weights)


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets `[N, D]` (FID/FVD):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), in float64, covariances with
    ddof=1 (numpy's default, as the reference FVD code). Fewer samples than dimensions make
    the covariances singular: the value is still defined but biased; callers should warn."""
    import scipy.linalg

    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be [N, D] with the same D: got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("the Fréchet distance needs at least 2 feature vectors per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.all(np.isfinite(root)):  # near-singular product: regularise as FID code does
        offset = np.eye(len(cov_a)) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * np.trace(root))
