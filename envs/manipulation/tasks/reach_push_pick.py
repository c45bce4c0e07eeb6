"""reach, push, pick-place, push-back: a puck on the table, a goal in the air or on the
table."""

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
    pad_caging,
    tolerance,
)
from envs.manipulation.scene import (
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    XYZW,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, affine, from_vec

PUCK = FreeObject(half=(0.02, 0.02, 0.02), mass=0.75, rest_z=0.0194, grip=0.034)
PUCK_SCENE = Scene(obj=PUCK, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW))
OBJ_LOW, OBJ_HIGH = (-0.1, 0.6, 0.02), (0.1, 0.7, 0.02)
# push-back's object is a box (friction 2) that sinks 0.06 mm where the cylinder sinks 0.6 mm
BLOCK = FreeObject(half=(0.02, 0.02, 0.02), mass=0.75, rest_z=0.01994, grip=0.034)
BLOCK_SCENE = Scene(obj=BLOCK, obs_point=Point(ON_OBJECT),
                    obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW))
TARGET_RADIUS = 0.05


def reach_reward(ri: RewardInputs) -> Outcome:
    dist = norm(ri.tcp - ri.goal)
    in_place = tolerance(dist, 0.0, TARGET_RADIUS, norm(ri.hand_init - ri.goal))
    return outcome(10.0 * in_place, dist <= 0.05, near_object=dist, grasp_success=1.0,
                   grasp_reward=dist, in_place_reward=in_place, obj_to_target=dist)


def push_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = norm(obj - ri.goal)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm(ri.obj_init - ri.goal))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
    reward = 2.0 * grasped
    reward = jnp.where((tcp_to_obj < 0.02) & (opened > 0), 2.0 * reward + 1.0 + 5.0 * in_place,
                       reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    return outcome(reward, to_target <= TARGET_RADIUS, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & lifted, grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=to_target)


def pick_place_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    to_target = norm(obj - ri.goal)
    tcp_to_obj = norm(obj - ri.tcp)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm(ri.obj_init - ri.goal))
    caging, gripping = pad_caging(ri, obj, obj_radius=0.015, pad_margin=0.05,
                                  xz_margin_thresh=0.005)
    grasped = (hamacher_product(caging, gripping) + caging) / 2
    reward = hamacher_product(grasped, in_place)
    carrying = (tcp_to_obj < 0.02) & (opened > 0) & (obj[2] - 0.01 > ri.obj_init[2])
    reward = jnp.where(carrying, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & lifted, grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=to_target)


PUSH_BACK_RADIUS = 0.007  # Meta-World's OBJ_RADIUS for push-back


def push_back_caging(ri: RewardInputs, obj: jax.Array, obj_radius: float) -> jax.Array:
    """push-back's own `_gripper_caging_reward`. Its "initial" pads are views of MuJoCo's live
    body positions (`get_body_com` in `__init__`), so the margins read the pads as they are."""
    pad_margin, grip_margin, xz_margin = 0.05, obj_radius + 0.003, 0.01
    right_delta, left_delta = obj[1] - ri.right_pad[1], ri.left_pad[1] - obj[1]
    right_margin = jnp.abs(jnp.abs(obj[1] - ri.right_pad[1]) - pad_margin)
    left_margin = jnp.abs(jnp.abs(obj[1] - ri.left_pad[1]) - pad_margin)
    y_caging = hamacher_product(tolerance(right_delta, obj_radius, pad_margin, right_margin),
                                tolerance(left_delta, obj_radius, pad_margin, left_margin))
    y_gripping = hamacher_product(tolerance(right_delta, obj_radius, grip_margin, right_margin),
                                  tolerance(left_delta, obj_radius, grip_margin, left_margin))
    xz = jnp.array([0, 2])
    xz_caging = tolerance(norm(ri.tcp[xz] - obj[xz]), 0.0, xz_margin,
                          norm(ri.obj_init[xz] - ri.init_tcp[xz]) - xz_margin)
    caging = hamacher_product(y_caging, xz_caging)
    return (caging + jnp.where(caging > 0.95, y_gripping, 0.0)) / 2


