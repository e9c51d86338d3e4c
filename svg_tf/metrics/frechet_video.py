"""FVD as a metric over the whole test set: which frames it sees is the protocol's choice
(SRVP: the context frames plus one random sample per test video; FitVid: predicted frames
only). The I3D network and preprocessing are svg_tf/fvd.py."""

from __future__ import annotations

import numpy as np

from svg_tf.metrics.base import VIDEO_SET, Metric

FRAMES = ("context+predicted", "predicted")


def _load(path):
    from svg_tf import fvd as fvd_lib

    return fvd_lib.load_i3d(path)  # fail before any sampling


def _to_uint8(videos):
    return np.round(np.clip(np.asarray(videos), 0, 1) * 255).astype(np.uint8)


def collect(videos, samples, n_past, frames, rng):
    """The true videos and one random sample per video, as uint8 (small to keep on disk)."""
    if frames not in FRAMES:
        raise ValueError(f"fvd frames={frames!r} is invalid: expected one of {list(FRAMES)}")
    videos, samples = np.asarray(videos), np.asarray(samples)
    pick = rng.integers(samples.shape[1], size=samples.shape[0])
    generated = samples[np.arange(len(pick)), pick]
    if frames == "context+predicted":
        generated = np.concatenate([videos[:, :n_past], generated], axis=1)
        real = videos
    else:
        real = videos[:, n_past:]
    return {"fvd_real": _to_uint8(real), "fvd_generated": _to_uint8(generated)}


def compute(collected, i3d):
    from svg_tf import fvd as fvd_lib

    real = collected["fvd_real"].astype(np.float32) / 255.0
    fake = collected["fvd_generated"].astype(np.float32) / 255.0
    result = fvd_lib.fvd(real, fake, i3d)
    result["value"] = result["fvd"]
    return result


FVD = Metric("fvd", higher_is_better=False, kind=VIDEO_SET, requires="i3d", load=_load,
             collect=collect, compute=compute,
             convention="I3D Kinetics-400 logits (mean), frames resized bilinearly to 224 and "
                        "scaled to [-1, 1], Fréchet distance in float64 (google-research/"
                        "frechet_video_distance); one random sample per test video")
