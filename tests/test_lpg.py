"""LPG and TA-LPG: a backward, episode-resetting core; TA inputs n/N and log N; the agent loss;
and end-to-end training (grid-world and CartPole) under a vmap over meta-parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from discovery.inner import TrainConfig, make_train
from meta_objectives import A2C, LPG, RULES, TALPG, make_rule
from meta_objectives.base import AgentOutput, Progress, Rollout
from meta_objectives.distributions import Categorical
from meta_objectives.lpg import SCALAR_NAMES, TEMPORAL_NAMES, lpg_inputs

T, B, K, A = 12, 3, 8, 4
DONE_AT = (4, 8)  # column 0: episodes are t = 0..4, 5..8, 9..11 (the last one cut by T)
PROGRESS = Progress(jnp.asarray(30), jnp.asarray(200))


def _rollout(seed: int = 0) -> Rollout:
    ks = jax.random.split(jax.random.key(seed), 5)
    terminated = jnp.zeros((T, B), bool).at[DONE_AT[0], 0].set(True)
    truncated = jnp.zeros((T, B), bool).at[DONE_AT[1], 0].set(True)
    return Rollout(
        obs=jnp.zeros((T, B, 2)), action=jax.random.randint(ks[0], (T, B), 0, A),
        reward=jax.random.normal(ks[1], (T, B)), terminated=terminated, truncated=truncated,
        log_prob=-jax.random.uniform(ks[2], (T, B), minval=0.1, maxval=2.0),
        value=jnp.zeros((T, B)), next_value=jnp.zeros((T, B)),
        prediction=jax.random.normal(ks[3], (T, B, K)),
        next_prediction=jax.random.normal(ks[4], (T, B, K)))


@pytest.fixture(scope="module")
def rules():
    out = {}
    for rule in (LPG(hidden=16, net_init="random"), TALPG(hidden=16, net_init="random")):
        params = rule.init(jax.random.key(1))
        out[rule.name] = (rule, params, jax.jit(rule.targets))
    return out


def _changed(a, b) -> np.ndarray:
    """Which steps [T, B] differ (pi_hat or any y_hat bin)."""
    d = np.abs(np.asarray(a["pi_hat"]) - np.asarray(b["pi_hat"]))
    d = d + np.abs(np.asarray(a["y_hat"]) - np.asarray(b["y_hat"])).sum(-1)
    return d > 0


@pytest.mark.parametrize("name", ["lpg", "ta-lpg"])
def test_core_is_backward_causal_within_an_episode(rules, name):
    rule, params, targets = rules[name]
    ro = _rollout()
    base = targets(params, ro, PROGRESS)
    # Column 0, reward at t = 6 (episode 5..8): only steps 5 and 6 of that column may change.
    changed = _changed(base, targets(params, ro._replace(reward=ro.reward.at[6, 0].add(1.0)),
                                     PROGRESS))
    assert changed[6, 0] and changed[5, 0]
    expected = np.zeros((T, B), bool)
    expected[5:7, 0] = True
    np.testing.assert_array_equal(changed, expected)
    # Column 1 has no episode end: a change at t = 6 reaches every step <= 6, none after.
    changed = _changed(base, targets(params, ro._replace(reward=ro.reward.at[6, 1].add(1.0)),
                                     PROGRESS))
    expected = np.zeros((T, B), bool)
    expected[:7, 1] = True
    np.testing.assert_array_equal(changed, expected)


@pytest.mark.parametrize("name", ["lpg", "ta-lpg"])
def test_nothing_crosses_an_episode_boundary(rules, name):
    rule, params, targets = rules[name]
    ro = _rollout()
    base = targets(params, ro, PROGRESS)
    # Rewrite everything the agent saw in column 0's later episodes (t >= 5).
    later = jnp.zeros((T, B), bool).at[DONE_AT[0] + 1:, 0].set(True)
    noise = _rollout(seed=9)
    pick = lambda new, old: jnp.where(later.reshape(later.shape + (1,) * (old.ndim - 2)),
                                      new, old)
    other = ro._replace(reward=pick(noise.reward, ro.reward),
                        log_prob=pick(noise.log_prob, ro.log_prob),
                        prediction=pick(noise.prediction, ro.prediction),
                        next_prediction=pick(noise.next_prediction, ro.next_prediction))
    changed = _changed(base, targets(params, other, PROGRESS))
    assert not changed[:DONE_AT[0] + 1, 0].any()  # the first episode's outputs are untouched
    assert changed[DONE_AT[0] + 1:, 0].all()
    # y_{t+1} on an episode's last step is the post-reset observation's: it is masked.
    masked = ro._replace(next_prediction=ro.next_prediction.at[DONE_AT[0], 0].add(5.0))
    assert not _changed(base, targets(params, masked, PROGRESS)).any()


def test_per_step_inputs_and_ta_inputs_are_fraction_and_log_horizon():
    ro = _rollout()
    plain = lpg_inputs(ro, 0.99)
    ta = lpg_inputs(ro, 0.99, PROGRESS)
    assert plain.scalars.shape == (T, B, len(SCALAR_NAMES))
    assert ta.scalars.shape == (T, B, len(SCALAR_NAMES) + len(TEMPORAL_NAMES))
    np.testing.assert_array_equal(plain.scalars, ta.scalars[..., :len(SCALAR_NAMES)])
    s = np.asarray(plain.scalars)
    np.testing.assert_array_equal(s[..., 0], ro.reward)
    np.testing.assert_array_equal(s[..., 1], np.asarray(ro.done, np.float32))
    np.testing.assert_allclose(s[..., 2], 0.99)
    np.testing.assert_allclose(s[..., 3], np.exp(ro.log_prob), rtol=1e-6)
    np.testing.assert_allclose(plain.y.sum(-1), 1.0, rtol=1e-5)
    # TA-LPG: n/N and log N, not the raw counts (GROOVE's bug, reference §6).
    np.testing.assert_allclose(ta.scalars[..., 4], 30 / 200, rtol=1e-6)
    np.testing.assert_allclose(ta.scalars[..., 5], np.log(200.0), rtol=1e-6)
    assert TALPG().inputs(ro, PROGRESS).scalars.shape[-1] == 6
    assert LPG().inputs(ro, PROGRESS).scalars.shape[-1] == 4


def test_ta_lpg_targets_depend_on_lifetime_and_lpg_does_not(rules):
    ro = _rollout()
    at = lambda n, big_n: Progress(jnp.asarray(n), jnp.asarray(big_n))
    rule, params, targets = rules["ta-lpg"]
    early, late = targets(params, ro, at(0, 200)), targets(params, ro, at(150, 200))
    assert _changed(early, late).all()
    longer = targets(params, ro, at(0, 2000))  # same n/N, other horizon
    assert _changed(early, longer).all()
    rule, params, targets = rules["lpg"]
    assert not _changed(targets(params, ro, at(0, 200)), targets(params, ro, at(150, 200))).any()


@pytest.mark.parametrize("name", ["lpg", "ta-lpg"])
def test_targets_shapes_loss_and_agent_gradients(rules, name):
    rule, params, targets = rules[name]
    ro = _rollout()
    tg = targets(params, ro, PROGRESS)
    assert tg["pi_hat"].shape == (T, B)
    assert tg["y_hat"].shape == (T, B, rule.prediction_size)
    np.testing.assert_allclose(np.asarray(tg["y_hat"]).sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.asarray(tg["y_hat"]) >= 0)
    batch = jax.tree.map(lambda x: x.reshape(T * B, *x.shape[2:]), {**ro._asdict(), **tg})
    logits = jax.random.normal(jax.random.key(3), (T * B, A))
    pred = jax.random.normal(jax.random.key(4), (T * B, K))

    def loss(lg, pr):
        return rule.loss(params, AgentOutput(Categorical(lg), prediction=pr), batch, PROGRESS)

    (value, metrics), (g_logits, g_pred) = jax.value_and_grad(loss, argnums=(0, 1),
                                                              has_aux=True)(logits, pred)
    assert np.isfinite(float(value))
    assert all(np.shape(v) == () and np.isfinite(float(v)) for v in metrics.values())
    assert float(jnp.abs(g_logits).max()) > 0 and float(jnp.abs(g_pred).max()) > 0
    assert np.all(np.isfinite(g_logits)) and np.all(np.isfinite(g_pred))
    assert np.isfinite(float(rule.meta_regularizer(metrics)))


def test_sign_convention_pi_hat_is_a_negative_advantage():
    """GROOVE minimises mean(pi_hat * log pi): with pi_hat = -A and y_hat = y (zero KL) the
    loss is A2C's policy loss -mean(log pi * A)."""
    n = 32
    logits = jax.random.normal(jax.random.key(0), (n, A))
    pred = jax.random.normal(jax.random.key(1), (n, K))
    action = jax.random.randint(jax.random.key(2), (n,), 0, A)
    adv = jax.random.normal(jax.random.key(3), (n,))
    batch = {"action": action, "pi_hat": -adv, "y_hat": jax.nn.softmax(pred)}
    out = AgentOutput(Categorical(logits), prediction=pred)
    lpg_loss, metrics = LPG(hidden=8).loss({}, out, batch, PROGRESS)
    a2c_batch = {"action": action, "advantage": adv, "return": jnp.zeros(n),
                 "value": jnp.zeros(n), "log_prob": jnp.zeros(n)}
    _, a2c_metrics = A2C(normalize_advantages=False).loss({}, out._replace(value=jnp.zeros(n)),
                                                          a2c_batch, PROGRESS)
    np.testing.assert_allclose(lpg_loss, a2c_metrics["policy_loss"], rtol=1e-5, atol=1e-6)
    assert abs(float(metrics["target_loss"])) < 1e-5


