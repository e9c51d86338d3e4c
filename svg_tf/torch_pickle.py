"""Kept for imports written before svg_tf.torch_interop: this name is
svg_tf.torch_interop.torch_file."""

import sys

from svg_tf.torch_interop import torch_file as _module

sys.modules[__name__] = _module
