"""shelf-place: grasp a block and put it on the shelf's board under the goal."""

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
from envs.manipulation.tasks.spec import Reject, TaskSpec, affine, from_vec

BLOCK = FreeObject(half=(0.02, 0.02, 0.02), mass=0.01, rest_z=0.01994, grip=0.0257)
SHELF = (  # relative to anchor B = rand_vec[3:6] (the goal; the shelf body is 0.3 below it)
    Box((-0.11, 0.0, 0.02), (0.01, 0.1, 0.32), anchor=2),
    Box((0.11, 0.0, 0.02), (0.01, 0.1, 0.32), anchor=2),
    Box((0.0, 0.0, 0.35), (0.12, 0.1, 0.01), anchor=2),
    Box((0.0, -0.015, -0.06), (0.1, 0.095, 0.01), anchor=2),
    Box((0.0, -0.015, -0.25), (0.1, 0.095, 0.01), anchor=2),
    Box((0.0, 0.09, 0.02), (0.1, 0.01, 0.32), anchor=2),
    Box((0.0, -0.008, -0.279), (0.1, 0.088, 0.021), anchor=2),
)
TARGET_RADIUS = 0.05


def shelf_reward(ri: RewardInputs) -> Outcome:
    obj, opened, target = ri.obj, ri.gripper, ri.goal
    to_target = norm(obj - target)
    tcp_to_obj = norm(obj - ri.tcp)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm(ri.obj_init - target))
    grasped = gripper_caging(ri, obj, obj_radius=0.02, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.01)
    reward = hamacher_product(grasped, in_place)
    # below the board, in front of it: in_place loses the bound loss; behind it: nothing
    low_x = (0.0 < obj[2]) & (obj[2] < 0.24) & (target[0] - 0.15 < obj[0]) & (
        obj[0] < target[0] + 0.15)
    front = low_x & (target[1] - 3 * TARGET_RADIUS < obj[1]) & (obj[1] < target[1])
    z_scaling = (0.24 - obj[2]) / 0.24
    y_scaling = (obj[1] - (target[1] - 3 * TARGET_RADIUS)) / (3 * TARGET_RADIUS)
    bound_loss = hamacher_product(y_scaling, z_scaling)
    in_place = jnp.where(front, jnp.clip(in_place - bound_loss, 0.0, 1.0), in_place)
    in_place = jnp.where(low_x & (obj[1] > target[1]), 0.0, in_place)
    carrying = (tcp_to_obj < 0.025) & (opened > 0) & (obj[2] - 0.01 > ri.obj_init[2])
    reward = jnp.where(carrying, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & (obj[2] - 0.02 > ri.obj_init[2]),
                   grasp_reward=grasped, in_place_reward=in_place, obj_to_target=to_target)


def shelf_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: grasp the block, centre on the shelf, rise, push in along +y."""
    hand = obs[0:3]
    block = obs[4:7] + jnp.array([-0.005, 0.0, 0.015])
    shelf_x = obs[36]
    far = xy_dist(hand, block) > 0.04
    target = first((far, block + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - block[2]) > 0.04, block),
                   (jnp.abs(hand[0] - shelf_x) > 0.02, jnp.array([shelf_x, hand[1], 0.3])),
                   (hand[2] < 0.3, hand + jnp.array([0.0, 0.0, 0.3])),
                   default=hand + jnp.array([0.0, 0.05, 0.0]))
    grab = ~((xy_dist(hand, obs[4:7]) > 0.04) | (jnp.abs(hand[2] - obs[6]) > 0.15))
    return act(move(hand, target, 25.0), jnp.where(grab, 0.7, -1.0))


SPECS = (
    TaskSpec("shelf-place", (-0.1, 0.5, 0.019, -0.1, 0.8, 0.299),
             (0.1, 0.6, 0.021, 0.1, 0.9, 0.301),
             Scene(static=SHELF, obj=BLOCK, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW)),
             goal=from_vec(3), reward=shelf_reward, expert=shelf_expert,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, BLOCK.rest_z)),
             reject=Reject(0, 0.1, j=3)),
)
