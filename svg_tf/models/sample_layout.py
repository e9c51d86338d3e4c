"""How the samples of a batch are laid out while sampling: S samples of B sequences are
tiled into one batch of S*B rows, sample-major (row s * B + b), so that each time step is
one pass for all of them while batch norm still sees the authors' per-sample statistics."""

import tensorflow as tf

from svg_tf.models.latents import bn_scope


class SamplePasses:
    """How the samples of a batch are laid out: tiled sample-major (index s * B + b), so that
    grouping them [S, B] gives each sample pass its own batch-norm statistics over the B
    sequences, as the authors' one-pass-per-sample loop computes them. Encodes and decodes
    one frame of every sample under the test-time batch-norm mode."""

    def __init__(self, model, batch, num_samples, bn):
        self.model, self.batch, self.num_samples = model, batch, num_samples
        self.total = batch * num_samples
        self.training, self.scope = bn_scope(bn)

    def per_pass(self, x):
        return tf.reshape(x, tf.concat([[self.num_samples, self.batch], tf.shape(x)[1:]], 0))

    def flat(self, x):
        return tf.reshape(x, tf.concat([[self.total], tf.shape(x)[2:]], 0))

    def encode(self, frame):
        with self.scope():
            h, skips = self.model.encoder(self.per_pass(frame), training=self.training)
        return self.flat(h), [self.flat(s) for s in skips]

    def decode(self, g, skips):
        with self.scope():
            frame = self.model.decoder(self.per_pass(g), [self.per_pass(s) for s in skips],
                                       training=self.training)
        return self.flat(frame)


def sample_major(noise):
    """`[T, B, S, ...z]` -> `[T, S, B, ...z]`. Noise is drawn sequence-major, so sequence b's
    samples get the same draws whatever else is in the batch, and laid out sample-major like
    the tiled batch."""
    return tf.transpose(noise, [0, 2, 1, *range(3, noise.shape.rank)])


def tile_rows(x, times):
    """`[B, ...]` -> `[times * B, ...]`, copies one after another (sample-major)."""
    return tf.tile(x, tf.concat([[times], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
