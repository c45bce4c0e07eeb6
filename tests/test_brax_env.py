"""The brax adapter: gymnax interface, auto-reset, time limit, physics from EnvParams.

Every inverted_pendulum test shares one jitted, vmapped rollout (batch B, T steps), so it
compiles once; the friction test needs contacts and uses hopper (one more compile).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import environment, spaces

import envs
from envs.brax import BraxEnv, EnvParams

B, T = 5, 20  # batch of EnvParams, steps per rollout


def _batch(*params: EnvParams) -> EnvParams:
    """Stack EnvParams into a batch of numpy leaves (no weak types, so no retracing)."""
    return jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *params)


def _as_numpy(params: EnvParams) -> EnvParams:
    return jax.tree.map(np.asarray, params)


def _rollout_fn(env: BraxEnv):
    """jit(vmap over params) of a T-step rollout with a shared key and shared actions."""

    def rollout(params, key, actions):
        obs0, state = env.reset(key, params)

        def body(state, inp):
            k, action = inp
            obs, state, reward, terminated, truncated, info = env.step(k, state, action, params)
            return state, dict(obs=obs, reward=reward, terminated=terminated,
                               truncated=truncated, final_obs=info["final_observation"],
                               time=state.time)

        keys = jax.random.split(jax.random.fold_in(key, 1), actions.shape[0])
        _, traj = jax.lax.scan(body, state, (keys, actions))
        return obs0, traj

    return jax.jit(jax.vmap(rollout, in_axes=(0, None, None)))


@pytest.fixture(scope="module")
def pendulum():
    env, params = envs.make("brax/inverted_pendulum")
    return env, params, _rollout_fn(env)


def _actions(env: BraxEnv, value: float | None = None, seed: int = 0) -> jax.Array:
    shape = (T, env.action_size)
    if value is not None:
        return jnp.full(shape, value, jnp.float32)
    return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0, maxval=1.0)


def test_make_and_spaces(pendulum):
    env, params, _ = pendulum
    assert isinstance(env, environment.Environment)
    assert env.name == "brax/inverted_pendulum"
    assert isinstance(params, EnvParams)
    assert params.mass_scale.shape == (2,) and params.gravity.shape == (3,)
    assert params.max_steps_in_episode == 1000
    obs_space, act_space = env.observation_space(params), env.action_space(params)
    assert isinstance(obs_space, spaces.Box) and isinstance(act_space, spaces.Box)
    assert obs_space.shape == (4,) and act_space.shape == (1,)
    assert float(act_space.low) == -1.0 and float(act_space.high) == 1.0
    assert env.backend == "spring"  # DEFAULT_BACKENDS["inverted_pendulum"]
    # envs.make sends constructor options to make_brax and the rest to EnvParams fields.
    other, short = envs.make("brax/inverted_pendulum", backend="generalized", episode_length=9,
                             friction_scale=0.5)
    assert other.backend == "generalized" and short.max_steps_in_episode == 9
    assert short.friction_scale == 0.5


def test_reset_step_shapes_and_autoreset(pendulum):
    env, params, rollout = pendulum
    # Full push one way: the pole falls within T steps, brax's done -> terminated.
    obs0, traj = rollout(_batch(*[params] * B), jax.random.PRNGKey(0), _actions(env, 1.0))
    obs_shape = env.observation_space(params).shape
    assert obs0.shape == (B, *obs_shape) and obs0.dtype == jnp.float32
    assert traj["obs"].shape == (B, T, *obs_shape) and traj["obs"].dtype == jnp.float32
    assert traj["reward"].shape == (B, T) and traj["reward"].dtype == jnp.float32
    assert traj["terminated"].dtype == jnp.bool_ and traj["truncated"].dtype == jnp.bool_
    term = np.asarray(traj["terminated"][0])
    assert term.any() and not np.asarray(traj["truncated"]).any()
    t = int(np.argmax(term))
    # Auto-reset: the returned obs is a fresh reset, the pre-reset one is in final_observation.
    assert int(traj["time"][0, t]) == 0 and int(traj["time"][0, t - 1]) == t
    final, obs = np.asarray(traj["final_obs"][0, t]), np.asarray(traj["obs"][0, t])
    assert abs(final[1]) > 0.2 and abs(obs[1]) < 0.02  # pole angle: fallen vs. just reset
    not_done = ~np.asarray(traj["terminated"] | traj["truncated"])
    np.testing.assert_array_equal(np.asarray(traj["final_obs"])[not_done],
                                  np.asarray(traj["obs"])[not_done])


def test_physical_params_change_trajectory(pendulum):
    env, params, rollout = pendulum
    variants = _batch(
        params,
        params,
        params.replace(mass_scale=params.mass_scale.at[1].set(2.0)),  # heavier pole
        params.replace(gravity=params.gravity * 0.5),
        params.replace(actuator_scale=jnp.float32(0.5)),
    )
    _, traj = rollout(variants, jax.random.PRNGKey(1), _actions(env, seed=1))
    obs = np.asarray(traj["obs"])
    assert np.isfinite(obs).all()
    np.testing.assert_array_equal(obs[0], obs[1])  # same params, key, actions: same rollout
    for i, what in [(2, "mass"), (3, "gravity"), (4, "actuator")]:
        assert np.abs(obs[i] - obs[0]).max() > 1e-3, f"{what} did not change the trajectory"


def test_truncation_sets_truncated_not_terminated(pendulum):
    env, params, rollout = pendulum
    short = params.replace(max_steps_in_episode=5)
    _, traj = rollout(_batch(*[short] * B), jax.random.PRNGKey(2), _actions(env, 0.0))
    truncated, terminated = np.asarray(traj["truncated"][0]), np.asarray(traj["terminated"][0])
    assert not terminated.any()
    np.testing.assert_array_equal(np.flatnonzero(truncated), [4, 9, 14, 19])
    np.testing.assert_array_equal(np.asarray(traj["time"][0, :6]), [1, 2, 3, 4, 0, 1])


def test_default_param_space_sample_and_grid_run(pendulum):
    env, params, rollout = pendulum
    space = envs.default_param_space("brax/inverted_pendulum")
    assert set(space.names) >= {"mass_scale", "friction_scale"}
    sampled = space.sample(jax.random.PRNGKey(3), B)
    assert bool(jnp.all(space.contains(sampled)))
    assert sampled.mass_scale.shape == (B, 2)
    grid = space.grid(2)
    assert grid.mass_scale.shape[0] == 2 ** space.dim
    for batch in (sampled, jax.tree.map(lambda x: x[-B:], grid)):
        _, traj = rollout(_as_numpy(batch), jax.random.PRNGKey(4), _actions(env, seed=4))
        assert np.isfinite(np.asarray(traj["obs"])).all()
        assert np.isfinite(np.asarray(traj["reward"])).all()


# Friction and masses acting through the hopper's contacts on its default backend: the
# hopper-3d set in tests/test_spaces.py (test_brax_dimensions_change_the_trajectory).
