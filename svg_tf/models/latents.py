"""What the latent variable z is in each SVG variant, and the rules that training and
generation share: the priors (SVG-LP's learned prior, SVG-FP's N(0, I), none for the
deterministic baseline), the skip-connection policy, the test-time batch-norm modes and the
one function that builds the frame predictor's input.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import tensorflow as tf
import tensorflow_probability as tfp

from svg_tf.config import SKIP_MODES
from svg_tf.models.layers import batch_norm_updates

tfd = tfp.distributions


def predictor_input(h, z, conditioning=None):
    """The frame predictor's input at each step: [h_{t-1}, z_t] (paper section 3), plus any
    conditioning input of the batch (e.g. actions), on the last axis. z has width 0 for the
    deterministic model. Training, sampling and reconstruction all build it here, so a
    conditioned variant changes this one place."""
    extra = [] if conditioning is None else [_tiled(tf.cast(conditioning, h.dtype), h)]
    return tf.concat([h, tf.cast(z, h.dtype)] + extra, axis=-1)


def _tiled(conditioning, h):
    """`[..., A]` tiled over h's feature map when h is one (SVG': the action at every
    position of the 8x8 map, as the VP2 SVG' code feeds it)."""
    missing = h.shape.rank - conditioning.shape.rank
    if missing <= 0:
        return conditioning
    for _ in range(missing):
        conditioning = conditioning[..., None, :]
    return tf.broadcast_to(conditioning, tf.concat([tf.shape(h)[:-1],
                                                    tf.shape(conditioning)[-1:]], 0))


class SkipPolicy:
    """Which frame's encoder skip tensors the decoder gets: the one rule that training,
    sampling and reconstruction all ask.

    last:     the last ground-truth frame before t, at most frame n_past-1 (the paper);
    original: as the authors' code, refreshed only while t < n_past, so frame n_past-2;
    every:    frame t-1 at every step (the authors' --last_frame_skip), generated frames
              included.
    """

    def __init__(self, mode: str):
        if mode not in SKIP_MODES:
            raise ValueError(f"skip={mode!r} is invalid: expected one of {list(SKIP_MODES)}")
        self.mode = mode

    def indices(self, n_past: int, seq_len: int) -> list[int]:
        """For each step t = 1 .. seq_len-1, the frame whose skips feed the decoder."""
        if self.mode == "last":
            return [min(t - 1, n_past - 1) for t in range(1, seq_len)]
        if self.mode == "original":
            return [min(t - 1, max(n_past - 2, 0)) for t in range(1, seq_len)]
        return [t - 1 for t in range(1, seq_len)]

    def first_generated(self, n_past: int) -> int:
        """The context frame whose skips decode the first predicted frame."""
        return self.indices(n_past, n_past + 1)[-1]

    @property
    def follows_generated_frames(self) -> bool:
        """Whether each generated frame's own skips feed the next step (mode every)."""
        return self.mode == "every"


def encoder_call_order(seq_len: int) -> list[int]:
    """Frames in the order the authors' training step encodes them: enc(x_{t-1}), enc(x_t)
    for t = 1 .. T-1, i.e. 0, 1, 1, 2, 2, ..., T-2, T-1 (one batch-norm update each)."""
    return [frame for t in range(1, seq_len) for frame in (t - 1, t)]


BN_MODES = ("running", "batch")


def bn_scope(bn: str):
    """(training flag, context-manager factory) for the test-time batch-norm mode `bn`.

    running: normalise with the running statistics (each sample independent of the batch);
    batch:   the authors' generation script: encoder and decoder in training mode, every frame
             normalised with the statistics of its call's batch, running statistics untouched.
    """
    if bn == "running":
        return False, contextlib.nullcontext
    if bn == "batch":
        return True, lambda: batch_norm_updates(())
    raise ValueError(f"bn={bn!r} is invalid: expected one of {list(BN_MODES)}")


def check_batch_statistics(bn, videos):
    """Refuse bn='batch' on a single sequence: its statistics would be those of one video."""
    if bn == "batch" and videos.shape[0] == 1:
        raise ValueError("bn='batch' normalises every frame with the statistics of the batch "
                         "of sequences (the authors' generation) and needs at least 2 "
                         "sequences; pass bn='running' for a single sequence")


class LatentPrior(Protocol):
    """What training and generation ask of z's prior."""

    z_shape: tuple  # (z_dim,), or (s, s, z_dim) for a z map (SVG')

    def for_kl(self, h_prev, posterior, training=False):
        """The prior of every step `[T-1, B, z]` that the KL term compares with."""

    def initial_state(self, batch):
        """Recurrent state before the first frame."""

    def warm_up(self, h_context, states):
        """The state after the context frames `[P-1, B, g]`, continuing from `states`."""

    def step(self, h_prev, states, batch):
        """(mu, sigma `[batch, z]`, states) of the next step."""


class _Latent:
    """z's shape: `z_shape` (z_dim,) or (s, s, z_dim); `z_dim` its channels (0: no z);
    `noise_shape` what sampling draws per step and sample (one dummy channel for no z)."""

    def __init__(self, z_shape):
        self.z_shape = tuple(z_shape)
        self.z_dim = self.z_shape[-1]
        self.noise_shape = (*self.z_shape[:-1], max(self.z_dim, 1))


class LearnedPrior(_Latent):
    """SVG-LP's p(z_t | x_1:t-1): the prior LSTM, fed the previous frame's encoding."""

    def __init__(self, lstm, z_shape):
        super().__init__(z_shape)
        self.lstm = lstm

    def for_kl(self, h_prev, posterior, training=False):
        """The prior of every step `[T-1, B, z]` that the KL term compares with."""
        return self.lstm.distribution(h_prev, training=training)[0]

    def initial_state(self, batch):
        return self.lstm.initial_state(batch, tf.float32)

    def warm_up(self, h_context, states):
        """The LSTM state after the context frames (whose z came from the posterior)."""
        states = [[tf.cast(s, h_context.dtype) for s in layer] for layer in states]
        return self.lstm(h_context, states)[2]

    def step(self, h_prev, states, batch):
        """(mu, sigma `[batch, z]`, states) of the next step."""
        prior, states = self.lstm.distribution_step(h_prev, states)
        return prior.loc, prior.scale, states


class FixedPrior(_Latent):
    """SVG-FP's N(0, I)."""

    def for_kl(self, h_prev, posterior, training=False):
        return tfd.Normal(tf.zeros_like(posterior.loc), tf.ones_like(posterior.scale))

    def initial_state(self, batch):
        return []

    def warm_up(self, h_context, states):
        return states

    def step(self, h_prev, states, batch):
        shape = tf.concat([[batch], self.z_shape], 0)
        return tf.zeros(shape), tf.ones(shape), states


class NoLatent(FixedPrior):
    """The deterministic baseline: no z (width 0), no KL."""

    def __init__(self, z_shape=(0,)):
        super().__init__((*tuple(z_shape)[:-1], 0))


def make_prior(model: str, lstm, z_shape):
    """The latent prior of an SVG variant: lp -> LearnedPrior, fp -> FixedPrior, det ->
    NoLatent; `z_shape` (z_dim,) or (s, s, z_dim)."""
    z_shape = (z_shape,) if isinstance(z_shape, int) else tuple(z_shape)
    return {"lp": lambda: LearnedPrior(lstm, z_shape), "fp": lambda: FixedPrior(z_shape),
            "det": lambda: NoLatent(z_shape)}[model]()
