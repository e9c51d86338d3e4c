"""Make the LPIPS weights file: `python -m svg_tf.convert_lpips --alexnet=... --linear=...`.

--alexnet: torchvision's AlexNet state dict, alexnet-owt-7be5be79.pth (torchvision downloads
it to ~/.cache/torch/hub/checkpoints/ on `torchvision.models.alexnet(pretrained=True)`; the
URL is in torchvision's models/alexnet.py). --linear: the `lpips` package's
lpips/weights/v0.1/alex.pth (inside its wheel on PyPI). Neither needs PyTorch to read here;
the output .npz (svg_tf.torch_interop.lpips_weights) is what `evaluate --lpips_weights` and
`svg_tf.metrics.lpips` use.
"""

from __future__ import annotations

from absl import flags

from svg_tf import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("alexnet", None,
                        "torchvision AlexNet state dict (alexnet-owt-7be5be79.pth).")
    flags.DEFINE_string("linear", None, "lpips package weights/v0.1/alex.pth.")
    flags.DEFINE_string("out", "lpips_alex.npz", "Output .npz.")


def main(argv):
    cli.check_arguments(argv, "alexnet", "linear")
    from svg_tf.torch_interop.lpips_weights import convert

    path = convert(FLAGS.alexnet, FLAGS.linear, FLAGS.out)  # FileReadError: one line (cli)
    print(f"wrote {path}")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
