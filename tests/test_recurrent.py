"""svg_tf/models/recurrent.py: the LSTM cell, the LSTM stack and the Gaussian LSTM through
the layer harness (their equations against PyTorch's are in test_parity.py)."""

import pytest

from layer_harness import check_layer, random_frames
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack, TorchLSTMCell

CASES = {
    "TorchLSTMCell": (lambda: TorchLSTMCell(7),
                      lambda: (random_frames([3, 5]),
                               [random_frames([3, 7], 1), random_frames([3, 7], 2)])),
    "LSTMStack": (lambda: LSTMStack(output_size=6, hidden_size=8, num_layers=2),
                  lambda: (random_frames([4, 3, 5]),)),
    "GaussianLSTM": (lambda: GaussianLSTM(output_size=3, hidden_size=8, num_layers=1),
                     lambda: (random_frames([4, 3, 5]),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trip_keeps_config_and_outputs(name, tmp_path):
    make, inputs = CASES[name]
    check_layer(make(), inputs(), tmp_path)
