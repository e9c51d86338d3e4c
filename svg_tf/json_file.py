"""Reading a JSON object file that svg_tf (or one of its converters) wrote: config.json,
metrics.json, a data manifest. Whatever is wrong with it (missing, a folder, truncated,
garbage, a list) ends in a FileReadError naming it. Its own module so that readers of data
(datasets) need not import the run directory's module."""

from __future__ import annotations

import json

import tensorflow as tf

from svg_tf.errors import FileReadError


def read_json(path: str, what: str) -> dict:
    """The JSON object in `path`; FileReadError naming it when it is not one.

    Args:
      path: the file (local or any tf.io.gfile filesystem).
      what: what the file should be, for the message ("svg_tf config").
    """
    if tf.io.gfile.isdir(path):
        raise FileReadError(path, f"is a folder, not the {what} file")
    try:
        with tf.io.gfile.GFile(path) as f:
            value = json.loads(f.read())
    except (tf.errors.OpError, OSError) as error:
        raise FileReadError(path, f"cannot be read ({getattr(error, 'message', error)})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise FileReadError(path, f"is not valid JSON ({error}): truncated or damaged? "
                                  f"(expected the {what})") from None
    if not isinstance(value, dict):
        raise FileReadError(path, f"holds a JSON {type(value).__name__}, not the {what}")
    return value
