"""BAIR robot pushing (softmotion30_44k), read from the original TFRecords.

Each tf.train.Example holds 30 frames: `'{i}/image_aux1/encoded'` is the raw 64x64x3 uint8
frame i (raw bytes, not PNG) of the camera the paper uses; `'{i}/image_main/encoded'` is the
other camera. Like the authors' loader, a video is the first seq_len frames of a record.
`source='tfds'` reads TFDS `bair_robot_pushing_small` instead (same videos).

With `actions=True` (a run with --conditioning=actions) each element is a dict
{"video", "actions"}: `'{i}/action'` holds the 4 floats the robot commanded between frame i
and i+1 (end-effector motion in x, y, z and the gripper), TFDS's `action` feature the same.
`'{i}/endeffector_pos'` (3 floats) is not read.
"""

from __future__ import annotations

import os

import tensorflow as tf

from svg_tf.datasets import records
from svg_tf.errors import FileReadError
from svg_tf.datasets.spec import ActionSpec, DatasetSpec, restart_seed

FRAMES_PER_RECORD = 30
SIZE = 64
CAMERAS = ("image_aux1", "image_main")
ACTION_DIM = 4
# The raw actions span about [-0.07, 4.0], the gripper (last) dimension being the large one;
# the model sees (a - offset) / scale. These constants come from that stated range, not
# from statistics measured here (the data cannot be downloaded on the machine that wrote
# this): recompute them from the training records before comparing with published numbers.
ACTIONS = ActionSpec(dim=ACTION_DIM, names=("dx", "dy", "dz", "gripper"),
                     offset=(0.0, 0.0, 0.0, 2.0), scale=(0.07, 0.07, 0.07, 2.0),
                     low=-1.0, high=1.0,
                     description="'{i}/action' of softmotion30_44k: end-effector motion "
                                 "(x, y, z) and gripper, raw")
HOW_TO_GET = ("Download and extract it with data/download_bair.sh DIR, then pass "
              "data_dir=DIR/softmotion30_44k (folders train/ and test/ of *.tfrecords).")


def parse_example(serialized, seq_len, camera="image_aux1", start=0, actions=False):
    """A serialized Example -> float32 `[seq_len, 64, 64, 3]` in [0, 1]; with actions, a
    dict {"video": that, "actions": float32 `[seq_len, 4]`}."""
    keys = [f"{i}/{camera}/encoded" for i in range(start, start + seq_len)]
    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in keys}
    action_keys = [f"{i}/action" for i in range(start, start + seq_len)] if actions else []
    spec.update({k: tf.io.FixedLenFeature([ACTION_DIM], tf.float32) for k in action_keys})
    features = tf.io.parse_single_example(serialized, spec)
    frames = []
    for key in keys:
        pixels = tf.io.decode_raw(features[key], tf.uint8)
        check = tf.debugging.assert_equal(
            tf.size(pixels), SIZE * SIZE * 3,
            message=f"BAIR frame {key}: expected {SIZE}x{SIZE}x3 = {SIZE * SIZE * 3} raw bytes, "
                    "got")
        with tf.control_dependencies([check]):
            frames.append(tf.reshape(tf.identity(pixels), [SIZE, SIZE, 3]))
    video = tf.cast(tf.stack(frames), tf.float32) / 255.0
    if not actions:
        return video
    return {"video": video, "actions": tf.stack([features[k] for k in action_keys])}


def _check_frames(files, seq_len, camera):
    """Refuse, naming the file, records that hold fewer than seq_len frames (TensorFlow's
    own error, met mid-run, names neither the file nor the fix); reads one record."""
    if not files:
        return
    for serialized in tf.data.TFRecordDataset(files[:1]).take(1):
        example = tf.train.Example.FromString(serialized.numpy())
        keys = example.features.feature
        frames = 0
        while f"{frames}/{camera}/encoded" in keys:
            frames += 1
        if frames < seq_len:
            raise FileReadError(files[0], f"its records hold {frames} frames of {camera}, "
                                          f"fewer than seq_len={seq_len}: lower --n_past/"
                                          "--n_future (training) or --n_eval (evaluation)")


def split_folder(data_dir, split):
    """data_dir may be softmotion30_44k itself or the folder that contains it."""
    for candidate in (os.path.join(data_dir, split),
                      os.path.join(data_dir, "softmotion30_44k", split)):
        if tf.io.gfile.isdir(candidate):
            return candidate
    return os.path.join(data_dir, split)


def shard_files(data_dir, split):
    if data_dir is None:
        raise FileNotFoundError(f"bair: no data_dir given. {HOW_TO_GET}")
    return records.find_shards(split_folder(data_dir, split), ["*.tfrecords", "*.tfrecord"],
                               "bair", HOW_TO_GET)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, camera="image_aux1",
         source="tfrecord", image_size=SIZE, skip_corrupt=False, verify="headers",
         exclude_files=(), actions=False):
    """BAIR as a tf.data.Dataset; see `svg_tf.datasets.load`."""
    if camera not in CAMERAS:
        raise ValueError(f"camera={camera!r} is invalid: expected one of {list(CAMERAS)}")
    if image_size != SIZE:
        raise ValueError(f"image_size={image_size!r} is invalid: BAIR frames are {SIZE} px")
    if not 1 <= seq_len <= FRAMES_PER_RECORD:
        raise ValueError(f"seq_len={seq_len!r} is invalid: BAIR records hold "
                         f"{FRAMES_PER_RECORD} frames")
    training = split == "train"
    if source == "tfds":
        import tensorflow_datasets as tfds

        data = tfds.load("bair_robot_pushing_small", split=split, data_dir=data_dir,
                         shuffle_files=training)
        def element(x):
            video = tf.cast(x[camera][:seq_len], tf.float32) / 255.0
            return {"video": video, "actions": tf.cast(x["action"][:seq_len], tf.float32)} \
                if actions else video

        data = data.map(element)
        if training:
            data = data.repeat()
    elif source == "tfrecord":
        files = records.check_shards(shard_files(data_dir, split), verify, skip_corrupt,
                                     exclude_files)
        _check_frames(files, seq_len, camera)
        data = records.record_stream(files, training, seed, skip_corrupt)
        # The test set keeps file order whatever the seed (a fixed test set); unseeded
        # training may reorder for speed.
        data = data.map(lambda r: parse_example(r, seq_len, camera, actions=actions),
                        num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=seed is not None or not training)
    else:
        raise ValueError(f"source={source!r} is invalid: expected 'tfrecord' or 'tfds'")
    if training:
        data = data.shuffle(256, seed=seed)
    if batch_size:
        data = data.batch(batch_size, drop_remainder=training)
    return data.prefetch(tf.data.AUTOTUNE)


SPEC = DatasetSpec(
    name="bair", load=load, needs_data_dir=True, how_to_get=HOW_TO_GET, channels=(3,),
    image_sizes=(SIZE,),
    train_options=lambda config, step: dict(image_size=config.image_size,
                                            seed=restart_seed(config, step),
                                            actions=config.conditioning == "actions"),
    test_options=lambda config, num_sequences: dict(image_size=config.image_size,
                                                    actions=config.conditioning == "actions"),
    cli_options=records.CLI_OPTIONS, shard_files=shard_files, actions=ACTIONS)
