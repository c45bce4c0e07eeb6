"""peg-unplug-side: pull a plug sideways out of the socket in a wall (Meta-World's
`sawyer_peg_unplug_side_v3`).

The free object's box is the plug's grip (its square body and its ball, 11 cm along x), which
Meta-World's expert holds lightly while it drags the plug out along +x. The plug's head is
wedged in the socket (it is wider than the hole): while the head is in the wall, object-only
static boxes let the plug slide out along +x only (Meta-World's plug also tilts by about 10
degrees as the hand presses on it, which ours cannot).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    gripper_caging,
    norm,
    outcome,
    tolerance,
)
from envs.manipulation.scene import (
    ANCHOR_A,
    ON_OBJECT,
    QUAT_CONST,
    WXYZ,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, affine

# Positions relative to anchor A, the wall's body (rand_vec); the plug's body starts at
# (0.044, 0, 0.131) from it, and Meta-World observes its end, 4 cm further along x
PLUG = (0.044, 0.0, 0.131)
GRIP_X = 0.045  # the grip box's centre from the plug's body (from -0.01 to 0.1)
GRIP = FreeObject(half=(0.055, 0.04, 0.04), mass=0.08, rest_z=0.04, grip=0.0757,
                  start=(PLUG[0] + GRIP_X, 0.0, PLUG[2]))
END_FROM_GRIP = -0.005  # the observed end (site pegEnd) from the grip box's centre
# the wall and its socket (the wall body is 9.9 cm up)
WALL = (
    Box((0.0, 0.061, 0.131), (0.025, 0.039, 0.022)),
    Box((0.0, 0.0, 0.176), (0.025, 0.1, 0.023)),
    Box((0.0, 0.0, 0.054), (0.025, 0.1, 0.055)),
    Box((0.0, 0.056, 0.083), (0.025, 0.045, 0.011)),
    Box((0.0, -0.061, 0.131), (0.025, 0.039, 0.022)),
)
# the head (a ball of radius 3 cm, 3.5 cm behind the plug's body) leaves the wall's face
# (x = 0.025) once the plug has moved this far out
HEAD_OUT = 0.025 + 0.035 + 0.03 - PLUG[0]
_W = 0.05  # half thickness of the socket's stops


def _socket_stops() -> tuple[Box, ...]:
    """Object-only boxes that hold the grip box in line with the socket (across y and z, and
    against being pushed in: the plug's flange rests on the wall's face) until the head is out."""
    c = GRIP.start
    h = GRIP.half
    reach = c[0] - h[0] + HEAD_OUT  # the stops end where the grip box's back face leaves them
    x_half = (reach + 0.2) / 2
    x = reach - x_half
    return (
        Box((x, c[1] + h[1] + _W, c[2]), (x_half, _W, 0.2), anchor=ANCHOR_A, hand=False),
        Box((x, c[1] - h[1] - _W, c[2]), (x_half, _W, 0.2), anchor=ANCHOR_A, hand=False),
        Box((x, c[1], c[2] + h[2] + _W), (x_half, 0.2, _W), anchor=ANCHOR_A, hand=False),
        Box((x, c[1], c[2] - h[2] - _W), (x_half, 0.2, _W), anchor=ANCHOR_A, hand=False),
        Box((c[0] - h[0] - _W, c[1], c[2]), (_W, 0.2, 0.2), anchor=ANCHOR_A, hand=False),
    )


def peg_unplug_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the plug, and once it is out by 1.5 cm with the hand on
    it, nearness to the target; 10 within 5 cm, success within 7 cm."""
    obj, target = ri.obj, ri.goal
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = norm(obj - target)
    grasped = gripper_caging(ri, obj, obj_radius=0.025, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.005,
                             desired_gripper_effort=0.8, high_density=True)
    in_place = tolerance(to_target, 0.0, 0.05, norm(ri.obj_init - target))
    grasp_success = (ri.gripper > 0.5) & (obj[0] - ri.obj_init[0] > 0.015)
    reward = jnp.where(grasp_success & (tcp_to_obj < 0.035),
                       1.0 + 2.0 * grasped + 5.0 * in_place, 2.0 * grasped)
    reward = jnp.where(to_target <= 0.05, 10.0, reward)
    return outcome(reward, to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=grasp_success, grasp_reward=grasped, in_place_reward=in_place,
                   obj_to_target=to_target)


def peg_unplug_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: over the plug's body, down to 15 cm, close lightly and drag it along +x;
    but it closes only at that height (Meta-World's starts closing 15 cm higher, and its pads
    slide down the plug as they close; ours would hold it where they first touch)."""
    hand = obs[0:3]
    grasp = obs[4:7] + jnp.array([-0.02, 0.0, 0.035])
    near = xy_dist(hand, grasp) <= 0.04
    target = first((~near, grasp + jnp.array([0.0, 0.0, 0.2])),
                   (jnp.abs(hand[2] - 0.15) > 0.02, jnp.stack([grasp[0], grasp[1], 0.15])),
                   default=hand + jnp.array([0.01, 0.0, 0.0]))
    grab = near & (jnp.abs(hand[2] - 0.15) <= 0.02)
    return act(move(hand, target, 25.0), jnp.where(grab, 0.1, -1.0))


def _init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: Meta-World's, the plug's observed end at reset."""
    return v.point, jnp.zeros(7)


SPECS = (
    TaskSpec("peg-unplug-side", (-0.25, 0.6, -0.001), (-0.15, 0.8, 0.001),
             Scene(static=WALL + _socket_stops(), obj=GRIP,
                   obs_point=Point(ON_OBJECT, (END_FROM_GRIP, 0.0, 0.0)),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ)),
             goal=affine((0, PLUG[0] + 0.15), (1, PLUG[1]), (2, PLUG[2])),
             reward=peg_unplug_reward, expert=peg_unplug_expert, init=_init),
)
