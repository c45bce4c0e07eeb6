"""sweep, sweep-into, hand-insert: slide a block across the table (off to x = 0.5, or into a
hole), or carry it to the hole and put it in."""

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
    ANCHOR_WORLD,
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    XYZW,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, affine, const, from_vec

OBJ_RADIUS = 0.02
# sweep: the block's body origin (obs[4:7]) is 2 cm below the centre of its box
SWEEP_BLOCK = FreeObject(half=(0.02, 0.02, 0.02), mass=0.1, rest_z=0.0198, grip=0.037,
                         start=(0.0, 0.0, 0.02))
INTO_BLOCK = FreeObject(half=(0.02, 0.02, 0.02), mass=0.01, rest_z=0.02, grip=0.034)
# sweep-into's table top is 5 cm thick with a hole at the goal (0, 0.84); world frame
TABLE_WITH_HOLE = (
    Box((0.0, 0.48, 0.0), (0.08, 0.28, 0.05), ANCHOR_WORLD),
    Box((-0.39, 0.6, 0.0), (0.31, 0.4, 0.05), ANCHOR_WORLD),
    Box((0.39, 0.6, 0.0), (0.31, 0.4, 0.05), ANCHOR_WORLD),
    Box((0.0, 0.96, 0.0), (0.08, 0.04, 0.05), ANCHOR_WORLD),
)
INTO_GOAL = (0.0, 0.84, 0.02)


def _sweep_outcome(ri: RewardInputs, target: jax.Array, grip_margin: float, xz: float
                   ) -> Outcome:
    obj = ri.obj
    to_target = norm(obj - target)
    tcp_to_obj = norm(obj - ri.tcp)
    in_place = tolerance(to_target, 0.0, 0.05, norm(ri.obj_init - target))
    caging, gripping = pad_caging(ri, obj, OBJ_RADIUS, pad_margin=0.05, xz_margin_thresh=xz,
                                  grip_margin=grip_margin, grip_threshold=0.95)
    grasped = (caging + gripping) / 2
    reward = 2.0 * grasped + 6.0 * hamacher_product(grasped, in_place)
    reward = jnp.where(to_target < 0.05, 10.0, reward)
    return outcome(reward, to_target <= 0.05, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (ri.gripper > 0), grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=to_target)


def sweep_reward(ri: RewardInputs) -> Outcome:
    return _sweep_outcome(ri, ri.goal, OBJ_RADIUS + 0.01, 0.005)


def sweep_into_reward(ri: RewardInputs) -> Outcome:
    target = jnp.array([ri.goal[0], ri.goal[1], ri.obj[2]])
    return _sweep_outcome(ri, target, OBJ_RADIUS + 0.005, 0.01)


def sweep_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: grasp the block, carry it towards x = 0.5, let go near there."""
    hand, goal = obs[0:3], obs[36:39]
    cube = obs[4:7] + jnp.array([0.0, 0.0, 0.015])
    left = hand[0] < 0.2
    target = first((left & (xy_dist(hand, cube) > 0.04), cube + jnp.array([0.0, 0.0, 0.3])),
                   (left & (jnp.abs(hand[2] - cube[2]) > 0.04), cube),
                   default=goal + jnp.array([0.0, 0.0, 0.1]))
    far = (xy_dist(hand, obs[4:7]) > 0.04) | (jnp.abs(hand[2] - obs[6]) > 0.15)
    grip = jnp.where(far, -1.0, jnp.where(obs[4] < 0.4, 0.7, -1.0))
    return act(move(hand, target, 25.0), grip)


def sweep_into_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's strategy: descend onto the block, close, carry it to the hole; "on the
    block" is within 5 cm of height instead of Meta-World's 4 (here the fingers meet the table
    4.2 cm above the block's point, so some variants never got within 4)."""
    hand, goal = obs[0:3], obs[36:39]
    cube = obs[4:7] + jnp.array([-0.005, 0.0, 0.01])
    target = first((xy_dist(hand, cube) > 0.04, cube + jnp.array([0.0, 0.0, 0.3])),
                   (jnp.abs(hand[2] - cube[2]) > 0.05, cube), default=goal)
    far = (xy_dist(hand, obs[4:7]) > 0.04) | (jnp.abs(hand[2] - obs[6]) > 0.15)
    return act(move(hand, target, 25.0), jnp.where(far, -1.0, 0.7))


def hand_insert_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    to_target = norm(obj - ri.goal)
    in_place = tolerance(to_target, 0.0, 0.05, norm(ri.obj_init - ri.goal))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
    reward = hamacher_product(grasped, in_place)
    tcp_to_obj = norm(obj - ri.tcp)
    reward = jnp.where((tcp_to_obj < 0.02) & (opened > 0), reward + 1.0 + 7.0 * in_place, reward)
    reward = jnp.where(to_target < 0.05, 10.0, reward)
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    return outcome(reward, to_target <= 0.05, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & lifted, grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=to_target)


def hand_insert_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's (above the block, down onto it closing to 0.65, over the hole at the same
    height, then down into it), waiting at the block until the fingers have closed on it (the
    gripper reading below 0.6): Meta-World's hand leaves as they start to close, and on a
    quarter of the variants ours then drags the block by its top edge."""
    hand, block, goal = obs[0:3], obs[4:7], obs[36:39]
    far = xy_dist(hand, block) > 0.02
    target = first((far, block + jnp.array([0.0, 0.0, 0.1])),
                   (jnp.abs(hand[2] - block[2]) > 0.05, block + jnp.array([0.0, 0.0, 0.03])),
                   (obs[3] > 0.6, block + jnp.array([0.0, 0.0, 0.03])),
                   (xy_dist(hand, goal) > 0.04, jnp.stack([goal[0], goal[1], hand[2]])),
                   default=goal)
    grab = ~(far | (jnp.abs(hand[2] - block[2]) > 0.1))
    return act(move(hand, target, 10.0), jnp.where(grab, 0.65, 0.0))


def _sweep_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.anchors[1], jnp.zeros(7)


SPECS = (
    TaskSpec("sweep", (-0.1, 0.6, 0.02), (0.1, 0.7, 0.02),
             Scene(obj=SWEEP_BLOCK, obs_point=Point(ON_OBJECT, (0.0, 0.0, -0.02)),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ)),
             goal=affine((None, 0.5), (1, 0.0), (None, 0.01)), reward=sweep_reward,
             expert=sweep_expert, init=_sweep_init),
    TaskSpec("sweep-into", (-0.1, 0.6, 0.02, -0.001, 0.8399, 0.0199),
             (0.1, 0.7, 0.02, 0.001, 0.8401, 0.0201),
             Scene(static=TABLE_WITH_HOLE, obj=INTO_BLOCK, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW)),
             goal=const(INTO_GOAL), reward=sweep_into_reward, expert=sweep_into_expert,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, 0.06994)), table_z=-0.053,
             reject=Reject(0, 0.15, point=INTO_GOAL[:2])),
    # the same table and block; the block starts inside the table top and is pushed out onto it
    TaskSpec("hand-insert", (-0.1, 0.6, 0.05, -0.04, 0.8, -0.0201),
             (0.1, 0.7, 0.05, 0.04, 0.88, -0.0199),
             Scene(static=TABLE_WITH_HOLE, obj=INTO_BLOCK, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ)),
             goal=from_vec(3), reward=hand_insert_reward, expert=hand_insert_expert,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, 0.05)), table_z=-0.053,
             reject=Reject(0, 0.15, j=3), mocap_low=(-0.5, 0.4, -0.15)),
)
