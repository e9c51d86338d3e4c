"""Fréchet Video Distance (FVD) as google-research/frechet_video_distance computes it, without
tensorflow-gan (which no longer imports on TensorFlow >= 2.16).

Videos are resized frame by frame to 224x224 with TF1's bilinear resize (no half-pixel
centres, as `tf.image.resize_bilinear` in the reference), scaled to [-1, 1] and fed in
batches of 16 to I3D trained on Kinetics-400 (TF-Hub deepmind/i3d-kinetics-400/1, a local
SavedModel directory given by --i3d); its 400 averaged logits are the features, and the
distance is the Fréchet distance between Gaussians fitted to the two feature sets.

As a metric over the whole test set, which frames it sees is the protocol's choice (SRVP:
the context frames plus one random sample per test video; FitVid: predicted frames only).
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from svg_tf.metrics.base import VIDEO_SET, Metric
from svg_tf.metrics.frechet import frechet_distance

RESOLUTION = 224
BATCH = 16
FEATURE_DIM = 400
I3D_HELP = ("download deepmind/i3d-kinetics-400/1 from TF Hub (Kaggle Models: "
            "deepmind/i3d-kinetics/tensorFlow1/400) and pass the unpacked folder")


def load_i3d(path):
    """A function videos `[B, T, 224, 224, 3]` in [-1, 1] -> features `[B, D]`."""
    if not path or not tf.io.gfile.isdir(path):
        raise ValueError(f"--i3d={path}: not a directory; {I3D_HELP}")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001 - any load failure means "not an I3D model"
        raise ValueError(f"--i3d={path} is not a TensorFlow SavedModel ({type(error).__name__}:"
                         f" {str(error)[:200]}); {I3D_HELP}") from None
    signatures = getattr(loaded, "signatures", {}) or {}
    function = signatures.get("default") or next(iter(signatures.values()), None)
    if function is None:
        raise ValueError(f"--i3d={path} has no serving signature; {I3D_HELP}")
    inputs = function.structured_input_signature[1]
    if len(inputs) != 1:
        raise ValueError(f"--i3d={path}: its signature takes {sorted(inputs)}; I3D takes one "
                         "video tensor")
    (name, spec), = inputs.items()
    if spec.shape.rank != 5 or spec.shape[-1] not in (None, 3):
        raise ValueError(f"--i3d={path}: its input {name} has shape {spec.shape}; I3D takes "
                         "[batch, frames, 224, 224, 3]")

    def features(videos):
        out = function(**{name: tf.convert_to_tensor(videos, tf.float32)})
        value = out["default"] if "default" in out else next(iter(out.values()))
        return tf.reshape(value, [tf.shape(value)[0], -1])

    return features


def preprocess(videos):
    """`[B, T, H, W, C]` in [0, 1] (C = 1 or 3) -> `[B, T, 224, 224, 3]` in [-1, 1]."""
    videos = tf.convert_to_tensor(videos, tf.float32)
    if videos.shape[-1] == 1:
        videos = tf.repeat(videos, 3, axis=-1)
    shape = tf.shape(videos)
    frames = tf.reshape(videos, tf.concat([[-1], shape[2:]], 0))
    resized = tf.compat.v1.image.resize_bilinear(frames, [RESOLUTION, RESOLUTION],
                                                 align_corners=False, half_pixel_centers=False)
    return 2.0 * tf.reshape(resized, [shape[0], shape[1], RESOLUTION, RESOLUTION, 3]) - 1.0


def video_features(videos, i3d) -> np.ndarray:
    """I3D features of videos `[N, T, H, W, C]` in [0, 1], computed in batches of 16."""
    videos = np.asarray(videos, np.float32)
    parts = [i3d(preprocess(videos[i:i + BATCH])).numpy()
             for i in range(0, len(videos), BATCH)]
    return np.concatenate(parts).astype(np.float64)


def fvd(real, generated, i3d) -> dict:
    """FVD between two sets of videos `[N, T, H, W, C]` in [0, 1] (i3d: from load_i3d)."""
    a, b = video_features(real, i3d), video_features(generated, i3d)
    n = min(len(a), len(b))
    if n <= a.shape[1]:
        logging.warning("FVD from %d videos per set: fewer than the %d feature dimensions, so "
                        "the covariances are singular and the value is biased (papers use "
                        "256 or more)", n, a.shape[1])
    return {"fvd": frechet_distance(a, b), "num_videos": [len(a), len(b)],
            "feature_dim": int(a.shape[1])}



FRAMES = ("context+predicted", "predicted")


def _load(path):
    return load_i3d(path)  # fail before any sampling


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
    real = collected["fvd_real"].astype(np.float32) / 255.0
    fake = collected["fvd_generated"].astype(np.float32) / 255.0
    result = fvd(real, fake, i3d)
    result["value"] = result["fvd"]
    return result


FVD = Metric("fvd", higher_is_better=False, kind=VIDEO_SET, requires="i3d", load=_load,
             collect=collect, compute=compute,
             convention="I3D Kinetics-400 logits (mean), frames resized bilinearly to 224 and "
                        "scaled to [-1, 1], Fréchet distance in float64 (google-research/"
                        "frechet_video_distance); one random sample per test video")
