"""Control episodes in pushed_mnist, the evaluation by control that VP2 argues for: push
digit 0 to a target shown only as a goal image, re-planning after every executed action
(receding horizon), the environment's step function being the real world.

An episode: the environment draws digits, the pushed digit's start and the free digits'
paths; a target position is drawn uniformly; `context_steps` zero actions give the model
its context frames; then for `steps` control steps the planner chooses actions with the
model (or, for the random baseline, actions are drawn uniformly) and the first `execute`
are executed. Success: the pushed digit ends within `tolerance` pixels of the target.
Episodes are a pure function of the seed, whichever model plans."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from svg_tf.datasets import pushed_mnist, smmnist

MAX_HORIZON = 50  # planning steps ahead; the simulator needs the free digits' paths that far


@dataclasses.dataclass
class EpisodeResult:
    success: bool
    final_distance: float
    start_distance: float
    seconds_per_step: float
    goal: np.ndarray  # [H, W, 1]
    frames: np.ndarray  # executed: [context_steps + 1 + steps, H, W, 1]
    first_plan: np.ndarray | None  # the model's predicted frames of its first plan


def goal_image(env, target):
    """Digit 0 alone at `target` (y, x): what the planner is shown."""
    position = np.round(np.asarray(target))[None, None].astype(np.int32)
    return pushed_mnist.render_frames(env.table, env.digits[:1], position, env.image_size)[0]


def check_goal(goal, frame_shape):
    """Refuse, in one line, a goal image that is not one frame of the model's size."""
    goal = np.asarray(goal)
    if goal.shape != tuple(frame_shape):
        raise ValueError(f"the goal image has shape {goal.shape}, the model's frames "
                         f"{tuple(frame_shape)}")
    return goal.astype(np.float32)


def run_episode(env, model, planner, cost, rng, steps=15, context_steps=4, execute=1,
                tolerance=3.0):
    """One episode; `model` None takes uniformly random actions. See the module docstring."""
    limit = env.image_size - smmnist.DIGIT_SIZE
    state, frame = env.reset()
    target = rng.uniform(0, limit, 2)
    goal = goal_image(env, target)
    if model is not None:
        goal = check_goal(goal, model.frame_shape)
    dim = pushed_mnist.ACTIONS.dim
    frames, actions = [frame], []
    for _ in range(context_steps):
        state, frame = env.step(np.zeros(dim))
        frames.append(frame)
        actions.append(np.zeros(dim))
    start_distance = float(np.linalg.norm(state.position - target))
    if planner is not None:
        planner.reset()
    first_plan, seconds, done = None, 0.0, 0
    while done < steps:
        if model is None:
            plan = rng.uniform(-1, 1, (execute, dim))
        else:
            began = time.perf_counter()
            plan, _ = planner.plan(
                lambda c: cost(model.predict(np.stack(frames), np.asarray(actions), c), goal),
                rng)
            seconds += time.perf_counter() - began
            if first_plan is None:
                first_plan = model.predict(np.stack(frames), np.asarray(actions), plan[None])[0]
        executed = 0
        for action in plan[:execute]:
            if done == steps:
                break
            state, frame = env.step(action)
            frames.append(frame)
            actions.append(np.asarray(action))
            done, executed = done + 1, executed + 1
        if planner is not None:
            planner.shift(executed)
    distance = float(np.linalg.norm(state.position - target))
    return EpisodeResult(distance <= tolerance, distance, start_distance, seconds / steps,
                         goal, np.stack(frames), first_plan)


def run_episodes(model_name, episodes=20, seed=0, num_digits=2, steps=15, context_steps=4,
                 execute=1, tolerance=3.0, planner=None, cost=None, learned=None,
                 progress=None):
    """`episodes` control episodes, the same for every model (seeded by `seed`).

    Args:
      model_name: "learned" (plan with `learned`, a LearnedModel), "simulator" (plan with
        the environment itself) or "random" (uniform random actions, no planning).
      planner, cost: a CEM/MPPI instance and a cost `(frames, goal) -> [N]` (not for random).
      progress: an optional callable(EpisodeResult) after each episode (a progress bar).

    Returns:
      A list of EpisodeResult.
    """
    from svg_tf.planning.world_models import SimulatorModel

    if planner is not None and planner.horizon > MAX_HORIZON:
        raise ValueError(f"horizon={planner.horizon} is invalid: at most {MAX_HORIZON}")
    # One episode length whatever the planner, so that every model meets the same episodes.
    env = pushed_mnist.Environment(num_digits=num_digits, seed=seed,
                                   horizon=context_steps + steps + MAX_HORIZON)
    model = {"learned": learned, "random": None}.get(model_name, None)
    if model_name == "simulator":
        model = SimulatorModel(env)
    elif model_name not in ("learned", "random"):
        raise ValueError(f"model={model_name!r} is invalid: expected learned, simulator or "
                         "random")
    if model_name != "random" and (planner is None or cost is None or model is None):
        raise ValueError(f"model={model_name} needs a planner, a cost and a model")
    results = []
    for episode in range(int(episodes)):
        rng = np.random.default_rng([seed, episode, 1])
        results.append(run_episode(env, model, planner, cost, rng, steps, context_steps,
                                   execute, tolerance))
        if progress is not None:
            progress(results[-1])
    return results


def summarize(results, tolerance):
    """The figures of a set of episodes (what `plan --json` writes)."""
    return {"episodes": len(results),
            "success_rate": float(np.mean([r.success for r in results])),
            "mean_final_distance": float(np.mean([r.final_distance for r in results])),
            "mean_start_distance": float(np.mean([r.start_distance for r in results])),
            "seconds_per_step": float(np.mean([r.seconds_per_step for r in results])),
            "tolerance_px": float(tolerance)}


def episode_picture(result, context_steps):
    """uint8 image: the goal, then the executed frames (context with a green border, the
    controlled steps red); below, the goal again under the model's predicted frames of its
    first plan, placed at the steps they predict."""
    from svg_tf.visualize import still_grid

    executed = np.concatenate([result.goal[None], result.frames])
    plan = np.zeros_like(executed)
    plan[0] = result.goal
    if result.first_plan is not None:
        start = context_steps + 2
        shown = result.first_plan[:len(plan) - start]
        plan[start:start + len(shown)] = shown
    return still_grid(np.stack([executed, plan]), n_past=context_steps + 2)
