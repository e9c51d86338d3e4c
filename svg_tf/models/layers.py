"""Building blocks shared by the backbones: initialisers and per-frame batch norm.

Backbone tensors are time-major groups of frames, `[G, B, H, W, C]`: G groups (time steps)
of B frames. Convolutions see the G*B frames as one batch (one kernel launch, the fast path);
batch norm computes one set of statistics per group, which is what the authors' code gets by
calling the encoder and decoder once per time step.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def conv_init():
    """Original init for conv and linear weights: N(0, 0.02)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


@keras.saving.register_keras_serializable(package="svg_tf")
class SumOfUniforms(keras.initializers.Initializer):
    """Sum of two U(-limit, limit) draws.

    PyTorch's LSTMCell has two bias vectors, each U(-1/sqrt(hidden), 1/sqrt(hidden)) and
    always added together; Keras has one. Drawing the sum keeps the original distribution.
    """

    def __init__(self, limit, seed=None):
        self.limit = limit
        self.seed = seed

    def __call__(self, shape, dtype=None):
        second_seed = None if self.seed is None else self.seed + 1
        first = keras.initializers.RandomUniform(-self.limit, self.limit, seed=self.seed)
        second = keras.initializers.RandomUniform(-self.limit, self.limit, seed=second_seed)
        return first(shape, dtype=dtype) + second(shape, dtype=dtype)

    def get_config(self):
        return {"limit": self.limit, "seed": self.seed}


def track_layers(owner, prefix, layers):
    """Also expose each layer of a list as an attribute, so tf.train.Checkpoint saves it.

    Keras 3 tracks lists of layers for its own weights, but on the TensorFlow backend those
    lists are not checkpoint dependencies: without this, tf.train.Checkpoint silently skips
    every layer that lives only in a list.
    """
    for i, layer in enumerate(layers):
        setattr(owner, f"{prefix}_{i}", layer)
    return layers


def merge_groups(x):
    """[G, B, ...] -> [G*B, ...] (the trailing dims must be static)."""
    return tf.reshape(x, [-1] + list(x.shape[2:]))


def split_groups(x, groups):
    """[G*B, ...] -> [G, B, ...]."""
    return tf.reshape(x, [groups, -1] + list(x.shape[1:]))


@keras.saving.register_keras_serializable(package="svg_tf")
class ConvBlock(keras.layers.Layer):
    """Conv (or transposed conv) -> per-frame batch norm -> activation on `[G, B, H, W, C]`.

    Convolutions keep their bias before batch norm, as the original does (it counts in the
    parameter totals).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", transpose=False,
                 normalize=True, activation="leaky_relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.transpose = transpose
        self.normalize = normalize
        self.activation = activation
        conv_cls = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        self.conv = conv_cls(filters, kernel_size, strides=strides, padding=padding,
                             kernel_initializer=conv_init(), bias_initializer="zeros",
                             name="conv")
        self.norm = FrameBatchNorm(name="bn") if normalize else None

    def call(self, x, training=False):
        groups = tf.shape(x)[0]
        y = split_groups(self.conv(merge_groups(x)), groups)
        if self.norm is not None:
            y = self.norm(y, training=training)
        return apply_activation(y, self.activation)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      padding=self.padding, transpose=self.transpose, normalize=self.normalize,
                      activation=self.activation)
        return config


def apply_activation(x, name):
    if name is None:
        return x
    if name == "leaky_relu":
        return tf.nn.leaky_relu(x, alpha=0.2)
    if name == "tanh":
        return tf.tanh(x)
    if name == "sigmoid":
        return tf.sigmoid(x)
    raise ValueError(f"unknown activation {name!r}: expected leaky_relu, tanh, sigmoid or None")


@keras.saving.register_keras_serializable(package="svg_tf")
class FrameBatchNorm(keras.layers.Layer):
    """Batch norm over `[G, B, H, W, C]` with one set of batch statistics per group.

    In training each group is normalised with its own mean and (biased) variance over B, H, W,
    as PyTorch's BatchNorm2d does on one frame batch. Under `tf.distribute` the sums are
    all-reduced over replicas (synchronised batch norm), so a step on N replicas computes
    exactly what one device computes on the global batch. Moving statistics follow PyTorch:
    momentum 0.1 (Keras 0.9) and the unbiased variance.
    """

    def __init__(self, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(
            name="gamma", shape=(channels,),
            initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02))
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        # Statistics are all-reduced, so every replica holds the same value: "mean" is exact.
        self.moving_mean = self.add_weight(name="moving_mean", shape=(channels,),
                                           initializer="zeros", trainable=False,
                                           aggregation="mean", autocast=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(channels,),
                                               initializer="ones", trainable=False,
                                               aggregation="mean", autocast=False)

    def call(self, x, training=False):
        if not training:
            return self._normalize(x, self.moving_mean, self.moving_variance)
        x32 = tf.cast(x, tf.float32)
        rank = len(x.shape)
        axes = list(range(1, rank - 1))  # B and the spatial axes; one statistic per group
        count = tf.cast(tf.reduce_prod(tf.shape(x32)[1:-1]), tf.float32)
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1

        def all_sum(value):
            if replicas > 1:
                return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
            return value

        total = all_sum(count)
        mean = all_sum(tf.reduce_sum(x32, axis=axes, keepdims=True)) / total
        variance = all_sum(tf.reduce_sum(tf.square(x32 - mean), axis=axes, keepdims=True)) / total
        unbiased = variance * total / tf.maximum(total - 1.0, 1.0)
        group_mean = tf.reshape(tf.reduce_mean(mean, axis=0), [-1])
        group_var = tf.reshape(tf.reduce_mean(unbiased, axis=0), [-1])
        self.moving_mean.assign(self.momentum * self.moving_mean
                                + (1.0 - self.momentum) * group_mean)
        self.moving_variance.assign(self.momentum * self.moving_variance
                                    + (1.0 - self.momentum) * group_var)
        return self._normalize(x, mean, variance)

    def _normalize(self, x, mean, variance):
        x32 = tf.cast(x, tf.float32)
        scale = tf.cast(self.gamma, tf.float32) * tf.math.rsqrt(
            tf.cast(variance, tf.float32) + self.epsilon)
        offset = tf.cast(self.beta, tf.float32) - tf.cast(mean, tf.float32) * scale
        return tf.cast(x32 * scale + offset, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config
