"""svg_tf/serving.py and the export program: signatures, loading without svg_tf,
reproducibility, shape and value errors, limits, and the client example's request
builders."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from svg_tf.serving import SVGServing, export
from svg_tf import load_run

pytestmark = [pytest.mark.seconds(29),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """The shared tiny run (conftest.tiny_run) and its export."""
    path = export(tiny_run, str(tmp_path_factory.mktemp("export") / "serving" / "svg" / "1"))
    return tiny_run, path


def test_saved_model_cli_lists_both_signatures(exported):
    _, path = exported
    cli = subprocess.run(["saved_model_cli", "show", "--dir", path, "--all"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr[-2000:]
    out = cli.stdout
    assert "signature_def['serving_default']" in out and "signature_def['reconstruct']" in out
    sampling = out.split("signature_def['serving_default']")[1]
    for name, dtype, shape in (("context", "DT_FLOAT", "(-1, 3, 64, 64, 1)"),
                               ("n_future", "DT_INT32", "unknown_rank"),
                               ("num_samples", "DT_INT32", "unknown_rank"),
                               ("seed", "DT_INT64", "(2)"),
                               ("frames", "DT_FLOAT", "(-1, -1, -1, 64, 64, 1)"),
                               ("prior_sigma", "DT_FLOAT", "(-1, -1, -1, 4)")):
        block = sampling.split(f"['{name}'] tensor_info:")[1].split("name:")[0]
        assert dtype in block and (shape in block if shape == "unknown_rank"
                                   else f"shape: {shape}" in block), (name, block)
    assert os.path.exists(os.path.join(path, "config.json"))
    assert "docker run" in open(os.path.join(path, "README.md")).read()


LOADER = """
import sys
sys.modules["svg_tf"] = None  # svg_tf must not be needed
import numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
serve = model.signatures["serving_default"]
context = tf.constant(np.load(sys.argv[2]))
args = dict(context=context, n_future=tf.constant(4), num_samples=tf.constant(3))
a = serve(seed=tf.constant([5, 6], tf.int64), **args)
b = serve(seed=tf.constant([5, 6], tf.int64), **args)
c = serve(seed=tf.constant([5, 7], tf.int64), **args)
np.savez(sys.argv[3], a=a["frames"].numpy(), b=b["frames"].numpy(), c=c["frames"].numpy(),
         sigma=a["prior_sigma"].numpy())
