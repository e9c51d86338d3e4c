"""The optional LPIPS term of the training loss (`lpips_weight`, an option of the VP2 SVG'
code): lpips_weight * sum_t mean_batch LPIPS(x_hat_t, x_t), beside the reconstruction term.

The network is the project's LPIPS (AlexNet v0.1, svg_tf.metrics.lpips_network) with the
weights of `python -m svg_tf.convert_lpips`; they are constants, never trained or saved in a
checkpoint, so a run keeps no copy and each training call names the file again. Gradients
flow through the network to the predictions only (the targets are constants).
"""

from __future__ import annotations

import tensorflow as tf


class PerceptualLoss:
    """LPIPS per predicted step. A plain object, so that Keras neither tracks its constant
    table as the model's state nor asks a checkpoint to hold it."""

    def __init__(self, weights: str):
        from svg_tf.metrics import lpips_network

        self.weights = weights
        self._table = lpips_network.load_weights(weights)  # refuses a bad file by name
        self._distance = lpips_network.distance

    def per_step(self, predictions, targets):
        """Time-major `[T, B, H, W, C]` predictions and targets -> mean LPIPS over the batch
        per step, `[T]` (float32, whatever the compute dtype)."""
        predictions = tf.cast(predictions, tf.float32)
        targets = tf.stop_gradient(tf.cast(targets, tf.float32))
        steps, frame = tf.shape(predictions)[:2], tf.shape(predictions)[2:]
        flat = [tf.reshape(v, tf.concat([[-1], frame], 0)) for v in (predictions, targets)]
        return tf.reduce_mean(tf.reshape(self._distance(*flat, self._table), steps), -1)


def missing_weights_message(lpips_weight: float) -> str:
    """Why a run with an LPIPS term cannot train without the weights file."""
    return (f"lpips_weight={lpips_weight} needs the LPIPS network: pass lpips_weights, the "
            ".npz written by python -m svg_tf.convert_lpips (train's --lpips_weights)")
