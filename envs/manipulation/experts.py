"""Scripted experts: waypoint controllers in jnp that read only the 39-float observation.

`expert_action(obs, task_id)` picks the task's controller with `lax.switch`, so it vmaps over a
batch that mixes tasks. Controllers are stateless: the phase (approach, grasp, carry ...) is read
off the observation (hand, gripper opening, object/handle, goal), plus fixed per-task constants
(object widths, lever length, the peg's head offset). They need the goal in the observation
(MT-style); in ML benchmarks the goal is hidden and only goal-free tasks stay solvable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from envs.manipulation.tasks import OBJECTS, PEG_HEAD, TASK_SPECS, TASKS, Fixture

GAIN = 25.0  # action = GAIN * position error (in metres), clipped to [-1, 1]
OPEN, CLOSE = -1.0, 1.0

Expert = Callable[[jax.Array], jax.Array]


def _move(hand: jax.Array, target: jax.Array, gain: float = GAIN) -> jax.Array:
    return jnp.clip((target - hand) * gain, -1.0, 1.0)


def _action(delta: jax.Array, grip: float | jax.Array) -> jax.Array:
    return jnp.concatenate([delta, jnp.asarray(grip, jnp.float32)[None]])


def _parse(obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    return obs[0:3], obs[3], obs[4:7], obs[36:39]


def _reach(obs: jax.Array) -> jax.Array:
    hand, _, _, goal = _parse(obs)
    return _action(_move(hand, goal), OPEN)


def _pick_and_place(width: float, head: tuple[float, float, float] = (0.0, 0.0, 0.0),
                    grasp_height: float = 0.03) -> Expert:
    """Align above the object, descend, close, then carry it so that object + head -> goal."""
    head_offset = jnp.asarray(head, jnp.float32)

    def policy(obs: jax.Array) -> jax.Array:
        hand, grip, obj, goal = _parse(obs)
        xy_err = jnp.linalg.norm(hand[:2] - obj[:2])
        dz = obj[2] - hand[2]
        holding = (xy_err < 0.02) & (dz > -0.05) & (dz < 0.02) & (grip < width + 0.03) & (
            grip > width - 0.05)
        grasp_point = obj + jnp.array([0.0, 0.0, grasp_height])
        above = obj + jnp.array([0.0, 0.0, 0.1])
        aligned = xy_err < 0.01
        at_grasp = aligned & (jnp.abs(hand[2] - grasp_point[2]) < 0.01)
        approach = jnp.where(aligned, grasp_point, above)
        carry = goal - head_offset + (hand - obj)
        target = jnp.where(holding, carry, jnp.where(at_grasp, hand, approach))
        grip_cmd = jnp.where(holding | at_grasp, CLOSE, OPEN)
        return _action(_move(hand, target), grip_cmd)

    return policy


def _drag_handle(obs: jax.Array, approach_of) -> jax.Array:
    """Reach the handle by `approach_of(handle, err)`, close on it, drag it to the goal."""
    hand, grip, handle, goal = _parse(obs)
    err = hand - handle
    holding = (jnp.max(jnp.abs(err)) < 0.04) & (grip < 0.3)
    at_handle = jnp.max(jnp.abs(err)) < 0.008
    target = jnp.where(holding, goal + err,
                       jnp.where(at_handle, hand, approach_of(handle, err)))
    grip_cmd = jnp.where(holding | at_handle, CLOSE, OPEN)
    return _action(_move(hand, target), grip_cmd)


def _grasp_handle_to_goal(obs: jax.Array) -> jax.Array:
    """Drawers and doors: come down onto the handle, close on it, drag it to the goal."""

    def from_above(handle, err):
        aligned_xy = jnp.max(jnp.abs(err[:2])) < 0.01
        return jnp.where(aligned_xy, handle, handle + jnp.array([0.0, 0.0, 0.08]))

    return _drag_handle(obs, from_above)


def _door_open(obs: jax.Array) -> jax.Array:
    """Approach the handle from the robot's side (pushing the closed door shut is harmless)."""

    def from_front(handle, err):
        in_front = (jnp.max(jnp.abs(err[jnp.array([0, 2])])) < 0.01) & (err[1] < 0.0)
        return jnp.where(in_front, handle, handle + jnp.array([0.0, -0.05, 0.0]))

    return _drag_handle(obs, from_front)


def _button_press(obs: jax.Array) -> jax.Array:
    hand, _, button, goal = _parse(obs)
    aligned = jnp.max(jnp.abs(hand[:2] - button[:2])) < 0.01
    above = button + jnp.array([0.0, 0.0, 0.08])
    press = jnp.concatenate([button[:2], goal[2:] + 0.03])
    target = jnp.where(aligned, press, above)
    return _action(_move(hand, target), OPEN)


