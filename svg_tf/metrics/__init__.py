"""Metrics: the functions and one registry.

Public functions: `ssim`, `psnr`, `mse`, `lpips(x, y, weights=PATH)`, `frechet_distance(a, b)`,
`best_of_n`, `mean_and_ci`. `REGISTRY` maps each --metrics name to its `Metric` (base.py):
whether higher is better, its kind (per frame, or per set of videos), its convention and what
it needs. Adding a metric is one new module plus one line below.
"""

from __future__ import annotations

from svg_tf.metrics.base import FRAME, VIDEO_SET, Metric
from svg_tf.metrics.frechet import frechet_distance
from svg_tf.metrics.frechet_video import FVD
from svg_tf.metrics.learned_perceptual import LPIPS, lpips
from svg_tf.metrics.peak_snr import PSNR, psnr
from svg_tf.metrics.selection import SELECTIONS, best_of_n, mean_and_ci
from svg_tf.metrics.squared_error import MSE, mse
from svg_tf.metrics.structural import SSIM, SSIM_CONVENTIONS, SSIM_SVG, ssim

REGISTRY: dict[str, Metric] = {m.name: m for m in (SSIM, SSIM_SVG, PSNR, MSE, LPIPS, FVD)}
# Metrics evaluated when --metrics is not given (plus those whose requirement is given).
DEFAULT = ("ssim", "ssim_svg", "psnr")


def requirements() -> dict[str, str]:
    """Resource name -> its --help text, for every metric that needs one."""
    return {m.requires: m.requires_help for m in REGISTRY.values() if m.requires}


def resolve(names=None, available=()) -> list[Metric]:
    """The metrics `names` (comma-separated or a sequence) in registry order; None: the
    defaults plus every metric whose requirement is in `available`."""
    if names is None:
        chosen = list(DEFAULT) + [m.name for m in REGISTRY.values()
                                  if m.requires and m.requires in available]
    else:
        chosen = [n.strip() for n in (names.split(",") if isinstance(names, str) else names)
                  if n.strip()]
    unknown = sorted(set(chosen) - set(REGISTRY))
    if unknown or not chosen:
        raise ValueError(f"metrics={names!r} is invalid: expected a comma-separated list of "
                         f"{list(REGISTRY)}")
    return [m for name, m in REGISTRY.items() if name in chosen]


__all__ = ["Metric", "FRAME", "VIDEO_SET", "REGISTRY", "DEFAULT", "resolve", "requirements",
           "ssim", "psnr", "mse",
           "lpips", "frechet_distance", "best_of_n", "mean_and_ci", "SSIM_CONVENTIONS",
           "SELECTIONS"]
