"""svg_tf: Stochastic Video Generation with a Learned Prior (Denton & Fergus, 2018) in
TensorFlow 2 / Keras 3."""

from svg_tf.config import PRESETS, SVGConfig, get_config
from svg_tf.models import SVG, build_model
from svg_tf.run_dir import load_run

__version__ = "0.1.0"
__all__ = ["SVGConfig", "get_config", "PRESETS", "SVG", "build_model", "load_run", "__version__"]
