"""Kept for imports written before svg_tf.torch_interop: this name is
svg_tf.torch_interop.authors_checkpoint."""

import sys

from svg_tf.torch_interop import authors_checkpoint as _module

sys.modules[__name__] = _module
