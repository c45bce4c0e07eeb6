"""hammer: pick up a hammer by its handle and drive a nail into a block with its head
(Meta-World's `sawyer_hammer_v3`).

The free object's box is the handle (what the pads hold; Meta-World observes the hammer's
body, the handle's centre); the head, 16 cm along it, is the object's attached part, which meets
the nail (a slide fixture) while the hammer is held. The hammer rests on its head and the
handle's end, tilted by 3 degrees (Meta-World's observed quaternion); ours does not turn.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    along_handle,
    gripper_caging,
    norm,
    outcome,
    quat_nearness,
    tolerance,
)
from envs.manipulation.scene import (
    ANCHOR_WORLD,
    JOINT_SLIDE,
    ON_FIXTURE,
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    Box,
    Fixture,
    FreeObject,
    Joint,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, const, joint_extra

HEAD_X = 0.16
# the handle (a capsule of radius 2 cm, 28 cm long) and the head (its striking faces 7.2 cm
# either side of the handle along y, radius 3.8 cm); the hammer's body rests 2.8 cm up, and the
# pads hold the handle 3.7 cm apart (measured)
HAMMER = FreeObject(half=(0.14, 0.02, 0.02), mass=1.1, rest_z=0.0283, grip=0.037,
                    part=((HEAD_X, 0.0, 0.0), (0.038, 0.072, 0.038)))
BLOCK_AT = (0.24, 0.85)
BLOCK = (
    Box((BLOCK_AT[0], BLOCK_AT[1], 0.172), (0.1, 0.1, 0.048), anchor=ANCHOR_WORLD),
    Box((BLOCK_AT[0] + 0.058, BLOCK_AT[1], 0.11), (0.042, 0.1, 0.014), anchor=ANCHOR_WORLD),
    Box((BLOCK_AT[0] - 0.058, BLOCK_AT[1], 0.11), (0.042, 0.1, 0.014), anchor=ANCHOR_WORLD),
    Box((BLOCK_AT[0], BLOCK_AT[1], 0.048), (0.1, 0.1, 0.048), anchor=ANCHOR_WORLD),
)
# the nail slides 10 cm into the block along +y (its link 0.089 kg, armature 0.001, damping 2)
NAIL = Fixture(
    joints=(Joint(JOINT_SLIDE, (0.0, 1.0, 0.0), 0.0, 0.1, inertia=0.0896, damping=2.0),),
    origin=(BLOCK_AT[0], BLOCK_AT[1] - 0.21, 0.11), anchor=ANCHOR_WORLD,
    boxes=(Box((0.0, 0.0, 0.0), (0.03, 0.009, 0.03), round="xz"),
           Box((0.0, 0.057, 0.0), (0.01, 0.06, 0.01), round="xz")),
)
GOAL = (BLOCK_AT[0], BLOCK_AT[1] - 0.11, 0.11)
HANDLE_HALF_LENGTH = 0.07  # Meta-World's HAMMER_HANDLE_LENGTH / 2


def hammer_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the handle plus the head's nearness to the goal, scaled by
    how flat the hammer lies; success once the nail is in by 9 cm (10 then only where the
    shaped reward is above 5)."""
    hand, hammer, target = ri.hand, ri.obj, ri.goal
    head = hammer + jnp.array([HEAD_X, 0.06, 0.0])
    flat = quat_nearness(ri.obs[7:11], (1.0, 0.0, 0.0, 0.0), 0.4)
    grab = gripper_caging(ri, along_handle(hammer, hand, HANDLE_HALF_LENGTH), obj_radius=0.015,
                          pad_success_thresh=0.02,
                          object_reach_radius=0.01, xz_thresh=0.01, high_density=True)
    in_place = 0.1 * (head[2] > 0.02) + 0.9 * tolerance(norm(target - head), 0.0, 0.02, 0.2)
    reward = (2.0 * grab + 6.0 * in_place) * flat
    success = ri.extra[0] > 0.09
    reward = jnp.where(success & (reward > 5.0), 10.0, reward)
    return outcome(reward, success, near_object=flat, grasp_success=grab >= 0.5,
                   grasp_reward=grab, in_place_reward=in_place)


def hammer_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: grasp the handle near the head, lift to 16 cm and line the head up with the
    nail, then swing it along +y into the nail."""
    hand = obs[0:3]
    grasp = obs[4:7] + jnp.array([-0.04, 0.0, -0.01])
    goal = jnp.array([GOAL[0] - 0.19, GOAL[1] - 0.03, GOAL[2] + 0.05])
    near = xy_dist(hand, grasp) <= 0.04
    xz = jnp.array([0, 2])
    target = first((~near, grasp + jnp.array([0.0, 0.0, 0.1])),
                   ((jnp.abs(hand[2] - grasp[2]) > 0.05) & (grasp[2] < 0.03),
                    grasp + jnp.array([0.0, 0.0, 0.03])),
                   (norm(hand[xz] - goal[xz]) > 0.02, jnp.stack([goal[0], hand[1], goal[2]])),
                   default=goal)
    grab = near & (jnp.abs(hand[2] - grasp[2]) <= 0.1)
    return act(move(hand, target, 10.0), jnp.where(grab, 0.8, 0.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: Meta-World's `hammer_init_pos`, the variant (anchor A)."""
    return v.anchors[1], jnp.zeros(7)


SPECS = (
    TaskSpec("hammer", (-0.1, 0.4, 0.0), (0.1, 0.5, 0.0),
             Scene(static=BLOCK, fixture=NAIL, obj=HAMMER, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (0.99956, 0.0, -0.0297, 0.0), WXYZ),
                   obs_point2=Point(ON_FIXTURE), obs_quat2=Quat(QUAT_CONST)),
             goal=const(GOAL), reward=hammer_reward, expert=hammer_expert, init=_init,
             extra=joint_extra, hand_init=(0.0, 0.4, 0.2)),
)
