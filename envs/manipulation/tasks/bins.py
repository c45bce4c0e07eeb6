"""bin-picking: pick a cube out of one open bin and drop it into the other (Meta-World's
`sawyer_bin_picking_v3`)."""

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
    WXYZ,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, affine, const

CUBE = FreeObject(half=(0.02, 0.02, 0.02), mass=0.1, rest_z=0.01994, grip=0.0257)
START_BIN, GOAL_BIN = (-0.12, 0.7), (0.12, 0.7)


def open_box(x: float, y: float, z: float = 0.0, anchor: int = ANCHOR_WORLD
             ) -> tuple[Box, ...]:
    """The four walls and floor of Meta-World's open bin (20 cm square, 6 cm high; box-close's
    box is the same) with its bottom centred at (x, y, z) from `anchor`."""
    return (
        Box((x, y - 0.095, z + 0.03), (0.1, 0.005, 0.03), anchor=anchor),
        Box((x, y + 0.095, z + 0.03), (0.1, 0.005, 0.03), anchor=anchor),
        Box((x + 0.095, y, z + 0.03), (0.005, 0.09, 0.03), anchor=anchor),
        Box((x - 0.095, y, z + 0.03), (0.005, 0.09, 0.03), anchor=anchor),
        Box((x, y, z + 0.005), (0.1, 0.1, 0.005), anchor=anchor),
    )


# the cube starts on the start bin's floor (Meta-World reads its height off the settled model)
CUBE_START_Z = 0.01 + 0.02
TARGET_RADIUS = 0.05


def bin_picking_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: grasp times in-place, and once the cube is lifted in the hand,
    in-place kept above a pair of funnels round the two bins (the hand clear of their walls).
    The in-place margin is the cube's distance to the target at the start (`init[9]`)."""
    hand, obj, target = ri.hand, ri.obj, ri.goal
    to_target = norm(obj - target)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, ri.init[9])
    radii = jnp.stack([norm(hand[:2] - ri.obj_init[:2]), norm(hand[:2] - target[:2])])
    funnels = jnp.where(radii > 0.03, 0.02 * jnp.log(jnp.maximum(radii - 0.03, 1e-12)) + 0.2,
                        0.0)
    floor = jnp.min(funnels)
    above_floor = jnp.where(hand[2] >= floor, 1.0,
                            tolerance(jnp.maximum(floor - hand[2], 0.0), 0.0, 0.01, 0.05))
    grasped = gripper_caging(ri, obj, obj_radius=0.015, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.01,
                             desired_gripper_effort=0.7, high_density=True)
    near = norm(obj - hand) < 0.04
    pinched_without_obj = ri.gripper < 0.43
    lifted = obj[2] - 0.02 > ri.obj_init[2]
    grasp_success = near & lifted & ~pinched_without_obj
    reward = hamacher_product(grasped, in_place)
    reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * hamacher_product(above_floor, in_place),
                       reward)
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, reward)
    return outcome(reward, to_target <= 0.05, near_object=near, grasp_success=grasp_success,
                   grasp_reward=grasped, in_place_reward=in_place, obj_to_target=to_target)


def bin_picking_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's route: over the cube (aimed towards the bin's middle in y, so the closing
    fingers drag it off a wall), down, close, rise to 18 cm, over the goal bin, down into it.
    Unlike Meta-World's it waits for the fingers to close before rising (its own rises at a
    height that the hand, stopped by the mocap's 7 cm floor, reaches only by overshooting)."""
    hand = obs[0:3]
    cube = obs[4:7].at[1].set(jnp.clip(obs[5], 0.675, 0.725))
    near = xy_dist(hand, cube) < 0.02
    at_cube = near & (hand[2] - cube[2] < 0.055)
    held = at_cube & (obs[3] < 0.6)
    over_bin = xy_dist(hand, jnp.array(GOAL_BIN)) < 0.02
    target = first((held & ~over_bin & (hand[2] < 0.15), hand + jnp.array([0.0, 0.0, 0.1])),
                   (held & ~over_bin, jnp.array([GOAL_BIN[0], GOAL_BIN[1], 0.18])),
                   (held, jnp.array([GOAL_BIN[0], GOAL_BIN[1], 0.02])),
                   (~near, cube + jnp.array([0.0, 0.0, 0.18])),
                   default=cube + jnp.array([0.0, 0.0, 0.035]))
    return act(move(hand, target, 25.0), jnp.where(at_cube, 0.6, -1.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init, and the in-place margin: the cube's distance to the target at the start
    (Meta-World fixes it at its first reward call, one step in; the resting cube has not moved)."""
    return v.obj, jnp.zeros(7).at[0].set(norm(v.obj - v.goal))


SPECS = (
    TaskSpec("bin-picking", (-0.21, 0.65, 0.02, 0.1199, 0.699, -0.001),
             (-0.03, 0.75, 0.02, 0.1201, 0.701, 0.001),
             Scene(static=open_box(*START_BIN) + open_box(*GOAL_BIN), obj=CUBE,
                   obs_point=Point(ON_OBJECT), obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0),
                                                             WXYZ)),
             goal=const((GOAL_BIN[0], GOAL_BIN[1], 0.0)), reward=bin_picking_reward,
             expert=bin_picking_expert, init=_init,
             anchor_a=affine((0, 0.0), (1, 0.0), (None, CUBE_START_Z)),
             mocap_low=(-0.5, 0.4, 0.07)),
)
