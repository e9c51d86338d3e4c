"""Batched rollouts for planning: many candidate action sequences from one context, as a
planner (CEM, MPPI) asks for them at every step; a mixin of the model.

A rollout is sampling with one action sequence per sample: the context is encoded once per
context video, the candidates run as one batch (chunked to bound memory, the last chunk
padded so that the traced function sees one shape), and the noise is drawn once for all
candidates, so the frames do not depend on the chunk size and, under the same noise, equal
the step-by-step sampler's (`sample` with one candidate's actions).
"""

from __future__ import annotations

import tensorflow as tf

from svg_tf.models.sample_layout import SamplePasses, sample_major

DEFAULT_MAX_BATCH = 200  # rows per pass (contexts x candidates x samples), as VP2 chunks


class Rollouts:
    """`rollout` for the SVG model (needs the Generation mixin's warm-up and roll-out)."""

    def rollout(self, context, candidates, context_actions=None, samples_per_candidate=1,
                seed=None, noise=None, max_batch=DEFAULT_MAX_BATCH, bn="running"):
        """Predicted frames for each candidate future action sequence of each context.

        Args:
          context: `[B, n_past, H, W, C]` in [0, 1].
          candidates: raw future actions `[B, N, horizon, A]`: candidate n's action at step
            t produces its predicted frame t.
          context_actions: raw `[B, n_past - 1, A]`, the actions between the context frames
            (may be None when n_past is 1).
          samples_per_candidate: K, futures per candidate, each with its own z from the
            learned prior.
          seed: an int or two ints (default: [config.seed, 0]).
          noise: (posterior eps `[n_past - 1, B, N * K, z]`, prior eps
            `[horizon, B, N * K, z]`) to replay given noise; sample n * K + k of sequence b
            uses `eps[:, b, n * K + k]`, as `sample` with num_samples=1 would use `eps[:, b, 0]`.
          max_batch: rows per pass (B x candidates x K); bounds memory.
          bn: "running" (default: each rollout independent of the others) or "batch" (the
            statistics of the B contexts, as `sample`'s bn="batch").

        Returns:
          Frames `[B, N, horizon, H, W, C]` (K = 1) or `[B, N, K, horizon, H, W, C]`.

        Example:
          >>> frames = model.rollout(context, candidates, context_actions)  # [1, 200, 10, ...]
        """
        context, candidates, context_actions = self._rollout_inputs(
            context, candidates, context_actions, samples_per_candidate)
        c = self.svg_config
        batch, n_past = context.shape[:2]
        num, horizon = candidates.shape[1:3]
        k = int(samples_per_candidate)
        self._bn_mode(bn, context)
        total = num * k
        post_eps, prior_eps = self._rollout_noise(batch, n_past, horizon, total, seed, noise)
        # All candidates' actions per sample row: [B, N*K, n_past - 1 + horizon, A].
        futures = tf.repeat(tf.cast(candidates, tf.float32), k, axis=1)
        actions = tf.concat([tf.tile(context_actions[:, None], [1, total, 1, 1]), futures], 2)
        encoded = self._traced.get(("encode_context", bn), lambda x: self._encode_context(
            x, SamplePasses(self, tf.shape(x)[0], 1, bn)))(context)
        per_chunk = min(max(1, int(max_batch) // batch), total)
        chunks = []
        for start in range(0, total, per_chunk):
            rows = slice(start, start + per_chunk)
            chunks.append(self._rollout_chunk(bn)(
                encoded, _padded(post_eps[:, :, rows], per_chunk, 2),
                _padded(prior_eps[:, :, rows], per_chunk, 2),
                _padded(actions[:, rows], per_chunk, 1),
                tf.constant(per_chunk, tf.int32))[:, :min(per_chunk, total - start)])
        frames = tf.concat(chunks, 1)  # [B, N*K, horizon, ...]
        if k == 1:
            return frames
        return tf.reshape(frames, [batch, num, k, horizon, *c.frame_shape])

    def _rollout_inputs(self, context, candidates, context_actions, samples_per_candidate):
        """The inputs as float32 tensors, or a one-line ValueError saying what was expected."""
        if not self.conditioned:
            raise ValueError("this model is not conditioned on actions (conditioning=none): "
                             "its rollouts would not depend on the candidates")
        c = self.svg_config
        context = tf.convert_to_tensor(context, tf.float32)
        if context.shape.rank != 5 or context.shape[2:] != tuple(c.frame_shape):
            frame = ", ".join(map(str, c.frame_shape))
            raise ValueError(f"context must be `[batch, n_past, {frame}]`, got shape "
                             f"{tuple(context.shape)}")
        batch, n_past = context.shape[:2]
        candidates = tf.convert_to_tensor(candidates)
        if candidates.shape.rank != 4 or candidates.shape[0] != batch:
            raise ValueError(f"candidates must be floats `[{batch}, N, horizon, "
                             f"{c.action_dim}]` (one set per context), got shape "
                             f"{tuple(candidates.shape)}")
        self.check_actions(tf.reshape(candidates, [-1, *candidates.shape[2:]]), 1,
                           "candidates (each)")
        num, horizon = candidates.shape[1:3]
        if n_past > 1:
            context_actions = self.check_actions(context_actions, n_past - 1, "context_actions")
            if context_actions.shape[0] != batch:
                raise ValueError(f"context_actions hold {context_actions.shape[0]} sequences, "
                                 f"the context {batch}")
            context_actions = tf.cast(context_actions[:, :n_past - 1], tf.float32)
        else:
            context_actions = tf.zeros([batch, 0, c.action_dim])
        k = int(samples_per_candidate)
        if k < 1 or num < 1 or horizon < 1:
            raise ValueError(f"need at least one candidate, one step and one sample per "
                             f"candidate (got N={num}, horizon={horizon}, K={k})")
        return context, candidates, context_actions

    def _rollout_noise(self, batch, n_past, horizon, total, seed, noise):
        """Posterior eps `[n_past - 1, B, N*K, z]` and prior eps `[horizon, B, N*K, z]`:
        given, or drawn once from the seed for every candidate (sequence-major, as sample)."""
        noise_shape = list(self.latent_prior.noise_shape)
        if noise is not None:
            post, prior = (tf.convert_to_tensor(n, tf.float32) for n in noise)
            expected = ([n_past - 1, batch, total, *self.z_shape],
                        [horizon, batch, total, *noise_shape])
            for name, value, shape in zip(("posterior", "prior"), (post, prior), expected):
                if self.variant != "det" and value.shape != tuple(shape):
                    raise ValueError(f"{name} noise must have shape {tuple(shape)}, got "
                                     f"{tuple(value.shape)}")
            return post, prior
        post_seed, prior_seed = tf.unstack(
            tf.random.experimental.stateless_split(self._seed_pair(seed), 2))
        post = tf.random.stateless_normal([n_past - 1, batch, total, *self.z_shape], post_seed)
        prior = tf.random.stateless_normal([horizon, batch, total, *noise_shape], prior_seed)
        return post, prior

    def _rollout_chunk(self, bn):
        """The traced rollout of one chunk: encoded context, noise `[., B, S, z]` and raw
        actions `[B, S, steps, A]` -> frames `[B, S, horizon, ...]`. S comes as a tensor
        argument, as sample's num_samples: the recurrent states then have a dynamic batch
        size, which the generated steps keep."""
        def chunk(encoded, post_eps, prior_eps, actions, samples):
            h_ctx = encoded[0]
            n_past = h_ctx.shape[0]
            batch = tf.shape(actions)[0]
            horizon = tf.shape(prior_eps)[0]
            passes = SamplePasses(self, batch, samples, bn)
            rows = tf.reshape(tf.transpose(actions, [1, 0, 2, 3]),
                              tf.concat([[-1], tf.shape(actions)[2:]], 0))  # sample-major
            acts = self.time_major_actions(rows, tf.shape(rows)[1])
            h_prev, skips, predictor_states, prior_states = self._warm_up(
                encoded, passes, None, sample_major(post_eps), acts[:n_past - 1])
            prior_noise = tf.reshape(sample_major(prior_eps), tf.stack(
                [horizon, passes.total, *self.latent_prior.noise_shape]))
            frames, _, _ = self._roll_out(horizon, passes, h_prev, skips, predictor_states,
                                          prior_states, prior_noise, acts[n_past - 1:])
            shape = tf.concat([[horizon, samples, batch], tf.shape(frames)[2:]], 0)
            return tf.transpose(tf.reshape(frames, shape), [2, 1, 0, 3, 4, 5])

        return self._traced.get(("rollout", bn), chunk)


def _padded(x, size, axis):
    """`x` padded along `axis` to `size` by repeating its last entry (a short last chunk
    keeps the traced shape; the extra rows are dropped)."""
    missing = size - x.shape[axis]
    if missing <= 0:
        return x
    last = tf.gather(x, [x.shape[axis] - 1], axis=axis)
    return tf.concat([x, tf.repeat(last, missing, axis=axis)], axis)
