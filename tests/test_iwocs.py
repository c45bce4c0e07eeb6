"""environment_design.iwocs: CMA-ES worst-case search and the IWOCS worst-case set."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from environment_design.iwocs import WorstCaseSearch
from environment_design.robust import evaluate_grid
from environment_design.spaces import make_space

TARGET = np.asarray([1.37, 2.91, 8.3], np.float32)  # pendulum-3d: mass, length, gravity


def _bowl(uset):
    """A known return surface: lowest (100) at TARGET, quadratic around it, plus key noise
    that common random numbers make the same at every point."""
    scale = jnp.asarray(uset.high - uset.low)

    def score(params, key):
        v = jnp.stack([params.m, params.l, params.g])
        return (100.0 + 50.0 * jnp.sum(((v - TARGET) / scale) ** 2)
                + jax.random.normal(key))

    return score


def test_search_finds_the_analytic_worst_case_with_fewer_evaluations_than_the_grid():
    uset = make_space("pendulum-3d")
    score = _bowl(uset)
    search = WorstCaseSearch(uset.dim, population=8, generations=20)
    eval_key = jax.random.key(7)
    result = jax.jit(lambda k: search.run(score, uset, k, eval_key))(jax.random.key(1))
    grid = evaluate_grid(score, uset, 10, eval_key)
    assert int(result.evaluations) == 160 < len(grid.returns) == 1000
    error = np.abs((np.asarray(result.values) - TARGET) / (uset.high - uset.low))
    assert error.max() < 0.01, result.values
    assert float(result.score) <= float(grid.worst)  # at least as bad as the grid's worst
    trace = np.asarray(result.best_trace)
    assert np.all(np.diff(trace) <= 0) and trace[-1] == pytest.approx(float(result.score))


def test_search_finds_a_worst_case_on_the_boundary():
    """Return increasing in every parameter: the worst case is the cube's low corner
    (candidates outside the cube are scored at their projection)."""
    uset = make_space("cartpole-2d")
    search = WorstCaseSearch(uset.dim, population=6, generations=12)

    def score(params, key):
        return params.length + 10.0 * params.masspole

    result = jax.jit(lambda k: search.run(score, uset, k, k))(jax.random.key(0))
    assert search.evaluations == 72 < 10 ** uset.dim
    np.testing.assert_allclose(result.unit, [0.0, 0.0], atol=1e-3)


def test_search_settings_are_checked_by_name():
    with pytest.raises(ValueError, match="population"):
        WorstCaseSearch(2, population=1)
    with pytest.raises(ValueError, match="dim is 2, the set 'pendulum-1d' has 1"):
        WorstCaseSearch(2).run(lambda p, k: 0.0, make_space("pendulum-1d"),
                               jax.random.key(0), jax.random.key(0))
