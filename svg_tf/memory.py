"""Whether a model, a training step or a sampling request fits this machine, estimated from
the config before anything is built, so that a size that cannot fit ends in one line giving
the estimate ("width=512 and batch_size=16384 need about 900 GB for a training step; this
machine has 24 GB") instead of minutes of swapping and a kill. The estimates are rough
upper bounds of the dominant terms (TensorFlow's own footprint; float32 weights and their
Adam state; the conv feature maps of every frame of the batch, kept for the backward pass,
per backbone as measured), between 1 and 2 times the measured peaks; a size that fits a
bigger machine is refused only on a smaller one.
"""

from __future__ import annotations

import os

GB = 2 ** 30
FLOAT = 4  # bytes
# What a training or sampling process holds before its batch: the TensorFlow runtime, the
# traced graphs and the input pipeline (1.3 GB measured for a small model's training).
RUNTIME_BYTES = 3 * GB // 2


def machine_bytes() -> int | None:
    """Physical memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def parameters(config) -> int:
    """About the trainable parameters of `config`'s model, counted as DCGAN's 4x4 convs
    (the DCGAN presets within 10%; VGG's 3x3 stacks have about twice as many)."""
    w, g, z, r, c = config.width, config.g_dim, config.z_dim, config.rnn_size, config.channels
    convs = 16 * (126 * w * w + 2 * c * w + 16 * w * g)  # 4x4 convs; decoder skips double
    layers = config.predictor_rnn_layers + config.posterior_rnn_layers + (
        config.prior_rnn_layers if config.model == "lp" else 0)
    lstms = 8 * r * r * layers + r * (3 * g + 4 * z + 2 * g)
    if config.architecture == "svg_prime":  # conv-LSTMs: every weight a 3x3 kernel
        from svg_tf.models.conv_recurrent import KERNEL

        lstms *= KERNEL ** 2
    return convs + lstms


def frame_maps(config) -> int:
    """Feature-map floats of one frame through the encoder and the decoder (the backbone's
    measured `maps_per_width_pixel`)."""
    from svg_tf.models.backbones import REGISTRY

    per_pixel = REGISTRY[config.backbone].maps_per_width_pixel
    return int(per_pixel * config.width * config.image_size ** 2)


def training_bytes(config) -> int:
    """Weights, gradients and two Adam slots, plus the feature maps of one step's batch."""
    activations = config.batch_size * config.seq_len * frame_maps(config)
    return RUNTIME_BYTES + FLOAT * (4 * parameters(config) + activations)


def sampling_bytes(config, batch: int, num_samples: int, frames: int) -> int:
    """The sampled frames of a request, plus the feature maps of one frame of each sample."""
    rows = batch * num_samples
    pixels = config.image_size ** 2 * config.channels
    return RUNTIME_BYTES + FLOAT * (parameters(config)
                                    + rows * (frames * pixels + frame_maps(config)))


def check_fits(needed: int, what: str, way_out: str) -> None:
    """ValueError (a one-line refusal) when `needed` bytes exceed this machine's memory."""
    total = machine_bytes()
    if total and needed > total:
        raise ValueError(f"{what} needs about {needed / GB:,.1f} GB; this machine has "
                         f"{total / GB:,.1f} GB: {way_out}")


def check_model(config) -> None:
    check_fits(FLOAT * 4 * parameters(config),
               f"a model of width={config.width}, g_dim={config.g_dim}, rnn_size="
               f"{config.rnn_size} and {config.predictor_rnn_layers}+"
               f"{config.posterior_rnn_layers}+{config.prior_rnn_layers} LSTM layers (weights "
               "and optimizer state)", "lower them")


def largest_training_batch(config, total: int) -> int:
    """The largest batch_size whose training step `training_bytes` fits in `total` bytes
    (0: none does)."""
    one = training_bytes(config.replace(batch_size=1))
    per_sequence = FLOAT * config.seq_len * frame_maps(config)
    return max(0, (total - one) // per_sequence + 1) if total >= one else 0


def check_training(config) -> None:
    total = machine_bytes()
    fits = largest_training_batch(config, total) if total else 0
    check_fits(training_bytes(config),
               f"training with width={config.width}, rnn_size={config.rnn_size}, batch_size="
               f"{config.batch_size} and {config.seq_len} frames (n_past + n_future)",
               f"lower them (batch_size={fits} fits at these sizes)" if fits else "lower them")


def check_sampling(config, batch, num_samples, frames, flags="--batch_size or --num_samples"):
    check_fits(sampling_bytes(config, batch, num_samples, frames),
               f"sampling {num_samples} samples of {batch} sequences of {frames} frames",
               f"lower {flags}")
