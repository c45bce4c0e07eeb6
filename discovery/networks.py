"""Actor-critic agents: MLP (or linear, `hidden=()`) and a small MinAtar CNN torso.

The actor and critic have separate torsos (as in purejaxrl). The critic side carries the value
head and, for LPG agents, the prediction head y (GROOVE's agent: its critic network outputs y),
so `TrainConfig.critic_lr` applies to both.

Two initialisation styles (`TrainConfig.agent_style`):
- "purejaxrl": orthogonal kernels with purejaxrl's gains (sqrt 2 hidden, 0.01 policy, 1 value),
  zero biases;
- "groove": flax's defaults (lecun-normal kernels, zero biases), as GROOVE's agents, and no
  biases at all in linear agents (`hidden=()`: GROOVE's tabular actor and critic are bias-free
  tables; a bias there is shared by every state and at SGD lr 40 its gradient outweighs the
  whole table's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from meta_objectives.base import AgentOutput
from meta_objectives.distributions import Categorical, DiagGaussian

_ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu}


STYLES = ("purejaxrl", "groove")


def _dense(features: int, gain: float, name: str | None = None, style: str = "purejaxrl",
           bias: bool = True) -> nn.Dense:
    kernel = (nn.initializers.orthogonal(gain) if style == "purejaxrl"
              else nn.initializers.lecun_normal())
    return nn.Dense(features, kernel_init=kernel, bias_init=nn.initializers.constant(0.0),
                    use_bias=bias, name=name)


class Torso(nn.Module):
    """MLP (flattening its input) or a MinAtar-style conv layer followed by the MLP."""

    hidden: Sequence[int]
    activation: str
    conv: bool = False
    style: str = "purejaxrl"

    @nn.compact
    def __call__(self, x: jax.Array, batch_ndim: int) -> jax.Array:
        act = _ACTIVATIONS[self.activation]
        if self.conv:
            x = act(nn.Conv(16, kernel_size=(3, 3), padding="VALID")(x))
        x = x.reshape(*x.shape[:batch_ndim], -1)
        for h in self.hidden:
            x = act(_dense(h, np.sqrt(2), style=self.style)(x))
        return x


class ActorCritic(nn.Module):
    """Policy (categorical or diagonal Gaussian), optional value and prediction heads."""

    action_dim: int
    continuous: bool = False
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    conv: bool = False
    value_head: bool = True
    prediction_size: int = 0
    obs_ndim: int = 1  # rank of one observation (3 for MinAtar's HWC images)
    style: str = "purejaxrl"  # initialisation style, see the module docstring

    @property
    def _head_bias(self) -> bool:
        """GROOVE's linear agents are bias-free tables."""
        return self.style == "purejaxrl" or bool(self.hidden) or self.conv

    def _head(self, features: int, gain: float, name: str) -> nn.Dense:
        return _dense(features, gain, name, self.style, self._head_bias)

    def _batch_ndim(self, obs: jax.Array) -> int:
        return obs.ndim - self.obs_ndim

    @nn.compact
    def __call__(self, obs: jax.Array) -> AgentOutput:
        b = self._batch_ndim(obs)
        h = Torso(self.hidden, self.activation, self.conv, self.style, name="actor_torso")(obs, b)
        if self.continuous:
            mean = self._head(self.action_dim, 0.01, "policy_out")(h)
            log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
            policy = DiagGaussian(mean, jnp.broadcast_to(log_std, mean.shape))
        else:
            policy = Categorical(self._head(self.action_dim, 0.01, "policy_out")(h))
        value, prediction = self.critic(obs)
        return AgentOutput(policy=policy, value=value, prediction=prediction)

    @nn.compact
    def critic(self, obs: jax.Array) -> tuple[jax.Array | None, jax.Array | None]:
        """(value, prediction logits), each None unless its head is enabled."""
        if not (self.value_head or self.prediction_size):
            return None, None
        b = self._batch_ndim(obs)
        h = Torso(self.hidden, self.activation, self.conv, self.style, name="critic_torso")(obs, b)
        value = self._head(1, 1.0, "value_out")(h)[..., 0] if self.value_head else None
        prediction = (self._head(self.prediction_size, 0.01, "prediction_out")(h)
                      if self.prediction_size else None)
        return value, prediction

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(obs)[0]


class ObsStats(NamedTuple):
    """Running mean/variance of observations, part of the agent (like brax's normaliser)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def init(cls, obs_shape: tuple[int, ...]) -> ObsStats:
        return cls(jnp.zeros(obs_shape), jnp.ones(obs_shape), jnp.float32(1e-4))

    def update(self, batch: jax.Array) -> ObsStats:
        """Merge a batch ([..., *obs_shape]) into the statistics (parallel Welford)."""
        batch = batch.reshape(-1, *self.mean.shape)
        n = batch.shape[0]
        b_mean, b_var = batch.mean(0), batch.var(0)
        total = self.count + n
        delta = b_mean - self.mean
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        return ObsStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array, clip: float = 10.0) -> jax.Array:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -clip, clip)
