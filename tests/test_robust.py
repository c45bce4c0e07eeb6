"""environment_design.robust and discovery.robust_eval: the worst-case grid evaluation."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from environment_design.robust import evaluate_grid, score_points
from environment_design.spaces import make_space
from envs.rollout import first_episode_return, reset_batch, unroll


def _balance_score(uset, num_envs: int = 4):
    """Mean first-episode return of a fixed linear CartPole controller (push towards the
    pole's lean, with noise): a policy whose return depends on the dynamics."""
    env = uset.env

    def score(params, key):
        k_reset, k_run = jax.random.split(key)
        obs, state = reset_batch(env, params, k_reset, num_envs)

        def policy(obs, k):
            lean = obs[:, 2] + 0.5 * obs[:, 3] + 0.3 * jax.random.normal(k, (obs.shape[0],))
            return (lean > 0).astype(jnp.int32), {}

        _, _, (reward, done) = unroll(env, params, policy, state, obs, k_run, 200,
                                      keep=lambda t: (t.reward, t.done))
        return first_episode_return(reward, done)[0].mean()

    return score


@pytest.fixture(scope="module")
def grid_and_loop():
    """The grid evaluation of cartpole-2d (5 x 5) and the same points one by one."""
    uset = make_space("cartpole-2d")
    score = _balance_score(uset)
    key = jax.random.key(3)
    result = evaluate_grid(score, uset, 5, key)
    one = jax.jit(lambda u, k: score(uset.from_unit(u), k))
    loop = np.asarray([float(one(jnp.asarray(u), key)) for u in uset.unit_grid(5)])
    return uset, result, loop


def test_grid_equals_a_python_loop_over_the_same_points(grid_and_loop):
    _, result, loop = grid_and_loop
    assert result.returns.shape == (25,)
    np.testing.assert_allclose(result.returns, loop, rtol=1e-5)


def test_worst_case_is_at_most_the_mean_and_the_dynamics_matter(grid_and_loop):
    uset, result, _ = grid_and_loop
    assert result.worst <= result.mean
    assert result.returns.max() > result.worst  # the set's dynamics change the return
    np.testing.assert_allclose(result.values[result.argmin], uset.values(
        result.unit[result.argmin]), rtol=1e-6)


def test_score_points_keeps_trailing_axes():
    uset = make_space("pendulum-1d")

    def score(params, key):  # two "agents": mass and twice the mass
        return jnp.stack([params.m, 2 * params.m])

    out = jax.jit(lambda u: score_points(score, uset, u, jax.random.key(0)))(
        jnp.asarray(uset.unit_grid(3)))
    np.testing.assert_allclose(out, [[0.25, 0.5], [2.125, 4.25], [4.0, 8.0]])


@pytest.mark.slow
def test_rldisco_robust_eval_on_a_trained_run(tmp_path, capsys):
    """`rldisco train` saves its agents; `rldisco robust-eval` reads them and writes the CSV,
    the summary and the plot."""
    from discovery.cli import main

    assert main(["train", "--env", "CartPole-v1", "--seeds", "2", "--total-timesteps", "4096",
                 "--name", "t", "--runs-dir", str(tmp_path)]) == 0
    run = tmp_path / "t"
    assert main(["robust-eval", str(run), "--space", "cartpole-2d", "--grid", "3",
                 "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "worst case" in out
    rows = list(csv.DictReader((run / "eval" / "robust_cartpole-2d.csv").open()))
    assert len(rows) == 9 and {"pole half-length", "ppo_0", "ppo_1", "ppo_mean"} <= set(rows[0])
    assert (run / "plots" / "robust_cartpole-2d.png").stat().st_size > 0
    assert main(["robust-eval", str(run), "--space", "hopper-1d"]) == 2
    assert "sets over CartPole-v1: cartpole-1d" in capsys.readouterr().err
    assert main(["worst-case", str(run), "--space", "cartpole-2d", "--grid", "4",
                 "--population", "4", "--generations", "3", "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "CMA-ES: worst return" in out and "(12 evaluations)" in out
    assert "(16 evaluations)" in out