def _window(direction: float) -> Expert:
    """Push the window handle along x: from its left (direction +1) or right (-1)."""

    def policy(obs: jax.Array) -> jax.Array:
        hand, _, handle, _ = _parse(obs)
        behind = (hand[0] - handle[0]) * direction < -0.02
        lined_up = behind & (jnp.abs(hand[1] - handle[1]) < 0.01) & (
            jnp.abs(hand[2] - handle[2]) < 0.01)
        side = handle + jnp.array([-0.06 * direction, 0.0, 0.0])
        detour = handle + jnp.array([-0.06 * direction, -0.08, 0.0])
        push = handle + jnp.array([0.1 * direction, 0.0, 0.0])
        target = jnp.where(lined_up, push, jnp.where(behind, side, detour))
        return _action(_move(hand, target), OPEN)

    return policy


def _hinge_frame(obs: jax.Array, fixture: Fixture
                 ) -> tuple[jax.Array, Callable[[jax.Array, float], jax.Array], jax.Array,
                            jax.Array]:
    """Joint angle (read off the quaternion), a point-on-arc function, and the hand's polar
    coordinates (angle, radius) about the hinge."""
    hand, tip = obs[0:3], obs[4:7]
    e1, e2 = jnp.asarray(fixture.axis), jnp.asarray(fixture.axis2)
    normal = jnp.cross(e1, e2)
    angle = 2.0 * jnp.arctan2(obs[8:11] @ normal, obs[7])
    pivot = tip - fixture.radius * (jnp.cos(angle) * e1 + jnp.sin(angle) * e2)
    rel = hand - pivot

    def on_arc(a: jax.Array, radius: float) -> jax.Array:
        return pivot + radius * (jnp.cos(a) * e1 + jnp.sin(a) * e2)

    hand_angle = jnp.arctan2(rel @ e2, rel @ e1)
    hand_radius = jnp.sqrt((rel @ e1) ** 2 + (rel @ e2) ** 2)
    return angle, on_arc, hand_angle, hand_radius


_LEVER = TASK_SPECS[TASKS.index("lever-pull")].fixture
_DOOR = TASK_SPECS[TASKS.index("door-close")].fixture


def _lever_pull(obs: jax.Array) -> jax.Array:
    """Get under the lever arm and push its tip up along its arc to vertical."""
    hand = obs[0:3]
    angle, on_arc, hand_angle, hand_radius = _hinge_frame(obs, _LEVER)
    radius = 0.16
    pivot_x = on_arc(angle, 0.0)[0]
    under = (hand_angle < angle) & (jnp.abs(hand_radius - radius) < 0.02) & (
        jnp.abs(hand[0] - pivot_x) < 0.015)
    push_angle = jnp.minimum(hand_angle + 0.3, math.pi / 2 - 0.15)
    target = jnp.where(under, on_arc(push_angle, radius), on_arc(jnp.asarray(-0.3), radius))
    return _action(_move(hand, target), OPEN)


def _door_close(obs: jax.Array) -> jax.Array:
    """Get outside the open door (the robot's side) and sweep it shut along its arc."""
    hand = obs[0:3]
    angle, on_arc, hand_angle, hand_radius = _hinge_frame(obs, _DOOR)
    radius = 0.2
    outside = (hand_angle > angle) & (jnp.abs(hand_radius - radius) < 0.03)
    push_angle = jnp.maximum(hand_angle - 0.3, 0.12)
    target = jnp.where(outside, on_arc(push_angle, radius), on_arc(angle + 0.3, radius))
    return _action(_move(hand, target), OPEN)


_PUCK_W = OBJECTS[1][2]
_BALL_W = OBJECTS[2][2]
_PEG_W = OBJECTS[3][2]

EXPERTS: dict[str, Expert] = {
    "reach": _reach,
    "push": _pick_and_place(_PUCK_W),
    "pick-place": _pick_and_place(_PUCK_W),
    "door-open": _door_open,
    "drawer-open": _grasp_handle_to_goal,
    "drawer-close": _grasp_handle_to_goal,
    "button-press-topdown": _button_press,
    "peg-insert-side": _pick_and_place(_PEG_W, PEG_HEAD),
    "window-open": _window(1.0),
    "window-close": _window(-1.0),
    "sweep": _pick_and_place(_PUCK_W),
    "basketball": _pick_and_place(_BALL_W, grasp_height=0.03),
    "door-close": _door_close,
    "shelf-place": _pick_and_place(_PUCK_W),
    "sweep-into": _pick_and_place(_PUCK_W),
    "lever-pull": _lever_pull,
}
_BRANCHES = tuple(EXPERTS[name] for name in TASKS)


def expert_action(obs: jax.Array, task_id: jax.Array) -> jax.Array:
    """The scripted expert's action for one observation (first 39 floats are read)."""
    obs39 = obs[..., :39]
    return jax.lax.switch(task_id, _BRANCHES, obs39)


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
