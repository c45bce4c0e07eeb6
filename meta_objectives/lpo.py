"""Learned policy optimisation: LPO (Lu et al. 2022), TA-LPO (Jackson et al. 2024), DPO.

All three are mirror-learning rules: the policy objective is `r*A - drift(r, A)` (A normalised
per minibatch) with value loss and entropy bonus as in PPO. Drifts are written in terms of the
log-ratio `x = log r` (the trainer has it exactly; `log(exp(x))` would round). LPO's drift is a
small network (one hidden layer of 128, tanh, no biases) over

    f = [r-1, (r-1)^2, log r, (log r)^2] and the same times A          (8 features)

and TA-LPO adds `(n/N) * f` (16 features), so that every input still vanishes at r = 1. With
`ppo_init` (the papers' choice, and the default) PPO-clip's drift sits *inside* the output ReLU,
as in the DPO code and Goldie et al.'s LPO:

    drift = relu(ppo(r, A) + net(f) - 1e-4) + min(ppo(r, A), 1e-4)

The last term is ours: it is zero wherever PPO's drift is (around r = 1 in particular), and it
returns the 1e-4 that the floor takes off PPO's drift, so a network with zero output is exactly
PPO (the papers' form alone gives relu(ppo - 1e-4), which differs from PPO wherever
0 < ppo < 1e-4). A negative network output can take the drift below PPO's, down to 1e-4 (DPO's
drift lies there). Without `ppo_init` the drift is `relu(net(f) - 1e-4)`. Either way the
drift is >= 0 and flat (zero value and zero gradient) around r = 1.

`init` starts the ES mean at zero output: a random (lecun-normal) hidden layer and a zero output
layer, so generation 0's mean rule is exactly PPO and every output weight has a non-zero
gradient (an all-zero network would be a saddle of the drift).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from meta_objectives.base import MetaParams, Progress
from meta_objectives.ppo import PolicyObjectiveRule, ppo_clip_drift

DRIFT_FLOOR = 1e-4


def drift_features(log_ratio: jax.Array, advantage: jax.Array) -> jax.Array:
    """LPO's 8 input features [..., 8] from the log-ratio; all are zero at r = 1."""
    d = jnp.expm1(log_ratio)  # r - 1, exact near r = 1
    x = jnp.stack([d, d * d, log_ratio, log_ratio * log_ratio], axis=-1)
    return jnp.concatenate([x, x * advantage[..., None]], axis=-1)


@dataclass(frozen=True)
class MirrorLearningRule(PolicyObjectiveRule):
    """A rule whose policy objective is `r*A - drift(meta_params, log r, A, progress)`."""

    def drift(self, meta_params: MetaParams, log_ratio: jax.Array, advantage: jax.Array,
              progress: Progress) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} must define drift")

    def policy_objective(self, meta_params, log_prob, old_log_prob, advantage, progress):
        log_ratio = log_prob - old_log_prob
        drift = self.drift(meta_params, log_ratio, advantage, progress)
        return jnp.exp(log_ratio) * advantage - drift


@dataclass(frozen=True)
class LPO(MirrorLearningRule):
    """Learned Policy Optimisation: a learned drift network (see the module docstring)."""

    hidden: int = 128
    ppo_init: bool = True  # PPO-clip's drift inside the output ReLU (the papers' choice)
    net_init: str = "zero_output"  # ES mean: "zero_output" (exactly PPO with ppo_init), "random"
    clip_eps: float = 0.2
    init_scale: float = 1.0  # scale of the lecun-normal initialisation

    name = "lpo"
    temporal = False

    def __post_init__(self) -> None:
        if self.net_init not in ("zero_output", "random"):
            raise ValueError(f"rule.options.net_init must be 'zero_output' or 'random', got "
                             f"{self.net_init!r}")
        if not isinstance(self.hidden, int) or self.hidden < 1:
            raise ValueError(f"rule.options.hidden must be a positive integer, got "
                             f"{self.hidden!r}")

    @property
    def num_features(self) -> int:
        return 16 if self.temporal else 8

    def init(self, key: jax.Array) -> MetaParams:
        k1, k2 = jax.random.split(key)
        lecun = jax.nn.initializers.lecun_normal()
        w1 = lecun(k1, (self.num_features, self.hidden)) * self.init_scale
        w2 = lecun(k2, (self.hidden, 1)) * self.init_scale
        if self.net_init == "zero_output":
            w2 = jnp.zeros_like(w2)
        return {"w1": w1, "w2": w2}

    def features(self, log_ratio: jax.Array, advantage: jax.Array,
                 progress: Progress) -> jax.Array:
        x = drift_features(log_ratio, advantage)
        if self.temporal:
            frac = jnp.broadcast_to(progress.fraction, x.shape[:-1])[..., None]
            x = jnp.concatenate([x, frac * x], axis=-1)
        return x

    def network(self, meta_params: MetaParams, log_ratio: jax.Array, advantage: jax.Array,
                progress: Progress) -> jax.Array:
        """The drift network's raw output (before the ReLU)."""
        h = jnp.tanh(self.features(log_ratio, advantage, progress) @ meta_params["w1"])
        return (h @ meta_params["w2"])[..., 0]

    def drift(self, meta_params, log_ratio, advantage, progress):
        net = self.network(meta_params, log_ratio, advantage, progress)
        if not self.ppo_init:
            return jax.nn.relu(net - DRIFT_FLOOR)
        ppo = ppo_clip_drift(jnp.exp(log_ratio), advantage, self.clip_eps)
        return jax.nn.relu(ppo + net - DRIFT_FLOOR) + jnp.minimum(ppo, DRIFT_FLOOR)


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

    def drift(self, meta_params, log_ratio, advantage, progress):
        pos = jnp.expm1(log_ratio) * advantage
        neg = log_ratio * advantage
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
    return rule.drift(meta_params, jnp.log(r), a, progress)
