"""Convert an authors' SVG checkpoint (edenton/svg, PyTorch) into an svg_tf run directory.

    python -m svg_tf.convert_pytorch --checkpoint=svglp_bair.pth --logdir=runs/svglp_bair

Reads the released models (pretrained_models/svglp_smmnist2.pth, svglp_bair.pth) and any
checkpoint of train_svg_lp.py / train_svg_fp.py, in PyTorch's legacy or zip format, without
PyTorch. The run directory then works with evaluate, generate, export and the analyses; its
sampling default is the authors' test-time batch norm (sample_bn=batch).
"""

from __future__ import annotations

import time

from absl import flags

from svg_tf import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("checkpoint", None, "The authors' .pth file (model.pth of their "
                        "training scripts, or a released pretrained model).")
    flags.DEFINE_string("logdir", None, "New run directory to write (must not exist or be "
                        "empty).")


def main(argv):
    cli.check_arguments(argv, "checkpoint", "logdir")
    from svg_tf.torch_interop.authors_checkpoint import convert
    from svg_tf.train import parameter_table

    start = time.time()
    config, model = convert(FLAGS.checkpoint, FLAGS.logdir)  # CheckpointError: one line (cli)
    print(f"converted {FLAGS.checkpoint} -> {FLAGS.logdir} in {time.time() - start:.1f} s: "
          f"SVG-{config.model.upper()}, {config.dataset}, {config.backbone}{config.image_size}, "
          f"{config.channels} channel(s), skip={config.skip}, sample_bn={config.sample_bn}")
    print(parameter_table(model))
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
