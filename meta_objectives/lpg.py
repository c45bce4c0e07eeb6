"""Learned Policy Gradient: LPG (Oh et al. 2020, GROOVE's JAX version) and TA-LPG.

LPG replaces the advantage and the value target by the outputs of a meta-learned recurrent
network run over the agent's rollout. Per step t the network sees

    [r_t, done_t, gamma, pi(a_t|s_t), phi(y_t), phi(y_{t+1})]      (+ [n/N, log N] for TA-LPG)

where y is the agent's 8-way prediction vector (softmax of its prediction logits), phi a small
embedding MLP ([16] -> 1, ReLU) shared by y_t and y_{t+1}, and phi(y_{t+1}) is zeroed on
episode ends (the rollout's next prediction there is the post-reset observation's). A GRU (256)
runs **backwards in time** along each env column and its state is reset at episode ends: when
the backward scan reaches a step with done_t, the carry (which holds steps t+1.. of the *next*
episode) is zeroed before step t is processed, so step t's outputs depend only on steps
t .. end of its own episode. After a ReLU, two linear heads give `pi_hat` (a scalar) and
`y_hat = softmax(linear(8))`.

Agent loss (minimised), exactly as in GROOVE (reference §5):

    mean(pi_hat * log pi(a_t|s_t)) + alpha_y * mean(KL(y_t || y_hat_t))      (alpha_y = 0.5)

Sign convention: GROOVE *minimises* `pi_hat * log pi`, so pi_hat plays the role of a negative
advantage (LPG's paper writes the ascent direction `+pi_hat * grad log pi`; the two differ only
by the sign of the pi_hat head, which ES learns either way). LPG/GROOVE put no entropy bonus in
the agent loss (`ent_coef = 0.0` by default, kept as an option). The beta coefficients are the
*meta-gradient* regularisers of LPG (policy entropy, target entropy, pi_hat L2, y_hat L2); ES
optimises return and ignores them, but `meta_regularizer` computes them from the loss metrics
for a meta-gradient trainer.

TA-LPG (Jackson et al. 2024) also feeds the training progress n/N and the log of the horizon N,
both constant over a rollout. N counts agent *updates* (GROOVE's `lifetime`, which the paper's
lifetimes LU[10, 250] are measured in), not environment steps. GROOVE fed the raw update count
and raw lifetime by mistake (reference §6); here they are `progress.fraction` and
`progress.log_horizon` = log N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from meta_objectives.base import AgentOutput, MetaParams, Progress, Rollout

LOG_EPS = 1e-8  # as GROOVE's kl_divergence


class LPGInputs(NamedTuple):
    """What the LPG network sees for a rollout; every field [T, B, ...] (time major)."""

    scalars: jax.Array  # [T, B, S]: r, done, gamma, pi(a|s) (+ n/N, log N)
    y: jax.Array  # [T, B, K] agent's prediction probabilities at s_t
    next_y: jax.Array  # [T, B, K] at s_{t+1} (post-reset obs on episode ends; masked by done)
    done: jax.Array  # [T, B] bool: step t is the last of its episode


SCALAR_NAMES = ("reward", "done", "gamma", "pi")
TEMPORAL_NAMES = ("fraction", "log_horizon")


def lpg_inputs(rollout: Rollout, gamma: float, progress: Progress | None = None) -> LPGInputs:
    """Build LPG's per-step inputs from a rollout (gradients stopped, as in GROOVE).

    With `progress` (TA-LPG) two more scalar inputs follow: n/N and log N, broadcast over
    [T, B]. `pi(a|s) = exp(rollout.log_prob)`; y = softmax of the prediction logits.
    """
    rollout = jax.lax.stop_gradient(rollout)
    done = rollout.done
    shape = rollout.reward.shape
    cols = [rollout.reward.astype(jnp.float32), done.astype(jnp.float32),
            jnp.full(shape, gamma, jnp.float32), jnp.exp(rollout.log_prob)]
    if progress is not None:
        cols += [jnp.broadcast_to(jnp.asarray(progress.fraction, jnp.float32), shape),
                 jnp.broadcast_to(jnp.asarray(progress.log_horizon, jnp.float32), shape)]
    return LPGInputs(scalars=jnp.stack(cols, axis=-1),
                     y=jax.nn.softmax(rollout.prediction, axis=-1),
                     next_y=jax.nn.softmax(rollout.next_prediction, axis=-1), done=done)


class _ResetGRUStep(nn.Module):
    """One backward step: zero the carry if step t ends its episode, then a GRU cell."""

    hidden: int

    @nn.compact
    def __call__(self, carry: jax.Array, xs: tuple[jax.Array, jax.Array]):
        x, done = xs
        carry = jnp.where(done[..., None], jnp.zeros_like(carry), carry)
        return nn.GRUCell(self.hidden, name="cell")(carry, x)


_BackwardGRU = nn.scan(_ResetGRUStep, variable_broadcast="params", split_rngs={"params": False},
                       in_axes=0, out_axes=0, reverse=True)


class LPGNetwork(nn.Module):
    """The LPG network over a time-major rollout: `(pi_hat [T, ...], y_hat [T, ..., K])`."""

    hidden: int = 256
    embedding: Sequence[int] = (16, 1)
    target_width: int = 8

    @nn.compact
    def __call__(self, inputs: LPGInputs) -> tuple[jax.Array, jax.Array]:
        layers = [nn.Dense(f, name=f"phi_{i}") for i, f in enumerate(self.embedding)]

        def phi(y: jax.Array) -> jax.Array:  # shared by y_t and y_{t+1}
            for i, layer in enumerate(layers):
                y = layer(y)
                if i < len(layers) - 1:
                    y = nn.relu(y)
            return y

        done = inputs.done.astype(bool)
        phi_y = phi(inputs.y)
        phi_next = jnp.where(done[..., None], 0.0, phi(inputs.next_y))
        x = jnp.concatenate([inputs.scalars.astype(jnp.float32), phi_y, phi_next], axis=-1)
        carry = jnp.zeros(x.shape[1:-1] + (self.hidden,), x.dtype)
        _, h = _BackwardGRU(self.hidden, name="core")(carry, (x, done))
        h = nn.relu(h)
        pi_hat = nn.Dense(1, name="pi_hat")(h)[..., 0]
        y_hat = nn.softmax(nn.Dense(self.target_width, name="y_hat")(h), axis=-1)
        return pi_hat, y_hat


@dataclass(frozen=True)
class LPG:
    """Learned Policy Gradient: the agent follows the LPG network's targets (pi_hat, y_hat)."""

    gamma: float = 0.99
    hidden: int = 256  # GRU width
    embedding: tuple[int, ...] = (16, 1)  # phi(y): Dense 16 -> ReLU -> Dense 1
    prediction_size: int = 8  # width of y (the agent's prediction head) and of y_hat
    alpha_y: float = 0.5  # agent KL(y || y_hat) coefficient
    ent_coef: float = 0.0  # agent-side entropy bonus (none in LPG/GROOVE)
    # Meta-gradient regularisers (reference §5); unused by ES, see `meta_regularizer`.
    beta_policy_entropy: float = 0.05
    beta_target_entropy: float = 1e-3
    beta_pi_hat_l2: float = 5e-3
    beta_y_hat_l2: float = 1e-3
    # Initial meta-parameters: "zero" is GROOVE's ES mean (pi_hat = 0, y_hat uniform: the
    # agent does not move at generation 0); "random" is flax's initialisation, which the
    # meta-gradient outer loop needs (at zero every weight but the heads' biases has zero
    # meta-gradient).
    net_init: str = "zero"

    name = "lpg"
    needs_value = False
    temporal = False
    fitness_measure = "final_policy"  # GROOVE scores fresh episodes of the final agent

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.prediction_size < 1 or not self.embedding:
            raise ValueError(f"{type(self).__name__}: hidden and prediction_size must be >= 1 "
                             "and embedding non-empty")
        if self.net_init not in ("zero", "random"):
            raise ValueError(f"rule.options.net_init must be 'zero' or 'random', got "
                             f"{self.net_init!r}")
        object.__setattr__(self, "embedding", tuple(int(e) for e in self.embedding))

    @property
    def network(self) -> LPGNetwork:
        return LPGNetwork(self.hidden, self.embedding, self.prediction_size)

    @property
    def num_scalar_inputs(self) -> int:
        return len(SCALAR_NAMES) + (len(TEMPORAL_NAMES) if self.temporal else 0)

    def inputs(self, rollout: Rollout, progress: Progress) -> LPGInputs:
        return lpg_inputs(rollout, self.gamma, progress if self.temporal else None)

    def init(self, key: jax.Array) -> MetaParams:
        k = self.prediction_size
        dummy = LPGInputs(scalars=jnp.zeros((1, 1, self.num_scalar_inputs)),
                          y=jnp.full((1, 1, k), 1.0 / k), next_y=jnp.full((1, 1, k), 1.0 / k),
                          done=jnp.zeros((1, 1), bool))
        params = self.network.init(key, dummy)
        return jax.tree.map(jnp.zeros_like, params) if self.net_init == "zero" else params

    def apply(self, meta_params: MetaParams, inputs: LPGInputs) -> tuple[jax.Array, jax.Array]:
        """Run the LPG network on prepared inputs: (pi_hat [T, B], y_hat [T, B, K])."""
        return self.network.apply(meta_params, inputs)

    def targets(self, meta_params: MetaParams, rollout: Rollout, progress: Progress
                ) -> dict[str, jax.Array]:
        pi_hat, y_hat = self.apply(meta_params, self.inputs(rollout, progress))
        return {"pi_hat": pi_hat, "y_hat": y_hat}

    def loss(self, meta_params: MetaParams, out: AgentOutput, batch: dict[str, jax.Array],
             progress: Progress) -> tuple[jax.Array, dict[str, jax.Array]]:
        log_pi = out.policy.log_prob(batch["action"])
        pi_hat, y_hat = batch["pi_hat"], batch["y_hat"]
        policy_loss = jnp.mean(pi_hat * log_pi)  # minimised (GROOVE's sign, see module doc)
        log_y = jax.nn.log_softmax(out.prediction, axis=-1)
        y = jnp.exp(log_y)
        kl = jnp.sum(y * (log_y - jnp.log(y_hat + LOG_EPS)), axis=-1)  # KL(y || y_hat)
        target_loss = jnp.mean(kl)
        entropy = out.policy.entropy().mean()
        total = policy_loss + self.alpha_y * target_loss - self.ent_coef * entropy
        metrics = {
            "policy_loss": policy_loss,
            "target_loss": target_loss,
            "entropy": entropy,
            "y_entropy": -jnp.mean(jnp.sum(y * log_y, axis=-1)),
            "pi_hat_mean": jnp.mean(pi_hat),
            "pi_hat_l2": jnp.mean(jnp.square(pi_hat)),
            "y_hat_l2": jnp.mean(jnp.sum(jnp.square(y_hat), axis=-1)),
        }
        return total, metrics

    def meta_regularizer(self, metrics: dict[str, jax.Array]) -> jax.Array:
        """LPG's meta-gradient regulariser from the loss metrics (GROOVE's `reg_lpg_loss` terms):
        `-b0 H(pi) + b2 mean(pi_hat^2) - b1 H(y) + b3 mean(sum y_hat^2)`. ES does not use it."""
        return (-self.beta_policy_entropy * metrics["entropy"]
                + self.beta_pi_hat_l2 * metrics["pi_hat_l2"]
                - self.beta_target_entropy * metrics["y_entropy"]
                + self.beta_y_hat_l2 * metrics["y_hat_l2"])


@dataclass(frozen=True)
class TALPG(LPG):
    """Temporally-aware LPG: the network also sees n/N and log N at every step."""

    name = "ta-lpg"
    temporal = True
