"""Trainable parameter counts equal the authors' PyTorch models exactly (two LSTM biases)."""

import numpy as np
import pytest

from svg_tf import build_model, get_config

pytestmark = pytest.mark.seconds(15)


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


COUNTS = [
    ("smmnist", "lp", {}, 12_614_057,
     {"encoder": 3_805_376, "decoder": 6_558_529, "frame_predictor": 1_121_152,
      "posterior": 564_500, "prior": 564_500}),
    # FP: no prior; det: no posterior either and the predictor's embedding sees g only.
    ("smmnist", "fp", {}, 12_614_057 - 564_500, {}),
    ("smmnist", "det", {}, 12_614_057 - 2 * 564_500 - 10 * 256, {}),
    ("bair", "lp", {}, 22_831_747,
     {"encoder": 8_689_600, "decoder": 11_822_659, "frame_predictor": 1_134_976,
      "posterior": 592_256, "prior": 592_256}),
    ("kth", "lp", {}, 22_778_081,  # z 24: the preset (the authors' command)
     {"encoder": 8_688_448, "decoder": 11_821_505, "frame_predictor": 1_124_736,
      "posterior": 571_696, "prior": 571_696}),
]


@pytest.mark.parametrize("dataset, model, overrides, total, parts", COUNTS)
def test_trainable_parameter_counts(dataset, model, overrides, total, parts):
    svg = build_model(get_config(dataset, model, **overrides), compile=False)
    assert _count(svg.trainable_weights) == total
    for name, expected in parts.items():
        assert _count(getattr(svg, name).trainable_weights) == expected, name


def test_every_preset_declares_the_parameters_it_builds():
    """svg_tf/presets.py is what --summary_only and the docs quote: its counts are the ones
    built above, and the variants not built above are built here."""
    from svg_tf.presets import PRESETS

    built = {(d, m): total for d, m, overrides, total, _ in COUNTS if not overrides}
    for (dataset, model), total in built.items():
        assert PRESETS[dataset].parameters[model] == total, (dataset, model)
    for dataset, preset in PRESETS.items():
        for model, expected in preset.parameters.items():
            if (dataset, model) not in built:
                svg = build_model(get_config(dataset, model), compile=False)
                assert _count(svg.trainable_weights) == expected, (dataset, model)
