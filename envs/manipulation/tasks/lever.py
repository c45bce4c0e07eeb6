"""lever-pull: raise a lever on a horizontal hinge from pointing at the robot to upright."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    hamacher_product,
    norm,
    outcome,
    tolerance,
)
from envs.manipulation.scene import (
    JOINT_HINGE,
    ON_FIXTURE,
    QUAT_FIXTURE,
    XYZW,
    Box,
    Fixture,
    Joint,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec, joint_extra

LEVER_RADIUS = 0.2
BASE = (  # around anchor A = rand_vec
    Box((0.0, 0.0, 0.125), (0.041, 0.083, 0.125)),
    Box((0.0, 0.0, 0.25), (0.041, 0.083, 0.083)),
    Box((0.0, 0.0, 0.013), (0.05, 0.092, 0.013)),
)
ARM = (  # relative to the pivot A + (0.12, 0, 0.25), lever down (pointing at the robot)
    Box((0.0, 0.0, 0.0), (0.016, 0.038, 0.038)),
    Box((0.0, -0.091, 0.0), (0.012, 0.1, 0.012)),
    Box((0.0, -0.2, 0.0), (0.03, 0.03, 0.03), round="xyz"),
    Box((-0.025, 0.0, 0.0), (0.046, 0.016, 0.016)),
)


def lever_reward(ri: RewardInputs) -> Outcome:
    gripper, lever = ri.obs[0:3], ri.obj
    lever_init = ri.init[9:12]
    scale = jnp.array([4.0, 1.0, 4.0])
    offset = jnp.array([0.0, 0.055, 0.07])
    shoulder = norm((gripper + offset - lever) * scale)
    ready = tolerance(shoulder, 0.0, 0.02, norm((ri.init_tcp + offset - lever_init) * scale))
    error = jnp.abs(-ri.extra[0] - math.pi / 2.0)
    engagement = tolerance(error, 0.0, math.pi / 48.0, math.pi / 2.0 - math.pi / 12.0)
    to_target = norm(lever - ri.goal)
    in_place = tolerance(to_target, 0.0, 0.04, norm(lever_init - ri.goal))
    reward = 10.0 * hamacher_product(ready, in_place)
    return outcome(reward, error <= math.pi / 24, near_object=shoulder < 0.03,
                   grasp_success=ready > 0.9, grasp_reward=ready, in_place_reward=engagement,
                   obj_to_target=shoulder)


def lever_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: get under the lever's end, then push it up and back."""
    hand, lever = obs[0:3], obs[4:7] + jnp.array([0.0, -0.055, 0.0])
    target = first((xy_dist(hand, lever) > 0.02, lever + jnp.array([0.0, 0.0, -0.1])),
                   (jnp.abs(hand[2] - lever[2]) > 0.02, lever),
                   default=lever + jnp.array([0.0, 0.08, 0.02]))
    return act(move(hand, target, 25.0), 1.0)


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    lever_init = v.anchors[1] + jnp.array([0.12, -LEVER_RADIUS, 0.25])
    return v.anchors[1], jnp.zeros(7).at[0:3].set(lever_init)


SPECS = (
    TaskSpec("lever-pull", (-0.1, 0.7, 0.0), (0.1, 0.8, 0.0),
             Scene(static=BASE,
                   fixture=Fixture(joints=(Joint(JOINT_HINGE, (1.0, 0.0, 0.0), 0.0, 1.57,
                                                 init=0.00089, inertia=0.00105, damping=2.0,
                                                 give=1.0),),
                                   origin=(0.12, 0.0, 0.25), boxes=ARM, light=True),
                   obs_point=Point(ON_FIXTURE, (0.0, -LEVER_RADIUS, 0.0)),
                   obs_quat=Quat(QUAT_FIXTURE, (0.6625, 0.6625, -0.24717, 0.24717), XYZW)),
             goal=from_vec(0, (0.12, 0.0, 0.25 + LEVER_RADIUS)), reward=lever_reward,
             expert=lever_expert, init=_init, extra=joint_extra, hand_init=(0.0, 0.4, 0.2),
             mocap_low=(-0.5, 0.4, -0.15)),
)
