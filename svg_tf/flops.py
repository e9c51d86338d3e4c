"""Floating-point operations of SVG, counted from the built model's layers.

Convolutions and matrix products only (2 FLOPs per multiply-add); batch norm, activations
and the KL are a few percent and left out, as FLOP counts of CNNs usually do. A training
step runs the forward pass and a backward pass of about twice its cost: 3x forward.
"""

from __future__ import annotations

import math

import keras


def conv_flops(layer) -> int:
    """FLOPs of one conv or transposed conv on one frame, from its build shape."""
    shape = layer._build_shapes_dict["input_shape"]
    cin = shape[-1]
    kh, kw = layer.kernel_size
    cout = layer.filters
    if isinstance(layer, keras.layers.Conv2DTranspose):
        positions = shape[1] * shape[2]  # every input pixel scatters a kernel
    else:
        out = layer.compute_output_shape(shape)
        positions = out[1] * out[2]
    return 2 * positions * kh * kw * cin * cout


def backbone_flops(module) -> int:
    """Forward FLOPs of an encoder or decoder on one frame."""
    return sum(conv_flops(layer) for layer in module._flatten_layers()
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)))


def dense_flops(layer) -> int:
    return 2 * math.prod(layer.kernel.shape)


def recurrent_flops(core) -> int:
    """Forward FLOPs of one time step of an LSTM stack with its embedding and heads (for
    SVG''s conv-LSTMs: every conv of the step, on the feature map)."""
    convs = [layer for layer in core._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    if convs:
        return sum(conv_flops(layer) for layer in convs)
    total = dense_flops(core.embed)
    for cell in core.cells:
        total += 2 * (math.prod(cell.kernel.shape) + math.prod(cell.recurrent_kernel.shape))
    for head in ("output_layer", "mu_layer", "logvar_layer"):
        if hasattr(core, head):
            total += dense_flops(getattr(core, head))
    return total


def training_flops_per_sequence(model) -> int:
    """Forward + backward FLOPs of one training sequence: T frames encoded once, T-1
    decoded, T-1 steps of the predictor, posterior and prior."""
    steps = model.svg_config.seq_len
    forward = steps * backbone_flops(model.encoder) + (steps - 1) * backbone_flops(model.decoder)
    for core in (model.frame_predictor, model.posterior, model.prior):
        if core is not None:
            forward += (steps - 1) * recurrent_flops(core)
    return 3 * forward
