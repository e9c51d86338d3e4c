"""KTH Actions from the TFRecord shards written by data/convert_kth.py.

Train: a random clip, then a random window of seq_len consecutive frames in it (as the
authors' loader). Test: every clip once, each with one fixed window drawn from (seed, clip
index). Clips shorter than seq_len are skipped and counted. Only the frames of the window
are PNG-decoded.
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf

from svg_tf.datasets import records
from svg_tf.datasets.spec import DatasetSpec, restart_seed

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
    """The converter's manifest.json, or None without one; FileReadError when damaged."""
    path = os.path.join(data_dir, "manifest.json")
    if not tf.io.gfile.exists(path):
        return None
    from svg_tf.run_dir import read_json

    return read_json(path, "manifest of data/convert_kth.py")


def clip_lengths(manifest, split):
    """Frames per clip of `split`, from the converter's manifest ([] without one)."""
    return [n for key, info in (manifest or {}).get("shards", {}).items()
            if key.startswith(split + "/") for n in info.get("clip_lengths", [])]


def check_clip_lengths(lengths, split, seq_len):
    """Refuse a split in which no clip holds seq_len frames (the train stream would filter
    every clip out and wait forever); warn with the count of clips that are skipped."""
    short = sum(n < seq_len for n in lengths)
    if lengths and short == len(lengths):
        flag = ("--n_past/--n_future (seq_len = n_past + n_future)" if split == "train"
                else "--n_eval")
        raise ValueError(f"kth {split}: all {len(lengths)} clips are shorter than "
                         f"seq_len={seq_len} frames (the longest has {max(lengths)}): lower "
                         f"{flag}, or convert longer clips")
    if short:
        logging.warning("kth %s: skipping %d of %d clips shorter than seq_len=%d", split,
                        short, len(lengths), seq_len)


MAX_SHORT_IN_A_ROW = 1000


def _bounded_skipping(clips, seq_len, split):
    """Drop clips shorter than seq_len, but stop with the message of `check_clip_lengths`
    after MAX_SHORT_IN_A_ROW of them in a row: without a manifest, an endless training
    stream in which no clip is long enough would otherwise spin forever."""
    message = (f"{records.DATA_ERROR} kth {split}: {MAX_SHORT_IN_A_ROW} clips in a row are "
               f"shorter than seq_len={seq_len} frames: lower --n_past/--n_future "
               "(seq_len = n_past + n_future), or convert longer clips")

    def count(short_in_a_row, clip):
        short = clip["num_frames"] < seq_len
        now = tf.where(short, short_in_a_row + 1, tf.constant(0, tf.int64))
        check = tf.debugging.assert_less(now, tf.constant(MAX_SHORT_IN_A_ROW, tf.int64),
                                         message=message)
        with tf.control_dependencies([check]):
            return tf.identity(now), (clip, short)

    return clips.scan(tf.constant(0, tf.int64), count).filter(
        lambda clip, short: tf.logical_not(short)).map(lambda clip, short: clip)


def shard_files(data_dir, split):
    return records.find_shards(os.path.join(data_dir, split) if data_dir else None,
                               ["*.tfrecord", "*.tfrecords"], "kth", HOW_TO_GET)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, image_size=64,
         skip_corrupt=False, verify="headers", exclude_files=()):
    """KTH as a tf.data.Dataset; see `svg_tf.datasets.load`."""
    files = shard_files(data_dir, split)
    manifest = read_manifest(data_dir)
    if manifest and manifest.get("image_size") not in (None, image_size):
        raise ValueError(f"{data_dir} holds {manifest['image_size']} px KTH frames; "
                         f"expected image_size={image_size} (re-convert with "
                         f"--image_size={image_size})")
    check_clip_lengths(clip_lengths(manifest, split), split, seq_len)
    files = records.check_shards(files, verify, skip_corrupt, exclude_files)
    training = split == "train"
    clips = records.record_stream(files, training, seed, skip_corrupt).map(
        parse_clip, num_parallel_calls=tf.data.AUTOTUNE)
    if training and not clip_lengths(manifest, split):
        clips = _bounded_skipping(clips, seq_len, split)  # no manifest: checked as it runs
    else:
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


SPEC = DatasetSpec(
    name="kth", load=load, needs_data_dir=True, how_to_get=HOW_TO_GET, channels=(1,),
    image_sizes=(64, 128),
    train_options=lambda config, step: dict(image_size=config.image_size,
                                            seed=restart_seed(config, step)),
    test_options=lambda config, num_sequences: dict(image_size=config.image_size),
    cli_options=records.CLI_OPTIONS, shard_files=shard_files)
