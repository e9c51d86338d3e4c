"""svg_tf/models/conv_recurrent.py, SVG''s conv-LSTMs: the layer harness, parameter counts
against the closed form at the VP2 SVG' sizes, and step-by-step equal to a whole sequence."""

import numpy as np
import pytest

from layer_harness import check_layer, random_frames
from svg_tf.models.conv_recurrent import ConvLSTMCell, ConvLSTMStack, GaussianConvLSTM

CASES = {
    "ConvLSTMCell": (lambda: ConvLSTMCell(3),
                     lambda: (random_frames([2, 4, 4, 5]),
                              [random_frames([2, 4, 4, 3], 1),
                               random_frames([2, 4, 4, 3], 2)])),
    "ConvLSTMStack": (lambda: ConvLSTMStack(output_size=6, hidden_size=4, num_layers=2,
                                            map_size=4),
                      lambda: (random_frames([3, 2, 4, 4, 5]),)),
    "GaussianConvLSTM": (lambda: GaussianConvLSTM(output_size=3, hidden_size=4, num_layers=1,
                                                  map_size=4),
                         lambda: (random_frames([3, 2, 4, 4, 5]),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trip_keeps_config_and_outputs(name, tmp_path):
    make, inputs = CASES[name]
    check_layer(make(), inputs(), tmp_path)


def closed_form(in_channels, hidden, layers, out_channels, heads):
    """3x3 embedding conv; per cell one 3x3 conv over [input, h] (2 * hidden channels) to
    4 * hidden gates, with bias; `heads` 3x3 output convs (1 for the predictor, mu and
    logvar for a Gaussian)."""
    return (9 * in_channels * hidden + hidden
            + layers * (9 * 2 * hidden * 4 * hidden + 4 * hidden)
            + heads * (9 * hidden * out_channels + out_channels))


# The VP2 SVG' defaults: g_dim 128, rnn_size 512 x M 0.1 = 51 channels, z_dim 10, 2-D
# actions tiled over the 8x8 map; predictor 2 layers, prior and posterior 1 layer.
@pytest.mark.parametrize("name, layer, in_channels, out_channels, layers, heads", [
    ("predictor", lambda: ConvLSTMStack(128, 51, 2), 128 + 10 + 2, 128, 2, 1),
    ("posterior", lambda: GaussianConvLSTM(10, 51, 1), 128, 10, 1, 2),
    ("wide predictor (M = 1)", lambda: ConvLSTMStack(128, 512, 2), 128 + 10, 128, 2, 1),
])
def test_parameter_counts_are_the_closed_form(name, layer, in_channels, out_channels, layers,
                                              heads):
    made = layer()
    made(random_frames([1, 2, 8, 8, in_channels]))
    hidden = made.hidden_size
    expected = closed_form(in_channels, hidden, layers, out_channels, heads)
    assert made.count_params() == expected, name
    if name == "predictor":
        assert expected == 498_143  # 9*140*51+51 + 2*(9*102*204+204) + 9*51*128+128


def test_steps_one_at_a_time_equal_the_whole_sequence():
    stack = ConvLSTMStack(output_size=6, hidden_size=4, num_layers=2, map_size=4)
    inputs = random_frames([3, 2, 4, 4, 5])
    whole, _ = stack(inputs)
    states = stack.initial_state(2)
    for t in range(3):
        out, states = stack.step(inputs[t], states)
        np.testing.assert_allclose(out, whole[t], atol=1e-6)
    gaussian = GaussianConvLSTM(output_size=3, hidden_size=4, map_size=4)
    dist, _ = gaussian.distribution(inputs)
    first, _ = gaussian.distribution_step(inputs[0], gaussian.initial_state(2))
    assert dist.loc.shape == (3, 2, 4, 4, 3)
    np.testing.assert_allclose(first.scale, dist.scale[0], atol=1e-6)
