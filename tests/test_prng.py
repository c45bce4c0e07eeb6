"""Fused threefry keys and the one-operand-sort permutation (envs/prng.py): JAX's numbers bit for
bit, and a trainer that does not change when it uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import discovery.inner
import envs
import envs.rollout
from discovery.inner import TrainConfig, make_train
from envs.prng import THREEFRY_FUSED, fast_key, permutation, stable_argsort
from meta_objectives import PPO

DRAWS = {
    "split": lambda k: jax.random.key_data(jax.random.split(k, (3, 5))),
    "fold_in": lambda k: jax.random.key_data(jax.random.fold_in(k, 2**31 - 5)),
    "uniform": lambda k: jax.random.uniform(k, (7, 3)),
    "normal": lambda k: jax.random.normal(k, (5,)),
    "gumbel": lambda k: jax.random.gumbel(k, (4, 2)),
    "categorical": lambda k: jax.random.categorical(k, jnp.arange(12.0).reshape(4, 3)),
    "permutation (one sort round)": lambda k: jax.random.permutation(k, 513),
    "permutation (two sort rounds)": lambda k: jax.random.permutation(k, 5000),
    "randint": lambda k: jax.random.randint(k, (9,), 0, 100),
    "bits8": lambda k: jax.random.bits(k, (11,), jnp.uint8),
    "bits16": lambda k: jax.random.bits(k, (11,), jnp.uint16),
    "scalar bits": lambda k: jax.random.bits(k, ()),
    "choice": lambda k: jax.random.choice(k, jnp.array([0, 1]), shape=()),
    "bernoulli": lambda k: jax.random.bernoulli(k, 0.3, (10,)),
    "vmapped split": lambda k: jax.random.key_data(
        jax.vmap(jax.random.split)(jax.random.split(k, 4))),
    "vmapped uniform": lambda k: jax.vmap(lambda q: jax.random.uniform(q, (4,)))(
        jax.random.split(k, 4)),
    "vmapped fold_in": lambda k: jax.random.key_data(
        jax.vmap(jax.random.fold_in, in_axes=(None, 0))(k, jnp.arange(5))),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_fused_keys_draw_jaxs_threefry_numbers(name):
    draw = DRAWS[name]
    for seed in (0, 12345):
        key = jax.random.key(seed)
        expected = np.asarray(draw(key))
        np.testing.assert_array_equal(np.asarray(draw(fast_key(key))), expected)
        np.testing.assert_array_equal(np.asarray(jax.jit(draw)(fast_key(key))), expected)


def test_draws_past_the_fused_limit_are_jaxs_own(monkeypatch):
    """Draws of 2**32 numbers or more (counters need their high word) go to JAX's threefry;
    a limit of 4 sends these small ones there: still JAX's numbers."""
    import envs.prng

    monkeypatch.setattr(envs.prng, "_FUSED_MAX", 4)
    key = jax.random.key(3)
    for name in ("split", "uniform", "permutation (one sort round)", "scalar bits"):
        np.testing.assert_array_equal(np.asarray(DRAWS[name](fast_key(key))),
                                      np.asarray(DRAWS[name](key)))


def test_fast_key_converts_threefry_keys_only():
    key = jax.random.key(0)
    fused = fast_key(key)
    assert jax.random.key_impl(fused) == THREEFRY_FUSED
    assert fast_key(fused) is fused
    rbg = jax.random.key(0, impl="rbg")
    assert fast_key(rbg) is rbg
    raw = jax.random.PRNGKey(0)  # old-style uint32 keys are left alone
    assert fast_key(raw) is raw
    keys = jax.jit(jax.vmap(fast_key))(jax.random.split(key, 3))
    np.testing.assert_array_equal(jax.random.key_data(keys),
                                  jax.random.key_data(jax.random.split(key, 3)))


def test_training_is_bit_identical_with_fused_rollout_keys(monkeypatch):
    """The rollouts draw from fused keys; switching that off changes no number of a run."""
    env, params = envs.make("CartPole-v1")
    cfg = TrainConfig(num_envs=2, num_steps=16, total_timesteps=2 * 16 * 3, update_epochs=2,
                      num_minibatches=2)
    fused = jax.jit(make_train(env, PPO(), cfg))({}, params, jax.random.key(7))
    monkeypatch.setattr(envs.rollout, "fast_key", lambda key: key)
    plain = jax.jit(make_train(env, PPO(), cfg))({}, params, jax.random.key(7))
    for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(plain), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("max_steps", [4, 500])
