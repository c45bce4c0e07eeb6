"""Invariants of the learned objectives (LPO, TA-LPO), their PPO initialisation, and the DPO
closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meta_objectives import DPO, LPO, PPO, TALPO
from meta_objectives.base import AgentOutput, Progress
from meta_objectives.distributions import Categorical
from meta_objectives.lpo import DRIFT_FLOOR
from meta_objectives.ppo import ppo_clip_drift

RATIOS = jnp.exp(jnp.linspace(-2.0, 2.0, 81))
ADVS = jnp.linspace(-3.0, 3.0, 41)
FRACTIONS = (0.0, 0.3, 0.999)


def _progress(frac):
    return Progress(jnp.asarray(frac * 1000), jnp.asarray(1000))


def _drift(rule, params, r, a, frac):
    return rule.drift(params, jnp.log(r), a, _progress(frac))


RULES = [LPO(net_init="random"), TALPO(net_init="random"),
         LPO(net_init="random", init_scale=5.0), TALPO(net_init="random", init_scale=5.0),
         LPO(net_init="random", ppo_init=False), TALPO(net_init="random", init_scale=5.0,
                                                       ppo_init=False)]


@pytest.mark.parametrize("rule", RULES, ids=["lpo", "ta-lpo", "lpo-large", "ta-lpo-large",
                                             "lpo-no-ppo", "ta-lpo-large-no-ppo"])
@pytest.mark.parametrize("seed", range(4))
def test_learned_drift_invariants(rule, seed):
    """drift >= 0 everywhere; drift = 0 and d drift / dr = 0 at r = 1, for every A and n/N."""
    params = rule.init(jax.random.key(seed))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    for frac in FRACTIONS:
        assert float(_drift(rule, params, r, a, frac).min()) >= 0.0
        at_one = _drift(rule, params, jnp.ones_like(ADVS), ADVS, frac)
        np.testing.assert_array_equal(at_one, 0.0)
        grad = jax.vmap(jax.grad(lambda r_, a_, f=frac: _drift(rule, params, r_, a_, f)),
                        in_axes=(None, 0))(jnp.float32(1.0), ADVS)
        np.testing.assert_array_equal(grad, 0.0)
        grad_log = jax.vmap(jax.grad(lambda x, a_, f=frac: rule.drift(params, x, a_,
                                                                        _progress(f))),
                            in_axes=(None, 0))(jnp.float32(0.0), ADVS)
        np.testing.assert_array_equal(grad_log, 0.0)


def test_random_drift_is_not_trivially_zero():
    rule = LPO(net_init="random", init_scale=5.0, ppo_init=False)
    params = rule.init(jax.random.key(0))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    assert float(_drift(rule, params, r, a, 0.0).max()) > 1e-2


def test_ta_lpo_depends_on_progress():
    rule = TALPO(net_init="random", init_scale=5.0)
    params = rule.init(jax.random.key(1))
    r, a = jnp.meshgrid(RATIOS, ADVS, indexing="ij")
    early, late = _drift(rule, params, r, a, 0.0), _drift(rule, params, r, a, 0.9)
    assert float(jnp.abs(early - late).max()) > 1e-3


def _ppo_batch():
    logits = jax.random.normal(jax.random.key(1), (256, 4))
    action = jax.random.randint(jax.random.key(2), (256,), 0, 4)
    batch = {"action": action, "log_prob": Categorical(logits * 0.7).log_prob(action),
             "advantage": jax.random.normal(jax.random.key(3), (256,)),
             "return": jnp.ones(256), "value": jnp.zeros(256)}
    out = AgentOutput(Categorical(logits), value=jnp.full(256, 0.3))
    return logits, batch, out


@pytest.mark.parametrize("rule", [LPO(), TALPO()], ids=["lpo", "ta-lpo"])
def test_initial_es_mean_is_exactly_ppo(rule):
    """The default initialisation (zero network output, PPO's drift inside the ReLU): loss and
    gradients equal PPO's exactly."""
    params = rule.init(jax.random.key(0))
    assert float(jnp.abs(params["w1"]).sum()) > 0 and float(jnp.abs(params["w2"]).sum()) == 0
    logits, batch, out = _ppo_batch()
    progress = Progress(jnp.asarray(3), jnp.asarray(10))
    ppo = PPO()

    def loss(rule_, meta, lg):
        return rule_.loss(meta, out._replace(policy=Categorical(lg)), batch, progress)[0]

    assert float(loss(rule, params, logits)) == float(loss(ppo, {}, logits))
    np.testing.assert_array_equal(jax.grad(lambda lg: loss(rule, params, lg))(logits),
                                  jax.grad(lambda lg: loss(ppo, {}, lg))(logits))


def test_initial_drift_is_ppo_on_a_band_below_the_floor():
    """Ratios just past the clip give PPO drifts below 1e-4; the zero-output drift keeps them
    (the papers' relu(ppo + net - 1e-4) alone would zero them)."""
    rule = TALPO()
    params = rule.init(jax.random.key(0))
    r = jnp.linspace(1.2, 1.2002, 9)
    a = jnp.full_like(r, 0.3)
    ppo = ppo_clip_drift(r, a, 0.2)
    got = rule.drift(params, jnp.log(r), a, _progress(0.5))
    np.testing.assert_allclose(got, ppo, rtol=1e-6, atol=1e-9)
    papers = jax.nn.relu(ppo - DRIFT_FLOOR)
    assert float(jnp.max(got - papers)) <= DRIFT_FLOOR + 1e-7


def test_learned_drift_can_go_below_ppo():
    """PPO's drift sits inside the ReLU, so a negative network output lowers it (DPO's drift
    at (r = 1.3, A = 1) is 0.0022, PPO's 0.1)."""
    rule = LPO()
    params = rule.init(jax.random.key(0))
    r, a = jnp.asarray([1.3]), jnp.asarray([1.0])
    ppo = float(ppo_clip_drift(r, a, 0.2)[0])
    features = rule.features(jnp.log(r), a, _progress(0.0))
    h = jnp.tanh(features @ params["w1"])[0]
    below = {**params, "w2": -10.0 * jnp.sign(h)[:, None]}  # network output << 0 there
    drift = float(rule.drift(below, jnp.log(r), a, _progress(0.0))[0])
    dpo = float(DPO().drift({}, jnp.log(r), a, _progress(0.0))[0])
    assert drift < dpo < ppo, (drift, dpo, ppo)
    assert drift >= DRIFT_FLOOR * 0.999


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


def test_drift_features_come_from_the_exact_log_ratio():
    """The log-ratio reaches the features unrounded: at log r = 1e-9, exp then log would give
    0 or a rounded value in float32."""
    from meta_objectives.lpo import drift_features

    x = jnp.float32(1e-9)
    f = drift_features(x, jnp.float32(1.0))
    assert float(f[2]) == float(x) and float(f[0]) == pytest.approx(1e-9, rel=1e-6)
