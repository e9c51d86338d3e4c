"""Acceptance 1: trainable parameter counts equal DESIGN.md section 3 exactly."""

import numpy as np
import pytest

from svg_tf import build_model, get_config


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize("dataset, model, overrides, total, parts", [
    ("smmnist", "lp", {}, 12_609_961,
     {"encoder": 3_805_376, "decoder": 6_558_529, "frame_predictor": 1_121_152 - 2048,
      "posterior": 564_500 - 1024, "prior": 564_500 - 1024}),
    ("smmnist", "fp", {}, 12_046_485, {}),
    ("smmnist", "det", {}, 11_480_449, {}),
    ("bair", "lp", {}, 22_827_651,
     {"encoder": 8_689_600, "decoder": 11_822_659, "frame_predictor": 1_134_976 - 2048,
      "posterior": 592_256 - 1024, "prior": 592_256 - 1024}),
    ("kth", "lp", {"z_dim": 24}, 22_773_985,
     {"encoder": 8_688_448, "decoder": 11_821_505, "frame_predictor": 1_124_736 - 2048,
      "posterior": 571_696 - 1024, "prior": 571_696 - 1024}),
])
def test_trainable_parameter_counts(dataset, model, overrides, total, parts):
    svg = build_model(get_config(dataset, model, **overrides), compile=False)
    assert _count(svg.trainable_weights) == total
    for name, expected in parts.items():
        # Keras LSTM cells have one bias vector where PyTorch has two: 1,024 fewer per cell.
        assert _count(getattr(svg, name).trainable_weights) == expected, name
