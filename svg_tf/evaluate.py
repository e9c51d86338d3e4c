"""Evaluate a run with the paper's protocol: `python -m svg_tf.evaluate --logdir=RUN`.

Writes RUN/eval/metrics.json (per-frame best-of-N and mean-of-samples SSIM and PSNR with 95%
confidence intervals, overall averages, the protocol), metrics.csv, ssim.png and psnr.png.
`--compare=RUN1,RUN2,...` plots evaluated runs together instead (figure 7).
"""

from __future__ import annotations

from absl import app, flags

from svg_tf import cli
from svg_tf import config as config_lib
from svg_tf import metrics
from svg_tf.datasets import records

FLAGS = flags.FLAGS


def define_flags():
    """Flags of this program (defined on demand, so that importing the module for its
    functions does not clash with other programs' flags)."""
    flags.DEFINE_string("logdir", None, "Training run directory (python -m svg_tf.train).")
    flags.DEFINE_integer("num_samples", 100, "Samples per test sequence (paper: 100).")
    flags.DEFINE_integer("num_sequences", 256, "Test sequences (paper: 256 for BAIR).")
    flags.DEFINE_integer("n_eval", None, "Frames, context included (default: the run's n_eval).")
    flags.DEFINE_enum("ssim", "gaussian", metrics.SSIM_CONVENTIONS,
                      "SSIM convention used for selection and plots: gaussian (11x11, sigma 1.5, "
                      "range 1; SRVP/FitVid) or svg (the authors' skimage defaults). Both are "
                      "reported.")
    flags.DEFINE_enum("select", "per_metric", metrics.SELECTIONS,
                      "Best-of-N: per_metric (best sample per metric) or ssim_mean (one sample, "
                      "best mean SSIM).")
    flags.DEFINE_integer("batch_size", 4, "Test sequences sampled at once (times num_samples).")
    flags.DEFINE_integer("seed", 0, "Sampling seed.")
    flags.DEFINE_enum("bn", None, config_lib.SAMPLE_BN, config_lib.BN_HELP)
    flags.DEFINE_string("lpips_weights", None,
                        "LPIPS weights (.npz from python -m svg_tf.convert_lpips): adds "
                        "best-of-N LPIPS per frame (lower is better).")
    flags.DEFINE_string("i3d", None,
                        "Folder of TF-Hub's deepmind/i3d-kinetics-400/1 SavedModel: adds FVD "
                        "(test videos vs one random sample each, context frames in front).")
    flags.DEFINE_string("data_dir", None, "Dataset folder for KTH/BAIR (default: the one the run was trained on, "
                        "recorded in RUN/data.json).")
    flags.DEFINE_string("digits", "auto", "SM-MNIST digit source (see python -m svg_tf.train).")
    flags.DEFINE_enum("verify_data", "headers", records.VERIFY_MODES, records.VERIFY_HELP)
    flags.DEFINE_boolean("skip_corrupt", False, "Skip damaged TFRecord files (KTH, BAIR) of "
                         "the test set instead of stopping (the test set then shrinks).")
    flags.DEFINE_string("compare", None, "Comma-separated evaluated runs to plot together.")
    flags.DEFINE_string("out", "compare", "Output folder of --compare.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from svg_tf.evaluation import compare_runs, evaluate_run

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

    from svg_tf import datasets, run_dir

    try:
        config = run_dir.read_config(FLAGS.logdir)
    except FileNotFoundError as error:
        raise app.UsageError(str(error))
    options = datasets.spec(config.dataset).options_from_flags(FLAGS)
    data_dir = run_dir.data_dir(FLAGS.logdir, FLAGS.data_dir)
    try:
        result = evaluate_run(
            FLAGS.logdir, num_samples=FLAGS.num_samples, num_sequences=FLAGS.num_sequences,
            n_eval=FLAGS.n_eval, ssim=FLAGS.ssim, select=FLAGS.select,
            batch_size=FLAGS.batch_size, data_dir=data_dir, seed=FLAGS.seed,
            dataset_options=options, bn=FLAGS.bn, lpips_weights=FLAGS.lpips_weights,
            i3d=FLAGS.i3d)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    overall = result["overall"]
    print(f"best-of-{FLAGS.num_samples} over {result['protocol']['num_sequences']} sequences, "
          f"frames {result['frames'][0]}-{result['frames'][-1]}: "
          f"SSIM ({FLAGS.ssim}) {overall['best_ssim']:.4f}, PSNR {overall['best_psnr']:.2f} dB"
          + (f", LPIPS {overall['best_lpips']:.4f}" if "best_lpips" in overall else "")
          + (f", FVD {overall['fvd']:.1f} ({result['fvd']['num_videos'][0]} videos)"
             if "fvd" in overall else ""))
    if result["seconds_per_sequence"]:
        print(f"seconds per sequence: {result['seconds_per_sequence']:.2f} (after the first "
              f"batch, which took {result['first_batch_seconds']:.1f} s with graph tracing)")
    print(f"wrote {os.path.join(FLAGS.logdir, 'eval')}/metrics.json, metrics.csv, ssim.png, "
          "psnr.png")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
