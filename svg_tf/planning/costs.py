"""Costs of predicted frames `[N, T, H, W, C]` against a goal image `[H, W, C]`, one number
per candidate: pixel MSE (the default), or LPIPS with the project's LPIPS network
(`svg_tf.metrics.lpips`, weights from `python -m svg_tf.convert_lpips`). Both average over
the T predicted steps, so that reaching the goal early costs less."""

from __future__ import annotations

import numpy as np


def pixel_mse(frames, goal):
    """Mean squared pixel error of each candidate's frames to the goal."""
    frames = np.asarray(frames, np.float32)
    return np.mean((frames - np.asarray(goal, np.float32)) ** 2, axis=(1, 2, 3, 4))


def lpips_cost(weights):
    """LPIPS to the goal (frames of one channel are repeated to RGB, as the metric does)."""
    from svg_tf.metrics import lpips
    from svg_tf.metrics.lpips_network import load_weights

    load_weights(weights)  # a bad file fails here, before any planning

    def cost(frames, goal):
        frames = np.asarray(frames, np.float32)
        goals = np.broadcast_to(np.asarray(goal, np.float32), frames.shape)
        return np.asarray(lpips(frames, goals, weights)).mean(1)

    return cost


COSTS = ("mse", "lpips")


def make_cost(name="mse", lpips_weights=None):
    """The cost function `(frames, goal) -> [N]` called `name`."""
    if name == "mse":
        return pixel_mse
    if name == "lpips":
        if not lpips_weights:
            raise ValueError("cost=lpips needs lpips_weights (the .npz written by python -m "
                             "svg_tf.convert_lpips)")
        return lpips_cost(lpips_weights)
    raise ValueError(f"cost={name!r} is invalid: expected one of {list(COSTS)}")
