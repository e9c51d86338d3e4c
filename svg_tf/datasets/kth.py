"""KTH Actions from the TFRecord shards written by data/convert_kth.py.

Train: a random clip, then a random window of seq_len consecutive frames in it (as the
authors' loader). Test: every clip once, each with one fixed window drawn from (seed, clip
index). Clips shorter than seq_len are skipped and counted. Only the frames of the window
are PNG-decoded.
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from svg_tf.datasets import records

HOW_TO_GET = ("Download KTH with data/download_kth.sh RAW, then convert it with "
              "python data/convert_kth.py --raw_dir=RAW --out_dir=DIR and pass data_dir=DIR.")


def parse_clip(serialized):
    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features={"num_frames": tf.io.FixedLenFeature([], tf.int64),
                          "person": tf.io.FixedLenFeature([], tf.int64),
                          "action": tf.io.FixedLenFeature([], tf.string)},
        sequence_features={"frames": tf.io.FixedLenSequenceFeature([], tf.string)})
    return {"frames": sequence["frames"], "num_frames": tf.shape(sequence["frames"])[0],
            "person": context["person"], "action": context["action"]}


def decode_window(pngs, start, seq_len, image_size):
    """PNG strings -> float32 `[seq_len, S, S, 1]`, checking the frame size."""
    window = pngs[start:start + seq_len]
    frames = tf.map_fn(lambda p: tf.io.decode_png(p, channels=1), window,
                       fn_output_signature=tf.TensorSpec([None, None, 1], tf.uint8))
    check = tf.debugging.assert_equal(
        tf.shape(frames)[1:3], tf.constant([image_size, image_size]),
        message=f"KTH frames have the wrong size: expected [{image_size}, {image_size}] "
                "(height, width); got")
    with tf.control_dependencies([check]):
        frames = tf.ensure_shape(tf.identity(frames), [seq_len, image_size, image_size, 1])
    return tf.cast(frames, tf.float32) / 255.0


def read_manifest(data_dir):
    path = os.path.join(data_dir, "manifest.json")
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def count_short_clips(manifest, split, seq_len):
    lengths = [n for key, info in (manifest or {}).get("shards", {}).items()
               if key.startswith(split + "/") for n in info.get("clip_lengths", [])]
    return sum(n < seq_len for n in lengths), len(lengths)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, image_size=64,
         skip_corrupt=False, verify="framing"):
    """KTH as a tf.data.Dataset; see `svg_tf.datasets.load`."""
    files = records.find_shards(os.path.join(data_dir, split) if data_dir else None,
                                ["*.tfrecord", "*.tfrecords"], "kth", HOW_TO_GET)
    manifest = read_manifest(data_dir)
    if manifest and manifest.get("image_size") not in (None, image_size):
        raise ValueError(f"{data_dir} holds {manifest['image_size']} px KTH frames; "
                         f"expected image_size={image_size} (re-convert with "
                         f"--image_size={image_size})")
    short, total = count_short_clips(manifest, split, seq_len)
    if short:
        logging.warning("kth %s: skipping %d of %d clips shorter than seq_len=%d", split,
                        short, total, seq_len)
    files = records.check_shards(files, verify, skip_corrupt)
    training = split == "train"
    clips = records.record_stream(files, training, seed, skip_corrupt).map(
        parse_clip, num_parallel_calls=tf.data.AUTOTUNE)
    clips = clips.filter(lambda c: c["num_frames"] >= seq_len)
    base_seed = 0 if seed is None else int(seed)

    if training:
        clips = clips.shuffle(64, seed=seed)
        draws = tf.data.Dataset.random(seed=base_seed)
        data = tf.data.Dataset.zip(clips, draws).map(
            lambda c, r: decode_window(
                c["frames"], tf.cast(r % tf.cast(c["num_frames"] - seq_len + 1, tf.int64),
                                     tf.int32), seq_len, image_size),
            num_parallel_calls=tf.data.AUTOTUNE)
    else:
        def fixed_window(index, clip):
            span = clip["num_frames"] - seq_len + 1
            start = tf.random.stateless_uniform([], [base_seed, tf.cast(index, tf.int32)],
                                                maxval=span, dtype=tf.int32)
            return decode_window(clip["frames"], start, seq_len, image_size)

        data = clips.enumerate().map(fixed_window, num_parallel_calls=tf.data.AUTOTUNE,
                                     deterministic=True)
    if batch_size:
        data = data.batch(batch_size, drop_remainder=training)
    return data.prefetch(tf.data.AUTOTUNE)
