"""peg-insert-side: grasp a peg lying on the table, slide it into the hole of a box."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    gripper_caging,
    hamacher_product,
    norm,
    outcome,
    rect_prism_tolerance,
    tolerance,
)
from envs.manipulation.scene import (
    ON_OBJECT,
    QUAT_CONST,
    XYZW,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, from_vec

TARGET_RADIUS = 0.07  # peg-insert-side's class constant
PEG = FreeObject(half=(0.12, 0.015, 0.015), mass=0.1, rest_z=0.0148, grip=0.018)
PEG_HEAD = (-0.1, 0.0, 0.0)  # the pegHead site from the peg's centre
PEG_GRASP = (0.03, 0.0, 0.01)  # the pegGrasp site (obs[4:7]) from the peg's centre
BOX_WITH_HOLE = (  # around anchor B = rand_vec[3:6]; the hole runs along x at z 0.10..0.16
    Box((0.0, 0.0, 0.195), (0.1, 0.09, 0.005), anchor=2),
    Box((0.0, 0.0, 0.05), (0.096, 0.09, 0.05), anchor=2),
    Box((0.0, -0.06, 0.13), (0.096, 0.03, 0.03), anchor=2),
    Box((0.0, 0.06, 0.13), (0.096, 0.03, 0.03), anchor=2),
    Box((0.0, 0.0, 0.175), (0.096, 0.09, 0.015), anchor=2),
    Box((0.0, 0.095, 0.1), (0.1, 0.005, 0.1), anchor=2),
    Box((0.0, -0.095, 0.1), (0.1, 0.005, 0.1), anchor=2),
)
# the reward's two "collision boxes" (corner sites on the box), relative to anchor B
BOX1 = ((0.1101, 0.1, 0.01), (0.1499, -0.1001, 0.096))  # (zero corner, one corner)
BOX2 = ((0.1101, 0.1, 0.16), (0.1699, -0.1001, 0.19))
# pegHead where Meta-World's reset reads it: before the peg is moved to its variant
PEG_HEAD_BEFORE_RESET = (-0.1, 0.6, 0.01478)


def peg_reward(ri: RewardInputs) -> Outcome:
    obj, head, opened = ri.obj, ri.extra[0:3], ri.gripper
    box = ri.init[12:15]
    tcp_to_obj = norm(obj - ri.tcp)
    scale = jnp.array([1.0, 2.0, 2.0])
    to_target = norm((head - ri.goal) * scale)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm((ri.init[9:12] - ri.goal) * scale))
    box1 = rect_prism_tolerance(head, box + jnp.asarray(BOX1[0]), box + jnp.asarray(BOX1[1]))
    box2 = rect_prism_tolerance(head, box + jnp.asarray(BOX2[0]), box + jnp.asarray(BOX2[1]))
    in_place = hamacher_product(in_place, hamacher_product(box2, box1))
    grasped = gripper_caging(ri, obj, obj_radius=0.0075, pad_success_thresh=0.03,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
    lifted = (tcp_to_obj < 0.08) & (opened > 0) & (obj[2] - 0.01 > ri.obj_init[2])
    grasped = jnp.where(lifted, 1.0, grasped)
    reward = hamacher_product(grasped, in_place)
    reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target <= 0.07, 10.0, reward)
    grasp_success = (tcp_to_obj < 0.02) & (opened > 0) & (obj[2] - 0.01 > ri.obj_init[2])
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=grasp_success, grasp_reward=grasped, in_place_reward=in_place,
                   obj_to_target=to_target)


def peg_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: grasp the peg, line it up with the hole, push it in along -x."""
    hand, peg = obs[0:3], obs[4:7]
    hole = jnp.array([-0.35, obs[37], 0.16])
    far = xy_dist(hand, peg) > 0.04
    target = first((far, peg + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - peg[2]) > 0.025, peg),
                   (norm(peg[1:] - hole[1:]) > 0.03, hole + jnp.array([0.4, 0.0, 0.0])),
                   default=hole)
    grab = ~(far | (jnp.abs(hand[2] - peg[2]) > 0.15))
    return act(move(hand, target, 25.0), jnp.where(grab, 0.6, -1.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    consts = jnp.concatenate([jnp.asarray(PEG_HEAD_BEFORE_RESET), v.anchors[2], jnp.zeros(1)])
    return v.anchors[1], consts


def _extra(v: View) -> jax.Array:
    return jnp.concatenate([v.obj + jnp.asarray(PEG_HEAD), jnp.zeros(1)])


SPECS = (
    TaskSpec("peg-insert-side", (0.0, 0.5, 0.02, -0.35, 0.4, -0.001),
             (0.2, 0.7, 0.02, -0.25, 0.7, 0.001),
             Scene(static=BOX_WITH_HOLE, obj=PEG, obs_point=Point(ON_OBJECT, PEG_GRASP),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW)),
             goal=from_vec(3, (0.03, 0.0, 0.13)), reward=peg_reward, expert=peg_expert,
             init=_init, extra=_extra, reject=Reject(0, 0.1, j=3)),
)
