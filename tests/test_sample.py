"""Acceptance 4: sampling shapes, seeding, and which frame each skip mode uses."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import trained_tiny_model
from svg_tf.datasets.synthetic import bouncing_squares

pytestmark = pytest.mark.seconds(48)


_TRAINED = {}


def _model(variant, **overrides):
    """A tiny trained model, trained once per configuration for the whole module (the
    tests only read from it; 'last' is the default skip mode)."""
    if overrides.get("skip") == "last":
        del overrides["skip"]
    key = (variant, tuple(sorted(overrides.items())))
    if key not in _TRAINED:
        _TRAINED[key] = trained_tiny_model(variant, **overrides)
    return _TRAINED[key]


@pytest.mark.parametrize("variant", ["lp", "fp"])
def test_shapes_and_seeds(variant):
    model = _model(variant)
    context = bouncing_squares(2, 3, seed=2)
    frames, mu, sigma = model.sample(context, 4, num_samples=5, seed=[7, 8], return_prior=True)
    assert frames.shape == (2, 5, 4, 64, 64, 1)
    assert mu.shape == sigma.shape == (2, 5, 4, 4)
    again = model.sample(context, 4, num_samples=5, seed=[7, 8])
    np.testing.assert_array_equal(frames, again)
    other = model.sample(context, 4, num_samples=5, seed=[7, 9])
    assert np.max(np.abs(frames - other)) > 1e-6
    # samples of one sequence differ from each other
    assert np.max(np.abs(frames[:, 0] - frames[:, 1])) > 1e-6
    if variant == "fp":
        np.testing.assert_array_equal(mu, 0.0)
        np.testing.assert_array_equal(sigma, 1.0)
    else:
        assert np.all(sigma.numpy() > 0)
        # prior statistics are those of the sample's own trajectory: they differ per sample
        assert np.max(np.abs(mu[:, 0, 1:] - mu[:, 1, 1:])) > 0


def test_sample_batch_independence():
    """A sequence's samples do not depend on the other sequences in the batch."""
    model = _model("lp")
    context = bouncing_squares(3, 3, seed=4)
    full = model.sample(context, 3, num_samples=2, seed=[1, 1], bn="running")
    # Sequence 0 alone, with the same seed: same noise only for the first B*S rows, so
    # compare against a batch whose first row is the same sequence.
    first = model.sample(np.concatenate([context[:1], context[2:]]), 3, num_samples=2,
                         seed=[1, 1], bn="running")
    # Equal up to float32 rounding: CPU matmul/conv kernels round differently for other
    # batch sizes (~5e-5 here); a real dependence on the other sequences is O(0.1).
    np.testing.assert_allclose(full[0], first[0], atol=2e-4)


def test_det_samples_are_identical():
    model = _model("det")
    context = bouncing_squares(2, 3, seed=2)
    frames, mu, sigma = model.sample(context, 3, num_samples=4, seed=[1, 2], return_prior=True)
    assert frames.shape == (2, 4, 3, 64, 64, 1) and mu.shape == (2, 4, 3, 0)
    for s in range(1, 4):
        np.testing.assert_array_equal(frames[:, 0], frames[:, s])
    np.testing.assert_array_equal(frames, model.sample(context, 3, num_samples=4, seed=[5, 6]))
    one = model.sample(context, 1, num_samples=2, seed=[1, 2])  # the loop body never runs
    np.testing.assert_allclose(one[:, 0, 0], frames[:, 0, 0], atol=1e-6)
    with pytest.raises(ValueError, match="n_future=0"):
        model.sample(context, 0)


