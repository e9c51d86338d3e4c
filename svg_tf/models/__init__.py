"""Keras models of SVG: backbones, recurrent parts, latents, generation and the model."""

from svg_tf.models.backbones import make_backbone
from svg_tf.models.build import build_model
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack
from svg_tf.models.svg import SVG

__all__ = ["SVG", "build_model", "make_backbone", "GaussianLSTM", "LSTMStack"]
