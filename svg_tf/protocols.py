"""Evaluation protocols: the settings a published number was computed with, by name.

A number can only go into another paper's table when it was computed the same way: context
and horizon, test-set size, samples per sequence, best-sample selection, SSIM convention and
the frames FVD sees. `--protocol=NAME` sets all of them; any setting given explicitly still
wins, and metrics.json records the protocol with every value used.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Protocol:
    """horizons: dataset -> (n_past, n_eval) (context frames, context + predicted);
    num_sequences: dataset -> test sequences; select: per_metric (best sample per metric)
    or ssim_mean (one sample, best mean SSIM); ssim: the headline SSIM convention;
    fvd_frames: context+predicted or predicted; fvd_resize: how frames are resized to I3D's
    224 px (tf1_bilinear: TF1 resize_bilinear as the reference FVD code and SRVP; tf2_bilinear:
    TF2 tf.image.resize with half-pixel centres, as FitVid's metrics.py)."""

    name: str
    source: str
    horizons: dict
    num_sequences: dict
    num_samples: int
    select: str
    ssim: str
    fvd_frames: str
    fvd_resize: str = "tf1_bilinear"


PROTOCOLS = {
    "paper": Protocol(
        "paper", "Denton & Fergus 2018 (section 4, the authors' generate scripts): best of "
        "100 by mean SSIM, skimage SSIM defaults; 256 test sequences (the paper gives the "
        "count for BAIR, used here for all)",
        horizons={"smmnist": (5, 30), "kth": (10, 40), "bair": (2, 30)},
        num_sequences={"smmnist": 256, "kth": 256, "bair": 256}, num_samples=100,
        select="ssim_mean", ssim="svg", fvd_frames="context+predicted"),
    "srvp": Protocol(
        "srvp", "Franceschi et al. 2020 (SRVP, test.py): best of 100 per metric, Gaussian "
        "SSIM, FVD on one random sample per video with its context",
        horizons={"smmnist": (5, 25), "kth": (10, 40), "bair": (2, 30)},
        num_sequences={"smmnist": 10_000, "kth": 1_000, "bair": 256}, num_samples=100,
        select="per_metric", ssim="gaussian", fvd_frames="context+predicted"),
    "fitvid": Protocol(
        "fitvid", "Babaeizadeh et al. 2021 (FitVid): BAIR, 256 test videos, tf.image.ssim/psnr "
        "(max value 1), FVD on predicted frames only; horizon and samples as the SVG preset",
        horizons={"bair": (2, 30)}, num_sequences={"bair": 256}, num_samples=100,
        select="per_metric", ssim="gaussian", fvd_frames="predicted",
        fvd_resize="tf2_bilinear"),
}
# Without --protocol: today's defaults, the run's own horizon.
CUSTOM = dict(num_samples=100, num_sequences=256, select="per_metric", ssim="gaussian",
              fvd_frames="context+predicted", fvd_resize="tf1_bilinear")


def settings(name, config, **explicit) -> dict:
    """The evaluation settings for a run with `config` under protocol `name` (None: no
    protocol); values in `explicit` that are not None override the protocol's."""
    if name is None:
        values = dict(CUSTOM, n_eval=config.n_eval, protocol="custom")
    else:
        if name not in PROTOCOLS:
            raise ValueError(f"protocol={name!r} is invalid: expected one of {list(PROTOCOLS)}")
        protocol = PROTOCOLS[name]
        if config.dataset not in protocol.horizons:
            raise ValueError(f"protocol={name!r} is defined for {list(protocol.horizons)}, not "
                             f"for {config.dataset}: leave --protocol out to evaluate with the "
                             f"run's own n_past={config.n_past} and n_eval={config.n_eval}")
        n_past, n_eval = protocol.horizons[config.dataset]
        if config.n_past != n_past:
            raise ValueError(f"protocol={name!r} conditions on {n_past} frames for "
                             f"{config.dataset}; this run was trained with n_past="
                             f"{config.n_past}")
        values = dict(num_samples=protocol.num_samples,
                      num_sequences=protocol.num_sequences[config.dataset], n_eval=n_eval,
                      select=protocol.select, ssim=protocol.ssim,
                      fvd_frames=protocol.fvd_frames, fvd_resize=protocol.fvd_resize,
                      protocol=name)
    values.update({k: v for k, v in explicit.items() if v is not None})
    return values
