"""reach-wall, push-wall, pick-place-wall: reach / push / pick-place with a brick wall between
the object and the goal (Meta-World's `sawyer_*_wall_v3`)."""

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
    ON_OBJECT,
    QUAT_CONST,
    XYZW,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.reach_push_pick import PUCK, TARGET_RADIUS
from envs.manipulation.tasks.spec import Reject, TaskSpec, affine, from_vec

WALL = Box((0.1, 0.75, 0.06), (0.12, 0.01, 0.06), anchor=ANCHOR_WORLD)
# reach-wall's object is a flatter cylinder (radius 0.03, half height 0.015) that settles 1.3 mm
# into the table (measured)
FLAT_PUCK = FreeObject(half=(0.03, 0.03, 0.015), mass=0.75, rest_z=0.0137, grip=0.054)
_QUAT = Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW)
OBJ_LOW, OBJ_HIGH = (-0.05, 0.6, 0.015), (0.05, 0.65, 0.015)


def reach_wall_reward(ri: RewardInputs) -> Outcome:
    dist = norm(ri.tcp - ri.goal)
    in_place = tolerance(dist, 0.0, TARGET_RADIUS, norm(ri.hand_init - ri.goal))
    return outcome(10.0 * in_place, dist <= 0.05, in_place_reward=in_place, obj_to_target=dist)


def _midpoint_term(ri: RewardInputs, midpoint: jax.Array, scale: jax.Array) -> jax.Array:
    """Nearness of the puck to the wall task's midpoint (scaled distance)."""
    return tolerance(norm((ri.obj - midpoint) * scale), 0.0, TARGET_RADIUS,
                     norm((ri.obj_init - midpoint) * scale))


def _round_the_wall(ri: RewardInputs, part1: jax.Array, base: jax.Array, moving: jax.Array,
                    grasped: jax.Array) -> Outcome:
    """Both wall tasks' staging: `base`, and while the hand moves the puck (`moving`), a bonus
    for nearing the midpoint (`part1`) until the puck is past the wall (y > 0.75), then for
    nearing the goal; 10 at the goal."""
    obj, opened = ri.obj, ri.gripper
    to_target = norm(obj - ri.goal)
    part2 = tolerance(to_target, 0.0, TARGET_RADIUS, norm(ri.obj_init - ri.goal))
    bonus = 1.0 + jnp.where(obj[1] > 0.75, 4.0 + 3.0 * part2, 4.0 * part1)
    reward = jnp.where(moving, base + bonus, base)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    return outcome(reward, to_target <= 0.07, near_object=norm(obj - ri.tcp) <= 0.03,
                   grasp_success=ri.touching & (opened > 0) & lifted, grasp_reward=grasped,
                   in_place_reward=part2, obj_to_target=to_target)


def push_wall_reward(ri: RewardInputs) -> Outcome:
    """Push the puck round the wall: first to a midpoint left of it, then to the goal."""
    obj = ri.obj
    part1 = _midpoint_term(ri, jnp.stack([jnp.float32(-0.05), jnp.float32(0.77), obj[2]]),
                           jnp.array([3.0, 1.0, 1.0]))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
    moving = (norm(obj - ri.tcp) < 0.02) & (ri.gripper > 0)
    return _round_the_wall(ri, part1, 2.0 * grasped, moving, grasped)


def pick_place_wall_reward(ri: RewardInputs) -> Outcome:
    """Lift the puck over the wall (a midpoint 0.25 m up at y = 0.77), then place it."""
    obj = ri.obj
    part1 = _midpoint_term(ri, jnp.stack([ri.goal[0], jnp.float32(0.77), jnp.float32(0.25)]),
                           jnp.array([1.0, 1.0, 3.0]))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.005, high_density=False)
    moving = ((norm(obj - ri.tcp) < 0.02) & (ri.gripper > 0)
              & (obj[2] - 0.015 > ri.obj_init[2]))
    return _round_the_wall(ri, part1, hamacher_product(grasped, part1), moving, grasped)


def _in_box(p: jax.Array, x: tuple[float, float], y: tuple[float, float], z_below: float
            ) -> jax.Array:
    return (x[0] <= p[0]) & (p[0] <= x[1]) & (y[0] <= p[1]) & (p[1] <= y[1]) & (p[2] < z_below)


