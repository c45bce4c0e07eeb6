"""Learned policy optimisation: LPO (Lu et al. 2022), TA-LPO (Jackson et al. 2024), DPO.

All three are mirror-learning rules: the policy objective is `r*A - drift(r, A)` (A normalised
per minibatch) with value loss and entropy bonus as in PPO. LPO's drift is a small network
(one hidden layer of 128, tanh, no biases) over

    x = [r-1, (r-1)^2, log r, (log r)^2] and the same times A          (8 features)

and TA-LPO adds `(n/N) * x` (16 features), so that every input still vanishes at r = 1. The
output passes through `relu(. - 1e-4)`, which makes the drift >= 0 and flat (zero value and zero
gradient) around r = 1. `ppo_init=True` adds PPO-clip's drift, so a zero network is exactly PPO.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from meta_objectives.base import MetaParams, Progress
from meta_objectives.ppo import PolicyObjectiveRule, ppo_clip_drift, ratio_of

DRIFT_FLOOR = 1e-4


def drift_features(ratio: jax.Array, advantage: jax.Array) -> jax.Array:
    """LPO's 8 input features [..., 8]; all are zero at r = 1."""
    d = ratio - 1.0
    log_r = jnp.log(ratio)
    x = jnp.stack([d, d * d, log_r, log_r * log_r], axis=-1)
    return jnp.concatenate([x, x * advantage[..., None]], axis=-1)


@dataclass(frozen=True)
class MirrorLearningRule(PolicyObjectiveRule):
    """A rule whose policy objective is `r*A - drift(meta_params, r, A, progress)`."""

    def drift(self, meta_params: MetaParams, ratio: jax.Array, advantage: jax.Array,
              progress: Progress) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} must define drift")

    def policy_objective(self, meta_params, log_prob, old_log_prob, advantage, progress):
        r = ratio_of(log_prob, old_log_prob)
        return r * advantage - self.drift(meta_params, r, advantage, progress)


@dataclass(frozen=True)
class LPO(MirrorLearningRule):
    """Learned Policy Optimisation: a learned drift network."""

    hidden: int = 128
    ppo_init: bool = False  # add PPO-clip's drift; a zero network is then exactly PPO
    zero_init: bool = False  # start the network at zero (use with ppo_init)
    clip_eps: float = 0.2
    init_scale: float = 1.0  # scale of the (lecun-normal) random initialisation

    name = "lpo"
    temporal = False

    @property
    def num_features(self) -> int:
        return 16 if self.temporal else 8

    def init(self, key: jax.Array) -> MetaParams:
        k1, k2 = jax.random.split(key)
        init = jax.nn.initializers.lecun_normal()
        w1 = init(k1, (self.num_features, self.hidden)) * self.init_scale
        w2 = init(k2, (self.hidden, 1)) * self.init_scale
        if self.zero_init:
            w1, w2 = jnp.zeros_like(w1), jnp.zeros_like(w2)
        return {"w1": w1, "w2": w2}

    def features(self, ratio: jax.Array, advantage: jax.Array, progress: Progress) -> jax.Array:
        x = drift_features(ratio, advantage)
        if self.temporal:
            frac = jnp.broadcast_to(progress.fraction, x.shape[:-1])[..., None]
            x = jnp.concatenate([x, frac * x], axis=-1)
        return x

    def drift(self, meta_params, ratio, advantage, progress):
        h = jnp.tanh(self.features(ratio, advantage, progress) @ meta_params["w1"])
        out = jax.nn.relu((h @ meta_params["w2"])[..., 0] - DRIFT_FLOOR)
        if self.ppo_init:
            out = out + ppo_clip_drift(ratio, advantage, self.clip_eps)
        return out


@dataclass(frozen=True)
class TALPO(LPO):
    """Temporally-aware LPO: the drift also sees training progress n/N."""

    name = "ta-lpo"
    temporal = True


@dataclass(frozen=True)
class DPO(MirrorLearningRule):
    """Discovered Policy Optimisation (Lu et al. 2022): LPO's drift distilled to a closed form.

    A >= 0: relu((r-1)A - alpha*tanh((r-1)A/alpha));  A < 0: relu(log(r)A - beta*tanh(log(r)A/beta))
    """

    alpha: float = 2.0
    beta: float = 0.6
    name = "dpo"

    def drift(self, meta_params, ratio, advantage, progress):
        pos = (ratio - 1.0) * advantage
        neg = jnp.log(ratio) * advantage
        return jnp.where(advantage >= 0,
                         jax.nn.relu(pos - self.alpha * jnp.tanh(pos / self.alpha)),
                         jax.nn.relu(neg - self.beta * jnp.tanh(neg / self.beta)))


def drift_grid(rule: MirrorLearningRule, meta_params: MetaParams, ratios: jax.Array,
               advantages: jax.Array, fraction: float = 0.0, horizon: int = 1000) -> jax.Array:
    """The drift on a (ratio x advantage) grid at training progress n/N = `fraction`.

    Works for any mirror-learning rule (learned or fixed); returns [len(ratios), len(advantages)].
    """
    r, a = jnp.meshgrid(jnp.asarray(ratios, jnp.float32), jnp.asarray(advantages, jnp.float32),
                        indexing="ij")
    progress = Progress(step=jnp.asarray(fraction * horizon), horizon=jnp.asarray(horizon))
    return rule.drift(meta_params, r, a, progress)
