"""SVG: the stochastic video generation model (SVG-LP, SVG-FP) and its deterministic baseline.

Training (paper section 3 and the authors' train_svg_lp.py), for t = 1 .. T-1 with teacher forcing:
    h_t = enc(x_t);  q_t = posterior(h_t);  z_t = mu_q + sigma_q * eps_t
    p_t = prior(h_{t-1}) (lp) | N(0, I) (fp);   g_t = predictor([h_{t-1}, z_t]);
    x_hat_t = dec(g_t, skips)
    loss = sum_t mse(x_hat_t, x_t) + beta * sum_t mean_batch sum_z KL(q_t || p_t)
Because every input of the recurrences is a ground-truth frame, all T frames are encoded in
one batched call and all T-1 predictions decoded in one; only the LSTM cells loop over time.

Noise is stateless: eps is a pure function of (config.seed, optimizer step), drawn for the
global batch and sliced per replica, so a step on N replicas equals a step on one device.
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from svg_tf.config import SKIP_MODES, SVGConfig
from svg_tf.config import get_config as preset_config
from svg_tf.models.backbones import make_backbone
from svg_tf.models.layers import batch_norm_updates
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack, reparameterize
from svg_tf.optimizers import make_optimizer

tfd = tfp.distributions

_TRAIN_SALT = 0
_TEST_SALT = 1


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


def skip_frame_indices(mode: str, n_past: int, seq_len: int) -> list[int]:
    """`SkipPolicy(mode).indices(n_past, seq_len)`."""
    return SkipPolicy(mode).indices(n_past, seq_len)


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


class LearnedPrior:
    """SVG-LP's p(z_t | x_1:t-1): the prior LSTM, fed the previous frame's encoding."""

    def __init__(self, lstm, z_dim):
        self.lstm, self.z_dim = lstm, z_dim

    def for_kl(self, h_prev, posterior, training=False):
        """The prior of every step `[T-1, B, z]` that the KL term compares with."""
        return self.lstm.distribution(h_prev, training=training)[0]

    def initial_state(self, batch):
        return self.lstm.initial_state(batch, tf.float32)

    def warm_up(self, h_context, states):
        """The LSTM state after the context frames (whose z came from the posterior)."""
        return self.lstm(h_context)[2]

    def step(self, h_prev, states, batch):
        """(mu, sigma `[batch, z]`, states) of the next step."""
        prior, states = self.lstm.distribution_step(h_prev, states)
        return prior.loc, prior.scale, states


class FixedPrior:
    """SVG-FP's N(0, I)."""

    def __init__(self, z_dim):
        self.z_dim = z_dim

    def for_kl(self, h_prev, posterior, training=False):
        return tfd.Normal(tf.zeros_like(posterior.loc), tf.ones_like(posterior.scale))

    def initial_state(self, batch):
        return []

    def warm_up(self, h_context, states):
        return states

    def step(self, h_prev, states, batch):
        return tf.zeros([batch, self.z_dim]), tf.ones([batch, self.z_dim]), states


class NoLatent(FixedPrior):
    """The deterministic baseline: no z (width 0), no KL."""

    def __init__(self):
        super().__init__(0)


def make_prior(model: str, lstm, z_dim: int):
    """The latent prior of an SVG variant: lp -> LearnedPrior, fp -> FixedPrior, det ->
    NoLatent."""
    return {"lp": lambda: LearnedPrior(lstm, z_dim), "fp": lambda: FixedPrior(z_dim),
            "det": NoLatent}[model]()