def test_registry_and_static_rule():
    assert RULES["lpg"] is LPG and RULES["ta-lpg"] is TALPG
    rule = make_rule("ta-lpg", hidden=8, embedding=[4, 1])
    assert rule.embedding == (4, 1) and rule.name == "ta-lpg" and rule.temporal
    assert not rule.needs_value and rule.prediction_size == 8
    assert hash(rule) == hash(TALPG(hidden=8, embedding=(4, 1)))
    assert LPG().hidden == 256 and LPG().alpha_y == 0.5
    with pytest.raises(ValueError, match="hidden"):
        LPG(hidden=0)


TINY = TrainConfig(num_envs=8, num_steps=20, total_timesteps=8 * 20 * 4, update_epochs=1,
                   num_minibatches=1, hidden=(32,))


@pytest.mark.parametrize("env_name,rule",
                         [("gridworld/dense", TALPG(hidden=16, net_init="random"))],
                         ids=["ta-lpg-gridworld-horizons"])
def test_make_train_under_vmap_over_meta_params(env_name, rule):
    """Two compiles only (the grid-world's dominates): TA-LPG is LPG plus two inputs, so the
    grid-world run covers LPG's path there too, with per-member lifetimes as in ES on levels."""
    env, env_params = envs.make(env_name)
    pop = jax.vmap(rule.init)(jax.random.split(jax.random.key(0), 2))
    train = make_train(env, rule, TINY)
    if rule.temporal:  # each member with its own horizon N (per-level lifetimes)
        result = jax.jit(jax.vmap(train, in_axes=(0, None, None, 0)))(
            pop, env_params, jax.random.key(1), jnp.array([4, 2]))
        assert np.all(np.asarray(result.episodes)[1, 2:] == 0)
    else:
        result = jax.jit(jax.vmap(train, in_axes=(0, None, None)))(
            pop, env_params, jax.random.key(1))
    assert result.curve.shape == (2, TINY.num_updates)
    assert not np.any(np.isinf(np.asarray(result.curve)))  # NaN until an episode ends
    assert np.all(np.isfinite(np.asarray(result.final_return)))
    for name, v in result.metrics.items():
        assert v.shape == (2, TINY.num_updates) and np.all(np.isfinite(np.asarray(v))), name
    # Different meta-parameters give different targets, hence different agents.
    kernels = np.asarray(result.agent_params["params"]["policy_out"]["kernel"])
    assert not np.array_equal(kernels[0], kernels[1])


@pytest.mark.parametrize("rule", [LPG(hidden=16), TALPG(hidden=16)], ids=["lpg", "ta-lpg"])
def test_es_mean_starts_at_zero_as_in_groove(rule):
    """GROOVE's ES mean is all zeros: pi_hat = 0 (the policy does not move) and y_hat
    uniform, whatever the rollout."""
    params = rule.init(jax.random.key(0))
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(params))
    out = rule.targets(params, _rollout(), PROGRESS)
    np.testing.assert_array_equal(out["pi_hat"], 0.0)
    np.testing.assert_allclose(out["y_hat"], 1.0 / rule.prediction_size, rtol=1e-6)
