"""A ready-to-train SVG model: weights created, the global dtype policy applied for mixed
precision, and compiled with the optimizer (and loss scaling for float16). Kept apart from
the model so that the model itself holds only its computation."""

from __future__ import annotations

import keras

from svg_tf import memory
from svg_tf.config import SVGConfig
from svg_tf.models.svg import SVG
from svg_tf.optimizers import make_optimizer


def build_model(config: SVGConfig, compile: bool = True, jit_compile=False,
                mixed_precision=None) -> SVG:
    """A built SVG model (all weights created) and, by default, compiled with Adam.

    Weights are initialised as the original (N(0, 0.02) convs/linears, BN gamma N(1, 0.02),
    PyTorch's uniform LSTM init); call `keras.utils.set_random_seed` first for a reproducible
    initialisation.

    Args:
      config: the experiment's SVGConfig (`svg_tf.get_config`).
      compile: attach the optimizer (config.optimizer, lr, beta1), its slots created.
      jit_compile: compile the training step with XLA.
      mixed_precision: "float16", "bfloat16", True (= "float16") or None (the config's):
        compute in that dtype with float32 weights, batch-norm statistics, KL, loss and
        optimizer state; float16 adds a loss-scaling optimizer.

    Returns:
      The SVG model.

    Example:
      >>> model = build_model(get_config("smmnist", "lp", width=32))
    """
    memory.check_model(config)  # before any weight is made
    if mixed_precision is None:
        mixed_precision = config.mixed_precision
    elif mixed_precision is True or mixed_precision is False:
        mixed_precision = "float16" if mixed_precision else "none"
    if mixed_precision not in ("none", "float16", "bfloat16"):
        raise ValueError(f"mixed_precision={mixed_precision!r} is invalid: expected none, "
                         "float16 or bfloat16")
    previous = keras.config.dtype_policy()
    if mixed_precision != "none":
        keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
    try:
        model = SVG(config, name=f"svg_{config.model}")
        model.build()
    finally:
        keras.config.set_dtype_policy(previous)
    if compile:
        optimizer = make_optimizer(config.optimizer, config.lr, config.beta1)
        if mixed_precision == "float16":  # bfloat16 has float32's range: no loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, jit_compile=jit_compile)
        # Its slots made now: a first step that creates variables is traced twice.
        model.optimizer.build(model.trainable_variables)
    return model
