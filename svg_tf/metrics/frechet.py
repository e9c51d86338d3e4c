"""The Fréchet distance between Gaussians fitted to two feature sets (FID, FVD)."""

from __future__ import annotations

import warnings

import numpy as np


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets (FID, FVD).

    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) in float64, covariances with ddof=1
    (numpy's default, as the reference FVD code). Fewer samples than dimensions make the
    covariances singular: the value is still defined but biased; callers should warn.

    Args:
      features_a, features_b: `[N, D]` and `[M, D]`.

    Returns:
      The distance (float).
    """
    import scipy.linalg

    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be [N, D] with the same D: got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("the Fréchet distance needs at least 2 feature vectors per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # an ill-conditioned product is handled just below
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(root)):  # near-singular product: regularise as FID code does
        offset = np.eye(len(cov_a)) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * np.trace(root))
