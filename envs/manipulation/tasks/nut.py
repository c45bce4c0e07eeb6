"""assembly and disassemble: put a ring nut onto a peg by its handle, or lift it off
(Meta-World's `sawyer_assembly_peg_v3` and `sawyer_disassemble_peg_v3`).

The free object's box is the nut's handle (what the pads hold and what Meta-World observes),
13 cm out from the ring's centre along +x. The ring meets the peg through object-only static
boxes (`object_part_box`): the ring as four bars round a square hole (its eight capsules, 1.9 cm
thick round a hole of radius 2.9 cm), so that the ring slides down the peg (radius 2 cm) only
when it is centred on it within 9 mm, and sits on the peg's top otherwise. Meta-World's ring
can also turn about the peg, which ours cannot.
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
    ANCHOR_A,
    ANCHOR_B,
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
    object_part_box,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, affine, from_vec

HANDLE_X = 0.13  # the handle's centre from the ring's
# the handle box (3.8 x 7.6 x 3.2 cm, its long side along x); the pads sink 2 mm into it
# (measured); the nut rests on its ring, 1.9 cm up
HANDLE = FreeObject(half=(0.038, 0.019, 0.016), mass=0.22, rest_z=0.0189, grip=0.034,
                    start=(HANDLE_X, 0.0, 0.0))
# the peg (radius 2 cm, 10 cm tall) under the ring's start (anchor A, 2.5 cm up)
PEG = Box((0.0, 0.0, 0.03), (0.02, 0.02, 0.05), anchor=ANCHOR_A)
RING_R, RING_THICK = 0.048, 0.019  # the capsules' centres from the ring's, their radius


def ring_on_peg(peg: Box) -> tuple[Box, ...]:
    """Object-only boxes that stop the handle where the ring's bars would overlap `peg`."""
    bars = (((RING_R, 0.0, 0.0), (RING_THICK, RING_R + RING_THICK, RING_THICK)),
            ((-RING_R, 0.0, 0.0), (RING_THICK, RING_R + RING_THICK, RING_THICK)),
            ((0.0, RING_R, 0.0), (RING_R + RING_THICK, RING_THICK, RING_THICK)),
            ((0.0, -RING_R, 0.0), (RING_R + RING_THICK, RING_THICK, RING_THICK)))
    return tuple(object_part_box(peg, (x - HANDLE_X, y, z), half, HANDLE.half)
                 for (x, y, z), half in bars)


UPRIGHT = (0.707, 0.0, 0.0, 0.707)  # the reward's "ideal" nut quaternion


def _caging_and_flatness(ri: RewardInputs, medium: bool) -> tuple[jax.Array, jax.Array]:
    """(caging the handle, treated as a sphere wherever along its 2 cm the hand is; how flat
    the nut lies), the two nut tasks' common terms (assembly's caging is medium density)."""
    handle = along_handle(ri.obj, ri.hand, 0.01)
    grab = gripper_caging(ri, handle, obj_radius=0.015, pad_success_thresh=0.02,
                          object_reach_radius=0.01, xz_thresh=0.01, high_density=not medium,
                          medium_density=medium)
    return grab, quat_nearness(ri.obs[7:11], UPRIGHT, 0.4)


def disassemble_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the handle plus the ring's nearness to 10 cm above the
    target, scaled by how flat the nut lies; success once the handle is above the target."""
    handle, target = ri.obj, ri.goal
    grab, flat = _caging_and_flatness(ri, medium=False)
    ring = ri.extra[0:3]
    in_place = 0.1 * (ring[2] > 0.02) + 0.9 * tolerance(
        norm(target + jnp.array([0.0, 0.0, 0.1]) - ring), 0.0, 0.02, 0.2)
    success = handle[2] > target[2]
    reward = jnp.where(success, 10.0, (2.0 * grab + 6.0 * in_place) * flat)
    return outcome(reward, success, near_object=flat, grasp_success=grab >= 0.5,
                   grasp_reward=grab, in_place_reward=in_place)


def assembly_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the handle (medium density) plus the ring's nearness to a
    funnel over the peg, scaled by how flat the nut lies; success once the ring's centre is
    within 2 cm of the peg's axis and below its top."""
    target = ri.goal
    grab, flat = _caging_and_flatness(ri, medium=True)
    ring = ri.extra[0:3]
    error = target - ring
    radius = norm(error[:2])
    success = (radius < 0.02) & (error[2] > 0.0)
    threshold = jnp.where(success, 0.02, 0.01)
    funnel = jnp.where(radius > threshold,
                       0.02 * jnp.log(jnp.maximum(radius - threshold, 1e-12)) + 0.2, 0.0)
    error = error.at[2].set(funnel - ring[2]) * jnp.array([1.0, 1.0, 3.0])
    lifted = (ring[2] > 0.02) | (radius < threshold)
    in_place = 0.1 * lifted + 0.9 * tolerance(norm(error), 0.0, 0.02, 0.4)
    reward = jnp.where(success, 10.0, (2.0 * grab + 6.0 * in_place) * flat)
    return outcome(reward, success, near_object=flat, grasp_success=grab >= 0.5,
                   grasp_reward=grab, in_place_reward=in_place)


