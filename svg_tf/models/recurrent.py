"""The recurrent parts: the frame predictor (LSTM stack) and the Gaussian LSTMs.

Both are the authors' models/lstm.py: a linear embedding, a stack of LSTM cells, and output
heads. Sequences are time-major `[T, B, features]`. The embedding and the heads run once over
the whole sequence (one matmul), only the cells loop over time. `step` advances one time step
for generation, where the input depends on the previous output.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from svg_tf.models.layers import build_sublayers, conv_init, track_layers

tfd = tfp.distributions


def _dense(units, name):
    return keras.layers.Dense(units, kernel_initializer=conv_init(), bias_initializer="zeros",
                              name=name)


@keras.saving.register_keras_serializable(package="svg_tf")
class TorchLSTMCell(keras.layers.Layer):
    """An LSTM cell with PyTorch's parameters: `bias_ih` and `bias_hh` kept apart.

    The two biases are always added together, but each has its own Adam state, so together
    they move up to twice as far per step as one bias would: a one-bias cell does not train
    like the authors' `nn.LSTMCell`. Gates are ordered i, f, g, o (PyTorch's and Keras'
    order); every weight is U(-1/sqrt(units), 1/sqrt(units)) as in PyTorch. The kernels are
    stored transposed w.r.t. PyTorch (`kernel` = weight_ih.T, `recurrent_kernel` =
    weight_hh.T).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]

    def build(self, input_shape):
        limit = 1.0 / math.sqrt(self.units)
        init = keras.initializers.RandomUniform(-limit, limit)
        gates = 4 * self.units
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], gates),
                                      initializer=init)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel",
                                                shape=(self.units, gates), initializer=init)
        self.bias_ih = self.add_weight(name="bias_ih", shape=(gates,), initializer=init)
        self.bias_hh = self.add_weight(name="bias_hh", shape=(gates,), initializer=init)

    def call(self, inputs, states, training=False):
        h, c = states
        z = (tf.matmul(inputs, self.kernel) + tf.matmul(h, self.recurrent_kernel)
             + self.bias_ih + self.bias_hh)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


class _LSTMCore(keras.layers.Layer):
    """Embedding plus a stack of PyTorch-style LSTM cells (the authors' models/lstm.py).

    The original applies its N(0, 0.02) init to Linear layers only, so the cells keep
    PyTorch's default initialisation.
    """

    def __init__(self, hidden_size=256, num_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embed = _dense(hidden_size, "embed")
        self.cells = track_layers(self, "cell", [
            TorchLSTMCell(hidden_size, name=f"lstm_{i}") for i in range(num_layers)])

    def build(self, input_shape):
        build_sublayers(self, input_shape)

    def initial_state(self, batch_size, dtype=tf.float32):
        zeros = tf.zeros([batch_size, *self._state_shape()], dtype)
        return [[zeros, zeros] for _ in range(self.num_layers)]

    def _state_shape(self):
        """One cell's h (and c) per sequence: a vector here, a map for conv-LSTMs."""
        return [self.hidden_size]

    def _embed_sequence(self, inputs):
        """The embedding over a whole time-major sequence."""
        return self.embed(inputs)

    def _cells_step(self, e, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            e, state = cell(e, state, training=training)
            new_states.append(list(state))
        return e, new_states

    def _run(self, inputs, states, training):
        """Top-layer outputs `[T, B, hidden]` for inputs `[T, B, in]` (T static)."""
        steps = inputs.shape[0]
        if steps is None:
            raise ValueError("the time dimension of a recurrent input must be static")
        if states is None:
            states = self.initial_state(tf.shape(inputs)[1], inputs.dtype)
        embedded = self._embed_sequence(inputs)
        outputs = []
        for t in range(steps):
            out, states = self._cells_step(embedded[t], states, training)
            outputs.append(out)
        if not outputs:
            return tf.zeros([0, tf.shape(inputs)[1], *self._state_shape()],
                            inputs.dtype), states
        return tf.stack(outputs), states

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_layers=self.num_layers)
        return config


@keras.saving.register_keras_serializable(package="svg_tf")
class LSTMStack(_LSTMCore):
    """Frame predictor: embed -> LSTM cells -> linear -> tanh."""

    def __init__(self, output_size=128, hidden_size=256, num_layers=2, **kwargs):
        super().__init__(hidden_size=hidden_size, num_layers=num_layers, **kwargs)
        self.output_size = output_size
        self.output_layer = _dense(output_size, "output")

    def call(self, inputs, states=None, training=False):
        """`[T, B, in]` -> (`[T, B, output_size]`, final states)."""
        hidden, states = self._run(inputs, states, training)
        return tf.tanh(self.output_layer(hidden)), states

    def step(self, x, states, training=False):
        """One step `[B, in]` -> (`[B, output_size]`, states)."""
        hidden, states = self._cells_step(self.embed(x), states, training)
        return tf.tanh(self.output_layer(hidden)), states

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size)
        return config


@keras.saving.register_keras_serializable(package="svg_tf")
class GaussianLSTM(_LSTMCore):
    """Posterior q(z_t | x_1:t) or learned prior p(z_t | x_1:t-1): a diagonal Gaussian.

    `call` returns the raw (mu, logvar) tensors (what Keras layers should return);
    `distribution` and `distribution_step` wrap them in `tfd.Normal` with scale
    exp(0.5 * logvar), the parameterisation of the original.
    """

    def __init__(self, output_size=10, hidden_size=256, num_layers=1, **kwargs):
        super().__init__(hidden_size=hidden_size, num_layers=num_layers, **kwargs)
        self.output_size = output_size
        self.mu_layer = _dense(output_size, "mu")
        self.logvar_layer = _dense(output_size, "logvar")

    def call(self, inputs, states=None, training=False):
        """`[T, B, in]` -> (mu, logvar, final states)."""
        hidden, states = self._run(inputs, states, training)
        return self.mu_layer(hidden), self.logvar_layer(hidden), states

    def distribution(self, inputs, states=None, training=False):
        """`[T, B, in]` -> (tfd.Normal over `[T, B, z]`, final states)."""
        mu, logvar, states = self(inputs, states, training=training)
        return normal(mu, logvar), states

    def distribution_step(self, x, states, training=False):
        """One step `[B, in]` -> (tfd.Normal over `[B, z]`, states)."""
        hidden, states = self._cells_step(self.embed(x), states, training)
        return normal(self.mu_layer(hidden), self.logvar_layer(hidden)), states

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size)
        return config


def normal(mu, logvar):
    """N(mu, exp(0.5 * logvar)) in float32, whatever the compute dtype."""
    mu = tf.cast(mu, tf.float32)
    return tfd.Normal(loc=mu, scale=tf.exp(0.5 * tf.cast(logvar, tf.float32)))


def reparameterize(dist, eps):
    """z = mu + sigma * eps with externally drawn noise (stateless, replica-aware)."""
    return dist.loc + dist.scale * eps
