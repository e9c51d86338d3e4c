"""Best-of-N selection and confidence intervals of the paper's protocol."""

from __future__ import annotations

import numpy as np

SELECTIONS = ("per_metric", "ssim_mean")


def best_of_n(ssim_values, psnr_values, select="per_metric"):
    """The best sample per sequence, from per-sample, per-frame scores.

    Args:
      ssim_values, psnr_values: `[B, S, T]`.
      select: per_metric (the best sample for each metric separately, after averaging over
        frames: SRVP, FitVid) or ssim_mean (one best sample by mean SSIM, reported for both
        metrics: the authors').

    Returns:
      (ssim `[B, T]`, psnr `[B, T]`) of the selected samples.
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
    """Mean and 95% confidence half-width, as SRVP reports them.

    Args:
      values: an array.
      axis: the axis of the samples.

    Returns:
      (mean, 1.96 * std / sqrt(n)), std with ddof=0.
    """
    values = np.asarray(values, np.float64)
    n = values.shape[axis]
    return values.mean(axis), 1.96 * values.std(axis) / np.sqrt(n)


