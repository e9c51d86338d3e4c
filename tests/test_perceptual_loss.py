"""The optional LPIPS term of the loss (`lpips_weight`, as the VP2 SVG' code allows): its
closed form against the LPIPS metric, gradients through the network to the decoder, and the
refusals of train() and the model when the weights file and the weight disagree."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import svg_tf
from svg_tf.metrics.lpips_network import lpips
from svg_tf.models import build_model
from svg_tf.models.perceptual_loss import PerceptualLoss
from svg_tf.training import train

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
from lpips_weights import write_weights_file  # noqa: E402

pytestmark = [pytest.mark.seconds(30),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
TINY = dict(width=4, g_dim=8, rnn_size=6, z_dim=3, n_past=2, n_future=2, n_eval=5,
            batch_size=2, lpips_weight=0.5)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_weights_file(tmp_path_factory.mktemp("lpips") / "lpips_alex.npz")[0]


@pytest.mark.parametrize("architecture", ["svg", "svg_prime"])
def test_the_term_is_the_weighted_sum_of_per_step_lpips(weights, architecture):
    """loss = sum mse + beta * sum kl + w * sum_t mean_b LPIPS(x_hat_t, x_t), with LPIPS the
    evaluation metric's own function."""
    config = svg_tf.get_config("smmnist", "lp", architecture=architecture, **TINY)
    model = build_model(config, compile=False)
    model.perceptual_loss = PerceptualLoss(weights)
    videos = tf.random.uniform([2, 4, 64, 64, 1], seed=5)
    terms = model.elbo_terms(videos)
    truth = tf.transpose(videos, [1, 0, 2, 3, 4])[1:]
    per_step = np.mean(lpips(terms["predictions"], truth, weights), axis=1)
    np.testing.assert_allclose(terms["lpips"], per_step, rtol=1e-5, atol=1e-7)
    assert per_step.min() > 1e-3  # a term that is there, not a zero that passes anything
    without = (np.sum(terms["mse"]) + config.beta * np.sum(terms["kl"]))
    np.testing.assert_allclose(terms["loss"] - without, 0.5 * per_step.sum(), rtol=1e-5)


def test_gradients_reach_the_decoder_through_the_network(weights):
    config = svg_tf.get_config("smmnist", "det", **TINY)
    model = build_model(config, compile=False)
    model.perceptual_loss = PerceptualLoss(weights)
    videos = tf.random.uniform([2, 4, 64, 64, 1], seed=6)
    with tf.GradientTape() as tape:
        term = tf.reduce_sum(model.elbo_terms(videos)["lpips"])
    grads = tape.gradient(term, model.decoder.trainable_variables)
    assert all(g is not None for g in grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0


def test_a_model_with_the_term_refuses_to_train_without_the_network(tmp_path, weights):
    config = svg_tf.get_config("smmnist", "det", **TINY)
    model = build_model(config, compile=False)
    videos = tf.zeros([2, 4, 64, 64, 1])
    with pytest.raises(ValueError, match="lpips_weight=0.5 needs the LPIPS network"):
        model.elbo_terms(videos)
    assert model(videos).shape == (2, 3, 64, 64, 1)  # predicting needs no network
    run = tmp_path / "run"
    with pytest.raises(ValueError, match="--lpips_weights"):
        train(config, str(run), max_steps=1, verbose=0)
    with pytest.raises(ValueError, match="lpips_weights=.* is given but lpips_weight is 0"):
        train(config.replace(lpips_weight=0.0), str(run), lpips_weights=weights,
              max_steps=1, verbose=0)
    assert not run.exists()  # refused before anything is written
    with pytest.raises(ValueError, match="lpips_weight=-1 is invalid"):
        config.replace(lpips_weight=-1)


def test_training_with_the_term_logs_it_and_resumes(tmp_path, weights):
    config = svg_tf.get_config("smmnist", "lp", architecture="svg_prime", **TINY)
    run = str(tmp_path / "run")
    first = train(config, run, max_steps=1, verbose=0, lpips_weights=weights,
                  checkpoint_every=1)
    assert first["step"] == 1 and first["metrics"]["lpips"] > 0
    assert np.isclose(first["metrics"]["loss"],
                      first["metrics"]["mse"] + config.beta * first["metrics"]["kl"]
                      + 0.5 * first["metrics"]["lpips"], rtol=1e-5)
    second = train(config, run, max_steps=1, verbose=0, lpips_weights=weights)
    assert second["step"] == 2
