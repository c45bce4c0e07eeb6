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

Dense layers differentiate through `_dense_matmul`, a custom backward pass that is faster on
XLA:CPU. Reverse mode works to any order (jax.grad, jax.hessian); for forward mode (jax.jvp,
jax.jacfwd) use `ActorCritic(..., plain_autodiff=True)` (the same parameters).
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


NARROW = 8  # layers with at most this many outputs form their input gradient as a sum


@jax.custom_vjp
def _dense_matmul(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """`x @ kernel` ([..., K] by [K, N]) with a backward pass shaped for XLA:CPU's small
    matrix products (same values as autodiff's, summed in another order):

    - the kernel's gradient as `x^T g` ([K, N], the batch contracted), not autodiff's
      `(g^T x)^T`: 3x faster for a narrow input (K = 4, CartPole's observation);
    - for a narrow layer (N <= NARROW: policy and value heads) the input's gradient as N
      broadcast products, which fuse, instead of `g @ kernel.T`, whose short contraction
      takes a slow transposed-operand path (about 10 us of a ~150 us CartPole minibatch step).
    """
    return jnp.matmul(x, kernel)


def _dense_matmul_fwd(x, kernel):
    return jnp.matmul(x, kernel), (x, kernel)


def _dense_matmul_bwd(res, g):
    x, kernel = res
    if kernel.shape[1] <= NARROW:
        dx = g[..., 0:1] * kernel[:, 0]
        for j in range(1, kernel.shape[1]):
            dx = dx + g[..., j:j + 1] * kernel[:, j]
    else:
        dx = jax.lax.dot_general(g, kernel, (((g.ndim - 1,), (1,)), ((), ())))
    batch = tuple(range(x.ndim - 1))
    return dx, jax.lax.dot_general(x, g, ((batch, batch), ((), ())))


_dense_matmul.defvjp(_dense_matmul_fwd, _dense_matmul_bwd)


def _dense_product(x: jax.Array, kernel: jax.Array, dimension_numbers, precision=None,
                   preferred_element_type=None) -> jax.Array:
    """flax Dense's `dot_general` as `_dense_matmul` (Dense contracts x's last axis with the
    kernel's first)."""
    if kernel.ndim == 2 and precision is None and preferred_element_type is None:
        return _dense_matmul(x, kernel)
    return jax.lax.dot_general(x, kernel, dimension_numbers, precision=precision,
                               preferred_element_type=preferred_element_type)


def _dense(features: int, gain: float, name: str | None = None, style: str = "purejaxrl",
           bias: bool = True, plain_autodiff: bool = False) -> nn.Dense:
    kernel = (nn.initializers.orthogonal(gain) if style == "purejaxrl"
              else nn.initializers.lecun_normal())
    return nn.Dense(features, kernel_init=kernel, bias_init=nn.initializers.constant(0.0),
                    use_bias=bias, name=name,
                    dot_general=jax.lax.dot_general if plain_autodiff else _dense_product)


class Torso(nn.Module):
    """MLP (flattening its input) or a MinAtar-style conv layer followed by the MLP."""

    hidden: Sequence[int]
    activation: str
    conv: bool = False
    style: str = "purejaxrl"
    plain_autodiff: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, batch_ndim: int) -> jax.Array:
        act = _ACTIVATIONS[self.activation]
        if self.conv:
            x = act(nn.Conv(16, kernel_size=(3, 3), padding="VALID")(x))
        x = x.reshape(*x.shape[:batch_ndim], -1)
        for h in self.hidden:
            x = act(_dense(h, np.sqrt(2), style=self.style,
                           plain_autodiff=self.plain_autodiff)(x))
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
    # JAX's own matmul derivatives instead of `_dense_matmul`'s backward pass: slower on a CPU,
    # but forward-mode autodiff (jax.jvp, jax.jacfwd) works through the network. Same
    # parameters: `net.clone(plain_autodiff=True).apply(params, obs)`.
    plain_autodiff: bool = False

    @property
    def _head_bias(self) -> bool:
        """GROOVE's linear agents are bias-free tables."""
        return self.style == "purejaxrl" or bool(self.hidden) or self.conv

    def _head(self, features: int, gain: float, name: str) -> nn.Dense:
        return _dense(features, gain, name, self.style, self._head_bias, self.plain_autodiff)

    def _batch_ndim(self, obs: jax.Array) -> int:
        return obs.ndim - self.obs_ndim

    @nn.compact
    def __call__(self, obs: jax.Array) -> AgentOutput:
        b = self._batch_ndim(obs)
        h = Torso(self.hidden, self.activation, self.conv, self.style, self.plain_autodiff,
                  name="actor_torso")(obs, b)
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
        h = Torso(self.hidden, self.activation, self.conv, self.style, self.plain_autodiff,
                  name="critic_torso")(obs, b)
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
