"""LPIPS v0.1 (AlexNet) as a metric: needs the weights file of python -m
svg_tf.convert_lpips (the network itself is lpips_network.py)."""

from __future__ import annotations

from svg_tf.metrics.base import FRAME, Metric


def lpips(x, y, weights):
    """LPIPS v0.1 (AlexNet) distance per frame for frames `[..., H, W, C]` in [0, 1]; lower
    is more similar. `weights`: the .npz made by `python -m svg_tf.convert_lpips`."""
    from svg_tf.metrics import lpips_network as lpips_lib

    return lpips_lib.lpips(x, y, weights)




def _load(weights):
    from svg_tf.metrics import lpips_network as lpips_lib

    lpips_lib.load_weights(weights)  # fail before any sampling
    return weights


def _scores(samples, truth, weights):
    return lpips(samples, truth, weights)


LPIPS = Metric("lpips", higher_is_better=False, kind=FRAME, frame_scores=_scores,
               requires="lpips_weights", load=_load,
               requires_help="LPIPS weights (.npz from python -m svg_tf.convert_lpips): adds "
                             "best-of-N LPIPS per frame (lower is better).",
               convention="LPIPS v0.1, AlexNet features + linear heads (lpips 0.1.4), inputs "
                          "in [-1, 1], grayscale repeated to 3 channels (as SRVP)")
