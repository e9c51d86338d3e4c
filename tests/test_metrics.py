"""SSIM/PSNR parity with scikit-image; best-of-N selection and confidence intervals."""

import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from svg_tf import metrics


def _images(kind, rng, channels):
    if kind == "random":
        x = rng.uniform(size=(64, 64, channels))
        y = np.clip(x + rng.normal(scale=0.2, size=x.shape), 0, 1)
    else:  # structured: shapes and gradients, slightly shifted and blurred
        yy, xx = np.mgrid[:64, :64] / 63.0
        base = 0.5 + 0.5 * np.sin(8 * xx) * np.cos(5 * yy)
        base[20:40, 10:30] = 1.0
        x = np.repeat(base[..., None], channels, -1) * np.linspace(1, 0.6, channels)
        y = np.roll(x, 2, axis=1) * 0.9 + 0.05
    return x.astype(np.float32), y.astype(np.float32)


def _skimage(x, y, convention):
    values = []
    for c in range(x.shape[-1]):
        if convention == "svg":
            values.append(structural_similarity(x[..., c], y[..., c], win_size=7,
                                                use_sample_covariance=True, data_range=2.0))
        else:
            values.append(structural_similarity(x[..., c], y[..., c], gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False,
                                                data_range=1.0))
    return float(np.mean(values))


@pytest.mark.parametrize("convention", ["svg", "gaussian"])
@pytest.mark.parametrize("kind", ["random", "structured"])
@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image(convention, kind, channels):
    rng = np.random.default_rng(0)
    x, y = _images(kind, rng, channels)
    ours = float(metrics.ssim(x, y, convention))
    assert abs(ours - _skimage(x, y, convention)) < 1e-4
    assert float(metrics.ssim(x, x, convention)) == pytest.approx(1.0, abs=1e-5)


def test_gaussian_convention_equals_tf_image_ssim_and_batches():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 3, 64, 64, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(scale=0.1, size=x.shape), 0, 1).astype(np.float32)
    ours = metrics.ssim(x, y, "gaussian").numpy()
    assert ours.shape == (2, 3)
    np.testing.assert_allclose(ours, tf.image.ssim(x, y, max_val=1.0).numpy(), atol=1e-4)
    np.testing.assert_allclose(ours[1, 2], metrics.ssim(x[1, 2], y[1, 2], "gaussian"), atol=1e-6)


@pytest.mark.parametrize("convention", ["svg", "gaussian"])
def test_truth_broadcast_over_samples_equals_repeated_truth(convention):
    """Evaluation scores 100 samples against one truth without repeating it."""
    rng = np.random.default_rng(3)
    samples = rng.uniform(size=(2, 5, 3, 64, 64, 3)).astype(np.float32)
    truth = rng.uniform(size=(2, 1, 3, 64, 64, 3)).astype(np.float32)
    repeated = np.broadcast_to(truth, samples.shape)
    ours = metrics.ssim(samples, truth, convention).numpy()
    assert ours.shape == (2, 5, 3)
    np.testing.assert_allclose(ours, metrics.ssim(samples, repeated, convention), atol=1e-6)
    x, y = samples[1, 4, 2], truth[1, 0, 2]
    assert ours[1, 4, 2] == pytest.approx(_skimage(x, y, convention), abs=1e-4)


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_matches_scikit_image(channels):
    rng = np.random.default_rng(2)
    x, y = _images("random", rng, channels)
    expected = np.mean([peak_signal_noise_ratio(x[..., c], y[..., c], data_range=1.0)
                        for c in range(channels)])
    assert float(metrics.psnr(x, y)) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("channels", [1, 3])
def test_mse_matches_scikit_image_and_ranks_low_as_best(channels):
    from skimage.metrics import mean_squared_error

    rng = np.random.default_rng(3)
    x, y = _images("random", rng, channels)
    assert float(metrics.mse(x, y)) == pytest.approx(mean_squared_error(x, y), rel=1e-5)
    scores = np.array([[[0.3, 0.3], [0.1, 0.2], [0.5, 0.0]]])  # [B=1, S=3, T=2]
    assert metrics.REGISTRY["mse"].best_sample(scores).tolist() == [1]


def test_unknown_convention():
    with pytest.raises(ValueError, match="convention='box'"):
        metrics.ssim(np.zeros((8, 8, 1)), np.zeros((8, 8, 1)), "box")


def test_best_of_n_selection_known_answers():
    # 2 sequences, 3 samples, 2 frames
    s = np.array([[[0.1, 0.9], [0.6, 0.6], [0.2, 0.3]],
                  [[0.5, 0.5], [0.4, 0.4], [0.9, 0.0]]])
    p = np.array([[[30, 10], [10, 10], [25, 25]],
                  [[20, 20], [40, 40], [10, 10]]], float)
    best_s, best_p = metrics.best_of_n(s, p, "per_metric")
    # sequence 0: SSIM means .5, .6, .25 -> sample 1; PSNR means 20, 10, 25 -> sample 2
    np.testing.assert_array_equal(best_s, [[0.6, 0.6], [0.5, 0.5]])
    np.testing.assert_array_equal(best_p, [[25, 25], [40, 40]])
    best_s, best_p = metrics.best_of_n(s, p, "ssim_mean")
    np.testing.assert_array_equal(best_p, [[10, 10], [20, 20]])  # PSNR of the SSIM-best


def test_mean_and_confidence_interval():
    values = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [7.0, 10.0]])
    mean, half = metrics.mean_and_ci(values)
    np.testing.assert_allclose(mean, [4.0, 10.0])
    np.testing.assert_allclose(half, [1.96 * np.sqrt(5.0) / 2.0, 0.0])
