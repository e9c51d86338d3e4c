"""Make the LPIPS weights file: `python -m svg_tf.convert_lpips --alexnet=... --linear=...`.

--alexnet: torchvision's AlexNet state dict, alexnet-owt-7be5be79.pth (torchvision downloads
it to ~/.cache/torch/hub/checkpoints/ on `torchvision.models.alexnet(pretrained=True)`; the
URL is in torchvision's models/alexnet.py). --linear: the `lpips` package's
lpips/weights/v0.1/alex.pth (inside its wheel on PyPI). Neither needs PyTorch to read here;
the output .npz is what `evaluate --lpips_weights` and `svg_tf.metrics.lpips` use.
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags

from svg_tf import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("alexnet", None, "torchvision AlexNet state dict (alexnet-owt-7be5be79.pth).")
    flags.DEFINE_string("linear", None, "lpips package weights/v0.1/alex.pth.")
    flags.DEFINE_string("out", "lpips_alex.npz", "Output .npz.")


def convert(alexnet_path: str, linear_path: str, out: str) -> str:
    from svg_tf import lpips, torch_pickle

    states = []
    for flag, path in (("--alexnet", alexnet_path), ("--linear", linear_path)):
        if not os.path.isfile(path):
            raise ValueError(f"{flag}={path}: no such file")
        obj = torch_pickle.load(path)
        if not isinstance(obj, dict):
            raise ValueError(f"{flag}={path} holds a {type(obj).__name__}, not a state dict")
        states.append(torch_pickle.module_state_dict(obj))
    arrays = lpips.convert_weights(*states)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.alexnet or not FLAGS.linear:
        raise app.UsageError("--alexnet and --linear are required")
    try:
        path = convert(FLAGS.alexnet, FLAGS.linear, FLAGS.out)
    except ValueError as error:
        raise app.UsageError(str(error))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