@keras.saving.register_keras_serializable(package="svg_tf")
class SVG(keras.Model):
    """SVG-LP (`model='lp'`), SVG-FP (`'fp'`) or the deterministic LSTM (`'det'`)."""

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = SVGConfig()
        elif isinstance(config, dict):
            config = SVGConfig.from_dict(config)
        self.svg_config = config
        c = config
        self.variant = c.model
        self.skip_policy = SkipPolicy(c.skip)
        self.encoder, self.decoder = make_backbone(
            c.backbone, image_size=c.image_size, channels=c.channels, g_dim=c.g_dim,
            width=c.width)
        self.frame_predictor = LSTMStack(c.g_dim, c.rnn_size, c.predictor_rnn_layers,
                                         name="frame_predictor")
        self.posterior = (GaussianLSTM(c.z_dim, c.rnn_size, c.posterior_rnn_layers,
                                       name="posterior") if c.model != "det" else None)
        self.prior = (GaussianLSTM(c.z_dim, c.rnn_size, c.prior_rnn_layers, name="prior")
                      if c.model == "lp" else None)
        # One object answers "what is z's prior" for training and generation alike.
        self.latent_prior = make_prior(c.model, self.prior, c.z_dim)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Traced generation functions per (purpose, batch-norm mode). A plain object: a dict
        # attribute would be tracked, and a SavedModel cannot save its tuple keys.
        self._traced = _TracedFunctions()

    # ------------------------------------------------------------------ building blocks
    def encode(self, frames, training=False):
        """Time-major frames `[T, B, H, W, C]` -> (h `[T, B, g]`, skips `[T, B, ...]`).

        With bn_statistics='frame' each time step is its own batch-norm group, as in the
        authors' per-frame calls; 'batch' pools the statistics over all frames.
        """
        if self.svg_config.bn_statistics == "frame" or not training:
            return self.encoder(frames, training=training)
        steps = tf.shape(frames)[0]
        h, skips = self.encoder(_as_one_group(frames), training=training)
        return _to_groups(h, steps), [_to_groups(s, steps) for s in skips]

    def decode(self, g, skips, training=False):
        """`[T, B, g]` and skips `[T, B, ...]` -> frames `[T, B, H, W, C]`."""
        if self.svg_config.bn_statistics == "frame" or not training:
            return self.decoder(g, skips, training=training)
        steps = tf.shape(g)[0]
        frames = self.decoder(_as_one_group(g), [_as_one_group(s) for s in skips],
                              training=training)
        return _to_groups(frames, steps)

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker, self.kl_tracker]

    # ------------------------------------------------------------------ training
    def elbo_terms(self, x, eps=None, training=False):
        """Per-step loss terms for a batch-major video batch `x` `[B, T, H, W, C]`.

        eps: posterior noise `[T-1, B, z_dim]` (None: zeros, i.e. the posterior mean).
        Returns a dict with `mse` and `kl` of shape `[T-1]` (mse: mean over batch and
        pixels; kl: summed over z, averaged over the batch), `loss` (their beta-weighted sum
        over time) and `predictions` `[T-1, B, H, W, C]`.
        """
        c = self.svg_config
        frames = tf.transpose(tf.cast(tf.convert_to_tensor(x), self.compute_dtype),
                              [1, 0, 2, 3, 4])
        seq_len = frames.shape[0]
        order = (encoder_call_order(seq_len) if c.bn_statistics == "frame" else [0])
        with batch_norm_updates(order):
            h, skips = self.encode(frames, training=training)
        h_prev, h_target = h[:-1], h[1:]
        if self.variant == "det":
            predictor_input = h_prev
            kl = tf.zeros([seq_len - 1], tf.float32)
        else:
            posterior, _ = self.posterior.distribution(h_target, training=training)
            if eps is None:
                eps = tf.zeros_like(posterior.loc)
            z = reparameterize(posterior, eps)
            prior = self.latent_prior.for_kl(h_prev, posterior, training=training)
            kl = tf.reduce_mean(tf.reduce_sum(tfd.kl_divergence(posterior, prior), -1), -1)
            predictor_input = tf.concat([h_prev, tf.cast(z, h_prev.dtype)], axis=-1)
        g, _ = self.frame_predictor(predictor_input, training=training)
        index = self.skip_policy.indices(c.n_past, seq_len)
        chosen = [tf.gather(s, index) for s in skips]
        predictions = self.decode(g, chosen, training=training)
        error = tf.square(tf.cast(predictions, tf.float32) - tf.cast(frames[1:], tf.float32))
        mse = tf.reduce_mean(error, axis=[1, 2, 3, 4])
        loss = tf.reduce_sum(mse) + c.beta * tf.reduce_sum(kl)
        return {"loss": loss, "mse": mse, "kl": kl, "predictions": predictions}

    def posterior_noise(self, x, salt=_TRAIN_SALT, step=None):
        """eps `[T-1, B_local, z]` for this replica: a slice of the global batch's noise.

        A pure function of (config.seed, salt, step, replica), so runs are reproducible and
        independent of the number of replicas. `step` defaults to the optimizer's iteration.
        """
        if self.variant == "det":
            return None
        x = tf.convert_to_tensor(x)
        local = tf.shape(x)[0]
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        replica = context.replica_id_in_sync_group if context is not None else 0
        if step is None:
            optimizer = getattr(self, "optimizer", None)
            step = optimizer.iterations if optimizer is not None else 0
        seed = tf.stack([tf.cast(self.svg_config.seed, tf.int64) * 2 + salt,
                         tf.cast(step, tf.int64)])
        shape = [x.shape[1] - 1, local * replicas, self.svg_config.z_dim]
        noise = tf.random.stateless_normal(tf.stack(shape), seed)
        start = tf.cast(replica, tf.int32) * local
        return noise[:, start:start + local]

    def _replicas(self):
        context = tf.distribute.get_replica_context()
        return context.num_replicas_in_sync if context is not None else 1

    def _update_trackers(self, terms, frames):
        # Logged per frame as the original does: totals divided by n_past + n_future.
        self.loss_tracker.update_state(terms["loss"] / frames)
        self.mse_tracker.update_state(tf.reduce_sum(terms["mse"]) / frames)
        self.kl_tracker.update_state(tf.reduce_sum(terms["kl"]) / frames)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = _unpack(data)
        eps = self.posterior_noise(x, _TRAIN_SALT)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(x, eps, training=True)
            # Each replica's loss is a mean over its local batch; the optimizer sums the
            # gradients over replicas, so dividing by their number gives the global mean.
            scaled = terms["loss"] / self._replicas()
            if hasattr(self.optimizer, "scale_loss"):
                scaled = self.optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_trackers(terms, x.shape[1])

    def test_step(self, data):
        x = _unpack(data)
        eps = self.posterior_noise(x, _TEST_SALT)
        terms = self.elbo_terms(x, eps, training=False)
        return self._update_trackers(terms, x.shape[1])

    def call(self, x, training=False):
        """Teacher-forced one-step predictions `[B, T-1, H, W, C]` with the posterior mean."""
        predictions = self.elbo_terms(x, None, training=training)["predictions"]
        return tf.transpose(predictions, [1, 0, 2, 3, 4])

    def build(self, input_shape=None):
        """Create every weight with one dummy forward pass (no statistics are updated)."""
        c = self.svg_config
        dummy = tf.zeros([1, c.seq_len, *c.frame_shape], self.compute_dtype)
        self.elbo_terms(dummy, None, training=False)
        self.built = True

    # ------------------------------------------------------------------ generation
    def _bn_mode(self, bn):
        bn = self.svg_config.sample_bn if bn is None else bn
        bn_scope(bn)  # validates
        return bn

    def sample(self, context, n_future, num_samples=1, seed=None, return_prior=False, bn=None,
               noise=None):
        """Sample `num_samples` continuations of each context video.

        context: `[B, n_past, H, W, C]` in [0, 1]. Returns frames
        `[B, num_samples, n_future, H, W, C]`; with return_prior also the learned prior's
        mean and sigma `[B, num_samples, n_future, z_dim]` at each predicted step (fp: 0 and
        1; det: zeros of width 0). Context steps are generated as in the original: z from the
        posterior on the true next frame, which warms up the LSTM states. Samples are tiled
        into the batch (one pass per time step for all of them) and all randomness is
        stateless: the same seed gives the same frames.

        bn: 'batch' (the authors' generation script: each frame normalised with the statistics
        of the B sequences of its sample pass; needs B >= 2) or 'running' (running statistics:
        a sample does not depend on the other sequences of the batch). Default: the config's
        `sample_bn`.

        noise: optional (posterior eps `[n_past-1, num_samples, B, z]`, prior eps
        `[n_future, num_samples, B, z]`) to replay given noise instead of drawing it from the
        seed (the prior eps is z itself for SVG-FP); for parity checks against other code.
        """
        if isinstance(n_future, int) and n_future < 1:
            raise ValueError(f"n_future={n_future}: at least one frame must be predicted")
        bn = self._bn_mode(bn)
        if seed is None:
            seed = [self.svg_config.seed, 0]
        seed = tf.cast(tf.reshape(tf.convert_to_tensor(seed), [-1])[:2], tf.int64)
        if seed.shape[0] == 1:
            seed = tf.concat([seed, [0]], 0)
        context = tf.convert_to_tensor(context, tf.float32)
        _check_batch_statistics(bn, context)
        if noise is not None:
            noise = tuple(tf.convert_to_tensor(n, tf.float32) for n in noise)
        frames, mu, sigma = self.sample_graph(context, tf.constant(n_future, tf.int32),
                                              tf.constant(num_samples, tf.int32), seed, bn,
                                              noise)
        if return_prior:
            return frames, mu, sigma
        return frames

    def sample_graph(self, context, n_future, num_samples, seed, bn="running", noise=None):
        """`sample` on tensors, as a traced function (what a SavedModel signature calls)."""
        function = self._traced.get(("sample", bn, noise is None),
                                    lambda *args: self._sample(*args, bn=bn))
        args = (context, n_future, num_samples, seed) + ((noise,) if noise is not None else ())
        return function(*args)

    def prior_on_frames(self, x, bn=None):
        """The learned prior fed with the true frames (the paper's figure 6 protocol).

        x: videos `[B, T, H, W, C]`. Returns (mu, sigma) `[B, T-1, z_dim]`: entry t-1 is
        p(z_t | x_{1:t-1}) for 0-based frame t, i.e. the prior that would generate frame t
        after seeing every true frame before it. SVG-LP only.
        """
        if self.variant != "lp":
            raise ValueError(f"prior_on_frames needs a learned prior; this is an SVG-"
                             f"{self.variant.upper()} model")
        bn = self._bn_mode(bn)
        x = tf.convert_to_tensor(x, tf.float32)
        _check_batch_statistics(bn, x)
        return self._traced.get(("prior", bn), lambda v: self._prior_on_frames(v, bn))(x)

    def _prior_on_frames(self, x, bn):
        frames = tf.transpose(tf.cast(x, self.compute_dtype), [1, 0, 2, 3, 4])
        training, scope = bn_scope(bn)
        with scope():
            h, _ = self.encode(frames, training=training)
        prior, _ = self.prior.distribution(h[:-1])
        return (tf.transpose(tf.cast(prior.loc, tf.float32), [1, 0, 2]),
                tf.transpose(tf.cast(prior.scale, tf.float32), [1, 0, 2]))

    def _sample(self, context, n_future, num_samples, seed, noise=None, bn="running"):
        c = self.svg_config
        n_past = context.shape[1]
        if n_past is None:
            raise ValueError("the context length (axis 1) must be static")
        training, scope = bn_scope(bn)
        batch = tf.shape(context)[0]
        total = batch * num_samples
        z_dim = self.latent_prior.z_dim
        post_seed, prior_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=2))

        # Samples are tiled sample-major (index s * B + b): grouping [S, B] then gives each
        # sample pass its own batch-norm statistics over the B sequences, as the authors'
        # one-pass-per-sample loop computes them.
        def per_pass(x):
            return tf.reshape(x, tf.concat([[num_samples, batch], tf.shape(x)[1:]], 0))

        def flat(x):
            return tf.reshape(x, tf.concat([[total], tf.shape(x)[2:]], 0))

        def encode_step(frame):
            with scope():
                h, skips = self.encoder(per_pass(frame), training=training)
            return flat(h), [flat(s) for s in skips]

        def decode_step(g, skips):
            with scope():
                frame = self.decoder(per_pass(g), [per_pass(s) for s in skips],
                                     training=training)
            return flat(frame)

        ctx = tf.transpose(tf.cast(context, self.compute_dtype), [1, 0, 2, 3, 4])
        with scope():
            h_ctx, skips_ctx = self.encode(ctx, training=training)
        h_ctx = tf.tile(h_ctx, [1, num_samples, 1])  # [P, S*B, g], sample-major

        predictor_states = self.frame_predictor.initial_state(total, h_ctx.dtype)
        prior_states = self.latent_prior.initial_state(total)
        if n_past > 1:
            if self.variant == "det":
                predictor_input = h_ctx[:-1]
            else:
                posterior, _ = self.posterior.distribution(h_ctx[1:])
                if noise is None:
                    eps = _sample_major(tf.random.stateless_normal(
                        tf.stack([n_past - 1, batch, num_samples, c.z_dim]), post_seed))
                else:
                    eps = noise[0]
                eps = tf.reshape(eps, tf.shape(posterior.loc))
                z = reparameterize(posterior, eps)
                predictor_input = tf.concat([h_ctx[:-1], tf.cast(z, h_ctx.dtype)], -1)
                prior_states = self.latent_prior.warm_up(h_ctx[:-1], prior_states)
            _, predictor_states = self.frame_predictor(predictor_input)

        first_skip = self.skip_policy.first_generated(n_past)
        skips = [_tile_rows(s[first_skip], num_samples) for s in skips_ctx]
        if noise is None:
            prior_noise = _sample_major(tf.random.stateless_normal(
                tf.stack([n_future, batch, num_samples, max(z_dim, 1)]), prior_seed))
        else:
            prior_noise = noise[1]
        prior_noise = tf.reshape(prior_noise, tf.stack([n_future, total, -1]))

        def predict(t, h_prev, skips, predictor_states, prior_states):
            """Frame t from the previous frame's encoding, z drawn from the prior (of width
            0 for the deterministic model, whose predictor then sees h alone)."""
            mu, sigma, prior_states = self.latent_prior.step(h_prev, prior_states, total)
            z = mu + sigma * prior_noise[t][:, :z_dim]
            frame, predictor_states = self._generate_frame(h_prev, z, skips, predictor_states,
                                                           decode_step)
            return frame, mu, sigma, predictor_states, prior_states

        def body(t, h_prev, skips, predictor_states, prior_states, frames_ta, mu_ta, sigma_ta):
            frame, mu, sigma, predictor_states, prior_states = predict(
                t, h_prev, skips, predictor_states, prior_states)
            h_next, skips = self._next_step_inputs(frame, skips, encode_step)
            return (t + 1, h_next, skips, predictor_states, prior_states,
                    frames_ta.write(t, tf.cast(frame, tf.float32)), mu_ta.write(t, mu),
                    sigma_ta.write(t, sigma))

        loop_vars = (tf.constant(0), h_ctx[-1], skips, predictor_states, prior_states,
                     tf.TensorArray(tf.float32, size=n_future),
                     tf.TensorArray(tf.float32, size=n_future),
                     tf.TensorArray(tf.float32, size=n_future))
        # Every frame but the last is encoded for the next step; the last one only decoded.
        t, h_prev, skips, predictor_states, prior_states, frames_ta, mu_ta, sigma_ta = (
            tf.while_loop(lambda t, *_: t < n_future - 1, body, loop_vars))
        frame, mu, sigma, _, _ = predict(t, h_prev, skips, predictor_states, prior_states)
        outputs = (frames_ta.write(t, tf.cast(frame, tf.float32)), mu_ta.write(t, mu),
                   sigma_ta.write(t, sigma))
        frames, mu, sigma = (ta.stack() for ta in outputs)
        shape = tf.concat([[n_future, num_samples, batch], tf.shape(frames)[2:]], 0)
        frames = tf.transpose(tf.reshape(frames, shape), [2, 1, 0, 3, 4, 5])
        stat_shape = tf.stack([n_future, num_samples, batch, z_dim])
        mu = tf.transpose(tf.reshape(mu, stat_shape), [2, 1, 0, 3])
        sigma = tf.transpose(tf.reshape(sigma, stat_shape), [2, 1, 0, 3])
        return frames, mu, sigma

    def reconstruct(self, x, bn=None):
        """Posterior reconstruction `[B, T, H, W, C]` of videos `x` `[B, T, H, W, C]`.

        As the authors' make_gifs: the first n_past frames are the ground truth; afterwards
        each frame is decoded from the predictor fed with its own previous output and with z
        = the posterior mean on the true frame. It shows what the model can express when the
        latent is inferred, which is what a deployment check or a training summary wants.
        bn: as in `sample`.
        """
        bn = self._bn_mode(bn)
        x = tf.convert_to_tensor(x, tf.float32)
        _check_batch_statistics(bn, x)
        return self.reconstruct_graph(x, bn)

    def reconstruct_graph(self, x, bn="running"):
        """`reconstruct` on a tensor, as a traced function (for SavedModel signatures)."""
        return self._traced.get(("reconstruct", bn), lambda v: self._reconstruct(v, bn))(x)

    def _reconstruct(self, x, bn="running"):
        c = self.svg_config
        training, scope = bn_scope(bn)
        frames = tf.transpose(tf.cast(x, self.compute_dtype), [1, 0, 2, 3, 4])
        seq_len = frames.shape[0]
        n_past = min(c.n_past, seq_len)
        with scope():
            h_true, skips_true = self.encode(frames, training=training)
        if self.variant == "det":
            z_all = tf.zeros(tf.stack([seq_len - 1, tf.shape(frames)[1], 0]), h_true.dtype)
        else:
            z_all = tf.cast(self.posterior.distribution(h_true[1:])[0].loc, h_true.dtype)
        states = self.frame_predictor.initial_state(tf.shape(frames)[1], h_true.dtype)
        if n_past > 1:  # the context: true frames in, nothing decoded
            _, states = self.frame_predictor(
                tf.concat([h_true[:n_past - 1], z_all[:n_past - 1]], -1), states)

        def decode_one(g, skips):
            with scope():
                return self.decoder(g[None], [s[None] for s in skips], training=training)[0]

        def encode_one(frame):
            with scope():
                h, skips = self.encoder(frame[None], training=training)
            return h[0], [s[0] for s in skips]

        outputs = [frames[t] for t in range(n_past)]
        first_skip = self.skip_policy.first_generated(n_past)
        skips = [s[first_skip] for s in skips_true]
        h_prev = h_true[n_past - 1]
        for t in range(n_past, seq_len):
            frame, states = self._generate_frame(h_prev, z_all[t - 1], skips, states,
                                                 decode_one)
            outputs.append(frame)
            if t + 1 < seq_len:
                h_prev, skips = self._next_step_inputs(frame, skips, encode_one)
        video = tf.stack(outputs)
        return tf.cast(tf.transpose(video, [1, 0, 2, 3, 4]), tf.float32)

    def _generate_frame(self, h_prev, z, skips, predictor_states, decode):
        """One generated frame, the step that sampling and reconstruction share: the
        predictor fed with the previous frame's encoding and z (width 0 for the deterministic
        model), its output decoded with `skips`. Returns (frame, predictor states)."""
        predictor_input = tf.concat([h_prev, tf.cast(z, h_prev.dtype)], -1)
        g, predictor_states = self.frame_predictor.step(predictor_input, predictor_states)
        return decode(g, skips), predictor_states

    def _next_step_inputs(self, frame, skips, encode):
        """(h, skips) for the step after a generated frame: the frame's encoding, and its
        own skips only where the skip policy follows generated frames."""
        h, frame_skips = encode(frame)
        return h, (frame_skips if self.skip_policy.follows_generated_frames else skips)

    # ------------------------------------------------------------------ serialisation
    def get_config(self):
        """The model section of the config (architecture, loss, sampling) and the dataset,
        which says what frames are valid; data and training settings are the run's, not the
        model's (run_dir keeps them)."""
        fields = {"dataset": self.svg_config.dataset, **self.svg_config.section("model")}
        return {"config": fields, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """A model from get_config's fields; data and training fields take the dataset's
        preset values (a config with every field, as older versions saved, is kept whole)."""
        values = dict(config["config"])
        if set(values) != {f.name for f in dataclasses.fields(SVGConfig)}:
            values = preset_config(values.pop("dataset"), values.pop("model"), **values)
        return cls(config=values, name=config.get("name"))


class _TracedFunctions:
    """tf.functions made on first use, one per key."""

    def __init__(self):
        self._functions = {}

    def get(self, key, python_function):
        if key not in self._functions:
            self._functions[key] = tf.function(python_function, reduce_retracing=True)
        return self._functions[key]


def _sample_major(noise):
    """`[T, B, S, z]` -> `[T, S, B, z]`. Noise is drawn sequence-major, so sequence b's samples
    get the same draws whatever else is in the batch, and laid out sample-major like the
    tiled batch."""
    return tf.transpose(noise, [0, 2, 1, 3])


def _tile_rows(x, times):
    """`[B, ...]` -> `[times * B, ...]`, copies one after another (sample-major)."""
    return tf.tile(x, tf.concat([[times], tf.ones([tf.rank(x) - 1], tf.int32)], 0))


def _check_batch_statistics(bn, videos):
    if bn == "batch" and videos.shape[0] == 1:
        raise ValueError("bn='batch' normalises every frame with the statistics of the batch "
                         "of sequences (the authors' generation) and needs at least 2 "
                         "sequences; pass bn='running' for a single sequence")


def _unpack(data):
    x = data[0] if isinstance(data, (tuple, list)) else data
    return tf.convert_to_tensor(x)


def _as_one_group(x):
    """[T, B, ...] -> [1, T*B, ...]: one batch-norm group for all frames."""
    return tf.reshape(x, [1, -1] + list(x.shape[2:]))


def _to_groups(x, steps):
    return tf.reshape(x, [steps, -1] + list(x.shape[2:]))


def build_model(config: SVGConfig, compile: bool = True, jit_compile=False,
                mixed_precision=None) -> SVG:
    """A built SVG model (all weights created) and, by default, compiled with Adam.

    Weights are initialised as the original (N(0, 0.02) convs/linears, BN gamma N(1, 0.02),
    PyTorch's uniform LSTM init); call `keras.utils.set_random_seed` first for a reproducible
    initialisation. mixed_precision ("float16", "bfloat16", True = "float16"; default: the
    config's): compute in that dtype with float32 weights, batch-norm statistics, KL, loss and
    optimizer state; float16 adds a loss-scaling optimizer.
    """
    if mixed_precision is None:
        mixed_precision = config.mixed_precision
    elif mixed_precision is True or mixed_precision is False:
        mixed_precision = "float16" if mixed_precision else "none"
    if mixed_precision not in ("none", "float16", "bfloat16"):
        raise ValueError(f"mixed_precision={mixed_precision!r} is invalid: expected none, "
                         "float16 or bfloat16")
    previous = keras.config.dtype_policy()
    if mixed_precision != "none":
        keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
    try:
        model = SVG(config, name=f"svg_{config.model}")
        model.build()
    finally:
        keras.config.set_dtype_policy(previous)
    if compile:
        optimizer = make_optimizer(config.optimizer, config.lr, config.beta1)
        if mixed_precision == "float16":  # bfloat16 has float32's range: no loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, jit_compile=jit_compile)
    return model
