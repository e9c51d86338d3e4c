"""Backbones at 64 and 128 px, any channel count: output shapes and skip tensors."""

import numpy as np
import pytest
import tensorflow as tf

from layer_harness import check_layer, random_frames
from svg_tf.models.backbones import REGISTRY as BACKBONES
from svg_tf.models.backbones import make_backbone, stage_channels


@pytest.mark.parametrize("name", ["dcgan", "vgg"])
@pytest.mark.parametrize("size, channels", [(64, 1), (64, 3), (128, 2)])
def test_shapes_and_skips(name, size, channels):
    encoder, decoder = make_backbone(name, image_size=size, channels=channels, g_dim=12, width=4)
    frames = tf.random.uniform([2, 3, size, size, channels])  # 2 groups (time steps) of 3
    h, skips = encoder(frames, training=True)
    assert h.shape == (2, 3, 12)
    stages = stage_channels(size, 4)
    assert len(skips) == (4 if size == 64 else 5)
    for k, skip in enumerate(skips):
        spatial = size // 2 ** (k + 1) if name == "dcgan" else size // 2 ** k
        assert skip.shape == (2, 3, spatial, spatial, stages[k])
    out = decoder(h, skips, training=True)
    assert out.shape == frames.shape
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    assert float(tf.reduce_max(tf.abs(h))) <= 1.0  # tanh


def test_batch_norm_statistics_are_per_group():
    """Each time step is normalised with its own batch statistics, as per-frame calls do."""
    encoder, _ = make_backbone("dcgan", g_dim=8, width=4)
    frames = tf.random.uniform([3, 4, 64, 64, 1], seed=1)
    frames = frames * tf.constant([1.0, 5.0, 0.2])[:, None, None, None, None]
    grouped = encoder(frames, training=True)[1][0]
    for t in range(3):
        single = encoder(frames[t:t + 1], training=True)[1][0]
        np.testing.assert_allclose(grouped[t:t + 1], single, atol=1e-5)
    pooled = encoder(tf.reshape(frames, [1, 12, 64, 64, 1]), training=True)[1][0]
    assert not np.allclose(tf.reshape(pooled, grouped.shape), grouped, atol=1e-3)


def test_unknown_backbone():
    with pytest.raises(ValueError, match="backbone='resnet'.*dcgan"):
        make_backbone("resnet")


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_encoder_and_decoder_round_trip_through_the_layer_harness(name, tmp_path):
    spec = BACKBONES[name]
    encoder = spec.encoder(image_size=64, channels=1, g_dim=8, width=4)
    frames = random_frames([2, 2, 64, 64, 1])
    check_layer(encoder, (frames,), tmp_path / "encoder")
    h, skips = encoder(frames)
    check_layer(spec.decoder(image_size=64, channels=1, g_dim=8, width=4), (h, skips),
                tmp_path / "decoder")


@pytest.mark.parametrize("size", [64, 128])
def test_the_map_backbone_gives_an_8x8_h_with_the_vgg_skips(size):
    """SVG''s vgg_map: the VGG stages without the last pool and 4x4 head, h an 8x8 map."""
    encoder, decoder = make_backbone("vgg_map", image_size=size, channels=3, g_dim=12, width=4)
    frames = tf.random.uniform([2, 3, size, size, 3])
    h, skips = encoder(frames, training=True)
    assert h.shape == (2, 3, 8, 8, 12) and BACKBONES["vgg_map"].feature_map == 8
    assert [s.shape[2] for s in skips] == [size // 2 ** k for k in range(len(skips))]
    assert decoder(h, skips, training=True).shape == frames.shape
