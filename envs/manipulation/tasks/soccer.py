"""soccer: kick a ball into a goal (Meta-World's `sawyer_soccer_v3`).

The ball rolls without friction, as Meta-World's does (a sphere on a plane rolls on at its
speed until it meets something), and the hand pushes it along the contact normal. The goal is
four boxes (the bounds of Meta-World's collision meshes: two sides, the back, the crossbar);
its opening faces -y. Meta-World's own expert presses the ball into the table until its soft
contact squeezes it out forwards, which a hard contact does not do: ours dribbles the ball into
the goal with a corner of the closed fingers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, xy_dist
from envs.manipulation.hand import FINGER_HALF, FINGER_Y, LEFT_RANGE
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    norm,
    outcome,
    pad_caging,
    tolerance,
)
from envs.manipulation.scene import (
    ANCHOR_B,
    ON_OBJECT,
    QUAT_CONST,
    XYZW,
    Box,
    FreeObject,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import Reject, TaskSpec, from_vec

BALL = FreeObject(half=(0.026, 0.026, 0.026), mass=0.04, rest_z=0.0259, grip=0.048, ball=True,
                  friction=0.0)
# the goal, relative to its body (anchor B, on the table): the opening spans x +-0.09 and is
# 6.4 cm deep
GOAL_NET = (
    Box((0.0965, 0.0, 0.0825), (0.0062, 0.0636, 0.0825), anchor=ANCHOR_B),
    Box((-0.0965, 0.0, 0.0825), (0.0062, 0.0636, 0.0825), anchor=ANCHOR_B),
    Box((0.0, 0.0312, 0.0825), (0.1027, 0.0323, 0.0825), anchor=ANCHOR_B),
    Box((0.0, -0.0251, 0.1593), (0.0905, 0.0386, 0.0057), anchor=ANCHOR_B),
)
TARGET_RADIUS = 0.07
OBJ_RADIUS = 0.013


def soccer_reward(ri: RewardInputs) -> Outcome:
    """Meta-World's v2 reward: caging the ball (its sweep-style caging) plus the ball's nearness
    to the goal (x scaled by 3), cut for a ball past the goal line outside the posts; its
    in-place margin is the ball's distance from its start, read live as Meta-World does."""
    obj, target = ri.obj, ri.goal
    scale = jnp.array([3.0, 1.0, 1.0])
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = norm((obj - target) * scale)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS, norm((obj - ri.obj_init) * scale))
    goal_line = target[1] - 0.1
    wide = (obj[1] > goal_line) & (jnp.abs(obj[0] - target[0]) > 0.1)
    in_place = jnp.where(wide, jnp.clip(in_place - 2.0 * (obj[1] - goal_line) / (1.0 - goal_line),
                                        0.0, 1.0), in_place)
    caging, gripping = pad_caging(ri, obj, OBJ_RADIUS, pad_margin=0.05, xz_margin_thresh=0.005,
                                  grip_margin=OBJ_RADIUS + 0.01, grip_threshold=0.95)
    grasped = (caging + gripping) / 2
    reward = jnp.where(to_target < TARGET_RADIUS, 10.0, 3.0 * grasped + 6.5 * in_place)
    distance = norm(obj - target)
    return outcome(reward, distance <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (ri.gripper > 0)
                   & (obj[2] - 0.02 > ri.obj_init[2]),
                   grasp_reward=grasped, in_place_reward=in_place, obj_to_target=distance)


# the closed fingers' box, relative to the hand: its +y face and its x half width
_CLOSED_Y = float(FINGER_Y + LEFT_RANGE[0] + FINGER_HALF[1])
_FINGERS_X = float(FINGER_HALF[0])
DRIBBLE_SPEED = 0.8
DRIBBLE_DEPTH = 0.008
MOUTH = 0.0636  # the mouth's depth in front of the goal's point
_DRIBBLE_Z = 0.05  # the mocap's floor: the fingertips 4.5 cm lower, below the ball's centre


def soccer_expert(obs: jax.Array) -> jax.Array:
    """Dribble: close the fingers, come down behind the ball on the line from the goal through
    it, and push it along that line with the front corner of the fingers (the one on the
    goal's side), the corner held a few millimetres inside the ball's surface on the line, so
    that each step's push comes out along the line from the ball's current place (the hand
    lifts and comes down behind it again when the line turns)."""
    hand, ball, goal = obs[0:3], obs[4:7], obs[36:39]
    # aimed at the point of the back of the net that puts the ball's path through the middle of
    # the mouth (a line to the goal's centre from well off to the side clips the post), at most
    # 5 cm off the centre
    depth = jnp.maximum(goal[1] - ball[1] - MOUTH, 0.02)
    shift = jnp.clip((goal[0] - ball[0]) * MOUTH / depth, -0.05, 0.05)
    to_goal = (goal + jnp.stack([shift, 0.0, 0.0]) - ball).at[2].set(0.0)
    aim = to_goal / (norm(to_goal) + 1e-6)
    side = jnp.where(aim[0] >= 0.0, 1.0, -1.0)
    corner = jnp.stack([side * _FINGERS_X, jnp.float32(_CLOSED_Y), 0.0])
    r = BALL.half[0]
    push = (ball - aim * (r - DRIBBLE_DEPTH) - corner).at[2].set(_DRIBBLE_Z)
    stand = (ball - aim * (r + 0.03) - corner).at[2].set(_DRIBBLE_Z)
    rel = (hand - stand).at[2].set(0.0)
    across = jnp.abs(rel[0] * aim[1] - rel[1] * aim[0])
    along = jnp.sum(rel * aim)
    dribbling = (hand[2] < _DRIBBLE_Z + 0.02) & (across < 0.01) & (along > -0.01) & (
        along < 0.03 + DRIBBLE_DEPTH + 0.01)
    target = first((dribbling, push),
                   (xy_dist(hand, stand) <= 0.01, stand),
                   default=stand.at[2].set(0.12))
    step = jnp.clip((target - hand) * 25.0, -1.0, 1.0)
    return act(jnp.where(dribbling, step * DRIBBLE_SPEED, step), 1.0)


SPECS = (
    TaskSpec("soccer", (-0.1, 0.6, 0.03, -0.1, 0.8, 0.0), (0.1, 0.7, 0.03, 0.1, 0.9, 0.0),
             Scene(static=GOAL_NET, obj=BALL, obs_point=Point(ON_OBJECT),
                   obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), XYZW)),
             goal=from_vec(3), reward=soccer_reward, expert=soccer_expert,
             reject=Reject(0, 0.15, j=3)),
)