def reach_wall_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: head for the goal, aiming 1 m above it while the hand is low near the wall."""
    hand, goal = obs[0:3], obs[36:39]
    target = jnp.where(_in_box(hand, (-0.1, 0.3), (0.6, 0.8), 0.25),
                       goal + jnp.array([0.0, 0.0, 1.0]), goal)
    return act(move(hand, target, 5.0), 0.0)


def push_wall_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's (drop onto the puck, close, drag it left round the wall, then to the goal)
    with full grip effort, as `push`'s expert."""
    hand, goal = obs[0:3], obs[36:39]
    puck = obs[4:7] + jnp.array([-0.005, 0.0, 0.0])
    behind_wall = (-0.1 <= puck[0]) & (puck[0] <= 0.3) & (0.65 <= puck[1]) & (puck[1] <= 0.75)
    beside_wall = (((-0.15 < puck[0]) & (puck[0] < 0.05)) | ((0.15 < puck[0]) & (puck[0] < 0.35))
                   ) & (0.695 <= puck[1]) & (puck[1] <= 0.755)
    target = first((xy_dist(hand, puck) > 0.02, puck + jnp.array([0.0, 0.0, 0.2])),
                   (jnp.abs(hand[2] - puck[2]) > 0.04, puck + jnp.array([0.0, 0.0, 0.03])),
                   (behind_wall, hand + jnp.array([-1.0, 0.0, 0.0])),
                   (beside_wall, hand + jnp.array([0.0, 1.0, 0.0])),
                   default=goal)
    grab = ~((xy_dist(hand, obs[4:7]) > 0.02) | (jnp.abs(hand[2] - obs[6]) > 0.1))
    return act(move(hand, target, 10.0), jnp.where(grab, 1.0, 0.0))


def pick_place_wall_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: pick the puck, rise straight up clear of the wall, cross it at that height,
    then settle to the goal's height and onto the goal."""
    hand, goal = obs[0:3], obs[36:39]
    puck = obs[4:7] + jnp.array([-0.005, 0.0, 0.0])
    target = first((xy_dist(hand, puck) > 0.015, puck + jnp.array([0.0, 0.0, 0.1])),
                   ((jnp.abs(hand[2] - puck[2]) > 0.04) & (puck[2] < 0.03),
                    puck + jnp.array([0.0, 0.0, 0.03])),
                   (_in_box(hand, (-0.15, 0.35), (0.6, 0.8), 0.25),
                    hand + jnp.array([0.0, 0.0, 1.0])),
                   (_in_box(hand, (-0.15, 0.35), (0.6, 0.8), 0.35),
                    jnp.stack([goal[0], goal[1], hand[2]])),
                   (jnp.abs(hand[2] - goal[2]) > 0.01, jnp.stack([hand[0], hand[1], goal[2]])),
                   default=goal)
    grab = ~((xy_dist(hand, obs[4:7]) > 0.015) | (jnp.abs(hand[2] - obs[6]) > 0.1))
    return act(move(hand, target, 10.0), jnp.where(grab, 0.9, 0.0))


_REJECT = Reject(0, 0.15, j=3)


def _scene(obj: FreeObject) -> Scene:
    return Scene(static=(WALL,), obj=obj, obs_point=Point(ON_OBJECT), obs_quat=_QUAT)


SPECS = (
    TaskSpec("reach-wall", OBJ_LOW + (-0.05, 0.85, 0.05), OBJ_HIGH + (0.05, 0.9, 0.3),
             _scene(FLAT_PUCK), goal=from_vec(3), reward=reach_wall_reward,
             expert=reach_wall_expert, reject=_REJECT),
    TaskSpec("push-wall", OBJ_LOW + (-0.05, 0.85, 0.01), OBJ_HIGH + (0.05, 0.9, 0.02),
             _scene(PUCK), goal=affine((3, 0.0), (4, 0.0), (None, PUCK.rest_z)),
             reward=push_wall_reward, expert=push_wall_expert, reject=_REJECT,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, PUCK.rest_z))),
    TaskSpec("pick-place-wall", OBJ_LOW + (-0.05, 0.85, 0.05), OBJ_HIGH + (0.05, 0.9, 0.3),
             _scene(PUCK), goal=from_vec(3), reward=pick_place_wall_reward,
             expert=pick_place_wall_expert, reject=_REJECT),
)
