"""The FLOP counter against a hand count of the tiny model (dcgan64, width 8, g 16, z 4,
LSTMs of 32, 6 frames)."""

from conftest import tiny_config
from svg_tf import build_model
from svg_tf.flops import backbone_flops, recurrent_flops, training_flops_per_sequence


def test_flops_equal_a_hand_count():
    model = build_model(tiny_config("lp"), compile=False)
    # Encoder convs 4x4: 1->8 (32x32 out), 8->16 (16x16), 16->32 (8x8), 32->64 (4x4), then
    # the 4x4 valid head 64->16 (1x1): 2 * positions * 16 * cin * cout each.
    encoder = 2 * 16 * (1 * 8 * 1024 + 8 * 16 * 256 + 16 * 32 * 64 + 32 * 64 * 16 + 64 * 16)
    # Decoder transposed convs 4x4 over their inputs: 16->64 (1x1), 128->32 (4x4),
    # 64->16 (8x8), 32->8 (16x16), 16->1 (32x32); skips double the input channels.
    decoder = 2 * 16 * (16 * 64 + 128 * 32 * 16 + 64 * 16 * 64 + 32 * 8 * 256 + 16 * 1 * 1024)
    assert backbone_flops(model.encoder) == encoder == 3_440_640
    assert backbone_flops(model.decoder) == decoder == 6_848_512
    # Predictor: embed 20->32, two cells (32 in + 32 hidden) -> 128 gates, output 32->16.
    predictor = 2 * (20 * 32 + 2 * 64 * 128 + 32 * 16)
    # Posterior/prior: embed 16->32, one cell, mu and logvar heads 32->4.
    gaussian = 2 * (16 * 32 + 64 * 128 + 2 * 32 * 4)
    assert recurrent_flops(model.frame_predictor) == predictor == 35_072
    assert recurrent_flops(model.posterior) == recurrent_flops(model.prior) == gaussian == 17_920
    forward = 6 * encoder + 5 * decoder + 5 * (predictor + 2 * gaussian)
    assert training_flops_per_sequence(model) == 3 * forward == 165_722_880
    det = build_model(tiny_config("det"), compile=False)
    assert training_flops_per_sequence(det) < training_flops_per_sequence(model)
