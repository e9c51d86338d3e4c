"""A SavedModel of a trained run that TF Serving (or plain TensorFlow) can load.

Signatures:
  serving_default (sampling): context float32 [batch, n_past, H, W, C] in [0, 1],
      n_future int32 scalar, num_samples int32 scalar (declared of unknown shape, so that
      a non-scalar is refused by name), seed int64 [2]
      -> frames float32 [batch, num_samples, n_future, H, W, C]
         (+ prior_sigma float32 [batch, num_samples, n_future, z_dim] for SVG-LP)
  reconstruct: frames float32 [batch, n_eval, H, W, C] -> reconstruction, same shape
      (the posterior reconstruction the training summaries show).
Batch, n_future and num_samples are dynamic; randomness is stateless, so the same inputs give
the same frames in any process. The graph checks its inputs and fails with a message naming
the expected shape, refuses NaN/Inf and values outside [0, 1], and bounds the work of one
request by the limits fixed at export (`ServingLimits`): a request for 10,000 samples once
grew past 16 GB.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from svg_tf.serving_limits import ServingLimits  # noqa: F401  (part of this module's API)

EXPORT_README = """# svg_tf SavedModel: {dataset} SVG-{model}

Serve with TF Serving:

    docker run -p 8501:8501 -p 8500:8500 \\
      --mount type=bind,source=$(realpath {parent}),target=/models/svg \\
      -e MODEL_NAME=svg tensorflow/serving

Signatures (see `saved_model_cli show --dir {export_dir} --all`):

- `serving_default`: context float32 [batch, {n_past}, {size}, {size}, {channels}] in [0, 1],
  n_future int32 scalar, num_samples int32 scalar, seed int64 [2]{actions} ->
  frames float32 [batch, num_samples, n_future, {size}, {size}, {channels}]{sigma}
- `reconstruct`: frames float32 [batch, {n_eval}, {size}, {size}, {channels}]{frame_actions}
  -> reconstruction

The same seed gives the same frames. config.json beside this file is the training config.

Limits per request, fixed at export (`python -m svg_tf.export --max_...`); a request beyond
one fails with INVALID_ARGUMENT naming it:

- batch (sequences in `context` or `frames`) <= {max_batch}
- num_samples <= {max_num_samples}, n_future <= {max_n_future}
- batch x num_samples x n_future (predicted frames) <= {max_frames}

