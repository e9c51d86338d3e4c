"""The checks every serialisable layer of svg_tf passes (each module's test file runs
them on its layers: test_layers, test_recurrent, test_backbones; a new layer adds one case):

1. build and call: the layer computes outputs from its inputs;
2. get_config round trip: from_config(get_config()) has the same config, and through Keras'
   registry (as a saved model is restored) the layer is rebuilt from its saved shapes
   without Keras' "does not have a build() method" warning, with all its weights;
3. same weights, same outputs: the clone given the layer's weights computes its outputs;
4. checkpoint round trip: tf.train.Checkpoint restores every variable into a fresh clone,
   exactly (assert_consumed), and the outputs follow.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf


def random_frames(shape, seed=0):
    """Uniform [0, 1) inputs of `shape`, the same for a given seed."""
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), tf.float32)


def outputs(layer, inputs):
    return [np.asarray(t) for t in tf.nest.flatten(layer(*inputs))]


def check_layer(layer, inputs, tmp_path):
    expected = outputs(layer, inputs)  # 1
    config = layer.get_config()
    clone = type(layer).from_config(config)  # 2
    assert clone.get_config() == config
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.built
    assert not [w for w in caught if "build()" in str(w.message)]
    assert len(restored.weights) == len(layer.weights)
    outputs(clone, inputs)  # 3: build, then copy the weights
    clone.set_weights(layer.get_weights())
    for a, b in zip(expected, outputs(clone, inputs)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    path = tf.train.Checkpoint(layer=layer).write(str(tmp_path / "layer"))  # 4
    fresh = type(layer).from_config(config)
    outputs(fresh, inputs)
    tf.train.Checkpoint(layer=fresh).read(path).assert_consumed()
    for a, b in zip(expected, outputs(fresh, inputs)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
