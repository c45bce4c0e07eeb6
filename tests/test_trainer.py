"""The PPO inner loop: learning, determinism, vmapping and per-level horizons."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


@pytest.mark.slow
def test_ppo_cartpole_purejaxrl_config_solves_two_seeds(cartpole):
    """purejaxrl's CartPole config: both of 2 vmapped seeds end >= 475 after 5e5 steps."""
    env, params = cartpole
    cfg = TrainConfig()  # the defaults are purejaxrl's CartPole configuration
    train = jax.jit(jax.vmap(make_train(env, PPO(), cfg), in_axes=(None, None, 0)))
    result = train({}, params, jax.random.split(jax.random.key(42), 2))
    final = np.asarray(result.final_return)
    assert final.shape == (2,)
    assert np.all(final >= 475), final
    curve = np.asarray(result.curve)
    assert np.all(np.nanmean(curve[:, :10], axis=1) < 100)  # it really learned


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


def test_per_env_levels_replay_each_env_own_level(tiny_train, cartpole):
    """`per_env_params`: one level per environment of a run. Every env on the nominal level is
    the ordinary run; different levels change it, and the final-policy evaluation plays each
    env's own level too."""
    env, params = cartpole
    per_env = jax.jit(make_train(env, PPO(), TINY, per_env_params=True).train)
    same = jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (TINY.num_envs,)), params)
    a = per_env({}, same, jax.random.key(3))
    b = tiny_train({}, params, jax.random.key(3))
    np.testing.assert_allclose(a.curve, b.curve, rtol=1e-5)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6),
                 a.agent_params, b.agent_params)
    levels = envs.default_param_space("CartPole-v1").sample(jax.random.key(0), TINY.num_envs)
    c = per_env({}, levels, jax.random.key(3))
    assert not np.allclose(np.asarray(c.curve), np.asarray(a.curve), equal_nan=True)


def test_a2c_learns_cartpole(cartpole):
    env, params = cartpole
    cfg = TrainConfig(num_envs=16, num_steps=16, total_timesteps=16 * 16 * 150, update_epochs=1,
                      num_minibatches=1, lr=2e-3)
    result = jax.jit(make_train(env, A2C(), cfg))({}, params, jax.random.key(0))
    curve = np.asarray(result.curve)
    assert curve[-10:].mean() > 2 * np.nanmean(curve[:10]) and curve[-10:].mean() > 60, curve


