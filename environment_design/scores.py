"""Level scores for PLR/ACCEL: small pure functions of rollout arrays (higher = train on it more).

Rollout arrays are time-major `[T, B]` (B environments, one level each). `dones[t, b]` marks
that step t ended an episode, so it belongs to the episode it ends. Episode-based scores
average, per environment, the time-average of a per-step quantity over each *completed*
episode; steps after the last `done` are ignored, and an environment with no completed
episode gets `incomplete_value` (-inf by default, as jaxued: such a level is never inserted).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _episode_mean(dones: jax.Array, per_step: jax.Array,
                  incomplete_value: float) -> jax.Array:
    """[T, B] -> [B]: mean over completed episodes of the episode's time-average of per_step."""
    t, b = dones.shape
    done = jnp.asarray(dones).astype(jnp.int32)
    episode = jnp.cumsum(done, axis=0) - done  # index of the episode each step belongs to
    completed = done.sum(axis=0)
    segment = jnp.where(episode < completed, episode + t * jnp.arange(b), t * b)
    sums = jax.ops.segment_sum(jnp.ravel(per_step.T), jnp.ravel(segment.T), t * b + 1)
    lengths = jax.ops.segment_sum(jnp.ones(t * b), jnp.ravel(segment.T), t * b + 1)
    averages = (sums / jnp.maximum(lengths, 1))[:-1].reshape(b, t)
    mean = averages.sum(axis=1) / jnp.maximum(completed, 1)
    return jnp.where(completed > 0, mean, incomplete_value)


def positive_value_loss(dones: jax.Array, advantages: jax.Array,
                        incomplete_value: float = -jnp.inf) -> jax.Array:
    """[T, B] -> [B]: per-episode time-averaged positive advantage `max(A, 0)` (GAE A),
    averaged over completed episodes (Jiang et al. 2021)."""
    return _episode_mean(dones, jnp.maximum(advantages, 0.0), incomplete_value)


def l1_value_loss(dones: jax.Array, advantages: jax.Array,
                  incomplete_value: float = -jnp.inf) -> jax.Array:
    """[T, B] -> [B]: per-episode time-averaged absolute advantage `|A|`, averaged over
    completed episodes (PLR's L1 value loss)."""
    return _episode_mean(dones, jnp.abs(advantages), incomplete_value)


def max_mc(dones: jax.Array, values: jax.Array, max_returns: jax.Array,
           incomplete_value: float = -jnp.inf) -> jax.Array:
    """[T, B], [T, B], [B] -> [B]: MaxMC regret, the per-episode time-average of
    `max_return - V(s_t)` averaged over completed episodes, where `max_return` is the best
    return ever seen on that level (keep it with `update_max_return`)."""
    return _episode_mean(dones, max_returns[None, :] - values, incomplete_value)


def max_episode_return(dones: jax.Array, rewards: jax.Array) -> jax.Array:
    """[T, B] -> [B]: the largest undiscounted return among the completed episodes of each
    environment (-inf if none completed). Unlike jaxued's `compute_max_returns`, which starts
    its maximum at 0, a level whose returns are all negative keeps its true best return."""
    t, b = dones.shape
    done = jnp.asarray(dones).astype(jnp.int32)
    episode = jnp.cumsum(done, axis=0) - done
    completed = done.sum(axis=0)
    segment = jnp.where(episode < completed, episode + t * jnp.arange(b), t * b)
    returns = jax.ops.segment_sum(jnp.ravel(rewards.T), jnp.ravel(segment.T), t * b + 1)
    returns = returns[:-1].reshape(b, t)
    real = jnp.arange(t)[None, :] < completed[:, None]
    return jnp.where(real, returns, -jnp.inf).max(axis=1)


def update_max_return(max_return: jax.Array, dones: jax.Array, rewards: jax.Array) -> jax.Array:
    """[B], [T, B], [T, B] -> [B]: the best return seen per level, MaxMC's bookkeeping.

    `max_return` is the stored `levels_extra["max_return"]` of these levels (-inf for new
    ones, e.g. `PLR.sampled_extras(state, n)["max_return"]`); pass the result to `max_mc` and
    back to `update` as `extras={"max_return": ...}`.
    """
    return jnp.maximum(max_return, max_episode_return(dones, rewards))


def algorithmic_regret(reference_return: jax.Array, learned_return: jax.Array) -> jax.Array:
    """[n], [n] -> [n]: GROOVE's algorithmic regret, `reference_return - learned_return`.

    The reference is a hand-designed algorithm trained on the level (A2C for LPG, PPO for
    LPO), the learned return that of agents trained by the discovered rule. Positive: the
    hand-designed algorithm does better there, so the level exposes a weakness of the learned
    rule and is worth meta-training on; negative: the learned rule already beats it. Keep the
    reference in the buffer (`extras={"reference_return": ...}`) so it is computed once per
    level.
    """
    return jnp.asarray(reference_return) - jnp.asarray(learned_return)


def random_scores(key: jax.Array, n: int) -> jax.Array:
    """[n] uniform scores in [0, 1): prioritisation by chance (domain randomisation's null)."""
    return jax.random.uniform(key, (n,))
