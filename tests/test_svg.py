"""svg_tf/models/svg.py: the model's own Keras config round trip (what a saved .keras model
restores), with its seed. Its ELBO is tested in test_loss.py, its step against the authors'
in test_parity.py, its generation in test_sample.py."""

import keras
import numpy as np

from conftest import tiny_config
from layer_harness import random_frames
from svg_tf.models import SVG


def test_model_round_trip_keeps_config_and_predictions():
    config = tiny_config("lp", n_past=2, n_future=2, n_eval=5)
    model = SVG(config)
    model.build()
    videos = random_frames([2, config.seq_len, 64, 64, 1])
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
    videos = random_frames([2, model.svg_config.seq_len, 64, 64, 1])
    np.testing.assert_array_equal(clone.posterior_noise(videos, step=3),
                                  model.posterior_noise(videos, step=3))
