"""stick-push, stick-pull: grasp a stick and use it as a tool on a thermos that slides on the
table (Meta-World's `sawyer_stick_push_v3` and `sawyer_stick_pull_v3`): push the thermos to
the goal with the stick's end, or hook the stick through the thermos's handle and pull it.

The thermos is a planar fixture (two slides); the held stick is one of the probes that move it.
Its base's friction on the table, under which Meta-World's thermos does not coast on after a
push, is a damping here (`THERMOS_DAMPING`; not fitted separately: the stick-push replay's
thermos agrees to 1.8 cm). Meta-World observes the stick's centre and its quaternion (scipy
order); ours does not turn.
"""

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
    ANCHOR_WORLD,
    JOINT_SLIDE,
    ON_FIXTURE,
    ON_OBJECT,
    QUAT_CONST,
    XYZW,
    Box,
    Fixture,
    FreeObject,
    Joint,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, affine

# the stick (10 x 4 x 4 cm, along x); the pads hold it 2.4 cm apart (measured)
STICK = FreeObject(half=(0.05, 0.02, 0.02), mass=0.02, rest_z=0.0198, grip=0.0244)
STICK_Z = 0.02
STICK_END = 0.05  # site stick_end from the stick's centre, along x
THERMOS_MASS = 3.2678 + 0.001  # the body's subtree, and the slides' armature
# the base's friction as a damping: a pushed thermos keeps about 3/4 of its speed per step
THERMOS_DAMPING = 80.0
THERMOS_AT = (0.2, 0.6, 0.0)
INSERTION = (0.0, -0.09, 0.132)  # site insertion, in the thermos's handle


def _thermos(init_y: float) -> Fixture:
    slides = tuple(Joint(JOINT_SLIDE, axis, -0.2, 0.2, init=init, inertia=THERMOS_MASS,
                         damping=THERMOS_DAMPING)
                   for axis, init in (((1.0, 0.0, 0.0), 0.0), ((0.0, 1.0, 0.0), init_y)))
    # base (radius 6.2 cm, 4 cm tall), body (6 cm, up to 24 cm) and cap (5.15 cm, up to 33.5 cm)
    # as one cylinder of the base's radius: two boxes fewer for every env of a batch that mixes
    # this task with others (each pays for the largest fixture)
    return Fixture(joints=slides, origin=THERMOS_AT, anchor=ANCHOR_WORLD, boxes=(
        Box((0.0, 0.0, 0.1675), (0.062, 0.062, 0.1675), round="xy"),
        Box((0.0, -0.135, 0.132), (0.01, 0.005, 0.068)),  # the handle's bar
        Box((0.0, -0.09, 0.195), (0.01, 0.04, 0.005)),  # and its two arms
        Box((0.0, -0.09, 0.069), (0.01, 0.04, 0.005)),
    ))


def _stick_init(ri: RewardInputs) -> jax.Array:
    return ri.init[9:12]


