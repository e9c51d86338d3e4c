"""Sampling-based trajectory optimizers over action sequences `[horizon, A]` in a box, as
visual MPC uses them (VP2 plans with both): CEM refits a Gaussian to the elite candidates,
MPPI moves the mean to the cost-weighted average of all candidates. Each `plan` call runs a
few iterations of (sample N candidates, score them all at once, update); the mean carries
over to the next control step shifted by the executed actions (warm start)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class _Sampler:
    """What CEM and MPPI share: the candidate count, iterations, action bounds, the Gaussian
    they sample from, and the warm start."""
    horizon: int = 10
    action_dim: int = 2
    samples: int = 200
    iterations: int = 3
    init_std: float = 0.5
    low: float = -1.0
    high: float = 1.0

    def __post_init__(self):
        for name in ("horizon", "action_dim", "samples", "iterations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} is invalid: expected >= 1")
        if not self.low < self.high:
            raise ValueError(f"the action bounds [{self.low}, {self.high}] are empty")
        self.reset()

    def reset(self):
        """Forget the warm start (a new episode)."""
        self.mean = np.zeros((self.horizon, self.action_dim))
        self.std = np.full((self.horizon, self.action_dim), float(self.init_std))

    def shift(self, executed):
        """After executing the first `executed` actions: the rest of the plan becomes the
        next plan's start, padded with zeros and a fresh spread."""
        self.mean = np.concatenate([self.mean[executed:],
                                    np.zeros((executed, self.action_dim))])
        self.std = np.full_like(self.mean, float(self.init_std))

    def _draw(self, rng):
        noise = rng.standard_normal((self.samples, self.horizon, self.action_dim))
        return np.clip(self.mean + self.std * noise, self.low, self.high)

    def plan(self, cost, rng):
        """Optimize with `cost(candidates [N, horizon, A]) -> [N]`; returns (the plan
        `[horizon, A]`, its cost)."""
        best, best_cost = None, np.inf
        for _ in range(int(self.iterations)):
            candidates = self._draw(rng)
            costs = np.asarray(cost(candidates), np.float64)
            if costs.shape != (len(candidates),) or not np.isfinite(costs).all():
                raise ValueError(f"the cost must give one finite number per candidate, got "
                                 f"shape {costs.shape}")
            if costs.min() < best_cost:
                best, best_cost = candidates[np.argmin(costs)], float(costs.min())
            self._update(candidates, costs)
        return self._final(best), best_cost

    def _final(self, best):
        return best


@dataclasses.dataclass
class CEM(_Sampler):
    """The cross-entropy method: refit mean and std to the `elites` cheapest candidates;
    the plan is the cheapest candidate seen."""
    elites: int = 20
    min_std: float = 0.05

    def _update(self, candidates, costs):
        elite = candidates[np.argsort(costs)[:max(1, min(self.elites, len(costs)))]]
        self.mean = elite.mean(0)
        self.std = np.maximum(elite.std(0), self.min_std)


@dataclasses.dataclass
class MPPI(_Sampler):
    """Model-predictive path integral control: the mean moves to the average of all
    candidates weighted by exp(-(cost - min) / (temperature * spread)), where spread is the
    candidates' cost range (so the temperature does not depend on the cost's units); the
    plan is that mean."""
    temperature: float = 0.1

    def _update(self, candidates, costs):
        spread = max(costs.max() - costs.min(), 1e-12)
        weights = np.exp(-(costs - costs.min()) / (self.temperature * spread))
        weights /= weights.sum()
        self.mean = np.einsum("n,nta->ta", weights, candidates)

    def _final(self, best):
        return np.clip(self.mean, self.low, self.high)


PLANNERS = {"cem": CEM, "mppi": MPPI}
