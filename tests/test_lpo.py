"""Invariants of the learned objectives (LPO, TA-LPO) and the DPO closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meta_objectives import DPO, LPO, PPO, TALPO
from meta_objectives.base import AgentOutput, Progress
from meta_objectives.distributions import Categorical

RATIOS = jnp.exp(jnp.linspace(-2.0, 2.0, 81))
ADVS = jnp.linspace(-3.0, 3.0, 41)
FRACTIONS = (0.0, 0.3, 0.999)


def _drift(rule, params, r, a, frac):
    return rule.drift(params, r, a, Progress(jnp.asarray(frac * 1000), jnp.asarray(1000)))


@pytest.mark.parametrize("rule", [LPO(), TALPO(), LPO(init_scale=5.0), TALPO(init_scale=5.0)],
                         ids=["lpo", "ta-lpo", "lpo-large", "ta-lpo-large"])
@pytest.mark.parametrize("seed", range(5))
def test_learned_drift_invariants(rule, seed):
    params = rule.init(jax.random.key(seed))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    for frac in FRACTIONS:
        drift = _drift(rule, params, r, a, frac)
        assert float(drift.min()) >= 0.0  # drift >= 0 everywhere
        at_one = _drift(rule, params, jnp.ones_like(ADVS), ADVS, frac)
        np.testing.assert_array_equal(at_one, 0.0)  # zero at r = 1 for every A
        grad = jax.vmap(jax.grad(lambda r_, a_, f=frac: _drift(rule, params, r_, a_, f)),
                        in_axes=(None, 0))(jnp.float32(1.0), ADVS)
        np.testing.assert_array_equal(grad, 0.0)  # and flat there: d drift / dr = 0


def test_random_drift_is_not_trivially_zero():
    rule = LPO(init_scale=5.0)
    params = rule.init(jax.random.key(0))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    assert float(_drift(rule, params, r, a, 0.0).max()) > 1e-2


def test_ta_lpo_depends_on_progress():
    rule = TALPO(init_scale=5.0)
    params = rule.init(jax.random.key(1))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    early, late = _drift(rule, params, r, a, 0.0), _drift(rule, params, r, a, 0.9)
    assert float(jnp.abs(early - late).max()) > 1e-3


def test_ppo_initialised_zero_net_is_exactly_ppo():
    lpo = TALPO(ppo_init=True, zero_init=True)
    params = lpo.init(jax.random.key(0))
    ppo = PPO()
    logits = jax.random.normal(jax.random.key(1), (64, 4))
    action = jax.random.randint(jax.random.key(2), (64,), 0, 4)
    batch = {"action": action, "log_prob": Categorical(logits * 0.7).log_prob(action),
             "advantage": jax.random.normal(jax.random.key(3), (64,)),
             "return": jnp.ones(64), "value": jnp.zeros(64)}
    out = AgentOutput(Categorical(logits), value=jnp.full(64, 0.3))
    progress = Progress(jnp.asarray(3), jnp.asarray(10))
    l_lpo, _ = lpo.loss(params, out, batch, progress)
    l_ppo, _ = ppo.loss({}, out, batch, progress)
    assert float(l_lpo) == float(l_ppo)
    g_lpo = jax.grad(lambda lg: lpo.loss(params, out._replace(policy=Categorical(lg)), batch,
                                         progress)[0])(logits)
    g_ppo = jax.grad(lambda lg: ppo.loss({}, out._replace(policy=Categorical(lg)), batch,
                                         progress)[0])(logits)
    np.testing.assert_array_equal(g_lpo, g_ppo)


def test_dpo_matches_closed_form():
    rule = DPO()
    r, a = np.meshgrid(np.asarray(RATIOS), np.asarray(ADVS), indexing="ij")
    got = np.asarray(_drift(rule, {}, jnp.asarray(r), jnp.asarray(a), 0.0))
    pos = (r - 1) * a
    neg = np.log(r) * a
    want = np.where(a >= 0, np.maximum(pos - 2.0 * np.tanh(pos / 2.0), 0),
                    np.maximum(neg - 0.6 * np.tanh(neg / 0.6), 0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.min() >= 0
