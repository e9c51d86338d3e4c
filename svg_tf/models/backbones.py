"""Frame encoders and decoders: DCGAN (SM-MNIST) and VGG (KTH, BAIR) at 64 and 128 px, and
SVG''s VGG whose h is an 8x8 map (vgg_map).

All take and return time-major groups of frames (`[G, B, ...]`, see layers.py). An encoder
maps frames to `h` of size g_dim plus the skip tensors the decoder concatenates at each
resolution (outermost first); a decoder maps `(g, skips)` to frames through a sigmoid.
Layer sizes follow the authors' models/dcgan_{64,128}.py and vgg_{64,128}.py; `width` (64 in
the paper) scales every convolution, for small CPU experiments.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras
import tensorflow as tf

from svg_tf.models.layers import (ConvBlock, build_sublayers, merge_groups, split_groups,
                                  track_layers)

# Channel multiplier of each down-sampling stage per frame size: the sizes a backbone supports.
STAGE_MULTIPLIERS = {64: (1, 2, 4, 8), 128: (1, 2, 4, 8, 8)}


def stage_channels(image_size: int, width: int = 64) -> list[int]:
    """Channels of each down-sampling stage: 64,128,256,512 (+512 at 128 px)."""
    if image_size not in STAGE_MULTIPLIERS:
        raise ValueError(f"image_size={image_size!r} is invalid: expected one of "
                         f"{list(STAGE_MULTIPLIERS)}")
    return [width * m for m in STAGE_MULTIPLIERS[image_size]]


class _Backbone(keras.layers.Layer):
    """Shared constructor arguments and config of all encoders and decoders."""

    def __init__(self, image_size=64, channels=1, g_dim=128, width=64, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.channels = channels
        self.g_dim = g_dim
        self.width = width
        self.stages = stage_channels(image_size, width)

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, channels=self.channels, g_dim=self.g_dim,
                      width=self.width)
        return config


def _encode_head(block, x, training):
    """Final 4x4 valid conv to a 1x1 map, returned as `[G, B, g_dim]`."""
    h = block(x, training=training)
    return tf.reshape(h, [tf.shape(h)[0], -1, h.shape[-1]])


def _as_map(g):
    """`[G, B, g_dim]` -> `[G, B, 1, 1, g_dim]` for the first transposed conv."""
    return g[:, :, None, None, :]


@keras.saving.register_keras_serializable(package="svg_tf")
class DCGANEncoder(_Backbone):
    """DCGAN discriminator: stride-2 4x4 convs, then a 4x4 valid conv to g_dim and tanh."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = track_layers(self, "block", [
            ConvBlock(c, 4, strides=2, padding="same", name=f"c{i + 1}")
            for i, c in enumerate(self.stages)])
        self.head = ConvBlock(self.g_dim, 4, padding="valid", activation="tanh",
                              name=f"c{len(self.stages) + 1}")

    def build(self, input_shape):
        build_sublayers(self, input_shape)

    def call(self, x, training=False):
        skips = []
        for block in self.blocks:
            x = block(x, training=training)
            skips.append(x)
        return _encode_head(self.head, x, training), skips


@keras.saving.register_keras_serializable(package="svg_tf")
class DCGANDecoder(_Backbone):
    """DCGAN generator with the encoder's skips concatenated before each up-convolution."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.head = ConvBlock(self.stages[-1], 4, padding="valid", transpose=True, name="upc1")
        outputs = self.stages[:-1][::-1] + [self.channels]
        self.blocks = track_layers(self, "block", [
            ConvBlock(c, 4, strides=2, padding="same", transpose=True,
                      normalize=i < len(outputs) - 1,
                      activation="leaky_relu" if i < len(outputs) - 1 else "sigmoid",
                      name=f"upc{i + 2}")
            for i, c in enumerate(outputs)])

    def build(self, g_shape, skips_shape):
        build_sublayers(self, g_shape, skips_shape)

    def call(self, g, skips, training=False):
        x = self.head(_as_map(g), training=training)
        for block, skip in zip(self.blocks, reversed(skips)):
            x = block(tf.concat([x, skip], axis=-1), training=training)
        return x


@keras.saving.register_keras_serializable(package="svg_tf")
class VGGEncoder(_Backbone):
    """VGG16 up to its last pool: [3x3 conv, BN, LReLU] blocks, 2x2 max-pool between stages."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        depth = [2, 2, 3, 3, 3]
        self.stage_blocks = [
            track_layers(self, f"stage{s}",
                         [ConvBlock(c, 3, name=f"c{s + 1}_{j + 1}") for j in range(depth[s])])
            for s, c in enumerate(self.stages)]
        self.head = self._head()

    def _head(self):
        """The 4x4 valid conv from the last pool's 4x4 map to h."""
        return ConvBlock(self.g_dim, 4, padding="valid", activation="tanh",
                         name=f"c{len(self.stages) + 1}")

    def build(self, input_shape):
        build_sublayers(self, input_shape)

    def _stages(self, x, training):
        """The VGG stages: (the last stage's output, the skip of every stage)."""
        skips = []
        for s, blocks in enumerate(self.stage_blocks):
            if s > 0:
                x = _max_pool(x)
            for block in blocks:
                x = block(x, training=training)
            skips.append(x)
        return x, skips

    def call(self, x, training=False):
        x, skips = self._stages(x, training)
        return _encode_head(self.head, _max_pool(x), training), skips