def test_truncated_steps_bootstrap_from_the_final_observation(max_steps):
    """Where an episode is cut by its time limit, the next value is the critic's value of the
    pre-reset observation; elsewhere the next step's value (the pass over final observations
    runs only when some step is truncated: max_steps 500 cuts none in 12 steps)."""
    env, params = envs.make("CartPole-v1")
    params = params.replace(max_steps_in_episode=max_steps)
    trainer = make_train(env, PPO(), TrainConfig(num_envs=3, num_steps=12,
                                                 total_timesteps=36), params)
    state = trainer.init({}, params, jax.random.key(1))
    collect = jax.jit(trainer.collect, static_argnums=(6, 7))
    rollout, _, last_obs, extras = collect(state.params, state.obs_stats, state.env_state,
                                           state.obs, params, jax.random.key(2), 12, True)
    trunc = np.asarray(rollout.truncated)
    assert trunc.any() == (max_steps == 4)
    value = trainer.network.apply(state.params, rollout.obs, method=trainer.network.value)
    last = trainer.network.apply(state.params, last_obs, method=trainer.network.value)
    following = np.concatenate([np.asarray(value)[1:], np.asarray(last)[None]])
    next_value = np.asarray(rollout.next_value)
    np.testing.assert_allclose(next_value[~trunc], following[~trunc], rtol=1e-6, atol=1e-6)
    for t, b in zip(*np.nonzero(trunc), strict=True):  # CartPole's step is deterministic
        s_t = jax.tree.map(lambda x, t=t, b=b: x[t, b], extras["env_state"].env_state)
        final_obs = env.step_env(jax.random.key(0), s_t, rollout.action[t, b], params)[0]
        v = trainer.network.apply(state.params, final_obs, method=trainer.network.value)
        assert next_value[t, b] == pytest.approx(float(v), rel=1e-5, abs=1e-6)


# 1625 is the last size JAX shuffles in one sort round, 1626 the first with two
@pytest.mark.parametrize("n", [1, 2, 3, 64, 513, 1625, 1626, 8192])
def test_permutation_is_jaxs(n):
    for seed in range(3):
        key = jax.random.key(seed)
        expected = jax.random.permutation(key, n)
        for got in (permutation(key, n), jax.jit(permutation, static_argnums=1)(key, n),
                    permutation(fast_key(key), n)):
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    keys = jax.random.split(jax.random.key(5), 4)
    np.testing.assert_array_equal(
        np.asarray(jax.jit(jax.vmap(lambda k: permutation(k, n)))(keys)),
        np.asarray(jax.vmap(lambda k: jax.random.permutation(k, n))(keys)))


@pytest.mark.parametrize("keys", [[5, 3, 5, 1, 3, 5, 0, 9, 9, 9, 9], [7] * 6, [2, 1], [4],
                                  list(range(20, 0, -1))])
def test_stable_argsort_breaks_ties_by_index(keys):
    """Equal keys (which 32 random bits rarely give) keep their index order, as the stable
    (keys, values) sort does."""
    keys = jnp.asarray(keys, jnp.uint32)
    expected = jax.lax.sort_key_val(keys, jnp.arange(keys.shape[0]))[1]
    np.testing.assert_array_equal(np.asarray(stable_argsort(keys)), np.asarray(expected))
    np.testing.assert_array_equal(np.asarray(jax.jit(stable_argsort)(keys)), np.asarray(expected))


def test_training_is_bit_identical_with_jaxs_permutation(monkeypatch):
    """The epochs shuffle with `envs.prng.permutation`; JAX's own gives the same run."""
    env, params = envs.make("CartPole-v1")
    cfg = TrainConfig(num_envs=2, num_steps=16, total_timesteps=2 * 16 * 3, update_epochs=2,
                      num_minibatches=4)
    ours = jax.jit(make_train(env, PPO(), cfg))({}, params, jax.random.key(3))
    monkeypatch.setattr(discovery.inner, "permutation", jax.random.permutation)
    jaxs = jax.jit(make_train(env, PPO(), cfg))({}, params, jax.random.key(3))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(jaxs), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
