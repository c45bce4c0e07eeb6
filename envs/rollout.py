"""One unroll for every use: training rollouts, evaluation, random baselines, scripted experts.

A `Policy` maps a batch of observations and a key to actions and any per-step extras it wants
recorded (log-probabilities, values, ...), like brax's `generate_unroll` policies:

    policy(obs [B, ...], key) -> (action [B, ...], extras {name: [B, ...]})

`unroll` steps a batch of auto-resetting environments (gymnax interface, `step` vmapped over
the batch, one `env_params` for the batch) for a static number of steps in one `lax.scan` and
returns what `keep` selects from each step's `Transition` (by default everything), stacked
time-major ([T, B, ...]).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from envs.prng import fast_key

Policy = Callable[[jax.Array, jax.Array], tuple[jax.Array, dict[str, Any]]]


class Transition(NamedTuple):
    """One step of a batch of environments (each field [B, ...]; [T, B, ...] once stacked)."""

    obs: jax.Array  # the observation the action was chosen on
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    info: dict[str, Any]  # the env's info (auto-reset: `final_observation` on episode ends)
    extras: dict[str, Any]  # what the policy returned next to the action
    state: Any  # the env state the action was taken in

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


def unroll(env: Any, env_params: Any, policy: Policy, env_state: Any, obs: jax.Array,
           key: jax.Array, num_steps: int,
           keep: Callable[[Transition], Any] | None = None,
           per_env_params: bool = False) -> tuple[Any, jax.Array, Any]:
    """Step the batch `num_steps` times (static): `(env_state, last_obs, kept [T, B, ...])`.

    `per_env_params` (static): `env_params` carries a leading batch axis, one level per env
    (auto-reset then replays each env's own level). A threefry `key` is drawn from as
    `envs.prng.fast_key(key)`: the same numbers, cheaper on a CPU.
    """
    key = fast_key(key)  # the same numbers, without the CPU's rolled hash loop in each step
    step = jax.vmap(env.step, in_axes=(0, 0, 0, 0 if per_env_params else None))
    keep = (lambda t: t) if keep is None else keep

    def one_step(carry, k):
        env_state, obs = carry
        k_act, k_env = jax.random.split(k)
        action, extras = policy(obs, k_act)
        next_obs, next_state, reward, terminated, truncated, info = step(
            jax.random.split(k_env, obs.shape[0]), env_state, action, env_params)
        transition = Transition(obs, action, reward, terminated, truncated, info, extras,
                                env_state)
        return (next_state, next_obs), keep(transition)

    (env_state, obs), kept = jax.lax.scan(one_step, (env_state, obs),
                                          jax.random.split(key, num_steps))
    return env_state, obs, kept


def reset_batch(env: Any, env_params: Any, key: jax.Array, num_envs: int,
                per_env_params: bool = False) -> tuple[jax.Array, Any]:
    """`num_envs` fresh environments: `(obs [B, ...], env_state)` (`per_env_params`: one level
    per env, `env_params` with a leading axis of `num_envs`)."""
    return jax.vmap(env.reset, in_axes=(0, 0 if per_env_params else None))(
        jax.random.split(key, num_envs), env_params)


def random_policy(action_space: Any) -> Policy:
    """Uniform random actions from a Discrete or Box action space."""

    def policy(obs: jax.Array, key: jax.Array):
        keys = jax.random.split(key, obs.shape[0])
        if isinstance(action_space, spaces.Discrete):
            action = jax.vmap(lambda k: jax.random.randint(k, (), 0, action_space.n))(keys)
        else:
            action = jax.vmap(lambda k: jax.random.uniform(
                k, action_space.shape, minval=action_space.low, maxval=action_space.high))(keys)
        return action, {}

    return policy


def first_episode_return(reward: jax.Array, done: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Return of each env's first episode in a [T, B] unroll, and whether it ended in time.

    Rewards after the first episode end are ignored; an episode still running at the end of
    the unroll counts what it collected so far (`ended` says which ones finished).
    """
    done = done.astype(bool)
    before_end = jnp.cumsum(done, axis=0) - done  # episodes ended strictly before step t
    valid = before_end == 0
    return jnp.sum(jnp.where(valid, reward, 0.0), axis=0), jnp.any(done, axis=0)


def max_episode_steps(env: Any, env_params: Any) -> int:
    """A static bound on one episode's length: the env's own cap (`env.max_episode_steps`,
    e.g. a grid-world layout's) or the largest `max_steps_in_episode` in `env_params`."""
    cap = getattr(env, "max_episode_steps", None)
    if cap is not None:
        return int(cap)
    return int(np.max(np.asarray(env_params.max_steps_in_episode)))



def completed_episode_return(episode_return: jax.Array, episode_done: jax.Array) -> jax.Array:
    """Mean return of the episodes that ended in an unroll of an `EpisodeStats`-wrapped env
    (its `info["episode_return"]` / `info["episode_done"]`, any shape); 0 if none ended."""
    count = jnp.sum(episode_done)
    return jnp.where(count > 0, jnp.sum(episode_return) / jnp.maximum(count, 1), 0.0)