def assembly_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: grasp the handle's inner end, rise to 14 cm over the peg's top, carry the
    ring over the peg, and drop down onto it. It aims the ring, not the hand, at the peg and
    drops once within 1 cm, not 2 (Meta-World's grip drags the handle by some millimetres as it
    closes, which puts its ring where its fixed hand offset aims; ours keeps the grasp point)."""
    hand = obs[0:3]
    grasp = obs[4:7] + jnp.array([-0.02, 0.0, 0.0])
    ring = obs[4:7] - jnp.array([HANDLE_X, 0.0, 0.0])
    over_peg = (hand + obs[36:39] - ring).at[2].set(obs[38] + 0.14)
    near = xy_dist(hand, grasp) <= 0.02
    target = first((~near, grasp + jnp.array([0.0, 0.0, 0.1])),
                   (xy_dist(hand, over_peg) <= 0.01, over_peg + jnp.array([0.0, 0.0, -0.2])),
                   (jnp.abs(hand[2] - grasp[2]) > 0.05, grasp + jnp.array([0.0, 0.0, 0.03])),
                   (jnp.abs(hand[2] - over_peg[2]) > 0.04,
                    jnp.stack([hand[0], hand[1], over_peg[2]])),
                   default=over_peg)
    grab = near & (jnp.abs(hand[2] - grasp[2]) <= 0.12)
    return act(move(hand, target, 10.0), jnp.where(grab, 0.6, 0.0))


def disassemble_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: above the handle's inner end, down to it, close, and rise."""
    hand = obs[0:3]
    grasp = obs[4:7] + jnp.array([-0.02, 0.0, 0.01])
    near = xy_dist(hand, grasp) <= 0.02
    target = first((~near, grasp + jnp.array([0.0, 0.0, 0.1])),
                   (jnp.abs(hand[2] - grasp[2]) > 0.03, grasp),
                   default=hand + jnp.array([0.0, 0.0, 0.1]))
    grab = near & (jnp.abs(hand[2] - grasp[2]) <= 0.07)
    return act(move(hand, target, 10.0), jnp.where(grab, 0.8, 0.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: Meta-World's `obj_init_pos`, the ring's centre at reset (anchor A)."""
    return v.anchors[1], jnp.zeros(7)


def _extra(v: View) -> jax.Array:
    """extra[0:3]: the ring's centre (the reward's `RoundNut` site)."""
    return jnp.zeros(4).at[0:3].set(v.obj - jnp.array([HANDLE_X, 0.0, 0.0]))


PEG_ON_GOAL = Box((0.0, 0.0, -0.05), (0.02, 0.02, 0.05), anchor=ANCHOR_B)  # top at the goal

SPECS = (
    TaskSpec("assembly", (0.0, 0.6, 0.02, -0.1, 0.75, 0.1), (0.0, 0.6, 0.02, 0.1, 0.85, 0.1),
             Scene(static=(PEG_ON_GOAL,) + ring_on_peg(PEG_ON_GOAL), obj=HANDLE,
                   obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (0.70710678, 0.0, 0.0, 0.70710678), WXYZ)),
             goal=from_vec(3), reward=assembly_reward, expert=assembly_expert, init=_init,
             extra=_extra, reject=Reject(0, 0.1, j=3)),
    TaskSpec("disassemble", (0.0, 0.6, 0.025, -0.1, 0.6, 0.1699),
             (0.1, 0.75, 0.02501, 0.1, 0.75, 0.1701),
             Scene(static=(PEG,) + ring_on_peg(PEG), obj=HANDLE, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (0.70710678, 0.0, 0.0, 0.70710678), WXYZ)),
             goal=affine((0, 0.0), (1, 0.0), (2, 0.15)), reward=disassemble_reward,
             expert=disassemble_expert, init=_init, extra=_extra, hand_init=(0.0, 0.4, 0.2),
             reject=Reject(0, 0.1, j=3)),
)
