"""pick-out-of-hole: a puck at the bottom of a 5.4 cm deep pit in a raised table top, lifted out
to a goal in the air (Meta-World's sawyer_pick_out_of_hole.xml)."""

from __future__ import annotations

from dataclasses import replace

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
from envs.manipulation.scene import ANCHOR_WORLD, QUAT_CONST, WXYZ, Box, Quat
from envs.manipulation.tasks.reach_push_pick import PUCK_SCENE
from envs.manipulation.tasks.spec import Reject, TaskSpec, from_vec

# the raised table top round the pit (x -0.15..0.15, y 0.65..0.95): Meta-World's hand passes
# through it (its claws' contype does not meet the top's conaffinity); the puck does not
RAISED_TOP = (Box((0.0, 0.425, 0.027), (0.7, 0.225, 0.027), anchor=ANCHOR_WORLD),
              Box((0.0, 0.975, 0.027), (0.15, 0.025, 0.027), anchor=ANCHOR_WORLD),
              Box((-0.425, 0.825, 0.027), (0.275, 0.175, 0.027), anchor=ANCHOR_WORLD),
              Box((0.425, 0.825, 0.027), (0.275, 0.175, 0.027), anchor=ANCHOR_WORLD))


def _floor(radius: jax.Array, threshold: float, scale: float, offset: float) -> jax.Array:
    """Meta-World's log-shaped height the tcp should stay above, away from the object."""
    return jnp.where(radius <= threshold, 0.0,
                     scale * jnp.log(jnp.maximum(radius - threshold, 1e-12)) + offset)


def hole_reward(ri: RewardInputs) -> Outcome:
    obj, tcp = ri.obj, ri.tcp
    to_target = norm(obj - ri.goal)
    tcp_to_obj = norm(obj - tcp)
    floor = _floor(norm(tcp[:2] - ri.obj_init[:2]), 0.03, 0.015, 0.15)
    above_floor = jnp.where(tcp[2] >= floor, 1.0,
                            tolerance(jnp.maximum(floor - tcp[2], 0.0), 0.0, 0.01, 0.02))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.02,
                             object_reach_radius=0.01, xz_thresh=0.03,
                             desired_gripper_effort=0.1, high_density=True)
    in_place = tolerance(to_target, 0.0, 0.02, norm(ri.obj_init - ri.goal))
    reward = hamacher_product(grasped, in_place)
    holding = (tcp_to_obj < 0.04) & (obj[2] - 0.02 > ri.obj_init[2]) & ~(ri.gripper < 0.33)
    reward = jnp.where(holding, reward + 1.0 + 5.0 * hamacher_product(in_place, above_floor),
                       reward)
    # Meta-World's own radius for this task is 0.02, but it tests the base class's 0.05
    reward = jnp.where(to_target < 0.05, 10.0, reward)
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=holding, grasp_reward=grasped, in_place_reward=in_place,
                   obj_to_target=to_target)


def hole_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: above the puck, down onto it closing gently (0.1), up to the goal's height,
    then across to it."""
    hand, puck, goal = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, 0.02]), obs[36:39]
    far = xy_dist(hand, puck) > 0.02
    target = first((far, puck + jnp.array([0.0, 0.0, 0.15])),
                   (jnp.abs(hand[2] - puck[2]) > 0.01, puck),
                   (jnp.abs(hand[2] - goal[2]) > 0.04, jnp.stack([hand[0], hand[1], goal[2]])),
                   default=goal)
    grab = ~(far | (jnp.abs(hand[2] - puck[2]) > 0.15))
    return act(move(hand, target, 25.0), jnp.where(grab, 0.1, 0.0))


SPECS = (
    TaskSpec("pick-out-of-hole", (0.0, 0.75, 0.02, -0.1, 0.5, 0.15),
             (0.0, 0.75, 0.02, 0.1, 0.6, 0.3),
             replace(PUCK_SCENE, static=RAISED_TOP,
                     obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ)),
             goal=from_vec(3), reward=hole_reward,
             expert=hole_expert,
             reject=Reject(0, 0.15, j=3), mocap_low=(-0.5, 0.4, -0.05)),
)
