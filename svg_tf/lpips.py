"""Kept for imports written before the LPIPS network moved into the metrics package: this
name is svg_tf.metrics.lpips_network."""

import sys

from svg_tf.metrics import lpips_network as _module

sys.modules[__name__] = _module
