"""faucet-open, faucet-close: a faucet whose handle turns a quarter turn about the vertical, to
the right (open) or the left (close) (Meta-World's faucet.xml)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import Outcome, RewardInputs, norm, outcome, tolerance
from envs.manipulation.scene import (
    JOINT_HINGE,
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
from envs.manipulation.tasks.spec import TaskSpec, from_vec

TARGET_RADIUS = 0.07  # Meta-World's _target_radius
HANDLE_LENGTH = 0.175
BASE = (Box((0.0, 0.0, 0.009), (0.046, 0.046, 0.009)),  # the foot and the column (cylinders)
        Box((0.0, 0.0, 0.061), (0.017, 0.017, 0.044)))
# the handle's neck and grip (cylinders along y, the grip a capsule taken as a cylinder its full
# length) and the head, relative to the hinge at the column's top
HANDLE = (Box((0.0, -0.05, 0.001), (0.012, 0.021, 0.012), round="xz"),
          Box((0.0, -0.12, 0.001), (0.017, 0.072, 0.017), round="xz"),
          Box((0.0, 0.0, 0.001), (0.032, 0.032, 0.02), round="xy"))
OPEN_OFFSET = jnp.array([-0.04, 0.0, 0.03])  # faucet-open's reward point, from the observed one


def _scene(point_x: float) -> Scene:
    # 3.0e-3 kg m^2 (armature included, from MuJoCo's mass matrix) damped at 2 N m s
    hinge = Joint(JOINT_HINGE, (0.0, 0.0, 1.0), -1.57, 1.57, inertia=0.003038, damping=2.0)
    return Scene(static=BASE,
                 fixture=Fixture(joints=(hinge,), origin=(0.0, 0.0, 0.124), boxes=HANDLE),
                 obs_point=Point(ON_FIXTURE, (point_x, -HANDLE_LENGTH, -0.01)),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ))


def _faucet(ri: RewardInputs, obj: jax.Array) -> Outcome:
    to_target = norm(obj - ri.goal)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS,
                         jnp.abs(norm(ri.obj_init - ri.goal) - TARGET_RADIUS))
    tcp_to_obj = norm(obj - ri.tcp)
    reach = tolerance(tcp_to_obj, 0.0, 0.01, jnp.abs(norm(ri.obj_init - ri.init_tcp) - 0.01),
                      sigmoid="gaussian")
    done = to_target <= TARGET_RADIUS
    reward = jnp.where(done, 10.0, 2.0 * (2.0 * reach + 3.0 * in_place))
    return outcome(reward, done, near_object=tcp_to_obj <= 0.01, grasp_success=1.0,
                   grasp_reward=reach, in_place_reward=in_place, obj_to_target=to_target)


def open_reward(ri: RewardInputs) -> Outcome:
    return _faucet(ri, ri.obj + OPEN_OFFSET)


def close_reward(ri: RewardInputs) -> Outcome:
    return _faucet(ri, ri.obj)


def _expert(obs: jax.Array, side: float) -> jax.Array:
    """Meta-World's: above the handle's end, down beside it, then sweep it round."""
    hand, handle = obs[0:3], obs[4:7] + jnp.array([side * 0.04, 0.0, 0.03])
    target = first((xy_dist(hand, handle) > 0.04, handle + jnp.array([0.0, 0.0, 0.1])),
                   (jnp.abs(hand[2] - handle[2]) > 0.04, handle),
                   default=handle + jnp.array([-side * 0.1, 0.05, 0.0]))
    return act(move(hand, target, 25.0), 1.0)


def open_expert(obs: jax.Array) -> jax.Array:
    return _expert(obs, -1.0)


def close_expert(obs: jax.Array) -> jax.Array:
    return _expert(obs, 1.0)


_HAND, _MOCAP_LOW = (0.0, 0.4, 0.2), (-0.5, 0.4, -0.15)

SPECS = (
    TaskSpec("faucet-open", (-0.05, 0.8, 0.0), (0.05, 0.85, 0.0), _scene(-0.015),
             goal=from_vec(0, (HANDLE_LENGTH, 0.0, 0.125)), reward=open_reward,
             expert=open_expert, hand_init=_HAND, mocap_low=_MOCAP_LOW),
    TaskSpec("faucet-close", (-0.1, 0.8, 0.0), (0.1, 0.85, 0.0), _scene(0.015),
             goal=from_vec(0, (-HANDLE_LENGTH, 0.0, 0.125)), reward=close_reward,
             expert=close_expert, hand_init=_HAND, mocap_low=_MOCAP_LOW),
)
