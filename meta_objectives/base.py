"""The UpdateRule interface: what is discovered (or fixed) is the agent's loss.

A rule is a frozen dataclass (hashable, static under jit) whose `meta_params` pytree is what ES
optimises. The trainer (`discovery.inner.make_train`) calls, once per rollout,
`targets(meta_params, rollout, progress)` and then, per minibatch,
`loss(meta_params, out, batch, progress)`, differentiating the loss w.r.t. the agent's
parameters through `out` (the agent's forward pass on the minibatch). Rules never see the
network, so one rule trains MLP, CNN and tabular agents alike.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from meta_objectives.distributions import Categorical, DiagGaussian

MetaParams = Any  # a pytree; {} for fixed rules


class Progress(NamedTuple):
    """Where the agent is in its lifetime: update `step` (0-based) out of `horizon` updates."""

    step: jax.Array
    horizon: jax.Array

    @property
    def fraction(self) -> jax.Array:
        """n / N in [0, 1)."""
        return self.step / jnp.maximum(self.horizon, 1)

    @property
    def log_horizon(self) -> jax.Array:
        return jnp.log(jnp.maximum(self.horizon, 1).astype(jnp.float32))


class AgentOutput(NamedTuple):
    """The agent's forward pass: a policy, and the heads a rule asked for (else None)."""

    policy: Categorical | DiagGaussian
    value: jax.Array | None = None
    prediction: jax.Array | None = None  # logits of LPG's y (e.g. 8-way)


class Rollout(NamedTuple):
    """One rollout, every field [T, B, ...] (time major).

    `next_value` is the value of the true next observation: the pre-reset final observation on
    episode ends (so truncated steps can bootstrap); rules zero it where `terminated`.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    log_prob: jax.Array
    value: jax.Array
    next_value: jax.Array
    prediction: jax.Array
    next_prediction: jax.Array

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


@runtime_checkable
class UpdateRule(Protocol):
    """An agent-side loss, possibly parameterised by meta-parameters."""

    name: str
    needs_value: bool  # the agent needs a value head
    prediction_size: int  # size of the agent's prediction vector y (0 = none)

    def init(self, key: jax.Array) -> MetaParams:
        """Initial meta-parameters ({} for a fixed rule)."""

    def targets(self, meta_params: MetaParams, rollout: Rollout, progress: Progress
                ) -> dict[str, jax.Array]:
        """Per-step targets computed once per rollout ([T, B] arrays, e.g. GAE advantages)."""

    def loss(self, meta_params: MetaParams, out: AgentOutput, batch: dict[str, jax.Array],
             progress: Progress) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Scalar loss on a minibatch (rollout fields + targets, flattened) and its metrics."""


def gae(rollout: Rollout, gamma: float, gae_lambda: float) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation with terminated and truncated kept apart.

    Terminated steps do not bootstrap; truncated steps bootstrap from the value of the final
    (pre-reset) observation; the trace is cut at every episode end. Returns (advantages, returns).
    """
    not_term = 1.0 - rollout.terminated.astype(jnp.float32)
    not_done = 1.0 - rollout.done.astype(jnp.float32)
    delta = rollout.reward + gamma * rollout.next_value * not_term - rollout.value

    def step(carry, x):
        d, nd = x
        carry = d + gamma * gae_lambda * nd * carry
        return carry, carry

    _, adv = jax.lax.scan(step, jnp.zeros_like(delta[0]), (delta, not_done), reverse=True)
    return adv, adv + rollout.value


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    return (x - x.mean()) / (x.std() + eps)
