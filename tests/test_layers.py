"""svg_tf/models/layers.py: every layer through the harness (build and call, get_config
round trip, same weights same outputs, checkpoint round trip)."""

import pytest

from layer_harness import check_layer, random_frames
from svg_tf.models.layers import ConvBlock, FrameBatchNorm

CASES = {
    "ConvBlock": (lambda: ConvBlock(6, 4, strides=2, padding="same", name="block"),
                  lambda: (random_frames([2, 3, 8, 8, 2]),)),
    "ConvBlock_transpose": (lambda: ConvBlock(3, 4, strides=2, transpose=True,
                                              activation="sigmoid", normalize=False),
                            lambda: (random_frames([2, 3, 4, 4, 5]),)),
    "FrameBatchNorm": (lambda: FrameBatchNorm(momentum=0.8, epsilon=1e-3),
                       lambda: (random_frames([2, 3, 4, 4, 5]),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trip_keeps_config_and_outputs(name, tmp_path):
    make, inputs = CASES[name]
    check_layer(make(), inputs(), tmp_path)
