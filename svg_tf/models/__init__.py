"""Keras models of SVG: backbones, recurrent parts and the SVG model itself."""

from svg_tf.models.backbones import make_backbone
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack
from svg_tf.models.svg import SVG, build_model, skip_frame_indices

__all__ = ["SVG", "build_model", "skip_frame_indices", "make_backbone", "GaussianLSTM",
           "LSTMStack"]
