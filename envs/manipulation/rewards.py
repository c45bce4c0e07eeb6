"""Meta-World v3's reward building blocks in jnp, and the inputs every task reward reads.

`tolerance` and `hamacher_product` are dm_control's (as Meta-World's `reward_utils`),
`gripper_caging` is `SawyerXYZEnv._gripper_caging_reward`. A task's reward is a pure function of
`RewardInputs`, so the same function scores our states and states recorded from Meta-World
(the differential test of the formulas).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

_LONG_TAIL_SCALE = math.sqrt(1 / 0.1 - 1)  # value 0.1 at the margin
_GAUSSIAN_SCALE = math.sqrt(-2 * math.log(0.1))

INFO_KEYS = ("near_object", "grasp_success", "grasp_reward", "in_place_reward", "obj_to_target")


class RewardInputs(NamedTuple):
    """What Meta-World's `compute_reward` reads, as arrays.

    obs: (18,) the clipped observation frame obs[0:18]; action: (4,) as given to `step`;
    tcp, left_pad, right_pad: (3,) Meta-World's `tcp_center` and pad bodies; goal: (3,)
    `_target_pos`; extra: (4,) live task quantities (joint angle, a site; see the task);
    init: (16,) reset constants: object start [0:3], tcp start [3:6], hand start [6:9] (the
    task's `hand_init_pos`), task-specific [9:16]; touching: () both pads on the object."""

    obs: jax.Array
    action: jax.Array
    tcp: jax.Array
    left_pad: jax.Array
    right_pad: jax.Array
    goal: jax.Array
    extra: jax.Array
    init: jax.Array
    touching: jax.Array

    @property
    def hand(self) -> jax.Array:
        return self.obs[0:3]

    @property
    def gripper(self) -> jax.Array:
        return self.obs[3]

    @property
    def obj(self) -> jax.Array:
        return self.obs[4:7]

    @property
    def obj_init(self) -> jax.Array:
        return self.init[0:3]

    @property
    def init_tcp(self) -> jax.Array:
        return self.init[3:6]

    @property
    def hand_init(self) -> jax.Array:
        return self.init[6:9]


class Outcome(NamedTuple):
    """A task reward's result: reward, success (bool) and Meta-World's info values."""

    reward: jax.Array
    success: jax.Array
    near_object: jax.Array
    grasp_success: jax.Array
    grasp_reward: jax.Array
    in_place_reward: jax.Array
    obj_to_target: jax.Array


def outcome(reward, success, near_object=0.0, grasp_success=0.0, grasp_reward=0.0,
            in_place_reward=0.0, obj_to_target=0.0) -> Outcome:
    f = lambda x: jnp.asarray(x, jnp.float32)
    return Outcome(f(reward), jnp.asarray(success, bool), f(near_object), f(grasp_success),
                   f(grasp_reward), f(in_place_reward), f(obj_to_target))


def norm(x: jax.Array) -> jax.Array:
    """Euclidean norm with a gradient-safe zero."""
    return jnp.sqrt(jnp.sum(x * x) + 1e-20)


def tolerance(x: jax.Array, lower: float | jax.Array, upper: float | jax.Array,
              margin: float | jax.Array, sigmoid: str = "long_tail") -> jax.Array:
    """1 inside [lower, upper], falling to 0.1 at `margin` outside; with `margin == 0`, 0 outside
    (dm_control's `tolerance`)."""
    x = jnp.asarray(x, jnp.float32)
    in_bounds = (lower <= x) & (x <= upper)
    safe = jnp.where(margin > 0, margin, 1.0)
    d = jnp.where(x < lower, lower - x, x - upper) / safe
    if sigmoid == "long_tail":
        value = 1.0 / ((d * _LONG_TAIL_SCALE) ** 2 + 1.0)
    elif sigmoid == "gaussian":
        value = jnp.exp(-0.5 * (d * _GAUSSIAN_SCALE) ** 2)
    else:
        raise ValueError(f"unknown sigmoid '{sigmoid}' (long_tail or gaussian)")
    value = jnp.where(margin > 0, value, 0.0)
    return jnp.where(in_bounds, 1.0, value)


def hamacher_product(a: jax.Array, b: jax.Array) -> jax.Array:
    """Hamacher t-norm ab / (a + b - ab), 0 where both are 0."""
    denom = a + b - a * b
    return jnp.where(denom > 0, a * b / jnp.where(denom > 0, denom, 1.0), 0.0)


def along_handle(obj: jax.Array, hand: jax.Array, half_length: float) -> jax.Array:
    """`obj` with its x moved to the hand's where the hand is within `half_length` of it along
    x: Meta-World's trick to cage a long handle (nut, hammer) as if it were a sphere."""
    return obj.at[0].set(jnp.where(jnp.abs(obj[0] - hand[0]) < half_length, hand[0], obj[0]))


def quat_nearness(quat: jax.Array, ideal: tuple[float, ...], scale: float) -> jax.Array:
    """Meta-World's orientation factor: 1 - |quat - ideal| / scale, clipped at 0."""
    return jnp.maximum(1.0 - norm(quat - jnp.asarray(ideal)) / scale, 0.0)


def rect_prism_tolerance(curr: jax.Array, zero: jax.Array, one: jax.Array) -> jax.Array:
    """Meta-World's `rect_prism_tolerance`: the product of per-axis fractions from `zero` to `one`
    inside the box they span, 1 outside it."""
    lo, hi = jnp.minimum(zero, one), jnp.maximum(zero, one)
    inside = jnp.all((lo <= curr) & (curr <= hi))
    return jnp.where(inside, jnp.prod((curr - zero) / (one - zero)), 1.0)


def gripper_caging(ri: RewardInputs, obj: jax.Array, obj_radius: float,
                   pad_success_thresh: float, object_reach_radius: float, xz_thresh: float,
                   desired_gripper_effort: float = 1.0, high_density: bool = False,
                   medium_density: bool = False, obj_init: jax.Array | None = None
                   ) -> jax.Array:
    """`SawyerXYZEnv._gripper_caging_reward`; `obj_init` replaces `ri.obj_init` where a task's
    override measures the margins from another start (the stick tasks: the stick's)."""
    obj_init = ri.obj_init if obj_init is None else obj_init
    pad_y = jnp.stack([ri.left_pad[1], ri.right_pad[1]])
    pad_to_obj = jnp.abs(pad_y - obj[1])
    pad_to_obj_init = jnp.abs(pad_y - obj_init[1])
    margin = jnp.abs(pad_to_obj_init - pad_success_thresh)
    left = tolerance(pad_to_obj[0], obj_radius, pad_success_thresh, margin[0])
    right = tolerance(pad_to_obj[1], obj_radius, pad_success_thresh, margin[1])
    caging_y = hamacher_product(left, right)
    xz = jnp.array([0, 2])
    xz_margin = norm(obj_init[xz] - ri.init_tcp[xz]) - xz_thresh
    caging_xz = tolerance(norm(ri.tcp[xz] - obj[xz]), 0.0, xz_thresh, xz_margin)
    closed = jnp.minimum(jnp.maximum(0.0, ri.action[3]), desired_gripper_effort)
    closed = closed / desired_gripper_effort
    caging = hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, closed, 0.0)
    result = hamacher_product(caging, gripping)
    if high_density:
        result = (result + caging) / 2
    if medium_density:
        reach_margin = jnp.abs(norm(obj_init - ri.init_tcp) - object_reach_radius)
        reach = tolerance(norm(obj - ri.tcp), 0.0, object_reach_radius, reach_margin)
        result = (result + reach) / 2
    return result


