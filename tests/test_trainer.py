"""The PPO inner loop: learning, determinism, vmapping and per-level horizons."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from discovery.inner import CRITIC_MODULES, TrainConfig, make_train
from meta_objectives import A2C, LPG, PPO

TINY = TrainConfig(num_envs=4, num_steps=16, total_timesteps=4 * 16 * 8, update_epochs=2,
                   num_minibatches=2)


@pytest.fixture(scope="module")
def cartpole():
    return envs.make("CartPole-v1")


@pytest.fixture(scope="module")
def tiny_train(cartpole):
    env, _ = cartpole
    return jax.jit(make_train(env, PPO(), TINY))


@pytest.fixture(scope="module")
def tiny_train_vmapped(cartpole):
    env, _ = cartpole
    return jax.jit(jax.vmap(make_train(env, PPO(), TINY), in_axes=(None, None, 0)))


def test_ppo_cartpole_purejaxrl_config_solves_four_seeds(cartpole):
    """purejaxrl's CartPole config: every one of 4 vmapped seeds ends >= 475 after 5e5 steps."""
    env, params = cartpole
    cfg = TrainConfig()  # the defaults are purejaxrl's CartPole configuration
    train = jax.jit(jax.vmap(make_train(env, PPO(), cfg), in_axes=(None, None, 0)))
    result = train({}, params, jax.random.split(jax.random.key(42), 4))
    final = np.asarray(result.final_return)
    assert final.shape == (4,)
    assert np.all(final >= 475), final
    curve = np.asarray(result.curve)
    assert np.all(curve[:, :10].mean(axis=1) < 100)  # it really learned


def test_same_seed_same_result(tiny_train, cartpole):
    _, params = cartpole
    a = tiny_train({}, params, jax.random.key(3))
    b = tiny_train({}, params, jax.random.key(3))
    c = tiny_train({}, params, jax.random.key(4))
    np.testing.assert_array_equal(a.curve, b.curve)
    jax.tree.map(np.testing.assert_array_equal, a.agent_params, b.agent_params)
    assert not np.array_equal(a.agent_params["params"]["policy_out"]["kernel"],
                              c.agent_params["params"]["policy_out"]["kernel"])


def test_vmap_over_seeds_equals_separate_calls(tiny_train, tiny_train_vmapped, cartpole):
    _, params = cartpole
    keys = jax.random.split(jax.random.key(7), 4)
    batched = tiny_train_vmapped({}, params, keys)
    for i in range(4):
        single = tiny_train({}, params, keys[i])
        np.testing.assert_allclose(batched.curve[i], single.curve, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(batched.agent_params["params"]["policy_out"]["kernel"][i],
                                   single.agent_params["params"]["policy_out"]["kernel"],
                                   rtol=1e-4, atol=1e-6)


def test_vmap_over_env_params_and_per_level_horizon(cartpole):
    """One vmapped call over levels with different physics and different horizons N; updates
    past a level's N are masked, so the masked run equals a run configured with that N."""
    env, params = cartpole
    space = envs.default_param_space("CartPole-v1")
    levels = space.sample(jax.random.key(0), 3)
    horizons = jnp.array([8, 5, 3])
    train = jax.jit(jax.vmap(make_train(env, PPO(), TINY), in_axes=(None, 0, None, 0)))
    result = train({}, levels, jax.random.key(1), horizons)
    assert result.curve.shape == (3, TINY.num_updates)
    assert np.all(np.asarray(result.episodes)[1, 5:] == 0)  # masked updates count nothing

    short = TINY.replace(total_timesteps=TINY.steps_per_update * 5)
    level1 = jax.tree.map(lambda x: x[1], levels)
    alone = jax.jit(make_train(env, PPO(), short))({}, level1, jax.random.key(1))
    np.testing.assert_allclose(result.curve[1, :5], alone.curve, rtol=1e-5)
    np.testing.assert_allclose(result.final_return[1], alone.final_return, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a[1], b, rtol=1e-4, atol=1e-6),
                 result.agent_params, alone.agent_params)


def test_a2c_learns_cartpole(cartpole):
    env, params = cartpole
    cfg = TrainConfig(num_envs=16, num_steps=16, total_timesteps=16 * 16 * 150, update_epochs=1,
                      num_minibatches=1, lr=2e-3)
    result = jax.jit(make_train(env, A2C(), cfg))({}, params, jax.random.key(0))
    curve = np.asarray(result.curve)
    assert curve[-10:].mean() > 2 * curve[:10].mean() and curve[-10:].mean() > 60, curve


@pytest.mark.parametrize("optimizer,rule", [("sgd", A2C()), ("adam", LPG(hidden=8))],
                         ids=["sgd-a2c", "adam-lpg"])
def test_critic_lr_scales_only_the_critic_step(cartpole, optimizer, rule):
    """One update with critic_lr = lr / 10: the actor moves exactly as with one shared lr, the
    critic side (torso, value head, LPG's y head) exactly a tenth as far (SGD and Adam steps
    are both lr-linear)."""
    env, params = cartpole
    lr = 1.0 if optimizer == "sgd" else 1e-2  # steps well above float32 resolution
    cfg = TrainConfig(num_envs=4, num_steps=8, total_timesteps=32, update_epochs=1,
                      num_minibatches=1, lr=lr, anneal_lr=False, optimizer=optimizer,
                      hidden=(8,))
    key = jax.random.key(3)
    init = make_train(env, rule, cfg).init(rule.init(key), params, key).params
    shared, split = (jax.jit(make_train(env, rule, c))(rule.init(key), params, key).agent_params
                     for c in (cfg, cfg.replace(critic_lr=lr / 10)))
    step = jax.tree.map(lambda a, b: np.asarray(a - b), shared, init)
    small = jax.tree.map(lambda a, b: np.asarray(a - b), split, init)
    for name, delta in step["params"].items():
        scale = 0.1 if name in CRITIC_MODULES else 1.0
        for d, s in zip(jax.tree.leaves(delta), jax.tree.leaves(small["params"][name]),
                        strict=True):
            assert np.abs(d).max() > 0, name  # it moved
            np.testing.assert_allclose(s, scale * d, rtol=1e-3, atol=1e-6 + 1e-3 * np.abs(d).max())
    head = "value_out" if rule.needs_value else "prediction_out"
    assert {"critic_torso", head, "actor_torso", "policy_out"} == set(step["params"])


@pytest.mark.parametrize("field,value", [("num_envs", 0), ("lr", -1.0), ("num_minibatches", 3),
                                         ("activation", "sigmoid"), ("total_timesteps", 10),
                                         ("critic_lr", 0.0)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
