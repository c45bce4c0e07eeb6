"""Scripted experts: waypoint controllers in jnp that read only the 39-float observation.

Each task's expert lives with the task (tasks/*.py) and is built from the helpers here, in the
manner of Meta-World's scripted policies (a proportional move towards a waypoint chosen from the
hand, gripper, object and goal observation). `expert_action(obs, task_id)` picks the task's
expert with `lax.switch`, so it vmaps over a batch that mixes tasks. Experts read the goal from
obs[36:39], so they assume a goal-observable env (MT-style).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Expert = Callable[[jax.Array], jax.Array]


def move(hand: jax.Array, target: jax.Array, gain: float) -> jax.Array:
    """Proportional step towards `target`, clipped to the action box."""
    return jnp.clip((target - hand) * gain, -1.0, 1.0)


def act(delta: jax.Array, grip: float | jax.Array) -> jax.Array:
    return jnp.concatenate([delta, jnp.asarray(grip, jnp.float32)[None]])


def first(*cases: tuple[jax.Array, jax.Array], default: jax.Array) -> jax.Array:
    """The value of the first case whose condition holds (an if / elif / else chain)."""
    out = default
    for cond, value in reversed(cases):
        out = jnp.where(cond, value, out)
    return out


def xy_dist(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum((a[:2] - b[:2]) ** 2))


def pick_and_carry(obs: jax.Array, *, grasp_offset: tuple[float, float, float],
                   destination: jax.Array, grip: float, above: float = 0.3,
                   near_xy: float = 0.04, near_z: float = 0.025, grab_z: float = 0.15,
                   gain: float = 25.0) -> jax.Array:
    """Hover above the object, descend onto it, close, then carry to `destination` (the hand's
    waypoint); the gripper closes with `grip` once the hand is within `near_xy` / `grab_z`."""
    hand, obj = obs[0:3], obs[4:7]
    target_obj = obj + jnp.asarray(grasp_offset)
    far_xy = xy_dist(hand, target_obj) > near_xy
    target = first((far_xy, target_obj + jnp.array([0.0, 0.0, above])),
                   (jnp.abs(hand[2] - target_obj[2]) > near_z, target_obj),
                   default=destination)
    closing = ~((xy_dist(hand, obj) > near_xy) | (jnp.abs(hand[2] - obj[2]) > grab_z))
    return act(move(hand, target, gain), jnp.where(closing, grip, -1.0))


def expert_table(specs: tuple[Any, ...]) -> tuple[Expert, ...]:
    return tuple(s.expert for s in specs)
