"""Fixed rules and the pieces every rule shares (GAE with terminated vs truncated)."""

import jax
import jax.numpy as jnp
import numpy as np

from meta_objectives import PPO, Rollout, gae
from meta_objectives.base import AgentOutput, Progress
from meta_objectives.distributions import Categorical, DiagGaussian
from meta_objectives.ppo import ppo_clip_drift


def _rollout(reward, value, next_value, terminated, truncated):
    z = jnp.zeros_like(reward)
    return Rollout(obs=z, action=z, reward=reward, terminated=terminated, truncated=truncated,
                   log_prob=z, value=value, next_value=next_value, prediction=z,
                   next_prediction=z)


def test_gae_keeps_terminated_and_truncated_apart():
    # T = 3, one env: step 0 normal, step 1 truncated (bootstraps from V(final obs) = 10),
    # step 2 terminated (no bootstrap).
    reward = jnp.array([[1.0], [1.0], [1.0]])
    value = jnp.array([[2.0], [3.0], [4.0]])
    next_value = jnp.array([[3.0], [10.0], [99.0]])
    term = jnp.array([[False], [False], [True]])
    trunc = jnp.array([[False], [True], [False]])
    gamma, lam = 0.9, 0.5
    adv, ret = gae(_rollout(reward, value, next_value, term, trunc), gamma, lam)
    d2 = 1.0 - 4.0
    d1 = 1.0 + gamma * 10.0 - 3.0
    d0 = 1.0 + gamma * 3.0 - 2.0
    expected = np.array([d0 + gamma * lam * d1, d1, d2])  # the trace is cut after step 1
    np.testing.assert_allclose(adv[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(ret, adv + value)


def test_ppo_drift_matches_clipped_objective():
    r = jnp.linspace(0.1, 3.0, 101)[:, None]
    a = jnp.linspace(-2.0, 2.0, 41)[None, :]
    eps = 0.2
    clipped = jnp.minimum(r * a, jnp.clip(r, 1 - eps, 1 + eps) * a)
    drift = ppo_clip_drift(r, a, eps)
    np.testing.assert_allclose(r * a - drift, clipped, rtol=1e-6, atol=1e-6)
    assert float(drift.min()) >= 0.0


def test_ppo_loss_gradient_is_policy_gradient_at_ratio_one():
    rule = PPO(ent_coef=0.0, vf_coef=0.0, normalize_advantages=False)
    logits = jnp.array([[0.1, 0.3, -0.2], [0.0, 0.5, 0.2]])
    action = jnp.array([1, 2])
    adv = jnp.array([1.5, -0.5])

    def loss(logits):
        policy = Categorical(logits)
        old = jax.lax.stop_gradient(policy.log_prob(action))
        batch = {"action": action, "log_prob": old, "advantage": adv,
                 "return": jnp.zeros(2), "value": jnp.zeros(2)}
        out = AgentOutput(policy, value=jnp.zeros(2))
        return rule.loss({}, out, batch, Progress(jnp.int32(0), jnp.int32(10)))[0]

    pg = jax.grad(lambda lg: -(Categorical(lg).log_prob(action) * adv).mean())(logits)
    np.testing.assert_allclose(jax.grad(loss)(logits), pg, rtol=1e-5, atol=1e-7)


def test_distributions_log_prob_and_entropy():
    g = DiagGaussian(jnp.zeros(2), jnp.log(jnp.array([1.0, 2.0])))
    x = jnp.array([0.5, -1.0])
    ref = sum(-0.5 * (xi / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
              for xi, s in zip([0.5, -1.0], [1.0, 2.0], strict=True))
    np.testing.assert_allclose(g.log_prob(x), ref, rtol=1e-6)
    c = Categorical(jnp.zeros(4))
    np.testing.assert_allclose(c.entropy(), np.log(4), rtol=1e-6)


def test_a2c_is_groove_a2c():
    """GROOVE's A2C: the actor maximises log pi * normalised advantage (+ 0.01 entropy), the
    critic minimises mean((return - V)^2) with weight 1, no value clipping."""
    from meta_objectives import A2C

    rule = A2C()
    n = 16
    logits = jax.random.normal(jax.random.key(0), (n, 3))
    value = jax.random.normal(jax.random.key(1), (n,))
    batch = {"action": jnp.arange(n) % 3, "log_prob": jnp.zeros(n),
             "advantage": jax.random.normal(jax.random.key(2), (n,)) * 5 + 2,
             "return": jax.random.normal(jax.random.key(3), (n,)), "value": jnp.zeros(n)}
    progress = Progress(jnp.int32(0), jnp.int32(10))

    def ours(lg, v):
        return rule.loss({}, AgentOutput(Categorical(lg), value=v), batch, progress)[0]

    def groove(lg, v):
        adv = batch["advantage"]
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy = Categorical(lg)
        actor = -jnp.mean(policy.log_prob(batch["action"]) * adv) - 0.01 * policy.entropy().mean()
        critic = jnp.mean(jnp.square(batch["return"] - v))
        return actor + critic

    for argnum in (0, 1):
        np.testing.assert_allclose(jax.grad(ours, argnum)(logits, value),
                                   jax.grad(groove, argnum)(logits, value), rtol=1e-5,
                                   atol=1e-6)
