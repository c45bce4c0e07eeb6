"""door-lock, door-unlock: a lever lock on a safe's door (the door does not open), turned a
quarter turn down (lock) or back up (unlock) about a horizontal hinge (Meta-World's
doorlockA.xml)."""

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
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec

LOCK_LENGTH = 0.1  # Meta-World's _lock_length, the margin of the press term
SCALE = jnp.array([0.25, 1.0, 0.5])
SHOULDER = jnp.array([0.0, 0.055, 0.07])  # door-unlock's offset from the hand to its "shoulder"
# relative to the door body (anchor A): the safe's sides, top and bottom (its back is behind the
# door), the door, the lock's base, and the door handle's base, neck and grip (the grip's two
# cylinders as one box)
SAFE = (Box((-0.204, 0.0, 0.0), (0.016, 0.106, 0.15)),
        Box((0.204, 0.0, 0.0), (0.016, 0.106, 0.15)),
        Box((0.0, 0.0, 0.138), (0.188, 0.106, 0.012)),
        Box((0.0, 0.0, -0.138), (0.189, 0.106, 0.012)),
        Box((0.0, -0.1, 0.0), (0.184, 0.01, 0.124)),
        Box((0.0, -0.109, 0.061), (0.047, 0.013, 0.047)),
        Box((0.14, -0.106, -0.05), (0.028, 0.012, 0.028)),
        Box((0.14, -0.165, -0.05), (0.013, 0.047, 0.013)),
        Box((0.196, -0.22, -0.05), (0.075, 0.023, 0.023)))
LEVER = (Box((0.042, -0.024, 0.0), (0.05, 0.019, 0.01)),)  # relative to the hinge
HINGE = (0.0, -0.118, 0.061)


def _scene(init: float, point_z: float) -> Scene:
    # a 1 g lever (inertia mostly the 1e-3 armature) damped at 2 N m s
    # (pushed past a limit it gives a fifth of the push: the expert keeps pushing after success)
    hinge = Joint(JOINT_HINGE, (0.0, 1.0, 0.0), 0.0, 1.57, init=init, inertia=0.001,
                  damping=2.0, give=0.2)
    return Scene(static=SAFE,
                 fixture=Fixture(joints=(hinge,), origin=HINGE, boxes=LEVER),
                 obs_point=Point(ON_FIXTURE, (0.09, -0.04, point_z)),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ))


def lock_reward(ri: RewardInputs) -> Outcome:
    """door-lock: Meta-World's "initial" left pad is a view of the live one, so the near-lock
    margin is the current distance itself."""
    obj = ri.obj
    tcp_to_obj = norm((obj - ri.left_pad) * SCALE)
    to_target = jnp.abs(ri.goal[2] - obj[2])
    near = tolerance(tcp_to_obj, 0.0, 0.01, tcp_to_obj)
    pressed = tolerance(to_target, 0.0, 0.005, LOCK_LENGTH)
    reward = 2.0 * hamacher_product(jnp.maximum(ri.gripper, 0.0), near) + 8.0 * pressed
    return outcome(reward, to_target <= 0.02, near_object=tcp_to_obj <= 0.05,
                   grasp_success=ri.gripper > 0, grasp_reward=near, in_place_reward=pressed,
                   obj_to_target=to_target)


def unlock_reward(ri: RewardInputs) -> Outcome:
    lock = ri.obj
    to_lock = norm((ri.hand + SHOULDER - lock) * SCALE)
    ready = tolerance(to_lock, 0.0, 0.02, norm((ri.init_tcp + SHOULDER - ri.obj_init) * SCALE))
    to_target = jnp.abs(ri.goal[0] - lock[0])
    pushed = tolerance(to_target, 0.0, 0.005, LOCK_LENGTH)
    return outcome(2.0 * ready + 8.0 * pushed, to_target <= 0.02, near_object=to_lock <= 0.05,
                   grasp_success=ri.gripper > 0, grasp_reward=ready, in_place_reward=pushed,
                   obj_to_target=to_target)


def lock_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: up and back if low, over the lever, down onto it, push it down."""
    hand, lock = obs[0:3], obs[4:7] + jnp.array([-0.02, -0.02, 0.0])
    far = xy_dist(hand, lock) > 0.02
    target = first((far & (hand[2] < 0.25), hand + jnp.array([0.0, -0.1, 0.1])),
                   (far, lock + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - lock[2]) > 0.02, lock),
                   default=lock + jnp.array([-0.1, 0.0, -0.1]))
    return act(move(hand, target, 25.0), -1.0)


def unlock_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: down in front of the lever's end, then sweep it up to the right."""
    hand, lock = obs[0:3], obs[4:7] + jnp.array([-0.04, -0.02, -0.03])
    far = xy_dist(hand, lock) > 0.02
    target = first((far & (hand[2] > 0.15), hand + jnp.array([0.0, -0.1, -0.1])),
                   (far, lock),
                   default=lock + jnp.array([0.1, 0.0, 0.01]))
    return act(move(hand, target, 25.0), 1.0)


def _lock_init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: the lever's hinge (Meta-World's lock_link body)."""
    return v.fixture_origin, jnp.zeros(7)


_RANGE = ((-0.1, 0.8, 0.15), (0.1, 0.85, 0.15))
_MOCAP_LOW = (-0.5, 0.4, -0.15)

SPECS = (
    TaskSpec("door-lock", *_RANGE, _scene(0.0, 0.01),
             goal=from_vec(0, (HINGE[0], HINGE[1] - 0.04, HINGE[2] - 0.1)), reward=lock_reward,
             expert=lock_expert, init=_lock_init, mocap_low=_MOCAP_LOW,
             hand_reset=(-0.00296, 0.59515, 0.19581)),
    TaskSpec("door-unlock", *_RANGE, _scene(1.5708, -0.01),
             goal=from_vec(0, (HINGE[0] + 0.1, HINGE[1] - 0.04, HINGE[2])), reward=unlock_reward,
             expert=unlock_expert, init=_lock_init, mocap_low=_MOCAP_LOW,
             hand_reset=(-0.00433, 0.59579, 0.19572)),
)