"""


def test_fresh_tensorflow_process_reproduces_model_sample(exported, tmp_path):
    logdir, path = exported
    from svg_tf.datasets.synthetic import bouncing_squares

    context = bouncing_squares(2, 3, seed=0)
    np.save(tmp_path / "context.npy", context)
    out = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-c", LOADER, path, str(tmp_path / "context.npy"),
                           str(out)], capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = np.load(out)
    assert result["a"].shape == (2, 3, 4, 64, 64, 1) and result["sigma"].shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(result["a"], result["b"])
    assert np.max(np.abs(result["a"] - result["c"])) > 1e-6
    _, model = load_run(logdir)
    ours = model.sample(context, 4, num_samples=3, seed=[5, 6], bn="running").numpy()
    np.testing.assert_allclose(result["a"], ours, atol=1e-5)


def test_wrong_inputs_name_the_expected_shape(exported):
    _, path = exported
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    good = dict(n_future=tf.constant(2), num_samples=tf.constant(1),
                seed=tf.constant([1, 2], tf.int64))
    for bad in (np.zeros((1, 2, 64, 64, 1), np.float32),    # wrong n_past
                np.zeros((1, 3, 32, 32, 1), np.float32),    # wrong size
                np.zeros((1, 3, 64, 64, 3), np.float32),    # wrong channels
                np.zeros((3, 64, 64, 1), np.float32)):      # wrong rank
        with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError),
                           match=r"\(None, 3, 64, 64, 1\)|\[batch, 3, 64, 64, 1\]"):
            serve(context=tf.constant(bad), **good)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError),
                       match="float32|float"):
        serve(context=tf.zeros((1, 3, 64, 64, 1), tf.int32), **good)


def test_requests_beyond_the_export_limits_or_with_bad_values_are_refused(exported):
    """num_samples=10000 for one context used to grow past 16 GB; NaN and out-of-range
    contexts were accepted silently."""
    _, path = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    ok = np.full((1, 3, 64, 64, 1), 0.5, np.float32)

    def call(context=ok, n_future=2, num_samples=1, batch=1):
        return serve(context=tf.constant(np.repeat(context, batch, 0)),
                     n_future=tf.constant(n_future), num_samples=tf.constant(num_samples),
                     seed=tf.constant([1, 2], tf.int64))

    for kwargs, message in (({"num_samples": 10000}, r"num_samples exceeds the "
                                                     r"limit 100 of this export "
                                                     r".*--max_num_samples"),
                            ({"n_future": 101}, r"n_future exceeds the limit 100 of"),
                            ({"batch": 65}, r"batch exceeds the limit 64 of"),
                            ({"num_samples": 100, "n_future": 51, "batch": 2},
                             r"frames exceeds the limit 10000 of")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call(**kwargs)
    for value, message in ((np.nan, "context holds NaN or Inf"), (np.inf, "NaN or Inf"),
                           (1.5, r"context values must be in \[0, 1\]"),
                           (-0.1, r"context values must be in \[0, 1\]")):
        bad = ok.copy()
        bad[0, 1, 5, 5, 0] = value
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call(context=bad)
    assert call()["frames"].shape == (1, 1, 2, 64, 64, 1)
    # Non-scalar counts were accepted and their first element used (n_future=[5, 100000]
    # gave 5 frames): the signature's static [] shape let the check be folded away.
    for kwargs, name in (({"n_future": [2, 100000]}, "n_future"),
                         ({"num_samples": [1, 10 ** 9]}, "num_samples"),
                         ({"n_future": [[2]]}, "n_future")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} must be a scalar"):
            call(**kwargs)
    readme = open(os.path.join(path, "README.md")).read()
    assert "num_samples <= 100" in readme and "<= 10000" in readme


def test_graph_asserts_name_the_expected_shape(exported):
    """What a caller that bypasses the signature's static shape meets (a session server)."""
    from svg_tf.serving import SVGServing

    logdir, _ = exported
    config, model = load_run(logdir)
    module = SVGServing(model, config)
    loose = tf.function(module._sample, input_signature=[
        tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int64)])
    args = (tf.constant(2), tf.constant(1), tf.constant([1, 2], tf.int64))
    for bad in ((1, 2, 64, 64, 1), (1, 3, 64, 64, 2), (3, 64, 64, 1)):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"context must have shape \[batch, 3, 64, 64, 1\]"):
            loose(tf.zeros(bad), *args)
    with pytest.raises(tf.errors.InvalidArgumentError, match="n_future must be >= 1"):
        loose(tf.zeros((1, 3, 64, 64, 1)), tf.constant(0), *args[1:])


def test_grpc_and_rest_requests_decode_back():
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    import serving_client

    context = np.random.default_rng(1).uniform(size=(1, 3, 64, 64, 1)).astype(np.float32)
    request = serving_client.grpc_request(context, 7, 5, [3, 4])
    assert request.model_spec.signature_name == "serving_default"
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["context"]), context)
    assert tf.make_ndarray(request.inputs["n_future"]) == 7
    assert tf.make_ndarray(request.inputs["num_samples"]) == 5
    seed = tf.make_ndarray(request.inputs["seed"])
    assert seed.dtype == np.int64 and seed.tolist() == [3, 4]
    body = serving_client.rest_body(context, 7, 5, [3, 4])
    np.testing.assert_array_equal(np.asarray(body["inputs"]["context"], np.float32), context)
    assert body["inputs"]["seed"] == [3, 4] and body["signature_name"] == "serving_default"


def test_serving_refuses_an_empty_batch_and_a_vector_n_future(exported):
    config, model = load_run(exported[0])
    module = SVGServing(model, config)
    context = tf.zeros([0, config.n_past, 64, 64, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="holds no sequence"):
        module._sample(context, tf.constant(2), tf.constant(1), tf.constant([1, 2], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="holds no sequence"):
        module._reconstruct(tf.zeros([0, config.n_eval, 64, 64, 1]))
    context = tf.zeros([1, config.n_past, 64, 64, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="n_future must be a scalar"):
        tf.function(module._sample)(context, tf.constant([2, 3]), tf.constant(1),
                                    tf.constant([1, 2], tf.int64))
