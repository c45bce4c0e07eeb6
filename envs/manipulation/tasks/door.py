"""door-open, door-close: a door on a vertical hinge in a frame, pulled open by its handle."""

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

# the door frame (doorlockB) around anchor A = rand_vec
FRAME = (
    Box((-0.204, 0.0, 0.0), (0.016, 0.106, 0.15)),
    Box((0.204, 0.0, 0.0), (0.016, 0.106, 0.15)),
    Box((0.0, 0.0, 0.138), (0.188, 0.106, 0.012)),
    Box((0.0, 0.0, -0.138), (0.189, 0.106, 0.012)),
    Box((0.0, 0.094, 0.0), (0.188, 0.012, 0.126)),
)
# the door leaf and its handle, relative to the hinge (A + (-0.185, -0.1, 0)) with the door shut
LEAF = (
    Box((0.185, 0.0, 0.0), (0.18, 0.01, 0.123)),
    Box((0.325, -0.006, 0.0), (0.028, 0.012, 0.028)),
    Box((0.325, -0.065, 0.0), (0.013, 0.047, 0.013)),
    Box((0.381, -0.12, 0.0), (0.075, 0.023, 0.023)),
)


def _door(init: float, init_vel: float = 0.0) -> Scene:
    hinge = Joint(JOINT_HINGE, (0.0, 0.0, 1.0), -2.0, 0.0, init=init, inertia=0.15085,
                  damping=2.0, init_vel=init_vel)
    return Scene(static=FRAME,
                 fixture=Fixture(joints=(hinge,), origin=(-0.185, -0.1, 0.0), boxes=LEAF),
                 obs_point=Point(ON_FIXTURE, (0.37572, -0.10714, 0.00004)),
                 obs_quat=Quat(QUAT_FIXTURE, (0.15117, 0.69076, -0.15062, 0.69088), XYZW))


def door_open_reward(ri: RewardInputs) -> Outcome:
    theta = ri.extra[0]
    grab = (jnp.clip(ri.action[3], -1.0, 1.0) + 1.0) / 2.0
    hand = ri.obs[0:3]
    door = ri.obj + jnp.array([-0.05, 0.0, 0.0])
    radius = norm(hand[:2] - door[:2])
    floor = jnp.where(radius <= 0.12, 0.0,
                      0.04 * jnp.log(jnp.maximum(radius - 0.12, 1e-12)) + 0.4)
    above = jnp.where(hand[2] >= floor, 1.0, tolerance(floor - hand[2], 0.0, 0.01, floor / 2.0))
    in_place = tolerance(norm(hand - door - jnp.array([0.05, 0.03, -0.01])), 0.0, 0.06, 0.5)
    ready = hamacher_product(above, in_place)
    opened = 0.2 * (theta < -math.pi / 90.0) + 0.8 * tolerance(
        math.pi / 2.0 + math.pi / 6 + theta, 0.0, 0.5, math.pi / 3.0)
    success = jnp.abs(ri.obs[4] - ri.goal[0]) <= 0.08
    reward = jnp.where(success, 10.0, 2.0 * hamacher_product(ready, grab) + 8.0 * opened)
    return outcome(reward, success, near_object=ready, grasp_success=grab >= 0.5,
                   grasp_reward=grab, in_place_reward=opened, obj_to_target=0.0)


def door_close_reward(ri: RewardInputs) -> Outcome:
    tcp_to_target = norm(ri.tcp - ri.goal)
    to_target = norm(ri.obj - ri.goal)
    in_place = tolerance(to_target, 0.0, 0.05, norm(ri.obj_init - ri.goal), "gaussian")
    hand_margin = norm(ri.hand_init - ri.obj) + 0.1
    hand_in_place = tolerance(tcp_to_target, 0.0, 0.0125, hand_margin, "gaussian")
    reward = jnp.where(to_target < 0.05, 10.0, 3.0 * hand_in_place + 6.0 * in_place)
    return outcome(reward, to_target <= 0.08, near_object=0.0, grasp_success=1.0,
                   grasp_reward=1.0, in_place_reward=hand_in_place, obj_to_target=to_target)


def door_open_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy (come down beside the handle, then pull it towards its centre),
    with the hand lowered straight down 3 cm behind the handle bar, clear of its top."""
    hand, door = obs[0:3], obs[4:7] - jnp.array([0.05, 0.0, 0.0])
    low = door + jnp.array([0.06, 0.03, 0.0])
    aside = jnp.array([low[0], low[1], jnp.maximum(hand[2], door[2] + 0.1)])
    above = jnp.abs(hand[2] - door[2]) > 0.04
    target = first((xy_dist(hand, door) > 0.12, door + jnp.array([0.06, 0.03, 0.2])),
                   (above & (xy_dist(hand, low) > 0.015), aside),
                   (above, low),
                   default=door)
    return act(move(hand, target, 25.0), 1.0)


def door_close_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: go round above the open door, drop outside it, push to the goal."""
    hand, goal = obs[0:3], obs[36:39]
    door = obs[4:7] + jnp.array([0.05, 0.12, 0.1])
    right_of = hand[0] > door[0]
    rise = jnp.array([hand[0], hand[1], door[2] + 0.25])
    over = jnp.array([door[0] - 0.02, door[1], hand[2]])
    target = first((right_of & (hand[2] < door[2] + 0.2), rise), (right_of, over),
                   (jnp.abs(hand[2] - door[2]) > 0.04, door + jnp.array([-0.02, 0.0, 0.0])),
                   default=goal)
    return act(move(hand, target, 25.0), 1.0)


def _rand_vec_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.anchors[1], jnp.zeros(7)


SPECS = (
    TaskSpec("door-open", (0.0, 0.85, 0.15), (0.1, 0.95, 0.15), _door(0.0),
             goal=from_vec(0, (-0.3, -0.45, 0.0)), reward=door_open_reward,
             expert=door_open_expert, init=_rand_vec_init, extra=joint_extra),
    # door-close's reset leaves the open door overlapping its frame, which pushes it ~16 degrees
    # shut over the first ~30 steps; here that swing is an initial joint velocity
    TaskSpec("door-close", (0.0, 0.85, 0.15), (0.1, 0.95, 0.15), _door(-1.5708, 3.5),
             goal=from_vec(0, (0.2, -0.2, 0.0)), reward=door_close_reward,
             expert=door_close_expert, init=_rand_vec_init, extra=joint_extra,
             hand_init=(-0.5, 0.6, 0.2)),
)