@keras.saving.register_keras_serializable(package="svg_tf")
class VGGDecoder(_Backbone):
    """The VGG encoder mirrored: nearest x2 up-sampling, concat skip, 3x3 conv blocks."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        depth = [2, 2, 3, 3, 3]
        self.head = self._head()
        self.stage_blocks = []
        for s in reversed(range(len(self.stages))):
            c = self.stages[s]
            if s > 0:
                outs = [c] * (depth[s] - 1) + [self.stages[s - 1]]
                blocks = [ConvBlock(o, 3) for o in outs]
            else:  # outermost stage: one conv block, then a 3x3 transposed conv to frames
                blocks = [ConvBlock(c, 3),
                          ConvBlock(self.channels, 3, transpose=True, normalize=False,
                                    activation="sigmoid")]
            self.stage_blocks.append(track_layers(self, f"stage{s}", blocks))

    def _head(self):
        """The 4x4 transposed conv from h to a 4x4 map."""
        return ConvBlock(self.stages[-1], 4, padding="valid", transpose=True, name="upc1")

    def build(self, g_shape, skips_shape):
        build_sublayers(self, g_shape, skips_shape)

    def call(self, g, skips, training=False):
        x = self.head(_as_map(g), training=training)
        for blocks, skip in zip(self.stage_blocks, reversed(skips)):
            x = tf.concat([_upsample(x), skip], axis=-1)
            for block in blocks:
                x = block(x, training=training)
        return x


@keras.saving.register_keras_serializable(package="svg_tf")
class VGGMapEncoder(VGGEncoder):
    """SVG''s encoder: the VGG stages, ending at an 8x8 map instead of a vector (a 3x3 conv
    to g_dim channels, BN and tanh after the last stage): h is `[G, B, 8, 8, g_dim]`."""

    def _head(self):
        return ConvBlock(self.g_dim, 3, activation="tanh", name=f"c{len(self.stages) + 1}")

    def call(self, x, training=False):
        x, skips = self._stages(x, training)
        return self.head(x, training=training), skips


@keras.saving.register_keras_serializable(package="svg_tf")
class VGGMapDecoder(VGGDecoder):
    """The map encoder mirrored: a 3x3 conv from the 8x8 g map, then the VGG decoder's
    stages (the innermost skip is already 8x8, so it is concatenated without up-sampling)."""

    def _head(self):
        return ConvBlock(self.stages[-1], 3, name="upc1")

    def call(self, g, skips, training=False):
        x = self.head(g, training=training)
        for s, (blocks, skip) in enumerate(zip(self.stage_blocks, reversed(skips))):
            x = tf.concat([_upsample(x) if s > 0 else x, skip], axis=-1)
            for block in blocks:
                x = block(x, training=training)
        return x


def _max_pool(x):
    groups = tf.shape(x)[0]
    return split_groups(tf.nn.max_pool2d(merge_groups(x), 2, 2, "VALID"), groups)


def _upsample(x):
    """Nearest-neighbour x2, as nn.UpsamplingNearest2d(scale_factor=2)."""
    groups = tf.shape(x)[0]
    y = merge_groups(x)
    y = tf.repeat(tf.repeat(y, 2, axis=1), 2, axis=2)
    return split_groups(y, groups)


def _dcgan_authors_blocks(encoder, decoder):
    """Every conv block with its tensor names in the authors' models/dcgan_64.py (and
    dcgan_128.py): (block, module, conv prefix, batch-norm prefix or None)."""
    blocks = [(b, "encoder", f"c{i + 1}.main.0", f"c{i + 1}.main.1")
              for i, b in enumerate(encoder.blocks)]
    blocks.append((decoder.head, "decoder", "upc1.0", "upc1.1"))
    for i, b in enumerate(decoder.blocks):
        blocks.append((b, "decoder", f"upc{i + 2}.main.0", f"upc{i + 2}.main.1")
                      if b.norm is not None else (b, "decoder", f"upc{i + 2}.0", None))
    n = len(encoder.stages)
    return blocks + [(encoder.head, "encoder", f"c{n + 1}.0", f"c{n + 1}.1")]


def _vgg_authors_blocks(encoder, decoder):
    """As `_dcgan_authors_blocks`, for the authors' models/vgg_64.py (and vgg_128.py)."""
    blocks = [(b, "encoder", f"c{s + 1}.{j}.main.0", f"c{s + 1}.{j}.main.1")
              for s, stage in enumerate(encoder.stage_blocks) for j, b in enumerate(stage)]
    blocks.append((decoder.head, "decoder", "upc1.0", "upc1.1"))
    for k, stage in enumerate(decoder.stage_blocks):
        for j, b in enumerate(stage):
            blocks.append((b, "decoder", f"upc{k + 2}.{j}.main.0", f"upc{k + 2}.{j}.main.1")
                          if b.norm is not None else (b, "decoder", f"upc{k + 2}.{j}", None))
    n = len(encoder.stages)
    return blocks + [(encoder.head, "encoder", f"c{n + 1}.0", f"c{n + 1}.1")]


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """An encoder/decoder pair, the frame sizes it is built for and, for the authors'
    backbones, how their released checkpoints name its tensors.

    authors_blocks(encoder, decoder): [(conv block, "encoder" | "decoder", conv prefix,
        batch-norm prefix or None)] in the authors' state dicts (None: no such checkpoints;
        conversion refuses this backbone).
    authors_stage_key: regex of the first conv weight of each down-sampling stage in the
        authors' encoder state dict, group 1 the stage number (recognises the backbone of a
        checkpoint and counts its stages).
    """

    encoder: type
    decoder: type
    image_sizes: tuple[int, ...] = tuple(STAGE_MULTIPLIERS)
    authors_blocks: Callable[[Any, Any], list] | None = None
    authors_stage_key: str | None = None
    feature_map: int | None = None  # h is a vector (None) or a square map of this size
    # Floats a training step keeps per frame, encoder and decoder together, per unit of
    # width * image_size**2 (conv, batch-norm and activation outputs, skips, their copies for
    # the decoder), measured as the peak-memory slope over the batch (svg_tf.memory's
    # estimate): dcgan 5.0, vgg 33.3, vgg_map 34.3 (36.2 at batch 50); rounded up.
    maps_per_width_pixel: float = 38


