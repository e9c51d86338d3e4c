"""Building blocks shared by the backbones: initialisers and per-frame batch norm.

Backbone tensors are time-major groups of frames, `[G, B, H, W, C]`: G groups (time steps)
of B frames. Convolutions see the G*B frames as one batch (one kernel launch, the fast path);
batch norm computes one set of statistics per group, which is what the authors' code gets by
calling the encoder and decoder once per time step.
"""

from __future__ import annotations

import contextlib
import threading

import keras
import numpy as np
import tensorflow as tf


def conv_init():
    """Original init for conv and linear weights: N(0, 0.02)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def track_layers(owner, prefix, layers):
    """Also expose each layer of a list as an attribute, so tf.train.Checkpoint saves it.

    Keras 3 tracks lists of layers for its own weights, but on the TensorFlow backend those
    lists are not checkpoint dependencies: without this, tf.train.Checkpoint silently skips
    every layer that lives only in a list.
    """
    for i, layer in enumerate(layers):
        setattr(owner, f"{prefix}_{i}", layer)
    return layers


_UPDATE_ORDER = threading.local()


@contextlib.contextmanager
def batch_norm_updates(order):
    """Say how FrameBatchNorm layers called in training mode in this scope update their
    running statistics.

    `order` lists group indices: the running statistics end as if the layer had been called
    once per entry, in that order, on that group's batch (PyTorch's one update per module
    call). The authors' training loop encodes frames 0, 1, 1, 2, 2, ..., so the model passes
    that order while encoding all frames in one batched call. `order=()` normalises with the
    batch statistics and leaves the running statistics alone (the authors' test-time mode).
    Outside any scope: one update per group, in group order. The scope is read while a
    function is traced and is per thread, so each tf.distribute replica sees its own.
    """
    stack = getattr(_UPDATE_ORDER, "stack", None)
    if stack is None:
        stack = _UPDATE_ORDER.stack = []
    stack.append(tuple(order))
    try:
        yield
    finally:
        stack.pop()


def _current_update_order():
    stack = getattr(_UPDATE_ORDER, "stack", None)
    return stack[-1] if stack else None


def ema_weights(order, groups, momentum):
    """(decay, per-group weights) of a sequential EMA over calls on `order`'s groups.

    r <- (1-m) r + m s_k for k = 1..K equals (1-m)^K r + sum_k m (1-m)^(K-k) s_k, so one
    batched pass can apply K sequential updates exactly.
    """
    m = 1.0 - momentum
    weights = np.zeros([groups], np.float64)
    count = len(order)
    for k, group in enumerate(order):
        if not 0 <= group < groups:
            raise ValueError(f"batch-norm update order names group {group}, but the input "
                             f"has {groups} groups")
        weights[group] += m * (1.0 - m) ** (count - 1 - k)
    return (1.0 - m) ** count, weights


def build_sublayers(layer, *shapes):
    """Build a layer made of other layers for inputs of `shapes` (a shape, or a list of
    shapes for a list argument) by tracing its `call` on symbolic tensors, which builds every
    sub-layer. Composite layers call this from `build`: without a `build` of their own, Keras
    warns when a deserialised layer is rebuilt from its saved shapes."""

    def symbolic(shape):
        if shape and isinstance(shape[0], (list, tuple)):
            return [symbolic(s) for s in shape]
        return keras.KerasTensor(tuple(shape), dtype=layer.compute_dtype)

    if not all(sub.built for sub in layer._flatten_layers(include_self=False)):
        layer.compute_output_spec(*[symbolic(s) for s in shapes])


def replica_position():
    """(replica context or None, number of replicas in sync, this replica's index): where a
    computation runs under tf.distribute (1 and 0 outside it)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return None, 1, 0
    return context, context.num_replicas_in_sync, context.replica_id_in_sync_group


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

    def build(self, input_shape):
        build_sublayers(self, input_shape)

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
    momentum 0.1 (Keras 0.9), the unbiased variance, and one update per group as if each
    group were a separate call (or the order set by `batch_norm_updates`).
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
        context, replicas, _ = replica_position()

        def all_sum(value):
            if replicas > 1:
                return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
            return value

        total = all_sum(count)
        mean = all_sum(tf.reduce_sum(x32, axis=axes, keepdims=True)) / total
        variance = all_sum(tf.reduce_sum(tf.square(x32 - mean), axis=axes, keepdims=True)) / total
        unbiased = variance * total / tf.maximum(total - 1.0, 1.0)
        self._update_running_statistics(mean, unbiased)
        return self._normalize(x, mean, variance)

    def _update_running_statistics(self, mean, unbiased):
        """Sequential PyTorch updates (see `batch_norm_updates`) in one closed-form step."""
        order = _current_update_order()
        channels = mean.shape[-1]
        means = tf.reshape(mean, [-1, channels])
        variances = tf.reshape(unbiased, [-1, channels])
        if order is None:  # one call per group, in group order
            groups = tf.shape(means)[0]
            m = 1.0 - self.momentum
            powers = tf.cast(groups - 1 - tf.range(groups), tf.float32)
            weights = m * tf.pow(1.0 - m, powers)
            decay = tf.pow(1.0 - m, tf.cast(groups, tf.float32))
        elif not order:
            return
        else:
            groups = means.shape[0]
            if groups is None:
                raise ValueError("an explicit batch-norm update order needs a static number "
                                 "of groups")
            decay, weights = ema_weights(order, groups, self.momentum)
            weights = tf.constant(weights, tf.float32)
        self.moving_mean.assign(decay * self.moving_mean
                                + tf.linalg.matvec(means, weights, transpose_a=True))
        self.moving_variance.assign(decay * self.moving_variance
                                    + tf.linalg.matvec(variances, weights, transpose_a=True))

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