def stick_push_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the stick, and once it is lifted in the hand, the stick's
    and the thermos's nearness to the target (12 cm radius); success also needs the hand on
    the stick (Meta-World's contact flag; here the grip)."""
    stick_init = _stick_init(ri)
    stick = ri.obj + jnp.array([0.015, 0.0, 0.0])
    container, target, opened = ri.obs[11:14], ri.goal, ri.gripper
    tcp_to_stick = norm(stick - ri.tcp)
    stick_in_place = tolerance(norm(stick - target), 0.0, 0.12, norm(stick_init - target) - 0.12)
    to_target = norm(container - target)
    container_in_place = tolerance(to_target, 0.0, 0.12, norm(ri.obj_init - target) - 0.12)
    grasped = gripper_caging(ri, stick, obj_radius=0.04, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.01, high_density=True,
                             obj_init=stick_init)
    carrying = (tcp_to_stick < 0.02) & (opened > 0) & (stick[2] - 0.01 > stick_init[2])
    reward = jnp.where(carrying, 2.0 + 5.0 * stick_in_place + 3.0 * container_in_place, grasped)
    reward = jnp.where(carrying & (to_target <= 0.12), 10.0, reward)
    grasp_success = ri.touching & (opened > 0) & (ri.obj[2] - 0.01 > stick_init[2])
    return outcome(reward, grasp_success & (to_target <= 0.12), near_object=tcp_to_stick <= 0.03,
                   grasp_success=grasp_success, grasp_reward=jnp.where(carrying, 1.0, grasped),
                   in_place_reward=stick_in_place, obj_to_target=to_target)


def stick_pull_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the stick, its nearness to the thermos's handle, and once
    it is through the handle, its and the thermos's nearness to the target; success once the
    handle is within 12 cm of the target with the stick through it."""
    stick_init = _stick_init(ri)
    stick, handle, target, opened = ri.obj, ri.obs[11:14], ri.goal, ri.gripper
    end = ri.extra[0:3]
    container = handle + jnp.array([0.05, 0.0, 0.0])
    container_init = ri.obj_init + jnp.array([0.05, 0.0, 0.0])
    yz = jnp.array([1.0, 1.0, 2.0])
    tcp_to_stick = norm(stick - ri.tcp)
    stick_in_place = tolerance(norm((stick - container) * yz), 0.0, 0.05,
                               norm((stick_init - container_init) * yz))
    stick_in_place_2 = tolerance(norm(stick - target), 0.0, 0.05, norm(stick_init - target))
    container_in_place = tolerance(norm(container - target), 0.0, 0.05,
                                   norm(ri.obj_init - target))
    # (stick-pull keeps Meta-World's caging margins from the thermos's start, not the stick's)
    grasped = gripper_caging(ri, stick, obj_radius=0.014, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.01, high_density=True)
    carrying = (tcp_to_stick < 0.02) & (opened > 0) & (stick[2] - 0.01 > stick_init[2])
    grasped = jnp.where(carrying, 1.0, grasped)
    both = hamacher_product(grasped, stick_in_place)
    inserted = ((end[0] >= handle[0]) & (jnp.abs(end[1] - handle[1]) <= 0.04)
                & (jnp.abs(end[2] - handle[2]) <= 0.06))
    handle_to_target = norm(handle - target)
    reward = jnp.where(carrying, 1.0 + both + 5.0 * stick_in_place, both)
    reward = jnp.where(carrying & inserted,
                       6.0 + both + 2.0 * stick_in_place_2 + container_in_place, reward)
    reward = jnp.where(carrying & inserted & (handle_to_target <= 0.12), 10.0, reward)
    grasp_success = ri.touching & (opened > 0) & (stick[2] - 0.02 > ri.obj_init[2])
    return outcome(reward, (handle_to_target <= 0.12) & inserted,
                   near_object=tcp_to_stick <= 0.03, grasp_success=grasp_success,
                   grasp_reward=grasped, in_place_reward=stick_in_place,
                   obj_to_target=handle_to_target)


def _stick_expert(obs: jax.Array, stick: jax.Array, thermos: jax.Array, goal: jax.Array,
                  gain: float) -> jax.Array:
    """Meta-World's route for both: grasp the stick, bring it level with the thermos's point
    (y, then z), push along x until the stick is within 4 cm of it in x, then head for `goal`."""
    hand = obs[0:3]
    target = first((xy_dist(hand, stick) > 0.02, stick + jnp.array([0.0, 0.0, 0.1])),
                   (jnp.abs(hand[2] - stick[2]) > 0.02, stick),
                   (jnp.abs(stick[1] - thermos[1]) > 0.02,
                    jnp.stack([stick[0], thermos[1], stick[2]])),
                   (jnp.abs(stick[2] - thermos[2]) > 0.02,
                    jnp.stack([stick[0], thermos[1], thermos[2]])),
                   default=thermos)
    target = jnp.where(jnp.abs(stick[0] - thermos[0]) > 0.04, target, goal)
    far = (xy_dist(hand, stick) > 0.02) | (jnp.abs(hand[2] - stick[2]) > 0.1)
    return act(move(hand, target, gain), jnp.where(far, -1.0, 0.7))


def stick_push_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's (its goal waypoint 13.2 cm above the goal, as Meta-World's)."""
    return _stick_expert(obs, obs[4:7] + jnp.array([0.015, 0.0, 0.03]), obs[11:14],
                         obs[36:39] + jnp.array([0.0, 0.0, 0.132]), 10.0)


def stick_pull_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: the stick goes through the handle, and the hand then pulls towards the
    goal."""
    return _stick_expert(obs, obs[4:7] + jnp.array([-0.015, 0.0, 0.03]),
                         obs[11:14] + jnp.array([-0.015, 0.0, 0.03]),
                         obs[36:39] + jnp.array([-0.05, 0.0, 0.0]), 25.0)


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: Meta-World's `obj_init_pos`, the thermos's parent body, which its slides do not
    move; consts[0:3]: the stick's start (`stick_init_pos`, anchor A)."""
    return v.fixture_origin, jnp.zeros(7).at[0:3].set(v.anchors[1])


def _extra(v: View) -> jax.Array:
    """extra[0:3]: the stick's end (site stick_end)."""
    return jnp.zeros(4).at[0:3].set(v.obj + jnp.array([STICK_END, 0.0, 0.0]))


def _scene(init_y: float, observed: tuple[float, float, float]) -> Scene:
    return Scene(fixture=_thermos(init_y), obj=STICK, obs_point=Point(ON_OBJECT),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW),
                 obs_point2=Point(ON_FIXTURE, observed))


_STICK_START = affine((0, 0.0), (1, 0.0), (None, STICK_Z))
SPECS = (
    TaskSpec("stick-push", (-0.08, 0.58, 0.0, 0.399, 0.55, 0.1319),
             (-0.03, 0.62, 0.001, 0.401, 0.6, 0.1321),
             _scene(0.0, (0.0, 0.0, INSERTION[2])),
             goal=affine((3, 0.0), (4, 0.0), (None, INSERTION[2])), reward=stick_push_reward,
             expert=stick_push_expert, init=_init, anchor_a=_STICK_START,
             reject=Reject(0, 0.1, j=3)),
    TaskSpec("stick-pull", (-0.1, 0.55, 0.0, 0.35, 0.45, 0.0199),
             (0.0, 0.65, 0.001, 0.45, 0.55, 0.0201),
             _scene(0.09, INSERTION),
             goal=affine((3, 0.0), (4, 0.0), (None, STICK_Z)), reward=stick_pull_reward,
             expert=stick_pull_expert, init=_init, extra=_extra, anchor_a=_STICK_START,
             reject=Reject(0, 0.1, j=3)),
)
