"""The recurrent parts of SVG' (Villegas et al. 2019): conv-LSTMs on a feature map.

SVG' is SVG with convolutional recurrence: the frame predictor, the prior and the posterior
keep a spatial state (e.g. 8x8) instead of a vector, so the latent z is a map too. The
shapes follow the SVG' code of the VP2 benchmark: a 3x3 embedding conv, a stack of conv-LSTM
cells (one 3x3 conv over [input, h] to the four gates, with bias), then a 3x3 output conv and
tanh (the predictor) or two 3x3 heads for mu and logvar (the Gaussians). Sequences are
time-major `[T, B, H, W, C]`; as in recurrent.py, the embedding and the heads run once over
the whole sequence, only the cells loop over time, and `step` advances one time step.

Convolutions are initialised N(0, 0.02) with zero biases, the authors' init for every conv
and linear layer. Gates are ordered i, f, o, g (the common conv-LSTM layout).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from svg_tf.models.layers import conv_init, track_layers
from svg_tf.models.recurrent import _LSTMCore, normal

KERNEL = 3


def _conv(filters, name):
    return keras.layers.Conv2D(filters, KERNEL, padding="same", kernel_initializer=conv_init(),
                               bias_initializer="zeros", name=name)


def _over_time(layer, x):
    """A per-frame layer on `[T, B, H, W, C]` as one batch of T*B frames."""
    shape = tf.shape(x)
    y = layer(tf.reshape(x, tf.concat([[-1], shape[2:]], 0)))
    return tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))


@keras.saving.register_keras_serializable(package="svg_tf")
class ConvLSTMCell(keras.layers.Layer):
    """A conv-LSTM cell: gates = conv3x3([x, h]) + bias, split i, f, o, g;
    c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c')."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.gates = _conv(4 * units, "gates")

    def build(self, input_shape):
        channels = input_shape[-1] + self.units
        self.gates.build((*input_shape[:-1], channels))

    def call(self, inputs, states, training=False):
        h, c = states
        i, f, o, g = tf.split(self.gates(tf.concat([inputs, h], -1)), 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


class _ConvLSTMCore(_LSTMCore):
    """A 3x3 embedding conv plus a stack of conv-LSTM cells on a `map_size` square map (the
    vector core's loop over time, with a conv embedding and map-shaped states)."""

    def __init__(self, hidden_size=51, num_layers=1, map_size=8, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        self.hidden_size, self.num_layers, self.map_size = hidden_size, num_layers, map_size
        self.embed = _conv(hidden_size, "embed")
        self.cells = track_layers(self, "cell", [
            ConvLSTMCell(hidden_size, name=f"conv_lstm_{i}") for i in range(num_layers)])

    def _state_shape(self):
        return [self.map_size, self.map_size, self.hidden_size]

    def _embed_sequence(self, inputs):
        return _over_time(self.embed, inputs)

    def get_config(self):
        config = super().get_config()
        config.update(map_size=self.map_size)
        return config


@keras.saving.register_keras_serializable(package="svg_tf")
class ConvLSTMStack(_ConvLSTMCore):
    """SVG''s frame predictor: embed conv -> conv-LSTM cells -> output conv -> tanh."""

    def __init__(self, output_size=128, hidden_size=51, num_layers=2, map_size=8, **kwargs):
        super().__init__(hidden_size=hidden_size, num_layers=num_layers, map_size=map_size,
                         **kwargs)
        self.output_size = output_size
        self.output_layer = _conv(output_size, "output")

    def call(self, inputs, states=None, training=False):
        """`[T, B, s, s, in]` -> (`[T, B, s, s, output_size]`, final states)."""
        hidden, states = self._run(inputs, states, training)
        return tf.tanh(_over_time(self.output_layer, hidden)), states

    def step(self, x, states, training=False):
        """One step `[B, s, s, in]` -> (`[B, s, s, output_size]`, states)."""
        hidden, states = self._cells_step(self.embed(x), states, training)
        return tf.tanh(self.output_layer(hidden)), states

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size)
        return config


@keras.saving.register_keras_serializable(package="svg_tf")
class GaussianConvLSTM(_ConvLSTMCore):
    """SVG''s posterior or learned prior: a diagonal Gaussian over a z map `[s, s, z]`, from
    two 3x3 heads (mu, logvar)."""

    def __init__(self, output_size=10, hidden_size=51, num_layers=1, map_size=8, **kwargs):
        super().__init__(hidden_size=hidden_size, num_layers=num_layers, map_size=map_size,
                         **kwargs)
        self.output_size = output_size
        self.mu_layer = _conv(output_size, "mu")
        self.logvar_layer = _conv(output_size, "logvar")

    def call(self, inputs, states=None, training=False):
        """`[T, B, s, s, in]` -> (mu, logvar, final states)."""
        hidden, states = self._run(inputs, states, training)
        return (_over_time(self.mu_layer, hidden), _over_time(self.logvar_layer, hidden),
                states)

    def distribution(self, inputs, states=None, training=False):
        """`[T, B, s, s, in]` -> (tfd.Normal over `[T, B, s, s, z]`, final states)."""
        mu, logvar, states = self(inputs, states, training=training)
        return normal(mu, logvar), states

    def distribution_step(self, x, states, training=False):
        """One step `[B, s, s, in]` -> (tfd.Normal over `[B, s, s, z]`, states)."""
        hidden, states = self._cells_step(self.embed(x), states, training)
        return normal(self.mu_layer(hidden), self.logvar_layer(hidden)), states

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size)
        return config

