"""The K/M table of docs/svg_prime.md: trainable parameters, the recurrent parts' share and
training FLOPs per sequence of SVG' (--architecture=svg_prime) over a grid of K and M.

    python tools/svg_prime_sizes.py [--dataset=smmnist] [--k=0.25,0.5,1] [--m=0.1,0.5,1]

Documentation tooling, not part of the svg_tf package. Counted from the built models
(nothing is trained); K = width / 64 and M = rnn_size / 512, as the VP2 SVG' code scales
them (its channels are int(64 * K) and int(512 * M)).
"""

from __future__ import annotations

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("dataset", "smmnist", "Dataset preset whose frames and horizon to use.")
    flags.DEFINE_list("k", ["0.25", "0.5", "1"], "K values (encoder/decoder channels).")
    flags.DEFINE_list("m", ["0.1", "0.5", "1"], "M values (recurrent channels).")


def sizes(dataset: str, k: float, m: float) -> dict:
    """Parameters (all, recurrent) and training FLOPs per sequence of the SVG-LP' model."""
    import svg_tf
    from svg_tf.flops import training_flops_per_sequence
    from svg_tf.models import build_model

    config = svg_tf.get_config(dataset, "lp", architecture="svg_prime", width=int(64 * k),
                               rnn_size=int(512 * m))
    model = build_model(config, compile=False)
    recurrent = sum(part.count_params() for part in
                    (model.frame_predictor, model.posterior, model.prior))
    return {"width": config.width, "rnn_size": config.rnn_size,
            "parameters": sum(int(v.shape.num_elements()) for v in model.trainable_variables),
            "recurrent": recurrent, "gflop": training_flops_per_sequence(model) / 1e9}


def main(argv):
    del argv
    print("| K (`--width`) | M (`--rnn_size`) | trainable parameters (LP) | of which recurrent "
          "| training GFLOP per sequence |")
    print("|---|---|---|---|---|")
    for k in map(float, FLAGS.k):
        for m in map(float, FLAGS.m):
            row = sizes(FLAGS.dataset, k, m)
            print(f"| {k:g} ({row['width']}) | {m:g} ({row['rnn_size']}) | "
                  f"{row['parameters']:,} | {row['recurrent']:,} | {row['gflop']:.1f} |")


if __name__ == "__main__":
    define_flags()
    app.run(main)