Context and frames must be finite and in [0, 1].
"""


class _Untracked:
    """Holds the model out of the tracked object graph (a plain object is not tracked)."""

    def __init__(self, model):
        self.model = model


class SVGServing(tf.Module):
    """The exported object: the model's weights and two tf.functions."""

    def __init__(self, model, config, limits: ServingLimits | None = None):
        super().__init__(name="svg_serving")
        # The SavedModel holds the weights and the two functions, not the Keras object graph
        # (walking its hundreds of layers made tf.saved_model.save slow).
        self._untracked = _Untracked(model)
        self.model_variables = list(model.variables)
        self._config = config
        self._limits = limits or ServingLimits()
        size, channels = config.image_size, config.channels
        # No AutoGraph: no Python control flow on tensors here, and it costs seconds to trace.
        if config.conditioning == "actions":  # the same signature, plus the actions
            self.sample = tf.function(self._sample_with_actions, autograph=False,
                                      input_signature=[
                tf.TensorSpec([None, config.n_past, size, size, channels], tf.float32,
                              "context"),
                tf.TensorSpec(None, tf.int32, "n_future"),
                tf.TensorSpec(None, tf.int32, "num_samples"),
                tf.TensorSpec([2], tf.int64, "seed"),
                tf.TensorSpec([None, None, config.action_dim], tf.float32, "actions")])
            self.reconstruct = tf.function(
                self._reconstruct_with_actions, autograph=False, input_signature=[
                    tf.TensorSpec([None, config.n_eval, size, size, channels], tf.float32,
                                  "frames"),
                    tf.TensorSpec([None, None, config.action_dim], tf.float32, "actions")])
            return
        self.sample = tf.function(self._sample, autograph=False, input_signature=[
            tf.TensorSpec([None, config.n_past, size, size, channels], tf.float32, "context"),
            # Declared of any shape, so that the graph sees the shape sent and _scalar can
            # refuse a non-scalar by name (with a static [] the check was folded away and
            # n_future=[5, 100000] used its first element).
            tf.TensorSpec(None, tf.int32, "n_future"),
            tf.TensorSpec(None, tf.int32, "num_samples"),
            tf.TensorSpec([2], tf.int64, "seed")])
        self.reconstruct = tf.function(self._reconstruct, autograph=False, input_signature=[
            tf.TensorSpec([None, config.n_eval, size, size, channels], tf.float32, "frames")])

    def _checked(self, name, tensor, expected):
        """Graph asserts naming the expected shape (for callers that bypass the signature's
        shape, e.g. a session-based server)."""
        described = "[" + ", ".join(str(d) for d in expected) + "]"
        rank = tf.debugging.assert_rank(tensor, len(expected),
                                        message=f"{name} must have shape {described}")
        # The per-axis checks read the shape padded with -1, so that no slice can fail on a
        # wrong-rank input: whichever check fails first, its message names the shape. (A
        # control dependency on the rank check was not enough: graph optimisation could still
        # run an out-of-range slice first.)
        shape = tf.concat([tf.shape(tensor), -tf.ones([len(expected)], tf.int32)], 0)
        checks = [rank]
        for axis, size in enumerate(expected):
            if isinstance(size, int):
                checks.append(tf.debugging.assert_equal(
                    shape[axis], size, message=f"{name} must have shape {described}; axis "
                                               f"{axis} is"))
        with tf.control_dependencies(checks):
            static = [d if isinstance(d, int) else None for d in expected]
            return tf.ensure_shape(tf.identity(tensor), static)

    def _values_checked(self, name, tensor):
        """Refuse NaN/Inf and values outside [0, 1]: the model was trained on [0, 1]."""
        checks = [tf.debugging.assert_all_finite(tensor, f"{name} holds NaN or Inf"),
                  tf.debugging.assert_greater_equal(tf.reduce_min(tensor), 0.0,
                                                    message=f"{name} values must be in [0, 1]"),
                  tf.debugging.assert_less_equal(tf.reduce_max(tensor), 1.0,
                                                 message=f"{name} values must be in [0, 1]")]
        with tf.control_dependencies(checks):
            return tf.identity(tensor)

    @staticmethod
    def _some(name, batch):
        return tf.debugging.assert_positive(
            batch, message=f"{name} holds no sequence: the batch must be >= 1")

    @staticmethod
    def _scalar(name, value):
        """`value` as a scalar, refusing any other shape by name (a flattened, padded read
        that cannot fail before the check does)."""
        flat = tf.reshape(value, [-1])
        check = tf.debugging.assert_equal(tf.rank(value), 0, message=f"{name} must be a "
                                                                      "scalar; its rank is")
        with tf.control_dependencies([check]):
            return tf.identity(tf.concat([flat, tf.zeros([1], flat.dtype)], 0)[0])

    def _limit(self, name, value, limit):
        return tf.debugging.assert_less_equal(
            tf.cast(value, tf.int64), tf.constant(limit, tf.int64),
            message=f"{name} exceeds the limit {limit} of this export (python -m svg_tf.export "
                    f"--max_{name}); got")

    def _actions_checked(self, actions, batch, steps):
        """Actions `[batch, steps, A]`, finite, or an assert naming what was expected."""
        c = self._config
        expected = f"[batch, n_past - 1 + n_future, {c.action_dim}]"
        shape = tf.shape(actions)
        checks = [tf.debugging.assert_equal(shape[0], batch, message="actions must have "
                                            "one row per context sequence; got"),
                  tf.debugging.assert_equal(shape[1], steps, message="actions must have "
                                            "shape " + expected + "; their length is"),
                  tf.debugging.assert_all_finite(actions, "actions hold NaN or Inf")]
        with tf.control_dependencies(checks):
            return tf.identity(actions)

    def _sample_with_actions(self, context, n_future, num_samples, seed, actions):
        return self._sample(context, n_future, num_samples, seed, actions)

    def _reconstruct_with_actions(self, frames, actions):
        return self._reconstruct(frames, actions)

    def _sample(self, context, n_future, num_samples, seed, actions=None):
        c, limits = self._config, self._limits
        context = self._checked("context", context,
                                ["batch", c.n_past, c.image_size, c.image_size, c.channels])
        context = self._values_checked("context", context)
        n_future = self._scalar("n_future", n_future)
        num_samples = self._scalar("num_samples", num_samples)
        batch = tf.shape(context)[0]
        checks = [self._some("context", batch),
                  tf.debugging.assert_positive(n_future, message="n_future must be >= 1"),
                  tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1"),
                  self._limit("batch", batch, limits.max_batch),
                  self._limit("num_samples", num_samples, limits.max_num_samples),
                  self._limit("n_future", n_future, limits.max_n_future)]
        with tf.control_dependencies(checks):
            frames = (tf.cast(batch, tf.int64) * tf.cast(num_samples, tf.int64)
                      * tf.cast(n_future, tf.int64))
            checks.append(self._limit("frames", frames, limits.max_frames))
        if actions is not None:
            actions = self._actions_checked(actions, batch, c.n_past - 1 + n_future)
        with tf.control_dependencies(checks):
            # Running statistics: a request's samples must not depend on the other
            # sequences batched with it.
            frames, _, sigma = self._untracked.model.sample_graph(
                context, n_future, num_samples, seed, bn="running", actions=actions)
        outputs = {"frames": frames}
        if c.model == "lp":
            outputs["prior_sigma"] = sigma
        return outputs

    def _reconstruct(self, frames, actions=None):
        c = self._config
        frames = self._checked("frames", frames,
                               ["batch", c.n_eval, c.image_size, c.image_size, c.channels])
        frames = self._values_checked("frames", frames)
        with tf.control_dependencies([self._some("frames", tf.shape(frames)[0]),
                                      self._limit("batch", tf.shape(frames)[0],
                                                  self._limits.max_batch)]):
            frames = tf.identity(frames)
        if actions is not None:
            actions = self._actions_checked(actions, tf.shape(frames)[0], c.n_eval - 1)
        return {"reconstruction": self._untracked.model.reconstruct_graph(
            frames, bn="running", actions=actions)}


