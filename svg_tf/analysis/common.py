"""Shared by the analyses: load a SM-MNIST run and check it is one."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from svg_tf.datasets import smmnist


def load_smmnist_run(logdir, checkpoint=None):
    """(model, config) at the latest checkpoint, or at `checkpoint` (e.g. a kept one)."""
    from svg_tf.run_dir import load_run

    config, model = load_run(logdir, checkpoint)
    if config.dataset != smmnist.SPEC.name:
        raise ValueError(f"{logdir} trained on {config.dataset}: this analysis needs a "
                         "Stochastic Moving MNIST run")
    return model, config


def write_json(path, data):
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(data, f, indent=2)


def savefig(fig, path):
    """Lay out, write as PNG (any tf.io.gfile path) and free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
