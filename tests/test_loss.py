"""Acceptance 2: closed-form KL, and train_step's loss against an independent per-frame
recomputation of the paper's formula (the authors' loop: one encoder call per frame)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import tiny_config
from svg_tf import build_model
from svg_tf.datasets.synthetic import bouncing_squares
from svg_tf.models.recurrent import normal

tfd = tfp.distributions


def _kl_closed_form(mu1, logvar1, mu2, logvar2):
    """KL(N(mu1, e^logvar1) || N(mu2, e^logvar2)), as the original kl_criterion."""
    s1, s2 = np.exp(0.5 * logvar1), np.exp(0.5 * logvar2)
    return np.log(s2 / s1) + (np.exp(logvar1) + (mu1 - mu2) ** 2) / (2 * np.exp(logvar2)) - 0.5


def test_kl_matches_closed_form_learned_and_fixed_prior():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=(2, 5, 7)).astype("float32")
    lv1, lv2 = rng.normal(scale=0.7, size=(2, 5, 7)).astype("float32")
    kl = tfd.kl_divergence(normal(mu1, lv1), normal(mu2, lv2)).numpy()
    np.testing.assert_allclose(kl, _kl_closed_form(mu1, lv1, mu2, lv2), rtol=1e-5, atol=1e-6)
    fixed = tfd.kl_divergence(normal(mu1, lv1), tfd.Normal(0.0, 1.0)).numpy()
    # The original's FP criterion: -0.5 * (1 + logvar - mu^2 - exp(logvar)).
    np.testing.assert_allclose(fixed, -0.5 * (1 + lv1 - mu1 ** 2 - np.exp(lv1)),
                               rtol=1e-5, atol=1e-6)


def _reference_loss(model, x, eps):
    """The loss of the authors' training loop, one frame at a time, in numpy where possible."""
    c = model.svg_config
    frames = [x[:, t][None] for t in range(x.shape[1])]  # each a batch-norm group of its own
    batch = x.shape[0]
    pred_states = model.frame_predictor.initial_state(batch)
    post_states = model.posterior.initial_state(batch) if model.posterior else None
    prior_states = model.prior.initial_state(batch) if model.prior else None
    mse_total, kl_total = 0.0, 0.0
    skip = None
    for t in range(1, x.shape[1]):
        h, skips = model.encoder(frames[t - 1], training=True)
        if c.skip == "every" or t <= c.n_past:  # 'last': refresh through the last context frame
            skip = skips
        h = h[0]
        if c.model == "det":
            pred_in = h
        else:
            h_target = model.encoder(frames[t], training=True)[0][0]
            q, post_states = model.posterior.distribution_step(h_target, post_states)
            mu_q, lv_q = q.loc.numpy(), 2 * np.log(q.scale.numpy())
            if c.model == "lp":
                p, prior_states = model.prior.distribution_step(h, prior_states)
                mu_p, lv_p = p.loc.numpy(), 2 * np.log(p.scale.numpy())
            else:
                mu_p, lv_p = np.zeros_like(mu_q), np.zeros_like(lv_q)
            kl_total += _kl_closed_form(mu_q, lv_q, mu_p, lv_p).sum() / batch
            z = mu_q + np.exp(0.5 * lv_q) * eps[t - 1]
            pred_in = tf.concat([h, z], -1)
        g, pred_states = model.frame_predictor.step(pred_in, pred_states)
        x_hat = model.decoder(g[None], skip, training=True)[0].numpy()
        mse_total += np.mean((x_hat - x[:, t]) ** 2)
    return mse_total + c.beta * kl_total, mse_total, kl_total


@pytest.mark.parametrize("variant", ["lp", "fp", "det"])
def test_train_step_loss_equals_independent_recomputation(variant):
    keras.utils.set_random_seed(3)
    config = tiny_config(variant, beta=0.5)  # a large beta makes the KL term visible
    model = build_model(config)
    x = bouncing_squares(4, config.seq_len, seed=5)
    eps = None
    if variant != "det":
        # The documented noise: stateless normal, seed (2 * config.seed, optimizer step).
        eps = tf.random.stateless_normal([config.seq_len - 1, 4, config.z_dim],
                                         seed=[2 * config.seed, 0]).numpy()
        np.testing.assert_array_equal(model.posterior_noise(x), eps)
    expected, expected_mse, expected_kl = _reference_loss(model, x, eps)
    logs = model.train_step(tf.constant(x))
    frames = config.seq_len
    np.testing.assert_allclose(float(logs["loss"]) * frames, expected, rtol=1e-5)
    np.testing.assert_allclose(float(logs["mse"]) * frames, expected_mse, rtol=1e-5)
    np.testing.assert_allclose(float(logs["kl"]) * frames, expected_kl, rtol=1e-5, atol=1e-7)
    if variant != "det":
        assert expected_kl > 0
    assert int(model.optimizer.iterations) == 1
