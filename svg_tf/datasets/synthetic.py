"""Tiny synthetic videos for smoke tests and demos: squares bouncing in a box.

Not a benchmark: it exists so that tests and the offline demo have learnable motion
without any download.
"""

from __future__ import annotations

import numpy as np


def bouncing_squares(num_videos: int, seq_len: int, image_size: int = 64, channels: int = 1,
                     square: int = 12, seed: int = 0) -> np.ndarray:
    """float32 videos `[N, T, H, W, C]` in [0, 1]; one square per video, elastic walls."""
    rng = np.random.default_rng(seed)
    limit = image_size - square
    videos = np.zeros((num_videos, seq_len, image_size, image_size, channels), np.float32)
    for n in range(num_videos):
        pos = rng.integers(0, limit + 1, size=2)
        vel = rng.integers(-4, 5, size=2)
        vel[vel == 0] = 2
        color = rng.uniform(0.6, 1.0, size=channels)
        for t in range(seq_len):
            y, x = pos
            videos[n, t, y:y + square, x:x + square, :] = color
            pos = pos + vel
            for axis in range(2):
                if pos[axis] < 0 or pos[axis] > limit:
                    vel[axis] = -vel[axis]
                    pos[axis] = np.clip(pos[axis], 0, limit)
    return videos