def pad_caging(ri: RewardInputs, obj: jax.Array, obj_radius: float, pad_margin: float,
               xz_margin_thresh: float, grip_margin: float | None = None,
               grip_threshold: float = 0.97) -> tuple[jax.Array, jax.Array]:
    """The caging variant of pick-place, sweep, sweep-into and others: (caging, gripping).

    Pads against the object in y (Meta-World's "initial" pads are live views of the current
    pads, so the margins use the current pads), tcp against the object in xz. With
    `grip_margin`, gripping is the pads' y tolerance within that margin (sweep, sweep-into),
    otherwise the gripper effort; it counts only once caging exceeds `grip_threshold`."""
    left_d = ri.left_pad[1] - obj[1]
    right_d = obj[1] - ri.right_pad[1]
    right_margin = jnp.abs(jnp.abs(obj[1] - ri.right_pad[1]) - pad_margin)
    left_margin = jnp.abs(jnp.abs(obj[1] - ri.left_pad[1]) - pad_margin)
    right = tolerance(right_d, obj_radius, pad_margin, right_margin)
    left = tolerance(left_d, obj_radius, pad_margin, left_margin)
    y_caging = hamacher_product(left, right)
    xz = jnp.array([0, 2])
    tcp_xz = norm(ri.tcp[xz] - obj[xz])
    margin = norm(ri.obj_init[xz] - ri.init_tcp[xz]) - xz_margin_thresh
    xz_caging = tolerance(tcp_xz, 0.0, xz_margin_thresh, margin)
    caging = hamacher_product(y_caging, xz_caging)
    if grip_margin is None:
        grip = jnp.minimum(jnp.maximum(0.0, ri.action[3]), 1.0)
    else:
        right_g = tolerance(right_d, obj_radius, grip_margin, right_margin)
        left_g = tolerance(left_d, obj_radius, grip_margin, left_margin)
        grip = hamacher_product(right_g, left_g)
    return caging, jnp.where(caging > grip_threshold, grip, 0.0)
