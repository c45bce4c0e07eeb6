"""The scripted experts of all tasks behind one switch, and a rollout for them (or random play).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from envs.manipulation.experts import Expert
from envs.manipulation.tasks import TASK_SPECS, TASKS

EXPERTS: dict[str, Expert] = {s.name: s.expert for s in TASK_SPECS}
_BRANCHES = tuple(s.expert for s in TASK_SPECS)


def expert_action(obs: jax.Array, task_id: jax.Array) -> jax.Array:
    """The scripted expert's action for one observation (its first 39 floats are read)."""
    return jax.lax.switch(task_id, _BRANCHES, obs[..., :39])


def expert_policy(task: str) -> Expert:
    """The expert of one task as `obs -> action`."""
    if task not in EXPERTS:
        raise ValueError(f"no expert for '{task}'; tasks: {', '.join(TASKS)}")
    return EXPERTS[task]


def expert_rollout(env: Any, params: Any, key: jax.Array, num_steps: int = 500,
                   random: bool | jax.Array = False, return_states: bool = True
                   ) -> tuple[Any, jax.Array, jax.Array]:
    """Roll out the expert (or, where `random` is true, a uniform random policy; it may be a
    traced bool so that both share one compilation) on one variant, or a batch of variants
    when `params` has a leading axis. Returns (states, success, reward) with a leading time axis;
    `states[0]` is the reset state, so states has num_steps + 1 entries.

    With `return_states=False` only the final state is returned (saves memory on big batches).
    Episodes are not auto-reset mid-rollout as long as num_steps <= 500. Jit it for speed.
    """
    batched = jnp.ndim(params.task_id) > 0
    reset, step = env.reset, env.step
    act = expert_action
    if batched:
        n = params.task_id.shape[0]
        reset, step, act = jax.vmap(env.reset), jax.vmap(env.step), jax.vmap(expert_action)

    def split(k: jax.Array) -> jax.Array:
        return jax.random.split(k, n) if batched else k

    key, reset_key = jax.random.split(key)
    obs, state = reset(split(reset_key), params)

    def body(carry: tuple[Any, Any], k: jax.Array) -> tuple[tuple[Any, Any], tuple]:
        obs, state = carry
        k_act, k_step = jax.random.split(k)
        noise = jax.random.uniform(k_act, jnp.shape(obs)[:-1] + (4,), minval=-1.0, maxval=1.0)
        action = jnp.where(random, noise, act(obs, params.task_id))
        obs, nxt, reward, _, _, info = step(split(k_step), state, action, params)
        return (obs, nxt), (nxt if return_states else None, info["success"], reward)

    (_, final), (states, success, reward) = jax.lax.scan(body, (obs, state),
                                                         jax.random.split(key, num_steps))
    if not return_states:
        return final, success, reward
    states = jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), state,
                          states)
    return states, success, reward
