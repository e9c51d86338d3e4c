"""Clips of video as TFRecord shards: the one record format, and its reader, of every dataset
converted from video files (KTH, and your own videos prepared by svg_tf.prepare_videos).

A record is one clip: a SequenceExample whose feature list `frames` holds one PNG per frame
and whose context holds num_frames, height, width and the dataset's own fields (KTH:
person, action, ...; own videos: the source file). The converters write shards with
`shard_writer`; its manifest.json records the frames per clip, so that a split in which no
clip is long enough is refused before reading a record.

Train: a random clip, then a random window of seq_len consecutive frames in it (as the
authors' KTH loader). Test: every clip once, each with one fixed window drawn from (seed,
clip index). Clips shorter than seq_len are skipped, counted and named. Only the frames of
the window are PNG-decoded.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow as tf

from svg_tf.datasets import records


def clip_example(frames, actions=None, **context) -> tf.train.SequenceExample:
    """uint8 frames `[T, H, W]` or `[T, H, W, C]` (and float actions `[T, A]`, one per frame)
    -> a SequenceExample of PNG frames; context values are ints or strings."""
    frames = np.asarray(frames, np.uint8)
    if frames.ndim == 3:
        frames = frames[..., None]
    encoded = [tf.io.encode_png(f).numpy() for f in frames]
    fields = dict(context, num_frames=len(frames), height=frames.shape[1],
                  width=frames.shape[2])
    feature = {key: _int(value) if isinstance(value, (int, np.integer)) else _bytes(value)
               for key, value in fields.items()}
    feature_lists = {"frames": tf.train.FeatureList(
        feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[e])) for e in encoded])}
    if actions is not None:
        feature_lists["actions"] = tf.train.FeatureList(feature=[
            tf.train.Feature(float_list=tf.train.FloatList(value=row))
            for row in np.asarray(actions, np.float32)])
    lists = tf.train.FeatureLists(feature_list=feature_lists)
    return tf.train.SequenceExample(context=tf.train.Features(feature=feature),
                                    feature_lists=lists)


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))


def parse_clip(serialized, action_dim=0):
    """A record -> {"frames": PNG strings, "num_frames"} (+ "actions" `[T, A]`)."""
    features = {"frames": tf.io.FixedLenSequenceFeature([], tf.string)}
    if action_dim:
        features["actions"] = tf.io.FixedLenSequenceFeature([action_dim], tf.float32)
    _, sequence = tf.io.parse_single_sequence_example(serialized, sequence_features=features)
    return dict(sequence, num_frames=tf.shape(sequence["frames"])[0])


def decode_window(pngs, start, seq_len, image_size, channels=1, name="kth"):
    """PNG strings -> float32 `[seq_len, S, S, channels]`, checking the frame size."""
    window = pngs[start:start + seq_len]
    frames = tf.map_fn(lambda p: tf.io.decode_png(p, channels=channels), window,
                       fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))
    check = tf.debugging.assert_equal(
        tf.shape(frames)[1:3], tf.constant([image_size, image_size]),
        message=f"{name} frames have the wrong size: expected"
                f" [{image_size}, {image_size}] (height, width); got")
    with tf.control_dependencies([check]):
        frames = tf.ensure_shape(tf.identity(frames), [seq_len, image_size, image_size,
                                                        channels])
    return tf.cast(frames, tf.float32) / 255.0


def read_manifest(data_dir, written_by):
    """The converter's manifest.json, or None without one; FileReadError when damaged. A
    preparation that did not finish is refused (its shards are a part of the data)."""
    path = os.path.join(data_dir, "manifest.json")
    if not tf.io.gfile.exists(path):
        return None
    from svg_tf.errors import FileReadError
    from svg_tf.json_file import read_json

    manifest = read_json(path, f"manifest of {written_by}")
    if manifest.get("complete") is False:
        raise FileReadError(path, f"the preparation did not finish: run {written_by} again "
                                  "with the same flags to resume it")
    return manifest


def clips_of(manifest, split):
    """[(name, frames)] of every clip of `split`, from the manifest ([] without one)."""
    found = []
    for key, info in sorted((manifest or {}).get("shards", {}).items()):
        if key.startswith(split + "/"):
            lengths = info.get("clip_lengths", [])
            names = info.get("clip_names") or [f"{key}#{i}" for i in range(len(lengths))]
            found.extend(zip(names, lengths))
    return found


def check_clip_lengths(clips, split, seq_len, name="kth", fix="convert longer clips"):
    """Refuse a split in which no clip holds seq_len frames (the train stream would filter
    every clip out and wait forever); warn with the count and names of skipped clips.
    `clips`: [(name, frames)], or bare frame counts."""
    clips = [c if isinstance(c, tuple) else (None, c) for c in clips]
    short = [(clip, n) for clip, n in clips if n < seq_len]
    if clips and len(short) == len(clips):
        flag = ("--n_past/--n_future (seq_len = n_past + n_future)" if split == "train"
                else "--n_eval")
        raise ValueError(f"{name} {split}: all {len(clips)} clips are shorter than "
                         f"seq_len={seq_len} frames (the longest has "
                         f"{max(n for _, n in clips)}): lower {flag}, or {fix}")
    if short:
        named = [f"{clip} ({n})" for clip, n in short[:5] if clip]
        more = f", ... {len(short) - 5} more" if len(short) > 5 and named else ""
        logging.warning("%s %s: skipping %d of %d clips shorter than seq_len=%d%s", name,
                        split, len(short), len(clips), seq_len,
                        (": " + ", ".join(named) + more) if named else "")


MAX_SHORT_IN_A_ROW = 1000


def _bounded_skipping(clips, seq_len, split, name):
    """Drop clips shorter than seq_len, but stop after MAX_SHORT_IN_A_ROW of them in a row:
    without a manifest, an endless training stream in which no clip is long enough would
    otherwise spin forever."""
    message = (f"{records.DATA_ERROR} {name} {split}: {MAX_SHORT_IN_A_ROW} clips in a row are "
               f"shorter than seq_len={seq_len} frames: lower --n_past/--n_future "
               "(seq_len = n_past + n_future), or convert longer clips")

    def count(short_in_a_row, clip):
        short = clip["num_frames"] < seq_len
        now = tf.where(short, short_in_a_row + 1, tf.constant(0, tf.int64))
        check = tf.debugging.assert_less(now, tf.constant(MAX_SHORT_IN_A_ROW, tf.int64),
                                         message=message)
        with tf.control_dependencies([check]):
            return tf.identity(now), (clip, short)

    def long_enough(clip, short):
        return tf.logical_not(short)

    def without_flag(clip, short):
        return clip

    return clips.scan(tf.constant(0, tf.int64), count).filter(long_enough).map(without_flag)


def shard_files(data_dir, split, name, how_to_get):
    return records.find_shards(os.path.join(data_dir, split) if data_dir else None,
                               ["*.tfrecord", "*.tfrecords"], name, how_to_get)


def load_clips(split, *, seq_len, data_dir, batch_size, seed, image_size, channels, name,
               how_to_get, written_by, skip_corrupt=False, verify="headers",
               exclude_files=(), fix="convert longer clips", action_dim=0):
    """A split of clip shards as a tf.data.Dataset of `[seq_len, S, S, channels]` windows
    (with action_dim, {"video", "actions" `[seq_len, A]`}); see `svg_tf.datasets.load`. The
    manifest's frame size, channels and action width must match."""
    files = shard_files(data_dir, split, name, how_to_get)
    manifest = read_manifest(data_dir, written_by)
    if action_dim and (manifest or {}).get("action_dim", 0) != action_dim:
        raise ValueError(f"{data_dir} holds clips with {(manifest or {}).get('action_dim', 0)}"
                         f"-dimensional actions; the run expects {action_dim}")
    for field, wanted in (("image_size", image_size), ("channels", channels)):
        held = (manifest or {}).get(field)
        if held not in (None, wanted):
            unit = "px" if field == "image_size" else "channel"
            raise ValueError(f"{data_dir} holds {held} {unit} {name} frames; expected "
                             f"{field}={wanted} (re-convert with --{field}={wanted})")
    check_clip_lengths(clips_of(manifest, split), split, seq_len, name, fix)
    files = records.check_shards(files, verify, skip_corrupt, exclude_files)
    training = split == "train"
    clips = records.record_stream(files, training, seed, skip_corrupt).map(
        lambda r: parse_clip(r, action_dim), num_parallel_calls=tf.data.AUTOTUNE)
    if training and not clips_of(manifest, split):
        clips = _bounded_skipping(clips, seq_len, split, name)  # checked as it runs
    else:
        clips = clips.filter(lambda c: c["num_frames"] >= seq_len)
    base_seed = 0 if seed is None else int(seed)

    def window(clip, start):
        video = decode_window(clip["frames"], start, seq_len, image_size, channels, name)
        if not action_dim:
            return video
        return {"video": video, "actions": tf.ensure_shape(
            clip["actions"][start:start + seq_len], [seq_len, action_dim])}

    if training:
        clips = clips.shuffle(64, seed=seed)
        draws = tf.data.Dataset.random(seed=base_seed)
        data = tf.data.Dataset.zip(clips, draws).map(
            lambda c, r: window(c, tf.cast(
                r % tf.cast(c["num_frames"] - seq_len + 1, tf.int64), tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE)
    else:
        def fixed_window(index, clip):
            span = clip["num_frames"] - seq_len + 1
            start = tf.random.stateless_uniform([], [base_seed, tf.cast(index, tf.int32)],
                                                maxval=span, dtype=tf.int32)
            return window(clip, start)

        data = clips.enumerate().map(fixed_window, num_parallel_calls=tf.data.AUTOTUNE,
                                     deterministic=True)
    if batch_size:
        data = data.batch(batch_size, drop_remainder=training)
    return data.prefetch(tf.data.AUTOTUNE)