# Adding a backbone: its two layer classes plus one line here.
REGISTRY: dict[str, BackboneSpec] = {
    "dcgan": BackboneSpec(DCGANEncoder, DCGANDecoder, authors_blocks=_dcgan_authors_blocks,
                          authors_stage_key=r"c(\d+)\.main\.0\.weight",
                          maps_per_width_pixel=6),
    "vgg": BackboneSpec(VGGEncoder, VGGDecoder, authors_blocks=_vgg_authors_blocks,
                        authors_stage_key=r"c(\d+)\.0\.main\.0\.weight"),
    "vgg_map": BackboneSpec(VGGMapEncoder, VGGMapDecoder, feature_map=8),
}
BACKBONE_NAMES = tuple(REGISTRY)


def make_backbone(name, image_size=64, channels=1, g_dim=128, width=64):
    """(encoder, decoder) of the registered backbone `name`."""
    if name not in REGISTRY:
        raise ValueError(f"backbone={name!r} is invalid: expected one of {list(BACKBONE_NAMES)}")
    spec = REGISTRY[name]
    if image_size not in spec.image_sizes:
        raise ValueError(f"image_size={image_size!r} is invalid for backbone {name!r}: "
                         f"expected one of {list(spec.image_sizes)}")
    args = dict(image_size=image_size, channels=channels, g_dim=g_dim, width=width)
    return spec.encoder(name="encoder", **args), spec.decoder(name="decoder", **args)


__all__ = ["BackboneSpec", "REGISTRY", "DCGANEncoder", "DCGANDecoder", "VGGEncoder",
           "VGGDecoder", "VGGMapEncoder", "VGGMapDecoder", "make_backbone", "stage_channels"]
