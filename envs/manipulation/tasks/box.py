"""box-close: lift a lid by its handle and put it on an open box (Meta-World's
`sawyer_box_close_v3`).

The free object's box is the lid's handle (what the pads hold); the lid's plate, 8.2 cm under
it, meets the box through an object-only static box (`object_part_box`). The lid's rim, which
hangs 1.6 cm over the box's walls, is not modelled (it meets them only when the lid comes down
more than 5 mm off centre), nor do the fingers meet the plate (they stay 2 cm above it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    hamacher_product,
    norm,
    outcome,
    quat_nearness,
    tolerance,
)
from envs.manipulation.scene import (
    ANCHOR_B,
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
    object_part_box,
)
from envs.manipulation.tasks.bins import open_box
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, from_vec

# the lid's body frame is 7.5 cm above its free joint; the handle (a capsule of radius 8 mm and
# half length 5 cm, along x) 8.2 cm above that
LID_FRAME_Z, HANDLE_Z = 0.075, 0.082
# the lid's frame rests 1.55 cm above the table (its rim, 1.6 cm deep, sinks 0.5 mm; measured)
LID_REST_Z = 0.0155
# the pads hold the handle fully closed (8 mm either side of the closed pads' midline)
HANDLE = FreeObject(half=(0.058, 0.008, 0.008), mass=0.25, rest_z=LID_REST_Z + HANDLE_Z,
                    grip=0.016, start=(0.0, 0.0, LID_FRAME_Z + HANDLE_Z),
                    bottom=HANDLE_Z + 0.016)
# the box's walls and floor (body at the goal's xy, on the table), relative to the goal
_GOAL_Z = 0.133
BOX = open_box(0.0, 0.0, -_GOAL_Z, anchor=ANCHOR_B)
# the lid's plate (23 cm square, 6 mm thick, its underside at the lid's frame) on the box
PLATE = object_part_box(Box((0.0, 0.0, 0.03 - _GOAL_Z), (0.1, 0.1, 0.03), anchor=ANCHOR_B),
                        part_offset=(0.0, 0.0, 0.003 - HANDLE_Z), part_half=(0.115, 0.115, 0.003),
                        obj_half=HANDLE.half)
UPRIGHT = (0.707, 0.0, 0.0, 0.707)  # the reward's "ideal" lid quaternion


def box_close_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: grip effort times readiness (hand at the handle, above a funnel
    round it), plus lifting and placing, all scaled by how upright the lid is."""
    hand, target = ri.hand, ri.goal
    lid = ri.obj + jnp.array([0.0, 0.0, 0.02])
    grab = jnp.clip((jnp.clip(ri.action[3], -1.0, 1.0) + 1.0) / 2.0, 0.0, 1.0)
    upright = quat_nearness(ri.obs[7:11], UPRIGHT, 0.2)
    radius = norm(hand[:2] - lid[:2])
    floor = jnp.where(radius <= 0.02, 0.0,
                      0.04 * jnp.log(jnp.maximum(radius - 0.02, 1e-12)) + 0.4)
    above_floor = jnp.where(hand[2] >= floor, 1.0,
                            tolerance(floor - hand[2], 0.0, 0.01, floor / 2.0))
    at_handle = tolerance(norm(hand - lid), 0.0, 0.02, 0.5)
    ready = hamacher_product(above_floor, at_handle)
    placed = tolerance(norm((target - lid) * jnp.array([1.0, 1.0, 3.0])), 0.0, 0.05, 0.25)
    lifted = 0.2 * (lid[2] > 0.04) + 0.8 * placed
    success = norm(ri.obj - target) < 0.08
    reward = jnp.where(success, 10.0, 2.0 * hamacher_product(grab, ready) + 8.0 * lifted)
    return outcome(reward * upright, success, near_object=ready, grasp_success=grab >= 0.5,
                   grasp_reward=grab, in_place_reward=lifted)


CARRY_Z = 0.2  # the hand's height while carrying: the plate 3 cm above the box's walls


def box_close_expert(obs: jax.Array) -> jax.Array:
    """Above the handle with the gripper open, down until the handle is between the pads,
    close, lift to CARRY_Z, carry over the box (where the lid is within reach of success)."""
    hand, goal = obs[0:3], obs[36:39]
    handle = obs[4:7] + jnp.array([0.0, 0.0, HANDLE_Z])
    grasp = handle + jnp.array([0.0, 0.0, -0.01])
    at_grasp = (xy_dist(hand, grasp) < 0.012) & (jnp.abs(hand[2] - grasp[2]) < 0.015)
    holding = at_grasp & (obs[3] < 0.35)
    carrying = holding & (handle[2] > HANDLE.rest_z + 0.01)
    target = first((carrying & (hand[2] < CARRY_Z - 0.02), jnp.stack([hand[0], hand[1],
                                                                         CARRY_Z])),
                   (holding, jnp.stack([goal[0], goal[1], CARRY_Z])),
                   (at_grasp, grasp),
                   (xy_dist(hand, grasp) > 0.008, jnp.stack([grasp[0], grasp[1],
                                                             handle[2] + 0.1])),
                   default=grasp)
    return act(move(hand, target, 10.0), jnp.where(at_grasp, 1.0, -1.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: Meta-World's `obj_init_pos`, the lid's free joint at reset (anchor A)."""
    return v.anchors[1], jnp.zeros(7)


SPECS = (
    TaskSpec("box-close", (-0.05, 0.5, 0.02, -0.1, 0.7, 0.133), (0.05, 0.55, 0.02, 0.1, 0.8, 0.133),
             Scene(static=BOX + (PLATE,), obj=HANDLE,
                   obs_point=Point(ON_OBJECT, (0.0, 0.0, -HANDLE_Z)),
                   obs_quat=Quat(QUAT_CONST, (0.70710678, 0.0, 0.0, 0.70710678), WXYZ)),
             goal=from_vec(3), reward=box_close_reward,
             expert=box_close_expert, init=_init, reject=Reject(0, 0.25, j=3)),
)