def test_prior_on_frames_is_causal_and_matches_sampling():
    """Figure 6 feeds true frames into the prior: entry t-1 must see frames before t only,
    and on the context it must equal the prior that sampling uses for its first frame."""
    model = _model("lp")
    video = bouncing_squares(2, 8, seed=3)
    mu, sigma = (a.numpy() for a in model.prior_on_frames(video))
    assert mu.shape == sigma.shape == (2, 7, 4) and np.all(sigma > 0)
    n_past = model.svg_config.n_past
    _, mu_s, sigma_s = model.sample(video[:, :n_past], 1, num_samples=1, seed=[0, 0],
                                    return_prior=True)
    np.testing.assert_allclose(sigma_s[:, 0, 0], sigma[:, n_past - 1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mu_s[:, 0, 0], mu[:, n_past - 1], rtol=1e-4, atol=1e-5)
    changed = video.copy()
    changed[:, 5] = 1.0 - changed[:, 5]
    _, sigma_changed = model.prior_on_frames(changed)
    np.testing.assert_allclose(sigma_changed[:, :5], sigma[:, :5], rtol=1e-5)
    assert np.max(np.abs(sigma_changed[:, 5] - sigma[:, 5])) > 1e-6
    from conftest import tiny_config
    from svg_tf import build_model

    with pytest.raises(ValueError, match="learned prior"):
        build_model(tiny_config("fp"), compile=False).prior_on_frames(video)


# The frame whose encoder skips the decoder receives at training steps t = 1..5 (n_past 3):
# written out by hand from the paper, the authors' code and their --last_frame_skip.
EXPECTED_TRAINING_SKIP = {"last": [0, 1, 2, 2, 2], "original": [0, 1, 1, 1, 1],
                          "every": [0, 1, 2, 3, 4]}


class _DecoderSpy:
    def __init__(self, decoder):
        self.original = decoder.call
        self.skips = []
        decoder.call = self

    def __call__(self, g, skips, training=False):
        self.skips.append([s.numpy() for s in skips])
        return self.original(g, skips, training=training)


@pytest.mark.parametrize("mode", ["last", "original", "every"])
def test_skip_mode_uses_the_frame_it_names_in_training(mode):
    model = _model("lp", skip=mode)
    x = bouncing_squares(2, 6, seed=3)
    spy = _DecoderSpy(model.decoder)
    model.elbo_terms(x, None, training=True)
    received = spy.skips[-1]  # one batched decoder call: skips [T-1, B, ...]
    for step, frame in enumerate(EXPECTED_TRAINING_SKIP[mode]):
        reference = model.encoder(tf.constant(x[:, frame][None]), training=True)[1]
        for got, want in zip(received, reference):
            np.testing.assert_allclose(got[step], want[0], atol=1e-5,
                                       err_msg=f"step {step + 1} frame {frame}")


@pytest.mark.parametrize("mode, frame", [("last", 2), ("original", 1), ("every", 2)])
def test_skip_mode_uses_the_frame_it_names_in_sampling(mode, frame):
    model = _model("lp", skip=mode)
    context = bouncing_squares(2, 3, seed=3)
    tf.config.run_functions_eagerly(True)
    try:
        spy = _DecoderSpy(model.decoder)
        frames = model.sample(context, 3, num_samples=2, seed=[1, 2], bn="running").numpy()
    finally:
        tf.config.run_functions_eagerly(False)
    # One decoder call per predicted step, all samples at once as groups [S, B, ...].
    assert len(spy.skips) == 3
    context_skips = model.encoder(tf.constant(context[:, frame][None]), training=False)[1]
    for got, want in zip(spy.skips[0], context_skips):
        np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), atol=1e-5)
    # Later steps: the same context frame, except 'every', which encodes the last prediction.
    previous = np.swapaxes(frames[:, :, 0], 0, 1)  # [S, B, H, W, C]
    prediction_skips = model.encoder(tf.constant(previous), training=False)[1]
    for got, ctx, pred in zip(spy.skips[1], context_skips, prediction_skips):
        want = pred if mode == "every" else np.broadcast_to(ctx, got.shape)
        np.testing.assert_allclose(got, want, atol=1e-5)
