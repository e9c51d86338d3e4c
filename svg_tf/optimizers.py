"""Adam with PyTorch's arithmetic, so that svg_tf trains as the authors' code does.

Keras' Adam folds the bias corrections into the learning rate and adds epsilon to the raw
second moment: its effective epsilon is eps / sqrt(1 - beta2^t) (3.2e-6 at step 1 with the
default 1e-7). `torch.optim.Adam`, which the authors use, adds eps (1e-8) after the bias
correction:

    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

LSTM gradients of an untrained SVG are about 1e-5, comparable to Keras' effective epsilon,
so the two optimizers move those weights differently. The slot variables are Keras Adam's
(m, v), so checkpoints, `tf.distribute` and `LossScaleOptimizer` work unchanged.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="svg_tf")
class TorchAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update equals `torch.optim.Adam` at every step."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 name="torch_adam", **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError("TorchAdam does not implement amsgrad")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        # PyTorch computes the bias corrections in Python doubles; in float32, 0.999 is
        # 0.99900001 and 1 - 0.999^t would be off by 1e-5 relative at t = 1.
        # (ops.cast of a Python float goes through float32 first, hence tf.constant.)
        step = tf.cast(self.iterations + 1, tf.float64)
        correction_1 = tf.cast(1 - tf.pow(tf.constant(self.beta_1, tf.float64), step), dtype)
        correction_2_sqrt = tf.cast(
            tf.sqrt(1 - tf.pow(tf.constant(self.beta_2, tf.float64), step)), dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        # The same operations in the same order as torch.optim.Adam's single-tensor path:
        # m.lerp_(g, 1 - b1); v.mul_(b2).addcmul_(g, g, value=1 - b2).
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign(v, ops.add(ops.multiply(v, self.beta_2),
                               ops.multiply(ops.square(gradient), 1 - self.beta_2)))
        denominator = ops.add(ops.divide(ops.sqrt(v), correction_2_sqrt), self.epsilon)
        self.assign_sub(variable, ops.multiply(ops.divide(lr, correction_1),
                                               ops.divide(m, denominator)))


def make_optimizer(name: str, learning_rate: float, beta_1: float):
    """The training optimizer: 'torch_adam' (the authors', default) or 'keras_adam'."""
    if name == "torch_adam":
        return TorchAdam(learning_rate, beta_1=beta_1)
    if name == "keras_adam":
        return keras.optimizers.Adam(learning_rate, beta_1=beta_1)
    raise ValueError(f"optimizer={name!r} is invalid: expected 'torch_adam' or 'keras_adam'")
