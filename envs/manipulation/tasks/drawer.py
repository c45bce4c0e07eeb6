"""drawer-open, drawer-close: a drawer sliding along y out of its case."""

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
    tolerance,
)
from envs.manipulation.scene import (
    JOINT_SLIDE,
    ON_FIXTURE,
    QUAT_CONST,
    WXYZ,
    Box,
    Fixture,
    Joint,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec, joint_extra

CASE = (  # around anchor A = rand_vec (the drawer body)
    Box((-0.11, 0.0, 0.084), (0.008, 0.1, 0.084)),
    Box((0.11, 0.0, 0.084), (0.008, 0.1, 0.084)),
    Box((0.0, 0.092, 0.076), (0.102, 0.008, 0.076)),
    Box((0.0, -0.008, 0.014), (0.102, 0.092, 0.014)),
    Box((0.0, 0.0, 0.16), (0.102, 0.1, 0.008)),
)
DRAWER = (  # relative to the drawer link (A + (0, -0.01, 0.09)) when shut
    Box((0.0, -0.082, 0.008), (0.1, 0.008, 0.052)),
    Box((0.0, -0.15, 0.0), (0.059, 0.009, 0.009)),
    Box((-0.05, -0.12, 0.0), (0.009, 0.039, 0.009)),
    Box((0.05, -0.12, 0.0), (0.009, 0.039, 0.009)),
)
OPEN_DIST = 0.2  # drawer-open's maxDist
CLOSE_DIST = 0.15  # drawer-close's maxDist (the drawer starts this far out)


def _drawer(init: float, handle_z: float, quat: Quat) -> Scene:
    slide = Joint(JOINT_SLIDE, (0.0, 1.0, 0.0), -0.16, 0.0, init=init, inertia=0.381,
                  damping=2.0)
    return Scene(static=CASE,
                 fixture=Fixture(joints=(slide,), origin=(0.0, -0.01, 0.09), boxes=DRAWER),
                 obs_point=Point(ON_FIXTURE, (0.0, -0.16, handle_z)), obs_quat=quat)


def drawer_open_reward(ri: RewardInputs) -> Outcome:
    gripper, handle = ri.obs[0:3], ri.obj
    handle_error = norm(handle - ri.goal)
    opening = tolerance(handle_error, 0.0, 0.02, OPEN_DIST)
    handle_init = ri.goal + jnp.array([0.0, OPEN_DIST, 0.0])
    scale = jnp.array([3.0, 3.0, 1.0])
    caging = tolerance(norm((handle - gripper) * scale), 0.0, 0.01,
                       norm((handle_init - ri.init_tcp) * scale))
    reward = 5.0 * (caging + opening)
    return outcome(reward, handle_error <= 0.03, near_object=norm(handle - gripper) <= 0.03,
                   grasp_success=ri.gripper > 0, grasp_reward=caging, in_place_reward=opening,
                   obj_to_target=handle_error)


def drawer_close_reward(ri: RewardInputs) -> Outcome:
    obj = ri.obj
    to_target = norm(obj - ri.goal)
    in_place = tolerance(to_target, 0.0, 0.05, jnp.abs(norm(ri.obj_init - ri.goal) - 0.05))
    tcp_to_obj = norm(obj - ri.tcp)
    reach = tolerance(tcp_to_obj, 0.0, 0.005,
                      jnp.abs(norm(ri.obj_init - ri.init_tcp) - 0.005), "gaussian")
    closed = jnp.minimum(jnp.maximum(0.0, ri.action[3]), 1.0)
    reach = hamacher_product(reach, closed)
    reward = 10.0 * jnp.where(to_target <= 0.065, 1.0, hamacher_product(reach, in_place))
    return outcome(reward, to_target <= 0.065, near_object=tcp_to_obj <= 0.01,
                   grasp_success=1.0, grasp_reward=reach, in_place_reward=in_place,
                   obj_to_target=to_target)


def drawer_open_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: above the handle, drop beside it, pull hard (gripper open)."""
    hand, handle = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, -0.02])
    far = xy_dist(hand, handle) > 0.06
    high = jnp.abs(hand[2] - handle[2]) > 0.04
    target = first((far, handle + jnp.array([0.0, 0.0, 0.3])), (high, handle),
                   default=handle + jnp.array([0.0, -0.06, 0.0]))
    gain = jnp.where(far | high, 4.0, 50.0)
    return act(jnp.clip((target - hand) * gain, -1.0, 1.0), -1.0)


def drawer_close_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: rise, come in front of the handle, drop, push it home."""
    hand, handle = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, -0.02])
    beyond = hand[1] > handle[1]
    rise = jnp.array([hand[0], hand[1], handle[2] + 0.5])
    target = first((beyond & (hand[2] < handle[2] + 0.23), rise),
                   (beyond, handle + jnp.array([0.0, -0.075, 0.23])),
                   (jnp.abs(hand[2] - handle[2]) > 0.04, handle + jnp.array([0.0, -0.075, 0.0])),
                   default=handle)
    return act(move(hand, target, 25.0), 1.0)


def _open_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.anchors[1], jnp.zeros(7)


def _close_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.point, jnp.zeros(7)  # the handle where the drawer starts


SPECS = (
    TaskSpec("drawer-open", (-0.1, 0.9, 0.0), (0.1, 0.9, 0.0),
             _drawer(0.0, 0.0, Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ)),
             goal=from_vec(0, (0.0, -0.16 - OPEN_DIST, 0.09)), reward=drawer_open_reward,
             expert=drawer_open_expert, init=_open_init, extra=joint_extra),
    TaskSpec("drawer-close", (-0.1, 0.9, 0.0), (0.1, 0.9, 0.0),
             _drawer(-CLOSE_DIST, 0.05, Quat()),
             goal=from_vec(0, (0.0, -0.16, 0.09)), reward=drawer_close_reward,
             expert=drawer_close_expert, init=_close_init, extra=joint_extra),
)
