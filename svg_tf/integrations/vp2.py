"""A trained action-conditioned run as a VP2 model (the control-centric benchmark of Tian et
al., ICLR 2023), with the contract VP2's planner code calls (vp2/mpc/mppi.py):

    model = VP2Model("runs/push", max_batch_size=200)
    out = model({"video": video, "actions": actions})
    # video (N, n_ctx, H, W, C) in [0, 1]; actions (N, n_ctx - 1 + horizon, A), raw (VP2's
    # planners sample them in [-1, 1]); out["rgb"] (N, n_ctx - 1 + horizon, H, W, C):
    # context frames 1 .. n_ctx - 1 as given, then the horizon predicted frames.

VP2 tiles one context N times, one row per candidate: rows that share their context (frames
and actions) are rolled out from one encoding of it (`SVG.rollout`). Numpy in, numpy out;
torch tensors in (when torch is importable), torch tensors out on the same device. svg_tf
does not depend on torch.
"""

from __future__ import annotations

import numpy as np

from svg_tf.models.rollout import DEFAULT_MAX_BATCH


class VP2Model:
    """A run directory as VP2's model object: `num_context`, `base_prediction_modality`,
    and `__call__(batch) -> {"rgb": frames}`."""

    base_prediction_modality = "rgb"

    def __init__(self, logdir, max_batch_size=DEFAULT_MAX_BATCH, checkpoint=None, seed=0,
                 samples_per_candidate=1):
        from svg_tf.run_dir import load_run

        self.config, self.model = load_run(logdir, checkpoint)
        if not self.model.conditioned:
            raise ValueError(f"{logdir}: this run is not conditioned on actions "
                             "(conditioning=none), so a planner cannot steer it; train one "
                             "with --conditioning=actions")
        self.logdir = logdir
        self.num_context = self.config.n_past
        self.max_batch_size = int(max_batch_size)
        self.seed = int(seed)
        self.samples_per_candidate = int(samples_per_candidate)
        self.calls = 0

    def __call__(self, batch):
        """Predict VP2's batch; see the module docstring for the shapes."""
        video, like = _as_numpy(batch, "video")
        actions, _ = _as_numpy(batch, "actions")
        context, context_actions, futures = self._check(video, actions)
        groups = _shared_contexts(context, context_actions)
        predicted = np.empty((len(video), futures.shape[1], *video.shape[2:]), np.float32)
        for rows in groups:
            first = rows[0]
            frames = self.model.rollout(
                context[first:first + 1], futures[rows][None],
                context_actions[first:first + 1], self.samples_per_candidate,
                seed=[self.seed, self.calls], max_batch=self.max_batch_size)
            if self.samples_per_candidate > 1:  # VP2 expects one future per row: the mean
                frames = np.mean(frames, axis=2)
            predicted[rows] = np.asarray(frames)[0]
        self.calls += 1
        rgb = np.concatenate([video[:, 1:], predicted], 1)
        return {"rgb": like(rgb)}

    def _check(self, video, actions):
        c = self.config
        n_ctx, a_dim = self.num_context, c.action_dim
        frame = tuple(c.frame_shape)
        if video.ndim != 5 or video.shape[1] != n_ctx or video.shape[2:] != frame:
            raise ValueError(f"batch['video'] must have shape (N, {n_ctx}, "
                             f"{', '.join(map(str, frame))}) in [0, 1], got {video.shape}")
        if (actions.ndim != 3 or actions.shape[0] != video.shape[0]
                or actions.shape[1] < n_ctx or actions.shape[2] != a_dim):
            raise ValueError(f"batch['actions'] must have shape ({video.shape[0]}, {n_ctx - 1} "
                             f"+ horizon, {a_dim}) with horizon >= 1, got {actions.shape}")
        if not (np.isfinite(video).all() and np.isfinite(actions).all()):
            raise ValueError("batch['video'] and batch['actions'] must be finite")
        video = video.astype(np.float32)
        actions = actions.astype(np.float32)
        return video, actions[:, :n_ctx - 1], actions[:, n_ctx - 1:]


def _shared_contexts(context, context_actions):
    """Row indices grouped by identical (context, context actions): VP2 tiles one context
    over every candidate, which is then encoded once."""
    groups, keys = [], {}
    for row in range(len(context)):
        key = (context[row].tobytes(), context_actions[row].tobytes())
        if key not in keys:
            keys[key] = len(groups)
            groups.append([])
        groups[keys[key]].append(row)
    return [np.asarray(g) for g in groups]


def _as_numpy(batch, key):
    """batch[key] as float numpy, and a function giving an output of the same kind (a torch
    tensor on the input's device, or numpy)."""
    if key not in batch:
        raise ValueError(f"the batch has no {key!r} (VP2 passes 'video' and 'actions')")
    value = batch[key]
    if type(value).__module__.startswith("torch"):
        import torch

        device = value.device
        array = value.detach().cpu().numpy()
        return array, lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device)
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"batch[{key!r}] must be numbers, got dtype {array.dtype}")
    return array, lambda x: x
