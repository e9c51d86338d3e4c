"""get_config / from_config round trips for every serialisable layer and the model: the clone
has the same config and, given the same weights, computes the same outputs."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from layer_harness import check_layer
from svg_tf.models import SVG
from svg_tf.models.backbones import REGISTRY as BACKBONES
from svg_tf.models.layers import ConvBlock, FrameBatchNorm
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack, TorchLSTMCell


def _frames(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), tf.float32)


CASES = {
    "ConvBlock": (lambda: ConvBlock(6, 4, strides=2, padding="same", name="block"),
                  lambda: (_frames([2, 3, 8, 8, 2]),)),
    "ConvBlock_transpose": (lambda: ConvBlock(3, 4, strides=2, transpose=True,
                                              activation="sigmoid", normalize=False),
                            lambda: (_frames([2, 3, 4, 4, 5]),)),
    "FrameBatchNorm": (lambda: FrameBatchNorm(momentum=0.8, epsilon=1e-3),
                       lambda: (_frames([2, 3, 4, 4, 5]),)),
    "TorchLSTMCell": (lambda: TorchLSTMCell(7),
                      lambda: (_frames([3, 5]), [_frames([3, 7], 1), _frames([3, 7], 2)])),
    "LSTMStack": (lambda: LSTMStack(output_size=6, hidden_size=8, num_layers=2),
                  lambda: (_frames([4, 3, 5]),)),
    "GaussianLSTM": (lambda: GaussianLSTM(output_size=3, hidden_size=8, num_layers=1),
                     lambda: (_frames([4, 3, 5]),)),
}
for _name, _spec in BACKBONES.items():
    CASES[f"{_name}_encoder"] = (
        lambda s=_spec: s.encoder(image_size=64, channels=1, g_dim=8, width=4),
        lambda: (_frames([2, 2, 64, 64, 1]),))


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trip_keeps_config_and_outputs(name, tmp_path):
    make, inputs = CASES[name]
    check_layer(make(), inputs(), tmp_path)


@pytest.mark.parametrize("decoder_of", sorted(BACKBONES))
def test_decoder_round_trip(decoder_of, tmp_path):
    spec = BACKBONES[decoder_of]
    encoder = spec.encoder(image_size=64, channels=1, g_dim=8, width=4)
    h, skips = encoder(_frames([2, 2, 64, 64, 1]))
    check_layer(spec.decoder(image_size=64, channels=1, g_dim=8, width=4), (h, skips), tmp_path)


def test_model_round_trip_keeps_config_and_predictions():
    config = tiny_config("lp", n_past=2, n_future=2, n_eval=5)
    model = SVG(config)
    model.build()
    videos = _frames([2, config.seq_len, 64, 64, 1])
    saved = model.get_config()
    assert set(saved["config"]) == {"dataset", *config.section("model")}  # no data/training
    clone = SVG.from_config(saved)
    assert clone.svg_config.section("model") == config.section("model")
    assert clone.get_config() == saved
    clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(clone(videos)), np.asarray(model(videos)), atol=1e-6)


def test_a_deserialised_model_keeps_its_seed():
    """The seed drives the posterior noise and the default sampling seed: it once came back
    as the preset's value when Keras rebuilt the model from its config."""
    model = SVG(tiny_config("lp", seed=7))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert clone.svg_config.seed == 7
    videos = _frames([2, model.svg_config.seq_len, 64, 64, 1])
    np.testing.assert_array_equal(clone.posterior_noise(videos, step=3),
                                  model.posterior_noise(videos, step=3))
