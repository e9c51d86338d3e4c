"""Plan with a model: `python -m svg_tf.plan --logdir=RUN [--planner=cem|mppi] [--episodes=N]`.

Control episodes in pushed_mnist: push digit 0 to a target shown only as a goal image (the
digit alone at the target). At every step the planner (MPPI by default, or CEM) scores
--samples candidate action sequences of --horizon steps by the pixel MSE (or LPIPS) between
the model's predicted frames and the goal, executes the first --execute actions in the
environment (the real world) and plans again. Reports the success rate (the digit ends within
--tolerance pixels of the target), the mean final distance and the planning seconds per step.
--model=simulator plans with the environment itself as the model (the upper bound) and
--model=random takes uniformly random actions (the lower bound); neither needs --logdir.
Every model meets the same episodes for the same --seed.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from svg_tf import cli

FLAGS = flags.FLAGS
MODELS = ("learned", "simulator", "random")
GROUPS = {**dict.fromkeys(("logdir", "model", "allow_unconditioned"), "model"),
          **dict.fromkeys(("planner", "samples", "iterations", "horizon", "execute", "cost",
                           "lpips_weights", "samples_per_candidate", "max_batch"), "planner"),
          **dict.fromkeys(("episodes", "steps", "context_steps", "tolerance", "num_digits",
                           "seed"), "episodes"),
          **dict.fromkeys(("json", "picture"), "output")}


def define_flags():
    """Flags of this program."""
    flags.DEFINE_string("logdir", None, "Run directory of an action-conditioned pushed_mnist "
                        "run (--model=learned).")
    flags.DEFINE_enum("model", "learned", MODELS,
                      "Who predicts: the trained run, the environment itself (upper bound), "
                      "or no one (uniformly random actions, lower bound).")
    flags.DEFINE_boolean("allow_unconditioned", False,
                         "Accept a run without actions (its predictions ignore the plan): "
                         "the baseline of an action-free model of the same budget.")
    flags.DEFINE_enum("planner", "mppi", ["cem", "mppi"],
                      "MPPI (cost-weighted mean) or CEM (refit to the elite candidates).")
    flags.DEFINE_integer("samples", 100, "Candidate action sequences per iteration.")
    flags.DEFINE_integer("iterations", 2, "Sample-score-update rounds per control step.")
    flags.DEFINE_integer("horizon", 8, "Steps each candidate plans ahead.")
    flags.DEFINE_integer("execute", 1, "Actions of each plan executed before planning again.")
    flags.DEFINE_enum("cost", "mse", ["mse", "lpips"],
                      "Cost of predicted frames against the goal image, averaged over the "
                      "horizon.")
    flags.DEFINE_string("lpips_weights", None, "LPIPS weights (.npz from python -m "
                        "svg_tf.convert_lpips), for --cost=lpips.")
    flags.DEFINE_integer("samples_per_candidate", 1, "Futures drawn per candidate from the "
                         "learned prior; the cost scores their mean frame.")
    flags.DEFINE_integer("max_batch", 200, "Rollouts per model pass (bounds memory).")
    flags.DEFINE_integer("episodes", 20, "Control episodes.")
    flags.DEFINE_integer("steps", 15, "Controlled steps per episode.")
    flags.DEFINE_integer("context_steps", 4, "Zero actions before control, which give the "
                         "model its context frames.")
    flags.DEFINE_float("tolerance", 3.0, "Success: final distance to the target, in pixels.")
    flags.DEFINE_integer("num_digits", None, "Digits in the scene, the pushed one included "
                         "(default: the run's, else 2).")
    flags.DEFINE_integer("seed", 0, "Episodes (digits, starts, targets) and planner noise.")
    flags.DEFINE_string("json", None, "Also write the figures to this JSON file.")
    flags.DEFINE_string("picture", None, "Write the first episode as a PNG: the goal and the "
                        "executed frames, under them the model's first predicted plan.")


LIMITS = {"samples": (1, 100_000), "iterations": (1, 100), "horizon": (1, 50),
          "execute": (1, 50), "samples_per_candidate": (1, 1_000), "max_batch": (1, 100_000),
          "episodes": (1, 100_000), "steps": (1, 1_000), "context_steps": (0, 100),
          "num_digits": (1, 10)}


def flag_values() -> dict:
    return {name: getattr(FLAGS, name) for name in GROUPS}


def check_argv(argv) -> None:
    """What cli.run checks before TensorFlow loads."""
    cli.check_arguments(argv)
    check_flags(flag_values())


def check_flags(values) -> None:
    """Refuse bad values (one line naming the flag)."""
    for name, (least, most) in LIMITS.items():
        value = values[name]
        if value is not None and not least <= value <= most:
            raise app.UsageError(f"--{name}={value} is invalid: expected {least} to {most:,}")
    if values["execute"] > values["horizon"]:
        raise app.UsageError(f"--execute={values['execute']} is more than --horizon="
                             f"{values['horizon']}")
    if not values["tolerance"] > 0:
        raise app.UsageError(f"--tolerance={values['tolerance']} must be positive")
    if values["model"] == "learned" and not values["logdir"]:
        raise app.UsageError("--logdir is required with --model=learned (or pass "
                             "--model=simulator or --model=random)")
    if values["model"] != "learned" and values["logdir"]:
        raise app.UsageError(f"--logdir is for --model=learned, not --model={values['model']}")
    if values["cost"] == "lpips" and not values["lpips_weights"]:
        raise app.UsageError("--cost=lpips needs --lpips_weights (python -m "
                             "svg_tf.convert_lpips writes them)")
    if values["picture"] and not values["picture"].endswith(".png"):
        raise app.UsageError(f"--picture={values['picture']} must end in .png")


def plan(model="learned", logdir=None, planner="mppi", episodes=20, steps=15, horizon=8,
         samples=100, iterations=2, execute=1, tolerance=3.0, context_steps=4,
         num_digits=None, seed=0, cost="mse", lpips_weights=None, samples_per_candidate=1,
         max_batch=200, allow_unconditioned=False, picture=None, verbose=0):
    """Run the episodes; returns (summary dict, list of EpisodeResult). See the module
    docstring and `svg_tf.planning.control`."""
    import numpy as np

    from svg_tf import planning
    from svg_tf.datasets import pushed_mnist

    learned = None
    if model == "learned":
        from svg_tf.run_dir import read_config, resolve

        logdir = resolve(logdir)
        dataset = read_config(logdir).dataset
        if dataset != pushed_mnist.SPEC.name:
            raise ValueError(f"{logdir}: plan runs control episodes in pushed_mnist; this run "
                             f"was trained on {dataset}")
        learned = planning.LearnedModel(logdir, samples_per_candidate, max_batch, seed,
                                        allow_unconditioned)
        num_digits = num_digits or learned.config.num_digits
    optimizer = cost_fn = None
    if model != "random":
        optimizer = planning.PLANNERS[planner](horizon=horizon, samples=samples,
                                               iterations=iterations,
                                               action_dim=pushed_mnist.ACTIONS.dim)
        cost_fn = planning.make_cost(cost, lpips_weights)
    progress = None
    if verbose:
        import keras

        bar = keras.utils.Progbar(episodes, unit_name="episode",
                                  stateful_metrics=["success", "distance"])
        done = []

        def progress(result):
            done.append(result)
            bar.update(len(done), [("success", float(np.mean([r.success for r in done]))),
                                   ("distance", float(np.mean([r.final_distance
                                                               for r in done])))])
    results = planning.run_episodes(model, episodes, seed, num_digits or 2, steps,
                                    context_steps, execute, tolerance, optimizer, cost_fn,
                                    learned, progress)
    summary = planning.summarize(results, tolerance)
    summary.update(model=model, planner=None if model == "random" else planner,
                   logdir=logdir, horizon=horizon, samples=samples, iterations=iterations,
                   steps=steps, seed=seed)
    if picture:
        from svg_tf.visualize import save_png

        folder = os.path.dirname(os.path.abspath(picture))
        os.makedirs(folder, exist_ok=True)
        save_png(picture, planning.control.episode_picture(results[0], context_steps))
    return summary, results


def main(argv):
    del argv  # checked by check_argv
    values = flag_values()
    try:
        summary, _ = plan(**{k: v for k, v in values.items() if k != "json"}, verbose=1)
    except ValueError as error:
        raise app.UsageError(str(error))
    print(f"{summary['model']}: success {summary['success_rate']:.0%} of "
          f"{summary['episodes']} episodes (within {summary['tolerance_px']:g} px), mean final "
          f"distance {summary['mean_final_distance']:.2f} px (start "
          f"{summary['mean_start_distance']:.2f}), planning {summary['seconds_per_step']:.3f} "
          f"s per step")
    if FLAGS.json:
        from svg_tf.run_dir import atomic_write

        atomic_write(FLAGS.json, json.dumps(summary, indent=2))
        print(f"wrote {FLAGS.json}")
    if FLAGS.picture:
        print(f"wrote {FLAGS.picture}")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags, GROUPS, check=check_argv)


if __name__ == "__main__":
    entry_point()
