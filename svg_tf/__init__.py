"""svg_tf: Stochastic Video Generation with a Learned Prior (Denton & Fergus, 2018) in
TensorFlow 2 / Keras 3.

The model and the run-directory loader are imported on first use. When a program runs
(`python -m svg_tf.train`, a console script, a tools/ script), TensorFlow is loaded quietly
whenever something first imports it, and not at all if the flags are refused
(svg_tf.cli.QuietImport).
"""

from svg_tf import cli as _cli

if _cli.started_as_program():
    _cli.QuietImport.install()

from svg_tf.config import PRESETS, SVGConfig, get_config  # noqa: E402

__version__ = "0.1.0"
__all__ = ["SVGConfig", "get_config", "PRESETS", "SVG", "build_model", "load_run", "__version__"]

_LAZY = {"SVG": "svg_tf.models", "build_model": "svg_tf.models", "load_run": "svg_tf.run_dir"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'svg_tf' has no attribute {name!r}")
