"""Pictures of videos: grids, GIFs and TensorBoard image summaries.

Frames are float `[..., H, W, C]` in [0, 1]. Context frames get a green border and predicted
frames a red one, as in the authors' figures, so a viewer sees where prediction starts.
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf
from PIL import Image

GREEN = np.array([0, 180, 0], np.uint8)
RED = np.array([200, 0, 0], np.uint8)


def to_rgb_uint8(frames):
    frames = np.clip(np.asarray(frames, np.float32), 0.0, 1.0)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    elif frames.shape[-1] != 3:
        frames = np.repeat(frames.mean(-1, keepdims=True), 3, axis=-1)
    return (frames * 255 + 0.5).astype(np.uint8)


def bordered(frames, n_past, pad=2):
    """`[T, H, W, C]` -> uint8 `[T, H+2p, W+2p, 3]`, green while t < n_past, red after."""
    rgb = to_rgb_uint8(frames)
    t, h, w, _ = rgb.shape
    out = np.zeros((t, h + 2 * pad, w + 2 * pad, 3), np.uint8)
    for i in range(t):
        out[i] = GREEN if i < n_past else RED
    out[:, pad:pad + h, pad:pad + w] = rgb
    return out


def video_grid(videos, n_past, pad=2):
    """`[R, C, T, H, W, ch]` videos -> uint8 frames `[T, R*(H+2p), C*(W+2p), 3]`: one cell
    per video, all playing together."""
    videos = np.asarray(videos)
    rows = []
    for r in range(videos.shape[0]):
        rows.append(np.concatenate([bordered(v, n_past, pad) for v in videos[r]], axis=2))
    return np.concatenate(rows, axis=1)


def still_grid(videos, n_past, pad=2):
    """`[R, T, H, W, ch]` -> uint8 image: one row per video, time left to right."""
    videos = np.asarray(videos)
    rows = [np.concatenate(list(bordered(v, n_past, pad)), axis=1) for v in videos]
    return np.concatenate(rows, axis=0)


def encode_gif(frames, fps=8):
    """uint8 `[T, H, W, 3]` -> GIF bytes that loop forever."""
    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(1000 / fps), loop=0)
    return buffer.getvalue()


def save_gif(path, frames, fps=8):
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(encode_gif(frames, fps))


def save_png(path, image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def gif_summary(name, frames, step, fps=8):
    """An animated image in TensorBoard's Images tab (it shows encoded GIFs as they are)."""
    from tensorboard.plugins.image import metadata

    t, h, w, _ = frames.shape
    tensor = tf.stack([tf.constant(str(w)), tf.constant(str(h)),
                       tf.constant(encode_gif(frames, fps))])
    summary_metadata = metadata.create_summary_metadata(
        display_name=name, description="animated GIF")
    return tf.summary.write(name, tensor, step=step, metadata=summary_metadata)
