"""tf.distribute strategies as the training program selects them.

MirroredStrategy is built with an explicit cross-device reduction. The model's synchronised
batch norm all-reduces inside the forward and backward passes; TensorFlow's default
collective implementation can order those collectives differently on two replicas (seen with
TF 2.21 on CPU: "Shape mismatch in the collective instance"), while the merge-call based
reductions (ReductionToOneDevice, NCCL) keep them in program order.
"""

from __future__ import annotations

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str = "auto", devices=None):
    """The tf.distribute.Strategy called `name` (one of STRATEGIES). (TensorFlow is
    imported here, so that the training program's flags, which list STRATEGIES, are
    checked before it loads.)"""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r} is invalid: expected one of {list(STRATEGIES)}")
    if name == "multi_worker":  # must come before anything initialises the TF context
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            devices = [d.name for d in gpus] or [d.name for d in
                                                 tf.config.list_logical_devices("CPU")]
        reduction = (tf.distribute.NcclAllReduce() if gpus and all("GPU" in d for d in devices)
                     else tf.distribute.ReductionToOneDevice())
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=reduction)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
