"""What a metric declares, so that evaluation, best-of-N selection, metrics.json/csv, plots
and --compare work over whichever metrics are selected without a list of names."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

FRAME = "frame"  # a score per predicted frame of every sample: best-of-N, curves, CIs
VIDEO_SET = "video_set"  # one number for a set of videos (FVD)
KINDS = (FRAME, VIDEO_SET)


@dataclasses.dataclass(frozen=True)
class Metric:
    """name: the --metrics value. convention: how it is computed (written to metrics.json).
    requires: the resource it needs (e.g. lpips_weights), or None: the name of evaluate_run's
        keyword argument and of evaluate's flag that give it.
    requires_help: the --help text of that flag.
    load(value): checks and loads that requirement once, before any sampling.
    frame_scores(samples [B, S, T, H, W, C], truth [B, 1, T, H, W, C], resource) -> [B, S, T]
        (FRAME metrics).
    collect(videos [B, T, ...], samples [B, S, T', ...], n_past, frames, rng) -> {key: array}
        per batch, saved with the scores; compute(collected, resource, settings) ->
        {"value": ..., ...} over the whole test set (VIDEO_SET metrics); settings: the
        evaluation's protocol settings (e.g. fvd_resize).
    """

    name: str
    higher_is_better: bool
    kind: str
    convention: str
    unit: str = ""
    requires: str | None = None
    requires_help: str = ""
    load: Callable[[Any], Any] | None = None
    frame_scores: Callable[..., Any] | None = None
    collect: Callable[..., dict] | None = None
    compute: Callable[..., dict] | None = None
    min_frames: int = 1  # frames a video must have for the metric to be defined

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is invalid: expected one of {list(KINDS)}")
        if self.kind == FRAME and self.frame_scores is None:
            raise ValueError(f"frame metric {self.name!r} needs frame_scores")
        if self.kind == VIDEO_SET and (self.collect is None or self.compute is None):
            raise ValueError(f"video-set metric {self.name!r} needs collect and compute")

    def best_sample(self, values) -> np.ndarray:
        """Index `[B]` of each sequence's best sample from scores `[B, S, T]`, after
        averaging over frames (lowest when lower is better)."""
        means = np.asarray(values).mean(-1)
        return np.argmax(means, 1) if self.higher_is_better else np.argmin(means, 1)
