"""basketball: grasp a ball, lift it over the hoop and drop it through the ring."""

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
    WXYZ,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, affine, from_vec

BALL = FreeObject(half=(0.03, 0.03, 0.03), mass=0.1, rest_z=0.02987, grip=0.0512)
HOOP = (  # around anchor B = rand_vec[3:6]: backboard, pole, bracket, the ring as four bars
    Box((0.0, 0.0, 0.29), (0.1, 0.01, 0.07), anchor=2),
    Box((0.0, 0.0, 0.118), (0.007, 0.007, 0.108), anchor=2),
    Box((0.0, -0.023, 0.25), (0.01, 0.014, 0.004), anchor=2),
    Box((0.0, -0.128, 0.249), (0.045, 0.01, 0.01), anchor=2),
    Box((0.0, -0.038, 0.249), (0.045, 0.01, 0.01), anchor=2),
    Box((-0.044, -0.083, 0.249), (0.01, 0.045, 0.01), anchor=2),
    Box((0.044, -0.083, 0.249), (0.01, 0.045, 0.01), anchor=2),
)
# the ring's front bar's outer face (0.138 in front of the anchor) + the palm's half length + 2 cm
RING_CLEARANCE = 0.21
TARGET_RADIUS = 0.08  # basketball's class constant (Meta-World's default is 0.05)


def basketball_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    target = ri.goal.at[2].set(0.3)
    scale = jnp.array([1.0, 1.0, 2.0])
    to_target = norm((obj - target) * scale)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm((ri.obj_init - target) * scale))
    tcp_to_obj = norm(obj - ri.tcp)
    grasped = gripper_caging(ri, obj, obj_radius=0.025, pad_success_thresh=0.06,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
    lifted = (tcp_to_obj < 0.035) & (opened > 0) & (obj[2] - 0.01 > ri.obj_init[2])
    grasped = jnp.where(lifted, 1.0, grasped)
    reward = hamacher_product(grasped, in_place)
    reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    return outcome(reward, to_target <= TARGET_RADIUS, near_object=tcp_to_obj <= 0.05,
                   grasp_success=(opened > 0) & (obj[2] - 0.03 > ri.obj_init[2]),
                   grasp_reward=grasped, in_place_reward=in_place, obj_to_target=to_target)


def basketball_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: grasp the ball, rise to hoop height, move over the hoop; except
    that before rising it backs away from the hoop until the palm clears the ring's front bar
    (Meta-World's expert rises in place: its hand meshes pass the ring, the boxes here catch
    under it)."""
    hand, ball = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, 0.01])
    hoop = jnp.array([obs[36], 0.875, 0.35])
    clear_y = obs[37] - RING_CLEARANCE
    far = xy_dist(hand, ball) > 0.04
    low = jnp.abs(ball[2] - hoop[2]) > 0.025
    target = first((far, ball + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - ball[2]) > 0.025, ball),
                   (low & (hand[1] > clear_y + 0.01), jnp.array([hand[0], clear_y, hand[2]])),
                   (low, jnp.array([hand[0], hand[1], hoop[2]])),
                   default=hoop)
    grab = ~(far | (jnp.abs(hand[2] - obs[6]) > 0.15))
    return act(move(hand, target, 25.0), jnp.where(grab, 0.6, -1.0))


SPECS = (
    TaskSpec("basketball", (-0.1, 0.6, 0.0299, -0.1, 0.85, 0.0),
             (0.1, 0.7, 0.0301, 0.1, 0.9 + 1e-7, 0.0), Scene(static=HOOP, obj=BALL,
                                                      obs_point=Point(ON_OBJECT),
                                                      obs_quat=Quat(QUAT_CONST,
                                                                    (1.0, 0.0, 0.0, 0.0),
                                                                    WXYZ)),
             goal=from_vec(3, (0.0, -0.083, 0.25)), reward=basketball_reward,
             expert=basketball_expert, anchor_a=affine((0, 0.0), (1, 0.0), (None, 0.03)),
             reject=Reject(0, 0.15, j=3)),
)
