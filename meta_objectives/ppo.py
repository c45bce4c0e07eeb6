"""Fixed, hand-designed rules: PPO-clip and A2C.

Both are policy-objective rules: the trainer computes GAE targets once per rollout and the loss
maximises a per-sample policy objective plus value and entropy terms. In the mirror-learning view
(Kuba et al. 2022) used by LPO, PPO's objective is `r*A - drift(r, A)` with the drift
`relu((r - clip(r, 1-eps, 1+eps)) * A)`; learned objectives (meta_objectives/lpo.py) replace the
drift and keep everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from meta_objectives.base import AgentOutput, MetaParams, Progress, Rollout, gae, normalize


@dataclass(frozen=True)
class PolicyObjectiveRule:
    """Shared machinery of actor-critic rules: GAE targets, value loss, entropy bonus.

    Subclasses define `policy_objective` (per sample, maximised).
    """

    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    value_clip_eps: float | None = 0.2  # None disables PPO-style value clipping
    normalize_advantages: bool = True

    name = "policy-objective"
    needs_value = True
    prediction_size = 0
    fitness_measure = "final_window"  # the papers score the training episodes' final returns

    def init(self, key: jax.Array) -> MetaParams:
        return {}

    def targets(self, meta_params: MetaParams, rollout: Rollout, progress: Progress
                ) -> dict[str, jax.Array]:
        advantage, ret = gae(rollout, self.gamma, self.gae_lambda)
        return {"advantage": advantage, "return": ret}

    def policy_objective(self, meta_params: MetaParams, log_prob: jax.Array,
                         old_log_prob: jax.Array, advantage: jax.Array,
                         progress: Progress) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} must define policy_objective")

    def loss(self, meta_params: MetaParams, out: AgentOutput, batch: dict[str, jax.Array],
             progress: Progress) -> tuple[jax.Array, dict[str, jax.Array]]:
        log_prob = out.policy.log_prob(batch["action"])
        advantage = batch["advantage"]
        if self.normalize_advantages:
            advantage = normalize(advantage)
        objective = self.policy_objective(meta_params, log_prob, batch["log_prob"], advantage,
                                          progress)
        policy_loss = -objective.mean()

        value_err = jnp.square(out.value - batch["return"])
        if self.value_clip_eps is not None:
            clipped = batch["value"] + jnp.clip(out.value - batch["value"],
                                                -self.value_clip_eps, self.value_clip_eps)
            value_err = jnp.maximum(value_err, jnp.square(clipped - batch["return"]))
        value_loss = 0.5 * value_err.mean()
        entropy = out.policy.entropy().mean()

        total = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss,
                       "entropy": entropy}


def ratio_of(log_prob: jax.Array, old_log_prob: jax.Array) -> jax.Array:
    return jnp.exp(log_prob - old_log_prob)


def ppo_clip_drift(ratio: jax.Array, advantage: jax.Array, clip_eps: float) -> jax.Array:
    """PPO-clip as a drift: `relu((r - clip(r, 1-eps, 1+eps)) * A)`."""
    return jax.nn.relu((ratio - jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)) * advantage)


@dataclass(frozen=True)
class PPO(PolicyObjectiveRule):
    """PPO-clip (Schulman et al. 2017) written as a mirror-learning drift."""

    clip_eps: float = 0.2
    name = "ppo"

    def policy_objective(self, meta_params, log_prob, old_log_prob, advantage, progress):
        r = ratio_of(log_prob, old_log_prob)
        return r * advantage - ppo_clip_drift(r, advantage, self.clip_eps)


@dataclass(frozen=True)
class A2C(PolicyObjectiveRule):
    """Advantage actor-critic: maximise `log pi(a|s) * A` (use 1 epoch, 1 minibatch).

    Defaults are GROOVE's A2C, the reference algorithm of LPG: advantages normalised over the
    batch, critic loss `mean((return - V)^2)` with weight 1 (`vf_coef = 2` on this module's
    `0.5 * mean(...)`), no value clipping, entropy bonus 0.01, GAE(0.99, 0.95).
    """

    value_clip_eps: float | None = None
    normalize_advantages: bool = True
    vf_coef: float = 2.0
    name = "a2c"

    def policy_objective(self, meta_params, log_prob, old_log_prob, advantage, progress):
        return log_prob * jax.lax.stop_gradient(advantage)
