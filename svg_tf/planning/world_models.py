"""What a planner asks a model: `predict(frames, actions, candidates) -> [N, horizon, H, W, C]`,
the frames each candidate action sequence `[N, horizon, A]` would produce after the frames
observed so far (`[n, H, W, C]`, with the n - 1 actions between them). A trained run answers
with batched rollouts from its learned prior; the simulator answers with the environment's
own future (the upper bound a perfect model would reach)."""

from __future__ import annotations

import numpy as np

from svg_tf.datasets import pushed_mnist
from svg_tf.models.rollout import DEFAULT_MAX_BATCH


class LearnedModel:
    """A trained run as a planner's model. It sees the run's last n_past observed frames
    (repeating the first while fewer were observed) and the actions between them.

    A run without actions can only be asked with `allow_unconditioned=True`: its futures
    are samples that ignore the candidates (the planner then chooses at random among
    them), which is what an action-free model of the same budget is worth for control."""

    name = "learned"

    def __init__(self, logdir, samples_per_candidate=1, max_batch=DEFAULT_MAX_BATCH, seed=0,
                 allow_unconditioned=False, checkpoint=None):
        from svg_tf.run_dir import load_run

        self.config, self.model = load_run(logdir, checkpoint)
        if not self.model.conditioned and not allow_unconditioned:
            raise ValueError(f"{logdir}: this run is not conditioned on actions "
                             "(conditioning=none), so its predictions ignore the plan; train "
                             "with --conditioning=actions (or allow_unconditioned to measure "
                             "that baseline)")
        self.frame_shape = tuple(self.config.frame_shape)
        self.action_dim = self.config.action_dim or 2
        self.samples_per_candidate = int(samples_per_candidate)
        self.max_batch, self.seed, self.calls = int(max_batch), int(seed), 0

    def predict(self, frames, actions, candidates):
        n_past = self.config.n_past
        frames = np.asarray(frames, np.float32)
        actions = np.asarray(actions, np.float32).reshape(-1, self.action_dim)
        missing = max(0, n_past - len(frames))
        context = np.concatenate([np.repeat(frames[:1], missing, 0), frames])[-n_past:]
        between = np.concatenate([np.zeros((missing, self.action_dim), np.float32),
                                  actions])[len(actions) + missing - (n_past - 1):]
        candidates = np.asarray(candidates, np.float32)
        seed = [self.seed, self.calls]
        self.calls += 1
        if not self.model.conditioned:
            return np.asarray(self.model.sample(
                context[None], candidates.shape[1], num_samples=len(candidates), seed=seed,
                bn="running"))[0]
        predicted = np.asarray(self.model.rollout(
            context[None], candidates[None], between[None], self.samples_per_candidate,
            seed=seed, max_batch=self.max_batch))[0]
        # K futures per candidate: the planner scores their mean frame
        return predicted.mean(1) if self.samples_per_candidate > 1 else predicted


class SimulatorModel:
    """The pushed_mnist environment as its own model: every candidate's exact future from
    the current state (the free digits' paths included)."""

    name = "simulator"

    def __init__(self, env: pushed_mnist.Environment):
        self.env = env
        self.frame_shape = (env.image_size, env.image_size, 1)
        self.action_dim = pushed_mnist.ACTIONS.dim

    def predict(self, frames, actions, candidates):
        del frames, actions  # the simulator knows the state
        env, state = self.env, self.env.state
        candidates = np.asarray(candidates, np.float64)
        num, horizon = candidates.shape[:2]
        position = np.repeat(np.asarray(state.position, np.float64)[None], num, 0)
        pushed = np.zeros((num, horizon, 2))
        for t in range(horizon):
            position = pushed_mnist.push(position, candidates[:, t], env.image_size)
            pushed[:, t] = position
        steps = np.minimum(state.t + 1 + np.arange(horizon), len(state.others) - 1)
        others = np.broadcast_to(state.others[steps][None],
                                 (num, horizon, *state.others.shape[1:]))
        positions = np.concatenate([np.round(pushed).astype(np.int32)[:, :, None], others], 2)
        frames = pushed_mnist.render_frames(env.table, env.digits,
                                            positions.reshape(num * horizon, -1, 2),
                                            env.image_size)
        return frames.reshape(num, horizon, *frames.shape[1:])