def push_back_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = norm(obj - ri.goal)
    to_target_init = norm(ri.obj_init - ri.goal)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, to_target_init)
    grasped = push_back_caging(ri, obj, PUSH_BACK_RADIUS)
    reward = hamacher_product(grasped, in_place)
    pushing = (tcp_to_obj < 0.01) & (opened > 0) & (opened < 0.55) & (
        to_target_init - to_target > 0.01)
    reward = jnp.where(pushing, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & lifted, grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=to_target)


def reach_expert(obs: jax.Array) -> jax.Array:
    return act(move(obs[0:3], obs[36:39], 5.0), 0.0)


def push_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy (drop onto the puck, close, drag it to the goal) with full grip
    effort (at Meta-World's 0.6 our pads lose the puck on 4 variants in 50)."""
    hand, puck, goal = obs[0:3], obs[4:7] + jnp.array([-0.005, 0.0, 0.0]), obs[36:39]
    far_xy = xy_dist(hand, puck) > 0.02
    target = first((far_xy, puck + jnp.array([0.0, 0.0, 0.2])),
                   (jnp.abs(hand[2] - puck[2]) > 0.04, puck + jnp.array([0.0, 0.0, 0.03])),
                   default=goal)
    grab = ~((xy_dist(hand, obs[4:7]) > 0.02) | (jnp.abs(hand[2] - obs[6]) > 0.1))
    return act(move(hand, target, 10.0), jnp.where(grab, 1.0, 0.0))


def pick_place_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: hover, drop, close, wait for the fingers, carry to the goal."""
    hand, opening, goal = obs[0:3], obs[3], obs[36:39]
    puck = obs[4:7] + jnp.array([-0.005, 0.0, 0.0])
    far_xy = xy_dist(hand, puck) > 0.02
    target = first((far_xy, puck + jnp.array([0.0, 0.0, 0.1])),
                   ((jnp.abs(hand[2] - puck[2]) > 0.05) & (puck[2] < 0.04),
                    puck + jnp.array([0.0, 0.0, 0.03])),
                   (opening > 0.73, hand),
                   default=goal)
    grab = norm(hand - obs[4:7]) < 0.07
    return act(move(hand, target, 10.0), jnp.where(grab, 1.0, 0.0))


def push_back_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: above the puck, down over it closing to 0.9, then to the goal at the
    hand's height."""
    hand, puck, goal = obs[0:3], obs[4:7], obs[36:39]
    far_xy = xy_dist(hand, puck) > 0.04
    target = first((far_xy, puck + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - puck[2]) > 0.055, puck),
                   default=goal + jnp.array([0.0, 0.0, 1.0]) * hand[2])
    grab = ~(far_xy | (jnp.abs(hand[2] - puck[2]) > 0.05))
    return act(move(hand, target, 10.0), jnp.where(grab, 0.9, 0.0))


_REJECT = Reject(0, 0.15, j=3)

SPECS = (
    TaskSpec("reach", OBJ_LOW + (-0.1, 0.8, 0.05), OBJ_HIGH + (0.1, 0.9, 0.3), PUCK_SCENE,
             goal=from_vec(3), reward=reach_reward, expert=reach_expert, reject=_REJECT),
    TaskSpec("push", OBJ_LOW + (-0.1, 0.8, 0.01), OBJ_HIGH + (0.1, 0.9, 0.02), PUCK_SCENE,
             goal=affine((3, 0.0), (4, 0.0), (None, PUCK.rest_z)), reward=push_reward,
             expert=push_expert, reject=_REJECT,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, PUCK.rest_z))),
    TaskSpec("pick-place", OBJ_LOW + (-0.1, 0.8, 0.05), OBJ_HIGH + (0.1, 0.9, 0.3), PUCK_SCENE,
             goal=from_vec(3), reward=pick_place_reward, expert=pick_place_expert,
             reject=_REJECT),
    TaskSpec("push-back", (-0.1, 0.8, 0.02, -0.1, 0.6, 0.0199), (0.1, 0.85, 0.02, 0.1, 0.7, 0.0201),
             BLOCK_SCENE, goal=affine((3, 0.0), (4, 0.0), (None, BLOCK.rest_z)),
             reward=push_back_reward, expert=push_back_expert, reject=_REJECT,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, BLOCK.rest_z))),
)

__all__ = ["PUCK", "PUCK_SCENE", "SPECS", "WXYZ"]
