"""SVG: the stochastic video generation model (SVG-LP, SVG-FP) and its deterministic baseline.

Training (paper section 3 and the authors' train_svg_lp.py), for t = 1 .. T-1 with teacher forcing:
    h_t = enc(x_t);  q_t = posterior(h_t);  z_t = mu_q + sigma_q * eps_t
    p_t = prior(h_{t-1}) (lp) | N(0, I) (fp);   g_t = predictor([h_{t-1}, z_t]);
    x_hat_t = dec(g_t, skips)
    loss = sum_t mse(x_hat_t, x_t) + beta * sum_t mean_batch sum_z KL(q_t || p_t)
           [+ lpips_weight * sum_t mean_batch LPIPS(x_hat_t, x_t), perceptual_loss.py]
Because every input of the recurrences is a ground-truth frame, all T frames are encoded in
one batched call and all T-1 predictions decoded in one; only the LSTM cells loop over time.

Noise is stateless: eps is a pure function of (config.seed, optimizer step), drawn for the
global batch and sliced per replica, so a step on N replicas equals a step on one device.

Generation (sample, reconstruct, prior_on_frames) is in generation.py, batched rollouts for
planning in rollout.py; the priors, the skip policy and the predictor's input in latents.py;
the optimizer and dtype policy in build.py.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from svg_tf.config import SVGConfig
from svg_tf.config import get_config as preset_config
from svg_tf.models.architectures import make_recurrent
from svg_tf.models.backbones import REGISTRY as BACKBONES
from svg_tf.models.backbones import make_backbone
from svg_tf.models.generation import Generation, TracedFunctions
from svg_tf.models.latents import SkipPolicy, encoder_call_order, make_prior, predictor_input
from svg_tf.models.layers import batch_norm_updates, replica_position
from svg_tf.models.perceptual_loss import missing_weights_message
from svg_tf.models.recurrent import reparameterize
from svg_tf.models.rollout import Rollouts

tfd = tfp.distributions

_TRAIN_SALT = 0
_TEST_SALT = 1


@keras.saving.register_keras_serializable(package="svg_tf")
class SVG(Generation, Rollouts, keras.Model):
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
        self.conditioned = c.conditioning == "actions"
        self.skip_policy = SkipPolicy(c.skip)
        self.encoder, self.decoder = make_backbone(
            c.backbone, image_size=c.image_size, channels=c.channels, g_dim=c.g_dim,
            width=c.width)
        # h (and z) are vectors, or square maps for SVG' (the backbone says which size).
        feature_map = BACKBONES[c.backbone].feature_map
        self.z_shape = (c.z_dim,) if feature_map is None else (feature_map, feature_map,
                                                                 c.z_dim)
        self.frame_predictor, self.posterior, self.prior = make_recurrent(c, feature_map)
        # One object answers "what is z's prior" for training and generation alike.
        self.latent_prior = make_prior(c.model, self.prior, self.z_shape)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.lpips_tracker = keras.metrics.Mean(name="lpips")
        # The LPIPS term's network (perceptual_loss.PerceptualLoss(weights)) when
        # lpips_weight > 0: training attaches it, as it is a file, not the model's state.
        self.perceptual_loss = None
        # Traced generation functions per (purpose, batch-norm mode). A plain object: a dict
        # attribute would be tracked, and a SavedModel cannot save its tuple keys.
        self._traced = TracedFunctions()

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
        trackers = [self.loss_tracker, self.mse_tracker, self.kl_tracker]
        return trackers + ([self.lpips_tracker] if self.svg_config.lpips_weight else [])

    def check_actions(self, actions, frames, what="actions"):
        """Refuse, in one line saying what was expected, actions that are not floats
        `[B, >= frames, A]` for a conditioned model. Returns them as a tensor (None for a
        model without conditioning, whose callers may pass actions or not)."""
        c = self.svg_config
        if not self.conditioned:
            return None
        if actions is None:
            raise ValueError(f"this model is conditioned on actions (conditioning=actions): "
                             f"pass {what} `[batch, {frames}, {c.action_dim}]`")
        actions = tf.convert_to_tensor(actions)
        if not actions.dtype.is_floating:
            raise ValueError(f"{what} must be floats `[batch, {frames}, {c.action_dim}]`, got "
                             f"dtype {actions.dtype.name}")
        shape = actions.shape
        if shape.rank != 3 or (shape[2] is not None and shape[2] != c.action_dim) or (
                isinstance(frames, int) and shape[1] is not None and shape[1] < frames):
            raise ValueError(f"{what} must have shape [batch, {frames} (or more), "
                             f"{c.action_dim}], got {shape.as_list() if shape.rank else shape}")
        return actions

    def time_major_actions(self, actions, frames, what="actions"):
        """Checked actions (check_actions) as the model sees them: normalised by the run's
        (a - offset) / scale, cut to `frames` steps, time-major `[frames, B, A]` in the
        compute dtype; None for a model without conditioning."""
        c = self.svg_config
        actions = self.check_actions(actions, frames, what)
        if actions is None:
            return None
        actions = (tf.cast(actions[:, :frames], tf.float32) - tf.constant(c.action_offset)) \
            / tf.constant(c.action_scale)
        return tf.transpose(tf.cast(actions, self.compute_dtype), [1, 0, 2])

    # ------------------------------------------------------------------ training
    def elbo_terms(self, x, eps=None, training=False, actions=None, perceptual=True):
        """The per-step terms of the training loss (the paper's equation 1 with beta).

        Args:
          x: videos `[B, T, H, W, C]` in [0, 1].
          eps: posterior noise, time-major `[T-1, B, *z_shape]` (None: zeros, i.e. the
            posterior mean).
          training: batch norm in training mode.
          actions: `[B, T, A]` for a model with conditioning=actions (actions[:, t] moves
            frame t to t+1; the last is unused); ignored otherwise.
          perceptual: add the LPIPS term when lpips_weight > 0 (False: predictions only,
            as building and `call` need).

        Returns:
          A dict: mse `[T-1]` (mean over batch and pixels; the mean absolute error with
          reconstruction=l1), kl `[T-1]` (summed over z, averaged over the batch), lpips
          `[T-1]` (mean over the batch; only with the LPIPS term), loss (sum of mse + beta *
          sum of kl + lpips_weight * sum of lpips) and predictions, time-major
          `[T-1, B, H, W, C]`.
        """
        c = self.svg_config
        frames = tf.transpose(tf.cast(tf.convert_to_tensor(x), self.compute_dtype),
                              [1, 0, 2, 3, 4])
        seq_len = frames.shape[0]
        order = (encoder_call_order(seq_len) if c.bn_statistics == "frame" else [0])
        with batch_norm_updates(order):
            h, skips = self.encode(frames, training=training)
        h_prev, h_target = h[:-1], h[1:]
        acts = self.time_major_actions(actions, seq_len - 1)
        if self.variant == "det":
            inputs = h_prev if acts is None else predictor_input(h_prev, h_prev[..., :0], acts)
            kl = tf.zeros([seq_len - 1], tf.float32)
        else:
            posterior, _ = self.posterior.distribution(h_target, training=training)
            if eps is None:
                eps = tf.zeros_like(posterior.loc)
            z = reparameterize(posterior, eps)
            prior = self.latent_prior.for_kl(h_prev, posterior, training=training)
            latent_axes = list(range(2, 2 + len(self.z_shape)))  # z's channels (and map)
            kl = tf.reduce_mean(tf.reduce_sum(tfd.kl_divergence(posterior, prior),
                                              latent_axes), -1)
            inputs = predictor_input(h_prev, z, acts)
        g, _ = self.frame_predictor(inputs, training=training)
        index = self.skip_policy.indices(c.n_past, seq_len)
        chosen = [tf.gather(s, index) for s in skips]
        predictions = self.decode(g, chosen, training=training)
        difference = tf.cast(predictions, tf.float32) - tf.cast(frames[1:], tf.float32)
        error = tf.abs(difference) if c.reconstruction == "l1" else tf.square(difference)
        mse = tf.reduce_mean(error, axis=[1, 2, 3, 4])  # the reconstruction term (mse or l1)
        loss = tf.reduce_sum(mse) + c.beta * tf.reduce_sum(kl)
        terms = {"mse": mse, "kl": kl, "predictions": predictions}
        if c.lpips_weight and perceptual:
            if self.perceptual_loss is None:
                raise ValueError(missing_weights_message(c.lpips_weight))
            terms["lpips"] = self.perceptual_loss.per_step(predictions, frames[1:])
            loss += c.lpips_weight * tf.reduce_sum(terms["lpips"])
        return {"loss": loss, **terms}

    def posterior_noise(self, x, salt=_TRAIN_SALT, step=None):
        """eps `[T-1, B_local, *z_shape]` for this replica: a slice of the global batch's noise.

        A pure function of (config.seed, salt, step, replica), so runs are reproducible and
        independent of the number of replicas. `step` defaults to the optimizer's iteration.
        """
        if self.variant == "det":
            return None
        x = tf.convert_to_tensor(x)
        local = tf.shape(x)[0]
        _, replicas, replica = replica_position()
        if step is None:
            optimizer = getattr(self, "optimizer", None)
            step = optimizer.iterations if optimizer is not None else 0
        seed = tf.stack([tf.cast(self.svg_config.seed, tf.int64) * 2 + salt,
                         tf.cast(step, tf.int64)])
        shape = [x.shape[1] - 1, local * replicas, *self.z_shape]
        noise = tf.random.stateless_normal(tf.stack(shape), seed)
        start = tf.cast(replica, tf.int32) * local
        return noise[:, start:start + local]

    def _update_trackers(self, terms, frames):
        # Logged per frame as the original does: totals divided by n_past + n_future.
        self.loss_tracker.update_state(terms["loss"] / frames)
        self.mse_tracker.update_state(tf.reduce_sum(terms["mse"]) / frames)
        self.kl_tracker.update_state(tf.reduce_sum(terms["kl"]) / frames)
        if "lpips" in terms:
            self.lpips_tracker.update_state(tf.reduce_sum(terms["lpips"]) / frames)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, actions = _unpack(data)
        eps = self.posterior_noise(x, _TRAIN_SALT)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(x, eps, training=True, actions=actions)
            # Each replica's loss is a mean over its local batch; the optimizer sums the
            # gradients over replicas, so dividing by their number gives the global mean.
            scaled = terms["loss"] / replica_position()[1]
            if hasattr(self.optimizer, "scale_loss"):
                scaled = self.optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_trackers(terms, x.shape[1])

    def test_step(self, data):
        x, actions = _unpack(data)
        eps = self.posterior_noise(x, _TEST_SALT)
        terms = self.elbo_terms(x, eps, training=False, actions=actions)
        return self._update_trackers(terms, x.shape[1])

    def call(self, x, training=False):
        """Teacher-forced one-step predictions `[B, T-1, H, W, C]` with the posterior mean
        (`x`: videos, or {"video", "actions"} for a model conditioned on actions)."""
        x, actions = _unpack(x)
        predictions = self.elbo_terms(x, None, training=training, actions=actions,
                                      perceptual=False)["predictions"]
        return tf.transpose(predictions, [1, 0, 2, 3, 4])

    def build(self, input_shape=None):
        """Create every weight with one dummy forward pass (no statistics are updated) over
        two frames: one step reaches every weight, and the full sequence cost seconds."""
        c = self.svg_config
        dummy = tf.zeros([1, 2, *c.frame_shape], self.compute_dtype)
        actions = tf.zeros([1, 2, c.action_dim]) if self.conditioned else None
        self.elbo_terms(dummy, None, training=False, actions=actions, perceptual=False)
        self.built = True

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


def _unpack(data):
    """(videos, actions or None) of a batch: a tensor, (videos, ...) as Keras passes it,
    or a dict {"video", "actions"} (a dataset with actions)."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    actions = None
    if isinstance(data, dict):
        data, actions = data["video"], data.get("actions")
    return tf.convert_to_tensor(data), actions


def _as_one_group(x):
    """[T, B, ...] -> [1, T*B, ...]: one batch-norm group for all frames."""
    return tf.reshape(x, [1, -1] + list(x.shape[2:]))


def _to_groups(x, steps):
    return tf.reshape(x, [steps, -1] + list(x.shape[2:]))