def export(logdir, export_dir, checkpoint=None, limits: ServingLimits | None = None):
    """Export a run as a SavedModel for TF Serving, with its config.json and a README.md.

    The folder is written beside the target and renamed when complete, under a lock: a kill
    leaves it absent or complete, and an existing export_dir is refused.

    Args:
      logdir: the run directory.
      export_dir: the new SavedModel folder (TF Serving wants MODEL/VERSION, e.g. .../svg/1).
      checkpoint: a checkpoint prefix (default: the latest).
      limits: the largest requests the signatures accept (ServingLimits).

    Returns:
      export_dir.
    """
    from svg_tf.run_dir import load_run, new_folder, resolve

    limits = limits or ServingLimits()
    config, model = load_run(resolve(logdir), checkpoint)
    module = SVGServing(model, config, limits)
    sigma = (f",\n  prior_sigma float32 [batch, num_samples, n_future, {config.z_dim}]"
             if config.model == "lp" else "")
    text = EXPORT_README.format(
        dataset=config.dataset, model=config.model.upper(), n_past=config.n_past,
        n_eval=config.n_eval, size=config.image_size, channels=config.channels, sigma=sigma,
        actions=(f",\n  actions float32 [batch, {config.n_past - 1} + n_future, "
                 f"{config.action_dim}] (raw, as the dataset's; the model normalises them)"
                 if config.conditioning == "actions" else ""),
        frame_actions=(f", actions float32 [batch, {config.n_eval - 1}, {config.action_dim}]"
                       if config.conditioning == "actions" else ""),
        export_dir=export_dir, parent=os.path.dirname(os.path.abspath(export_dir)),
        **dataclasses.asdict(limits))
    # Written beside the target and renamed when complete, under a lock: a kill leaves
    # export_dir absent or complete, and a second export into it is refused.
    with new_folder(export_dir) as folder:
        # The functions themselves, not get_concrete_function(): saving would trace each
        # a second time.
        tf.saved_model.save(module, folder, signatures={"serving_default": module.sample,
                                                        "reconstruct": module.reconstruct})
        with tf.io.gfile.GFile(os.path.join(folder, "config.json"), "w") as f:
            f.write(config.to_json())
        with tf.io.gfile.GFile(os.path.join(folder, "README.md"), "w") as f:
            f.write(text)
    return export_dir


def describe_signatures(export_dir):
    """List each signature of a SavedModel with its inputs' and outputs' dtypes and shapes.

    Args:
      export_dir: a SavedModel folder.

    Returns:
      Text, one line per input or output.
    """
    loaded = tf.saved_model.load(export_dir)
    lines = []
    for name, function in sorted(loaded.signatures.items()):
        lines.append(f"signature {name!r}:")
        _, inputs = function.structured_input_signature
        for key, spec in sorted(inputs.items()):
            lines.append(f"  input  {key}: {spec.dtype.name} {_shape(spec.shape)}")
        for key, spec in sorted(function.structured_outputs.items()):
            lines.append(f"  output {key}: {spec.dtype.name} {_shape(spec.shape)}")
    return "\n".join(lines)


def _shape(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape.as_list()) + "]" \
        if shape.rank is not None else "unknown"


def directory_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
