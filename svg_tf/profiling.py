"""Where a training step's time goes: a tf.profiler trace and its top ops by time.

    python -m svg_tf.bench --profile=DIR     # trace of a few SM-MNIST training steps

The trace opens in TensorBoard's Profile tab (tensorboard-plugin-profile); `top_ops` reads
it without the plugin, from the XPlane protobuf that TensorFlow writes.
"""

from __future__ import annotations

import collections
import glob
import os

import tensorflow as tf


def trace_training(config, batch_size, logdir, steps=3):
    """Profile `steps` training steps (after two untraced warm-up steps) into `logdir`."""
    from svg_tf.models import build_model

    model = build_model(config)
    videos = tf.random.uniform([batch_size, config.seq_len, *config.frame_shape], seed=0)
    step = tf.function(model.train_step, autograph=False)
    for _ in range(2):
        step(videos)["loss"].numpy()
    tf.profiler.experimental.start(logdir)
    try:
        for _ in range(steps):
            step(videos)["loss"].numpy()
    finally:
        tf.profiler.experimental.stop()
    return logdir


def top_ops(logdir, count=15):
    """[(op type, milliseconds, share of the total)] summed over the kernels the executor ran
    (events named `node:OpType` on its tf_Compute threads) in the newest trace in `logdir`,
    largest first. Kernels on the two inter-op threads can overlap, so the total may exceed
    the wall time."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")))
    if not paths:
        raise FileNotFoundError(f"no *.xplane.pb under {logdir}/plugins/profile")
    space = xplane_pb2.XSpace()
    with open(paths[-1], "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's kernel threads
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and "::" not in name:  # "node/name:OpType", one kernel run
                    totals[name.rsplit(":", 1)[-1]] += event.duration_ps / 1e9
    total = sum(totals.values()) or 1.0
    return [(name, ms, ms / total) for name, ms in totals.most_common(count)]
