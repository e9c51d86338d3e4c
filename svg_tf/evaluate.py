"""Evaluate a run: `python -m svg_tf.evaluate --logdir=RUN [--protocol=srvp]`.

Writes RUN/eval/metrics.json (per-frame best-of-N and mean-of-samples scores of each metric
with 95% confidence intervals, overall averages, FVD, the protocol and every setting used),
metrics.csv and one plot per per-frame metric (ssim.png, psnr.png, lpips.png, ...).
`--compare=RUN1,RUN2,...` plots evaluated runs together instead (figure 7).
"""

from __future__ import annotations

from absl import app, flags

from svg_tf import cli
from svg_tf import config as config_lib
from svg_tf.datasets import records
from svg_tf.metrics import (DEFAULT, REGISTRY, SELECTIONS, SSIM_CONVENTIONS,
                            requirements)
from svg_tf.protocols import PROTOCOLS

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined on demand, so that importing the module for its
    functions does not clash with other programs' flags)."""
    flags.DEFINE_string("logdir", None, "Training run directory (python -m svg_tf.train).")
    flags.DEFINE_enum("protocol", None, list(PROTOCOLS),
                      "Evaluate as a published table did: " + "; ".join(
                          f"{name}: {p.source}" for name, p in PROTOCOLS.items())
                      + ". Sets num_samples, num_sequences, n_eval, ssim, select and the "
                      "frames FVD sees; flags given explicitly override it. Default: none "
                      "(100 samples, 256 sequences, the run's n_eval, gaussian, per_metric).")
    flags.DEFINE_string("metrics", None,
                        "Comma-separated metrics: " + ", ".join(
                            f"{name} ({'higher' if m.higher_is_better else 'lower'} is better"
                            f"{', needs --' + m.requires if m.requires else ''})"
                            for name, m in REGISTRY.items())
                        + ". Default: " + ",".join(DEFAULT) + " plus each metric whose "
                        "resource is given (" + ", ".join(
                            f"{m.name}: --{m.requires}" for m in REGISTRY.values()
                            if m.requires) + ").")
    flags.DEFINE_integer("num_samples", None, "Samples per test sequence (paper: 100).")
    flags.DEFINE_integer("num_sequences", None, "Test sequences (paper: 256 for BAIR).")
    flags.DEFINE_integer("n_eval", None, "Frames, context included (default: the run's n_eval).")
    flags.DEFINE_enum("ssim", None, SSIM_CONVENTIONS,
                      "SSIM convention reported as `ssim` and used for ssim_mean selection: "
                      "gaussian (11x11, sigma 1.5, range 1; SRVP/FitVid; default) or svg (the "
                      "authors' skimage defaults). The other one is reported as ssim_<name>.")
    flags.DEFINE_enum("select", None, SELECTIONS,
                      "Best-of-N: per_metric (best sample per metric; default) or ssim_mean "
                      "(one sample, best mean SSIM, the authors').")
    flags.DEFINE_integer("batch_size", 4, "Test sequences sampled at once (times num_samples).")
    flags.DEFINE_integer("seed", 0, "Sampling seed.")
    flags.DEFINE_enum("bn", None, config_lib.SAMPLE_BN, config_lib.BN_HELP)
    for resource, help_text in requirements().items():  # declared by the metrics
        flags.DEFINE_string(resource, None, help_text)
    flags.DEFINE_string("data_dir", None, "Dataset folder for KTH/BAIR/videos (default: the "
                        "one the run was trained on, recorded in RUN/data.json).")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source (see python -m svg_tf.train).")
    flags.DEFINE_enum("verify_data", "headers", records.VERIFY_MODES, records.VERIFY_HELP)
    flags.DEFINE_boolean("skip_corrupt", False, "Skip damaged TFRecord files (KTH, BAIR) of "
                         "the test set instead of stopping (the test set then shrinks).")
    flags.DEFINE_string("compare", None, "Comma-separated evaluated runs to plot together.")
    flags.DEFINE_string("out", "compare", "Output folder of --compare.")


def summary_line(result) -> str:
    """`best-of-100 over 256 sequences, frames 6-30: ssim 0.7 (gaussian), psnr 16.9 dB, ...`"""
    protocol, overall = result["protocol"], result["overall"]
    parts = []
    for name, info in protocol["metrics"].items():
        if info["kind"] == "frame":
            unit = f" {info['unit']}" if info["unit"] else ""
            note = f" ({protocol['ssim']})" if name == "ssim" else ""
            parts.append(f"{name} {overall['best_' + name]:.4f}{unit}{note}")
        else:
            parts.append(f"{name} {overall[name]:.1f} ({result[name]['num_videos'][0]} videos)")
    if "action_sensitivity" in result:
        parts.append(f"action sensitivity {result['action_sensitivity']['value']:.4f}")
    tag = ("no --protocol: the run's own horizon" if protocol["name"] == "custom"
           else f"protocol {protocol['name']}")
    return (f"[{tag}] best-of-{protocol['num_samples']} over "
            f"{protocol['num_sequences']} sequences, frames {result['frames'][0]}-"
            f"{result['frames'][-1]}: " + ", ".join(parts))


def main(argv):
    cli.check_arguments(argv)
    from svg_tf.evaluation import compare_runs, evaluate_run, frame_metric_names

    if FLAGS.compare:
        try:
            paths = compare_runs([p for p in FLAGS.compare.split(",") if p], FLAGS.out)
        except FileNotFoundError as error:
            raise app.UsageError(str(error))
        print("\n".join(paths))
        return 0
    if not FLAGS.logdir:
        raise app.UsageError("--logdir is required (or --compare)")
    import os

    options = cli.run_dataset_options(FLAGS.logdir, FLAGS)
    try:
        result = evaluate_run(
            FLAGS.logdir, num_samples=FLAGS.num_samples, num_sequences=FLAGS.num_sequences,
            n_eval=FLAGS.n_eval, ssim=FLAGS.ssim, select=FLAGS.select,
            batch_size=FLAGS.batch_size, data_dir=FLAGS.data_dir, seed=FLAGS.seed,
            dataset_options=options, bn=FLAGS.bn, metrics=FLAGS.metrics,
            protocol=FLAGS.protocol, **{r: getattr(FLAGS, r) for r in requirements()})
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    print(summary_line(result))
    if result["seconds_per_sequence"]:
        print(f"seconds per sequence: {result['seconds_per_sequence']:.2f} (after the first "
              f"batch, which took {result['first_batch_seconds']:.1f} s with graph tracing)")
    plots = ", ".join(f"{n}.png" for n in frame_metric_names(result))
    print(f"wrote {os.path.join(FLAGS.logdir, 'eval')}/metrics.json, metrics.csv, {plots}")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
