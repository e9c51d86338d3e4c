"""Generation from a trained SVG model (paper section 3, "at inference time"): samples,
the posterior reconstruction and the learned prior on true frames; a mixin of the model.

Sampling reads as the paper's procedure in two parts: `_warm_up` runs the context frames
through the recurrences (z from the posterior on the true next frame, as the authors'
generation does), then `_roll_out` generates each future frame from the previous frame's
encoding and z drawn from the prior.
"""

from __future__ import annotations

import tensorflow as tf

from svg_tf.models.latents import bn_scope, check_batch_statistics, predictor_input
from svg_tf.models.recurrent import reparameterize
from svg_tf.models.sample_layout import SamplePasses, sample_major, tile_rows


class Generation:
    """sample, reconstruct and prior_on_frames for the SVG model."""

    def _bn_mode(self, bn, videos):
        """The test-time batch-norm mode (default: the config's), validated for `videos`."""
        bn = self.svg_config.sample_bn if bn is None else bn
        bn_scope(bn)  # validates
        check_batch_statistics(bn, videos)
        return bn

    def sample(self, context, n_future, num_samples=1, seed=None, return_prior=False, bn=None,
               noise=None, actions=None):
        """Sample continuations of each context video (the paper's section 3 generation).

        Context steps run as in the authors' code: z from the posterior on the true next frame,
        which warms up the LSTM states; each future frame then uses z from the prior. Samples are
        tiled into the batch (one pass per time step for all of them) and all randomness is
        stateless: the same seed gives the same frames.

        Args:
          context: `[B, n_past, H, W, C]` in [0, 1].
          n_future: frames to predict (>= 1).
          num_samples: continuations per context video.
          seed: an int or two ints (default: [config.seed, 0]).
          return_prior: also return the prior's mean and sigma at each predicted step.
          bn: "batch" (the authors' generation: each frame normalised with the statistics of the
            B sequences of its sample pass; needs B >= 2) or "running" (running statistics: a
            sample does not depend on the other sequences). Default: the config's sample_bn.
          noise: (posterior eps `[n_past-1, num_samples, B, z]`, prior eps
            `[n_future, num_samples, B, z]`) to replay given noise instead of the seed's (the
            prior eps is z itself for SVG-FP); for parity checks against other code.
          actions: for a model with conditioning=actions, `[B, n_past - 1 + n_future, A]`:
            the context's actions (each moving a context frame to the next), then the
            future's (actions[:, n_past - 1 + t] produces predicted frame t); ignored
            otherwise. Every sample of a sequence follows its actions.

        Returns:
          Frames `[B, num_samples, n_future, H, W, C]` in [0, 1]; with return_prior, (frames, mu,
          sigma) with mu and sigma `[B, num_samples, n_future, z_dim]` (fp: 0 and 1; det: width 0).

        Example:
          >>> frames = model.sample(videos[:, :2], n_future=28, num_samples=100, seed=0)
        """
        if isinstance(n_future, int) and n_future < 1:
            raise ValueError(f"n_future={n_future}: at least one frame must be predicted")
        context = tf.convert_to_tensor(context, tf.float32)
        bn = self._bn_mode(bn, context)
        seed = self._seed_pair(seed)
        if noise is not None:
            noise = tuple(tf.convert_to_tensor(n, tf.float32) for n in noise)
        if self.conditioned:
            steps = context.shape[1] - 1 + n_future
            actions = tf.cast(self.check_actions(actions, steps), tf.float32)[:, :steps]
            if actions.shape[0] != context.shape[0]:
                raise ValueError(f"actions hold {actions.shape[0]} sequences, the context "
                                 f"{context.shape[0]}")
        else:
            actions = None
        frames, mu, sigma = self.sample_graph(context, tf.constant(n_future, tf.int32),
                                              tf.constant(num_samples, tf.int32), seed, bn,
                                              noise, actions)
        if return_prior:
            return frames, mu, sigma
        return frames

    def _seed_pair(self, seed):
        """A stateless seed: two int64s from an int or one or two ints (default: [config
        seed, 0]; one int n means [n, 0])."""
        if seed is None:
            seed = [self.svg_config.seed, 0]
        seed = tf.cast(tf.reshape(tf.convert_to_tensor(seed), [-1])[:2], tf.int64)
        if seed.shape[0] == 1:
            seed = tf.concat([seed, [0]], 0)
        return seed

    def sample_graph(self, context, n_future, num_samples, seed, bn="running", noise=None,
                     actions=None):
        """`sample` on tensors, as a traced function (what a SavedModel signature calls);
        `actions` `[B, n_past - 1 + n_future, A]` for a conditioned model."""
        function = self._traced.get(
            ("sample", bn, noise is None, actions is None),
            lambda context, n_future, num_samples, seed, noise=None, actions=None:
            self._sample(context, n_future, num_samples, seed, noise, bn, actions))
        return function(context, n_future, num_samples, seed, noise=noise, actions=actions)

    def prior_on_frames(self, x, bn=None):
        """The learned prior fed with the true frames (the paper's figure 6 analysis). SVG-LP only.

        Args:
          x: videos `[B, T, H, W, C]` in [0, 1].
          bn: as in `sample`.

        Returns:
          (mu, sigma), each `[B, T-1, z_dim]`: entry t-1 is p(z_t | x_{1:t-1}) for 0-based frame
          t, the prior that would generate frame t after seeing every true frame before it.
        """
        if self.variant != "lp":
            raise ValueError(f"prior_on_frames needs a learned prior; this is an SVG-"
                             f"{self.variant.upper()} model")
        x = tf.convert_to_tensor(x, tf.float32)
        bn = self._bn_mode(bn, x)
        return self._traced.get(("prior", bn), lambda v: self._prior_on_frames(v, bn))(x)

    def _prior_on_frames(self, x, bn):
        frames = tf.transpose(tf.cast(x, self.compute_dtype), [1, 0, 2, 3, 4])
        training, scope = bn_scope(bn)
        with scope():
            h, _ = self.encode(frames, training=training)
        prior, _ = self.prior.distribution(h[:-1])
        batch_major = [1, 0, *range(2, prior.loc.shape.rank)]
        return (tf.transpose(tf.cast(prior.loc, tf.float32), batch_major),
                tf.transpose(tf.cast(prior.scale, tf.float32), batch_major))

    def _sample(self, context, n_future, num_samples, seed, noise=None, bn="running",
                actions=None):
        n_past = context.shape[1]
        if n_past is None:
            raise ValueError("the context length (axis 1) must be static")
        batch = tf.shape(context)[0]
        post_seed, prior_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=2))
        passes = SamplePasses(self, batch, num_samples, bn)
        # Actions time-major, tiled to every sample (sample-major, as the states).
        acts = None if actions is None else tf.tile(
            self.time_major_actions(actions, tf.shape(actions)[1]), [1, num_samples, 1])
        h_prev, skips, predictor_states, prior_states = self._warm_up(
            self._encode_context(context, passes), passes, post_seed,
            None if noise is None else noise[0], None if acts is None else acts[:n_past - 1])
        noise_shape = list(self.latent_prior.noise_shape)
        if noise is None:
            prior_noise = sample_major(tf.random.stateless_normal(
                tf.stack([n_future, batch, num_samples, *noise_shape]), prior_seed))
        else:
            prior_noise = noise[1]
        prior_noise = tf.reshape(prior_noise, tf.stack([n_future, passes.total, *noise_shape]))
        frames, mu, sigma = self._roll_out(n_future, passes, h_prev, skips, predictor_states,
                                           prior_states, prior_noise,
                                           None if acts is None else acts[n_past - 1:])
        shape = tf.concat([[n_future, num_samples, batch], tf.shape(frames)[2:]], 0)
        frames = tf.transpose(tf.reshape(frames, shape), [2, 1, 0, 3, 4, 5])
        stat_shape = tf.stack([n_future, num_samples, batch, *self.latent_prior.z_shape])
        batch_major = [2, 1, 0, *range(3, 3 + len(self.latent_prior.z_shape))]
        mu = tf.transpose(tf.reshape(mu, stat_shape), batch_major)
        sigma = tf.transpose(tf.reshape(sigma, stat_shape), batch_major)
        return frames, mu, sigma

    def _encode_context(self, context, passes):
        """Every context frame `[B, P, ...]` encoded once, whatever the number of samples:
        (h `[P, B, g]`, skips `[P, B, ...]`)."""
        ctx = tf.transpose(tf.cast(context, self.compute_dtype), [1, 0, 2, 3, 4])
        with passes.scope():
            return self.encode(ctx, training=passes.training)

    def _warm_up(self, encoded, passes, seed, eps=None, actions=None):
        """The context part of sampling, from the encoded context (`_encode_context`): for
        t < n_past, z_t from the posterior on the true frame t (as the authors' generation),
        fed with h_{t-1} through the predictor (and the learned prior), which warms up their
        states. Returns (h of the last context frame, the skips of the first predicted frame,
        predictor states, prior states), tiled to every sample."""
        h_ctx, skips_ctx = encoded
        n_past = h_ctx.shape[0]
        num_samples, batch, total = passes.num_samples, passes.batch, passes.total
        h_ctx = tf.tile(h_ctx, [1, num_samples] + [1] * (h_ctx.shape.rank - 2))  # sample-major
        predictor_states = self.frame_predictor.initial_state(total, h_ctx.dtype)
        prior_states = self.latent_prior.initial_state(total)
        if n_past > 1:
            if self.variant == "det":
                inputs = h_ctx[:-1] if actions is None else predictor_input(
                    h_ctx[:-1], h_ctx[:-1, ..., :0], actions)
            else:
                posterior, _ = self.posterior.distribution(h_ctx[1:])
                if eps is None:
                    eps = sample_major(tf.random.stateless_normal(
                        tf.stack([n_past - 1, batch, num_samples, *self.z_shape]), seed))
                eps = tf.reshape(eps, tf.shape(posterior.loc))
                z = reparameterize(posterior, eps)
                inputs = predictor_input(h_ctx[:-1], z, actions)
                prior_states = self.latent_prior.warm_up(h_ctx[:-1], prior_states)
            _, predictor_states = self.frame_predictor(inputs)
        first_skip = self.skip_policy.first_generated(n_past)
        skips = [tile_rows(s[first_skip], num_samples) for s in skips_ctx]
        return h_ctx[-1], skips, predictor_states, prior_states

    def _roll_out(self, n_future, passes, h_prev, skips, predictor_states, prior_states,
                  prior_noise, actions=None):
        """The future part of sampling: for each step, z = mu + sigma * eps from the prior
        (width 0 for the deterministic model), the predictor fed [h_{t-1}, z], the output
        decoded, and the new frame encoded for the next step. Returns frames `[F, S*B, ...]`
        and the prior's mu and sigma `[F, S*B, z]`."""
        total, z_dim = passes.total, self.latent_prior.z_dim

        def predict(t, h_prev, skips, predictor_states, prior_states):
            mu, sigma, prior_states = self.latent_prior.step(h_prev, prior_states, total)
            z = mu + sigma * prior_noise[t][..., :z_dim]
            frame, predictor_states = self._generate_frame(
                h_prev, z, skips, predictor_states, passes.decode,
                None if actions is None else actions[t])
            return frame, mu, sigma, predictor_states, prior_states

        def body(t, h_prev, skips, predictor_states, prior_states, frames_ta, mu_ta, sigma_ta):
            frame, mu, sigma, predictor_states, prior_states = predict(
                t, h_prev, skips, predictor_states, prior_states)
            h_next, skips = self._next_step_inputs(frame, skips, passes.encode)
            return (t + 1, h_next, skips, predictor_states, prior_states,
                    frames_ta.write(t, tf.cast(frame, tf.float32)), mu_ta.write(t, mu),
                    sigma_ta.write(t, sigma))

        loop_vars = (tf.constant(0), h_prev, skips, predictor_states, prior_states,
                     tf.TensorArray(tf.float32, size=n_future),
                     tf.TensorArray(tf.float32, size=n_future),
                     tf.TensorArray(tf.float32, size=n_future))
        # Every frame but the last is encoded for the next step; the last one only decoded.
        t, h_prev, skips, predictor_states, prior_states, frames_ta, mu_ta, sigma_ta = (
            tf.while_loop(lambda t, *_: t < n_future - 1, body, loop_vars))
        frame, mu, sigma, _, _ = predict(t, h_prev, skips, predictor_states, prior_states)
        outputs = (frames_ta.write(t, tf.cast(frame, tf.float32)), mu_ta.write(t, mu),
                   sigma_ta.write(t, sigma))
        return tuple(ta.stack() for ta in outputs)

    def reconstruct(self, x, bn=None, actions=None):
        """The posterior reconstruction of videos, as the authors' make_gifs shows it.

        The first n_past frames are the ground truth; afterwards each frame is decoded from the
        predictor fed with its own previous output and z = the posterior mean on the true frame:
        what the model can express when the latent is inferred.

        Args:
          x: videos `[B, T, H, W, C]` in [0, 1].
          bn: as in `sample`.
          actions: `[B, T - 1 (or T), A]` for a model with conditioning=actions.

        Returns:
          Videos `[B, T, H, W, C]` in [0, 1].
        """
        x = tf.convert_to_tensor(x, tf.float32)
        bn = self._bn_mode(bn, x)
        if self.conditioned:
            actions = tf.cast(self.check_actions(actions, x.shape[1] - 1),
                              tf.float32)[:, :x.shape[1] - 1]
        else:
            actions = None
        return self.reconstruct_graph(x, bn, actions)

    def reconstruct_graph(self, x, bn="running", actions=None):
        """`reconstruct` on a tensor, as a traced function (for SavedModel signatures)."""
        return self._traced.get(("reconstruct", bn, actions is None),
                                lambda v, actions=None: self._reconstruct(v, bn, actions))(
            x, actions=actions)

    def _reconstruct(self, x, bn="running", actions=None):
        c = self.svg_config
        training, scope = bn_scope(bn)
        frames = tf.transpose(tf.cast(x, self.compute_dtype), [1, 0, 2, 3, 4])
        seq_len = frames.shape[0]
        n_past = min(c.n_past, seq_len)
        with scope():
            h_true, skips_true = self.encode(frames, training=training)
        if self.variant == "det":
            z_all = tf.zeros(tf.stack([seq_len - 1, tf.shape(frames)[1],
                                       *self.latent_prior.z_shape]), h_true.dtype)
        else:
            z_all = tf.cast(self.posterior.distribution(h_true[1:])[0].loc, h_true.dtype)
        acts = (None if actions is None
                else self.time_major_actions(actions, tf.shape(actions)[1]))
        states = self.frame_predictor.initial_state(tf.shape(frames)[1], h_true.dtype)
        if n_past > 1:  # the context: true frames in, nothing decoded
            _, states = self.frame_predictor(
                predictor_input(h_true[:n_past - 1], z_all[:n_past - 1],
                                None if acts is None else acts[:n_past - 1]), states)

        def decode_one(g, skips):
            with scope():
                return self.decoder(g[None], [s[None] for s in skips], training=training)[0]

        def encode_one(frame):
            with scope():
                h, skips = self.encoder(frame[None], training=training)
            return h[0], [s[0] for s in skips]

        if n_past == seq_len:
            return tf.cast(x, tf.float32)  # nothing to generate
        first_skip = self.skip_policy.first_generated(n_past)

        def generate(t, h_prev, skips, states):
            return self._generate_frame(h_prev, z_all[t - 1], skips, states, decode_one,
                                        None if acts is None else acts[t - 1])

        def body(t, h_prev, skips, states, generated):
            frame, states = generate(t, h_prev, skips, states)
            h_next, skips = self._next_step_inputs(frame, skips, encode_one)
            return t + 1, h_next, skips, states, generated.write(t - n_past, frame)

        # A loop, not one graph copy per frame: the trace costs one step whatever T is.
        # Every generated frame but the last is encoded for the next step.
        loop_vars = (tf.constant(n_past), h_true[n_past - 1],
                     [s[first_skip] for s in skips_true], states,
                     tf.TensorArray(frames.dtype, size=seq_len - n_past))
        t, h_prev, skips, states, generated = tf.while_loop(
            lambda t, *_: t < seq_len - 1, body, loop_vars)
        frame, _ = generate(t, h_prev, skips, states)
        generated = generated.write(t - n_past, frame)
        video = tf.concat([frames[:n_past], generated.stack()], 0)
        return tf.cast(tf.transpose(video, [1, 0, 2, 3, 4]), tf.float32)

    def _generate_frame(self, h_prev, z, skips, predictor_states, decode, action=None):
        """One generated frame, the step that sampling and reconstruction share: the
        predictor fed with the previous frame's encoding, z (width 0 for the deterministic
        model) and, for a conditioned model, the action that leads to this frame; its output
        decoded with `skips`. Returns (frame, predictor states)."""
        g, predictor_states = self.frame_predictor.step(predictor_input(h_prev, z, action),
                                                        predictor_states)
        return decode(g, skips), predictor_states

    def _next_step_inputs(self, frame, skips, encode):
        """(h, skips) for the step after a generated frame: the frame's encoding, and its
        own skips only where the skip policy follows generated frames."""
        h, frame_skips = encode(frame)
        return h, (frame_skips if self.skip_policy.follows_generated_frames else skips)


class TracedFunctions:
    """tf.functions made on first use, one per key; no AutoGraph (loops are tf.while_loop)."""

    def __init__(self):
        self._functions = {}

    def get(self, key, python_function):
        if key not in self._functions:
            self._functions[key] = tf.function(python_function, reduce_retracing=True,
                                                   autograph=False)
        return self._functions[key]
