"""The paper's evaluation protocol on a run directory, as a library.

For each test sequence: condition on n_past frames, draw num_samples continuations up to
n_eval frames, score every sample per frame (SSIM in both conventions and PSNR), keep the best
sample (best-of-N), and report per-frame means with 95% confidence intervals, plus the mean
over samples. Per-batch scores are saved as they are computed, so a killed evaluation resumes
without recomputing finished batches.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time

import numpy as np
import tensorflow as tf

from svg_tf import datasets, metrics
from svg_tf import run_dir
from svg_tf.run_dir import load_run


def test_videos(config, num_sequences, seq_len, data_dir=None, batch_size=4, **options):
    """The fixed test set, batched, limited to num_sequences."""
    return datasets.test_stream(config, num_sequences, seq_len, data_dir, batch_size, **options)


def score_samples(samples, truth, lpips_weights=None):
    """Per-sample, per-frame scores of samples `[B, S, T, H, W, C]` against `[B, T, ...]`
    (SSIM in both conventions, PSNR, and LPIPS when its weights are given)."""
    samples = tf.convert_to_tensor(samples, tf.float32)
    truth = tf.convert_to_tensor(truth, tf.float32)
    scores = {k: v.numpy() for k, v in _score(samples, truth).items()}
    if lpips_weights:
        scores["lpips"] = metrics.lpips(samples, truth[:, None], lpips_weights).numpy()
    return scores


@tf.function(reduce_retracing=True)
def _score(samples, truth):
    # One graph for the three metrics; the truth broadcasts over the samples, so its SSIM
    # statistics are computed once per sequence instead of once per sample.
    truth = truth[:, None]
    return {"ssim_gaussian": metrics.ssim(samples, truth, "gaussian"),
            "ssim_svg": metrics.ssim(samples, truth, "svg"),
            "psnr": metrics.psnr(samples, truth)}


def evaluate_run(logdir, *, num_samples=100, num_sequences=256, n_eval=None, ssim="gaussian",
                 select="per_metric", batch_size=4, data_dir=None, seed=0, progress=True,
                 dataset_options=None, bn=None, lpips_weights=None, i3d=None):
    """Evaluate the latest checkpoint of `logdir`; writes logdir/eval/ and returns the
    metrics dict (also in metrics.json).

    lpips_weights: .npz of `convert_lpips`: adds per-frame best-of-N LPIPS (lower is better).
    i3d: I3D SavedModel folder: adds FVD between the test videos and one random sample per
    video with its context frames in front (SRVP's protocol).
    """
    i3d_model = None
    if i3d:
        from svg_tf import fvd as fvd_lib

        i3d_model = fvd_lib.load_i3d(i3d)  # fail before any sampling
    if lpips_weights:
        from svg_tf import lpips as lpips_lib

        lpips_lib.load_weights(lpips_weights)
    if ssim not in metrics.SSIM_CONVENTIONS:
        raise ValueError(f"ssim={ssim!r} is invalid: expected one of "
                         f"{list(metrics.SSIM_CONVENTIONS)}")
    if select not in metrics.SELECTIONS:
        raise ValueError(f"select={select!r} is invalid: expected one of "
                         f"{list(metrics.SELECTIONS)}")
    config, model = load_run(logdir)
    data_dir = run_dir.data_dir(logdir, data_dir)
    bn = bn or config.sample_bn
    checkpoint = tf.train.latest_checkpoint(os.path.join(logdir, "checkpoints"))
    n_eval = n_eval or config.n_eval
    if n_eval <= config.n_past:
        raise ValueError(f"n_eval={n_eval} must exceed n_past={config.n_past}")
    out_dir = os.path.join(logdir, "eval")
    partial = os.path.join(out_dir, "partial", f"{os.path.basename(checkpoint)}_S{num_samples}"
                           f"_T{n_eval}_N{num_sequences}_B{batch_size}_seed{seed}_bn{bn}"
                           f"{'_lpips' if lpips_weights else ''}{'_fvd' if i3d else ''}")
    tf.io.gfile.makedirs(partial)
    data = test_videos(config, num_sequences, n_eval, data_dir, batch_size,
                       **(dataset_options or {}))
    num_batches = math.ceil(num_sequences / batch_size)
    bar = _progress(num_batches, progress)
    start = time.time()
    # The first computed batch also traces the graphs: time the steady state after it.
    first_done = None
    computed = 0
    first_batch = None
    for index, videos in enumerate(data):
        path = os.path.join(partial, f"batch_{index:05d}.npz")
        first_batch = videos if first_batch is None else first_batch
        if not tf.io.gfile.exists(path):
            count = int(videos.shape[0])
            context = videos[:, :config.n_past]
            if bn == "batch" and count < int(first_batch.shape[0]):
                # Batch statistics need full batches: a short last batch is completed with
                # sequences from the first one, which shape the statistics but are not scored.
                fill = first_batch[:int(first_batch.shape[0]) - count, :config.n_past]
                context = tf.concat([context, fill], 0)
            samples = model.sample(context, n_eval - config.n_past, num_samples=num_samples,
                                   seed=[seed, index], bn=bn)[:count]
            scores = score_samples(samples, videos[:, config.n_past:], lpips_weights)
            if i3d_model is not None:
                scores.update(_fvd_videos(videos, samples, config.n_past, seed, index))
            tmp = path + ".tmp.npz"
            np.savez(tmp, **scores)
            os.replace(tmp, path)
            if first_done is None:
                first_done = time.time()
            else:
                computed += int(videos.shape[0])
        bar.update(1)
    bar.close()
    end = time.time()
    scores = _gather(partial)
    result = summarise(scores, config, n_eval, ssim, select, num_samples, checkpoint)
    if i3d_model is not None:
        fake = scores.pop("fvd_generated").astype(np.float32) / 255.0
        real = scores.pop("fvd_real").astype(np.float32) / 255.0
        result["fvd"] = fvd_lib.fvd(real, fake, i3d_model)
        result["fvd"]["frames"] = "context + predicted, one random sample per test video"
        result["overall"]["fvd"] = result["fvd"]["fvd"]
    result["protocol"]["bn"] = bn
    result["protocol"]["batch_size"] = batch_size
    result["seconds_per_sequence"] = (end - first_done) / computed if computed else None
    result["first_batch_seconds"] = first_done - start if first_done else None
    result["protocol"]["scores_dir"] = os.path.relpath(partial, out_dir)
    write_outputs(result, out_dir)
    return result


def _fvd_videos(videos, samples, n_past, seed, index):
    """The true videos and one random sample per video, context in front, as uint8."""
    rng = np.random.default_rng([seed, index, 7])
    samples = np.asarray(samples)
    pick = rng.integers(samples.shape[1], size=samples.shape[0])
    generated = np.concatenate([np.asarray(videos[:, :n_past]),
                                samples[np.arange(len(pick)), pick]], axis=1)

    def to_uint8(v):
        return np.round(np.clip(np.asarray(v), 0, 1) * 255).astype(np.uint8)

    return {"fvd_real": to_uint8(videos), "fvd_generated": to_uint8(generated)}


def _gather(folder):
    files = sorted(f for f in tf.io.gfile.listdir(folder) if f.endswith(".npz")
                   and ".tmp" not in f)
    parts = [np.load(os.path.join(folder, f)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0].files}


def summarise(scores, config, n_eval, ssim, select, num_samples, checkpoint):
    """metrics.json content from per-sample scores `[N, S, T]`."""
    ssim_key = f"ssim_{ssim}"
    best_ssim, best_psnr = metrics.best_of_n(scores[ssim_key], scores["psnr"], select)
    frames = list(range(config.n_past + 1, n_eval + 1))
    per_frame = {}
    for name, values in (("best_ssim", best_ssim), ("best_psnr", best_psnr),
                         ("mean_ssim", scores[ssim_key].mean(1)),
                         ("mean_psnr", scores["psnr"].mean(1))):
        mean, half = metrics.mean_and_ci(values)
        per_frame[name] = {"mean": mean.tolist(), "ci95": half.tolist()}
    other = "svg" if ssim == "gaussian" else "gaussian"
    other_best, _ = metrics.best_of_n(scores[f"ssim_{other}"], scores["psnr"], select)
    mean, half = metrics.mean_and_ci(other_best)
    per_frame[f"best_ssim_{other}"] = {"mean": mean.tolist(), "ci95": half.tolist()}
    if "lpips" in scores:  # lower is better: the best sample has the lowest mean LPIPS
        lpips_values = scores["lpips"]
        rows = np.arange(lpips_values.shape[0])
        if select == "per_metric":
            chosen = np.argmin(lpips_values.mean(-1), axis=1)
        else:
            chosen = np.argmax(scores[ssim_key].mean(-1), axis=1)
        for name, values in (("best_lpips", lpips_values[rows, chosen]),
                             ("mean_lpips", lpips_values.mean(1))):
            mean, half = metrics.mean_and_ci(values)
            per_frame[name] = {"mean": mean.tolist(), "ci95": half.tolist()}
    train_end = config.n_past + config.n_future
    trained = [i for i, f in enumerate(frames) if f <= train_end]
    overall = {name: float(np.mean(v["mean"])) for name, v in per_frame.items()}
    overall_trained = {name: float(np.mean(np.asarray(v["mean"])[trained]))
                       for name, v in per_frame.items()} if trained else {}
    return {
        "protocol": {"num_sequences": int(best_ssim.shape[0]), "num_samples": num_samples,
                     "n_past": config.n_past, "n_eval": n_eval, "ssim": ssim,
                     "ssim_other": other, "select": select,
                     "ci": "1.96 * std / sqrt(n), std with ddof=0",
                     "psnr": "data range 1, per channel then channel mean",
                     "dataset": config.dataset, "model": config.model,
                     "checkpoint": os.path.basename(checkpoint), "train_horizon": train_end},
        "frames": frames, "per_frame": per_frame, "overall": overall,
        "overall_training_horizon": overall_trained,
    }


def write_outputs(result, out_dir):
    tf.io.gfile.makedirs(out_dir)
    with tf.io.gfile.GFile(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    names = list(result["per_frame"])
    with tf.io.gfile.GFile(os.path.join(out_dir, "metrics.csv"), "w") as f:
        writer = csv.writer(f)
        writer.writerow(["frame"] + [f"{n}_{k}" for n in names for k in ("mean", "ci95")])
        for i, frame in enumerate(result["frames"]):
            writer.writerow([frame] + [f"{result['per_frame'][n][k][i]:.6f}"
                                       for n in names for k in ("mean", "ci95")])
    for metric in ("ssim", "psnr", "lpips"):
        if f"best_{metric}" in result["per_frame"]:
            plot_curves([(f"{result['protocol']['model']}", result)], metric,
                        os.path.join(out_dir, f"{metric}.png"))


def plot_curves(runs, metric, path):
    """Best-of-N curve per run with its shaded 95% CI, as the paper's figure 7."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    for label, result in runs:
        curve = result["per_frame"][f"best_{metric}"]
        mean, half = np.asarray(curve["mean"]), np.asarray(curve["ci95"])
        frames = result["frames"]
        line, = ax.plot(frames, mean, label=label)
        ax.fill_between(frames, mean - half, mean + half, color=line.get_color(), alpha=0.25)
    protocol = runs[0][1]["protocol"]
    ax.axvline(protocol["train_horizon"], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("time step")
    unit = {"psnr": " (dB)", "lpips": " (AlexNet v0.1, lower is better)"}.get(
        metric, f" ({protocol['ssim']} convention)")
    ax.set_ylabel(f"best-of-{protocol['num_samples']} {metric.upper()}{unit}")
    ax.set_title(f"{protocol['dataset']}: {protocol['num_sequences']} test sequences")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def compare_runs(logdirs, out_dir):
    """One SSIM and one PSNR plot over several evaluated runs (figure 7: LP vs FP vs det)."""
    runs = []
    for logdir in logdirs:
        path = os.path.join(logdir, "eval", "metrics.json")
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"{path} not found: run python -m svg_tf.evaluate "
                                    f"--logdir={logdir} first")
        with tf.io.gfile.GFile(path) as f:
            result = json.load(f)
        runs.append((f"{result['protocol']['model']} ({os.path.basename(logdir.rstrip('/'))})",
                     result))
    tf.io.gfile.makedirs(out_dir)
    paths = []
    for metric in ("ssim", "psnr"):
        paths.append(os.path.join(out_dir, f"compare_{metric}.png"))
        plot_curves(runs, metric, paths[-1])
    return paths


def _progress(total, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc="evaluating", unit="batch", disable=not enabled)
