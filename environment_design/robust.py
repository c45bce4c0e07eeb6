"""Worst-case evaluation over an uncertainty set's grid (RRLS's protocol).

A *score function* `score_fn(params, key) -> returns [...]` rates one EnvParams (one dynamics
model), e.g. a trained policy's mean episode return, per agent. The caller (`discovery`)
builds it; this module only maps unit-cube points to dynamics and reduces:

    result = evaluate_grid(score_fn, uset, 10, key)   # all points vmapped in one jitted call
    result.worst, result.mean                          # [...]: min and mean over the grid

Every point uses the same key (common random numbers): two points differ only by dynamics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from environment_design.spaces import UncertaintySet

ScoreFn = Callable[[Any, jax.Array], jax.Array]


class GridResult(NamedTuple):
    """Returns on a grid: unit points [P, d], physical values [P, d], returns [P, ...]."""

    unit: np.ndarray
    values: np.ndarray
    returns: np.ndarray

    @property
    def worst(self) -> np.ndarray:
        """Minimum over the grid points (per trailing index, e.g. per agent)."""
        return self.returns.min(axis=0)

    @property
    def mean(self) -> np.ndarray:
        """Mean over the grid points."""
        return self.returns.mean(axis=0)

    @property
    def argmin(self) -> np.ndarray:
        """Index of the worst point of the agent-mean return."""
        per_point = self.returns.reshape(len(self.returns), -1).mean(axis=1)
        return np.asarray(per_point.argmin())


def score_points(score_fn: ScoreFn, uset: UncertaintySet, unit: jax.Array,
                 key: jax.Array) -> jax.Array:
    """Scores of unit-cube points `unit` [P, d]: [P, ...] (vmapped; jit the caller, or use
    `evaluate_grid`). Every point gets the same `key`."""
    return jax.vmap(lambda u: score_fn(uset.from_unit(u), key))(unit)


def evaluate_grid(score_fn: ScoreFn, uset: UncertaintySet, points_per_dim: int,
                  key: jax.Array) -> GridResult:
    """Score every point of `uset.unit_grid(points_per_dim)` in one compiled call."""
    unit = uset.unit_grid(points_per_dim)
    run = jax.jit(lambda u, k: score_points(score_fn, uset, u, k))
    returns = np.asarray(run(jnp.asarray(unit), key), dtype=np.float64)
    return GridResult(unit, np.asarray(uset.values(unit)), returns)
