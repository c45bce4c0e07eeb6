"""Registry, ParamSpace and wrappers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import Box, Choice, ParamSpace
from envs.wrappers import EpisodeStats, FlattenObservation, NormalizeObservation


@pytest.fixture(scope="module")
def cartpole():
    return envs.make("CartPole-v1")


def test_unknown_env_lists_close_matches():
    with pytest.raises(ValueError, match="Did you mean: CartPole-v1"):
        envs.make("Cartpole-v1")
    with pytest.raises(ValueError, match="Known environments"):
        envs.make("nothing-like-it")


def test_overrides_replace_params_and_bad_override_names_field():
    _, params = envs.make("CartPole-v1", gravity=12.0)
    assert params.gravity == 12.0
    with pytest.raises(ValueError, match="gravityy"):
        envs.make("CartPole-v1", gravityy=1.0)


@pytest.mark.parametrize("name", envs.registry.GYMNAX_ENVS)
def test_gymnax_family_builds(name):
    env, params = envs.make(name)
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == env.observation_space(params).shape


def test_param_space_round_trip_bounds_and_grid(cartpole):
    _, params = cartpole
    space = ParamSpace(params, gravity=Box(5.0, 15.0), length=Box(0.25, 1.0, log=True),
                       max_steps_in_episode=Choice((200, 500)))
    assert space.dim == 3
    batch = space.sample(jax.random.key(0), 256)
    assert bool(jnp.all(jax.vmap(space.contains)(batch)))
    assert set(np.unique(batch.max_steps_in_episode)) == {200, 500}
    vecs = jax.vmap(space.to_vector)(batch)
    back = jax.vmap(space.from_vector)(vecs)
    np.testing.assert_allclose(back.gravity, batch.gravity, rtol=1e-6)
    np.testing.assert_allclose(back.length, batch.length, rtol=1e-6)
    mutated = jax.vmap(space.mutate, in_axes=(0, 0, None))(
        jax.random.split(jax.random.key(1), 256), batch, 0.5)
    assert bool(jnp.all(jax.vmap(space.contains)(mutated)))
    assert not np.allclose(mutated.gravity, batch.gravity)
    grid = space.grid(4)
    assert grid.gravity.shape == (4 * 4 * 2,)
    np.testing.assert_allclose(sorted(set(np.asarray(grid.gravity).round(4))),
                               [5.0, 8.3333, 11.6667, 15.0], rtol=1e-4)
    clipped = space.clip(params.replace(gravity=100.0))
    assert float(clipped.gravity) == 15.0


def test_param_space_derived_fields_follow():
    space = envs.default_param_space("CartPole-v1")
    p = space.sample(jax.random.key(3), 8)
    np.testing.assert_allclose(p.total_mass, p.masscart + p.masspole, rtol=1e-6)
    np.testing.assert_allclose(p.polemass_length, p.masspole * p.length, rtol=1e-6)


@pytest.mark.parametrize("spec,match", [(Box(2.0, 1.0), "low"), (Box(0.0, 1.0, log=True), "log"),
                                        (Box(0.0, float("inf")), "finite")])
def test_param_space_rejects_bad_bounds(cartpole, spec, match):
    _, params = cartpole
    with pytest.raises(ValueError, match=match):
        ParamSpace(params, gravity=spec)


def test_param_space_rejects_unknown_field(cartpole):
    with pytest.raises(ValueError, match="gravty"):
        ParamSpace(cartpole[1], gravty=Box(0.0, 1.0))


def test_episode_stats_sum_rewards_and_reset(cartpole):
    env, params = cartpole
    wrapped = EpisodeStats(env)
    obs, state = wrapped.reset(jax.random.key(0), params)

    def step(carry, k):
        state, total = carry
        obs, state, reward, term, trunc, info = wrapped.step(k, state, 0, params)
        return (state, total + reward), (info["episode_return"], info["episode_done"])

    (_, total), (ret, done) = jax.lax.scan(step, (state, 0.0), jax.random.split(jax.random.key(1),
                                                                               60))
    ends = np.flatnonzero(np.asarray(done))
    assert len(ends) >= 2  # always pushing left ends episodes quickly
    assert ret[ends[0]] == ends[0] + 1  # CartPole pays 1 per step
    assert ret[ends[1]] == ends[1] - ends[0]


def test_normalize_observation_standardises():
    env, params = envs.make("Pendulum-v1")
    wrapped = NormalizeObservation(env)
    obs, state = wrapped.reset(jax.random.key(0), params)

    def step(state, k):
        ka, ks = jax.random.split(k)
        action = jax.random.uniform(ka, (1,), minval=-2, maxval=2)
        obs, state, *_ = wrapped.step(ks, state, action, params)
        return state, obs

    _, observations = jax.lax.scan(step, state, jax.random.split(jax.random.key(2), 2000))
    late = np.asarray(observations[1000:])
    assert np.all(np.abs(late.mean(0)) < 0.5) and np.all(np.abs(late.std(0) - 1) < 0.5)


def test_flatten_observation():
    env, params = envs.make("Breakout-MinAtar")
    wrapped = FlattenObservation(env)
    obs, state = wrapped.reset(jax.random.key(0), params)
    assert obs.shape == (400,) and wrapped.observation_space(params).shape == (400,)