@pytest.mark.parametrize("optimizer,rule",
                         [("sgd", A2C()), ("adam", LPG(hidden=8, net_init="random"))],
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


# ------------------------------------------------------------------ semantics of one update
class _FirstStepRatio(PPO):
    """PPO that also reports max |log pi / pi_old| of the minibatch it sees."""

    def loss(self, meta_params, out, batch, progress):
        total, metrics = super().loss(meta_params, out, batch, progress)
        drift = jnp.max(jnp.abs(out.policy.log_prob(batch["action"]) - batch["log_prob"]))
        return total, {**metrics, "log_ratio": drift}


def test_first_minibatch_sees_ratio_one_with_observation_normalisation(cartpole):
    """The loss sees the observation statistics the rollout acted with (they update after the
    epochs), so before the first step pi = pi_old exactly."""
    env, params = cartpole
    cfg = TrainConfig(num_envs=4, num_steps=16, total_timesteps=4 * 16 * 2, update_epochs=1,
                      num_minibatches=1, normalize_obs=True)
    result = jax.jit(make_train(env, _FirstStepRatio(), cfg))({}, params, jax.random.key(0))
    np.testing.assert_array_equal(result.metrics["log_ratio"], 0.0)
    assert float(result.obs_stats.count) > 4 * 16 * 2  # and the statistics did update


def test_learning_curve_is_nan_until_the_first_episode_ends(cartpole):
    """4 steps per update cannot finish a CartPole episode (at least ~8 steps): the first
    update's curve is NaN, not a fake 0; later ones carry real returns."""
    env, params = cartpole
    cfg = TrainConfig(num_envs=1, num_steps=4, total_timesteps=4 * 12, update_epochs=1,
                      num_minibatches=1)
    result = jax.jit(make_train(env, PPO(), cfg))({}, params, jax.random.key(0))
    curve, episodes = np.asarray(result.curve), np.asarray(result.episodes)
    first = int(np.argmax(episodes > 0))
    assert first >= 1 and np.all(np.isnan(curve[:first])) and np.all(curve[first:] > 0)


def test_groove_linear_agents_are_bias_free_lecun_tables():
    from discovery.presets import TRAIN_PRESETS

    env, params = envs.make("gridworld/sparse")
    cfg = TRAIN_PRESETS["gridworld-tabular"]
    agent = make_train(env, A2C(), cfg).network.init(jax.random.key(0),
                                                     jnp.zeros((1, env.obs_size)))
    leaves = jax.tree_util.tree_leaves_with_path(agent)
    assert not [p for p, _ in leaves if "bias" in jax.tree_util.keystr(p)]
    kernel = np.asarray(agent["params"]["policy_out"]["kernel"])
    assert kernel.std() == pytest.approx((1.0 / env.obs_size) ** 0.5, rel=0.1)  # lecun normal
    mlp = make_train(env, A2C(), cfg.replace(hidden=(8,))).network.init(
        jax.random.key(0), jnp.zeros((1, env.obs_size)))
    assert "bias" in mlp["params"]["policy_out"]  # only linear agents drop the bias


def test_clip_per_network_clips_actor_and_critic_apart():
    from discovery.inner import clip_per_network

    grads = {"params": {"policy_out": {"kernel": jnp.full((2, 2), 3.0)},
                        "value_out": {"kernel": jnp.full((2,), 0.1)}}}
    clipped, _ = clip_per_network(0.5).update(grads, None)
    actor = float(optax.global_norm(clipped["params"]["policy_out"]))
    critic = clipped["params"]["value_out"]["kernel"]
    assert actor == pytest.approx(0.5, rel=1e-5)  # the actor's norm 6 is clipped to 0.5
    np.testing.assert_allclose(critic, 0.1)  # the critic's norm 0.14 is left alone
    joint, _ = optax.clip_by_global_norm(0.5).update(grads, None)
    assert float(joint["params"]["value_out"]["kernel"][0]) < 0.02  # one global clip would


def test_truncation_bootstrap_follows_whether_the_env_observes_time(cartpole):
    from discovery.inner import bootstraps_truncation

    grid, _ = envs.make("gridworld/dense")
    env, _ = cartpole
    assert bootstraps_truncation(env, TrainConfig()) is True
    assert bootstraps_truncation(grid, TrainConfig()) is False  # time is in the observation
    assert bootstraps_truncation(grid, TrainConfig(bootstrap_truncated=True)) is True
    assert bootstraps_truncation(env, TrainConfig(bootstrap_truncated=False)) is False


def test_reward_normalisation_follows_purejaxrls_wrapper():
    """The same running statistics as purejaxrl's NormalizeVecReward, step by step."""
    from discovery.inner import RewardStats

    rng = np.random.default_rng(0)
    reward = rng.normal(1.0, 2.0, (30, 5)).astype(np.float32)
    done = rng.random((30, 5)) < 0.1
    gamma = 0.99
    mean, var, count, ret = 0.0, 1.0, 1e-4, np.zeros(5)
    expected = []
    for t in range(30):
        ret = ret * gamma * (1 - done[t]) + reward[t]
        b_mean, b_var, n = ret.mean(), ret.var(), 5
        delta = b_mean - mean
        total = count + n
        m2 = var * count + b_var * n + delta**2 * count * n / total
        mean, var, count = mean + delta * n / total, m2 / total, total
        expected.append(reward[t] / np.sqrt(var + 1e-8))
    stats, scaled = RewardStats.init(5).normalize(jnp.asarray(reward), jnp.asarray(done), gamma)
    np.testing.assert_allclose(scaled, np.stack(expected), rtol=1e-4)
    assert float(stats.count) == pytest.approx(count)


class _LastUpdateGoesRight:
    """A fixed rule that does nothing until the agent's last update, which pushes every visited
    state towards action 3 (right) with a large step."""

    name, needs_value, prediction_size, fitness_measure = "last-right", False, 0, "final_policy"

    def init(self, key):
        return {}

    def targets(self, meta_params, rollout, progress):
        return {}

    def loss(self, meta_params, out, batch, progress):
        last = (progress.step == progress.horizon - 1).astype(jnp.float32)
        loss = -last * jnp.mean(out.policy.log_prob(jnp.full_like(batch["action"], 3)))
        return loss, {}


def test_final_policy_fitness_is_a_fresh_episode_evaluation_of_the_final_agent():
    """A rule that is only good in its last update: the training episodes (final window) score
    nothing, the final policy walks right to the reward, and the fitness equals an
    independent fresh-episode evaluation of the returned agent."""
    from envs.gridworld import GridWorld, level_from_ascii

    level = level_from_ascii(["@..0", "....", "....", "...."], rewards=[1.0], p_terminate=[1.0],
                             p_respawn=[0.0], max_steps=6)
    env = GridWorld.for_params(level)
    cfg = TrainConfig(num_envs=8, num_steps=6, total_timesteps=8 * 6 * 3, update_epochs=1,
                      num_minibatches=1, lr=100.0, optimizer="sgd", anneal_lr=False,
                      hidden=(), agent_style="groove", max_grad_norm=None)
    rule = _LastUpdateGoesRight()
    trainer = make_train(env, rule, cfg)
    assert trainer.measure == "final_policy"
    key = jax.random.key(0)
    result = jax.jit(trainer)({}, level, key)
    window = jax.jit(make_train(env, rule, cfg.replace(fitness_measure="final_window")))(
        {}, level, key)
    _, _, k_loop = jax.random.split(key, 3)  # as Trainer.init
    fresh = jax.jit(trainer.evaluate)(result.agent_params, result.obs_stats, level,
                                      jax.random.fold_in(k_loop, cfg.num_updates))
    assert float(result.final_return) == float(fresh)
    assert float(result.final_return) > 0.9 and float(window.final_return) < 0.5
