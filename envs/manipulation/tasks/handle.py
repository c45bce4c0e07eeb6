"""handle-press, handle-press-side, handle-pull, handle-pull-side: a handle on a vertical slide in
front of (or, -side, turned 90 degrees beside) a base tower (Meta-World's handle_press.xml),
pressed down, or pulled up from the bottom of its travel.

Meta-World's hand pulls the handle up by friction: its closed fingers pressed against the grip's
front (handle-pull) or squeezing the lever arm (handle-pull-side) and rising. The pull tasks'
handle is a `friction` fixture: a finger pressed into it takes it along its motion across the
contact."""

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
    JOINT_SLIDE,
    ON_FIXTURE,
    Box,
    Fixture,
    Joint,
    Point,
    Scene,
    quarter_turn,
    turn_about_z,
)
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec

Vec3 = tuple[float, float, float]
PRESS_RADIUS = 0.02  # Meta-World's TARGET_RADIUS for these two tasks
# positions relative to the box body (anchor A) before the -side variants' turn. The base is the
# union of its three collision meshes' vertex bounds (their compiled AABBs are twice as loose)
BASE = (Box((0.0, 0.0, 0.11), (0.0865, 0.11, 0.11)),
        Box((0.0, -0.082, 0.014), (0.035, 0.028, 0.014)))
HANDLE = (Box((0.0, -0.216, 0.15), (0.07, 0.022, 0.022), round="yz"),  # the grip
          Box((0.0, -0.131, 0.15), (0.032, 0.075, 0.011)))  # the lever arm
HANDLE_START = (0.0, -0.216, 0.172)  # site handleStart at q = 0
HANDLE_RIGHT = (0.05, -0.216, 0.164)  # site handleRight at q = 0 (handle-pull's point)
HANDLE_CENTER = (0.0, -0.17, 0.15)  # site handleCenter at q = 0 (handle-pull-side's point)
GRIP_BELOW_RIGHT = 0.014  # the grip's axis below handleRight
GOAL_PRESS = (0.0, -0.216, 0.075)
GOAL_PULL = (0.0, -0.216, 0.172)
PULL_RADIUS = 0.05


def _turn(p: Vec3, side: bool) -> Vec3:
    return turn_about_z(p) if side else p


def _turn_box(b: Box, side: bool) -> Box:
    return quarter_turn(b) if side else b


def _scene(side: bool, pull: bool = False) -> Scene:
    # 2 g of handle on a slide damped at 30 N s/m: gravity sinks it by ~9 um per step. Pressed,
    # it starts just below the top of its travel; pulled, at the bottom (Meta-World's qpos -0.1)
    slide = Joint(JOINT_SLIDE, (0.0, 0.0, 1.0), -0.1, 0.0, init=-0.1 if pull else -0.001,
                  inertia=0.003, damping=30.0, gravity=-9.81 * 0.002 / 0.003)
    observed = (HANDLE_CENTER if side else HANDLE_RIGHT) if pull else HANDLE_START
    return Scene(static=tuple(_turn_box(b, side) for b in BASE),
                 fixture=Fixture(joints=(slide,), boxes=tuple(_turn_box(b, side)
                                                              for b in HANDLE), friction=pull),
                 obs_point=Point(ON_FIXTURE, _turn(observed, side)))


def press_reward(ri: RewardInputs) -> Outcome:
    obj, handle_init = ri.obj, ri.init[9:12]
    to_target = jnp.abs(obj[2] - ri.goal[2])
    in_place = tolerance(to_target, 0.0, PRESS_RADIUS,
                         jnp.abs(jnp.abs(handle_init[2] - ri.goal[2]) - PRESS_RADIUS))
    tcp_to_obj = norm(obj - ri.tcp)
    reach = tolerance(tcp_to_obj, 0.0, 0.02, jnp.abs(norm(handle_init - ri.init_tcp) - 0.02))
    pressed = to_target <= PRESS_RADIUS
    reward = 10.0 * jnp.where(pressed, 1.0, hamacher_product(reach, in_place))
    return outcome(reward, pressed, near_object=tcp_to_obj <= 0.05, grasp_success=1.0,
                   grasp_reward=reach, in_place_reward=in_place, obj_to_target=to_target)


def _pull_outcome(ri: RewardInputs, to_target: jax.Array, in_place: jax.Array,
                  grasped: jax.Array, lifted: jax.Array, success_radius: float) -> Outcome:
    """The pull tasks' common tail: grasp times in-place, a bonus while the tcp is at the
    handle's point with the gripper open and `lifted`, 10 within PULL_RADIUS."""
    obj = ri.obj
    tcp_to_obj = norm(obj - ri.tcp)
    near = (tcp_to_obj < 0.035) & (ri.gripper > 0) & lifted
    reward = hamacher_product(grasped, in_place)
    reward = jnp.where(near, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < PULL_RADIUS, 10.0, reward)
    return outcome(reward, to_target <= success_radius, near_object=tcp_to_obj <= 0.05,
                   grasp_success=(ri.gripper > 0) & (obj[2] - 0.03 > ri.obj_init[2]),
                   grasp_reward=grasped, in_place_reward=in_place, obj_to_target=to_target)


def pull_reward(ri: RewardInputs) -> Outcome:
    """handle-pull's v2 reward: caging the handle's point times its height's nearness to the
    goal's (margin: the goal's height above the box); 10 and success within 5 cm of it."""
    obj, target = ri.obj, ri.goal
    to_target = jnp.abs(target[2] - obj[2])
    in_place = tolerance(to_target, 0.0, PULL_RADIUS, jnp.abs(target[2] - ri.obj_init[2]))
    grasped = gripper_caging(ri, obj, obj_radius=0.022, pad_success_thresh=0.05,
                             object_reach_radius=0.01, xz_thresh=0.01, high_density=True)
    # Meta-World compares the point's y with the box's height here (so it always holds)
    return _pull_outcome(ri, to_target, in_place, grasped, obj[1] - 0.01 > ri.obj_init[2],
                         PULL_RADIUS)


def pull_side_reward(ri: RewardInputs) -> Outcome:
    """handle-pull-side's v2 reward: as handle-pull's on the 3-D distance of the handle's centre
    to the goal (caging a 3.2 cm lever arm), success within 8 cm."""
    obj, target = ri.obj, ri.goal
    to_target = norm(obj - target)
    in_place = tolerance(to_target, 0.0, PULL_RADIUS, norm(ri.obj_init - target))
    grasped = gripper_caging(ri, obj, obj_radius=0.032, pad_success_thresh=0.06,
                             object_reach_radius=0.01, xz_thresh=0.01, high_density=True)
    return _pull_outcome(ri, to_target, in_place, grasped, obj[2] - 0.01 > ri.obj_init[2], 0.08)


def pull_expert(obs: jax.Array) -> jax.Array:
    """Close the fingers, come down in front of the grip to its height, then press the fingers
    into its front and rise: the handle rises with them. (Meta-World's own returns a height
    where it means a point, and ratchets the handle up in strokes.)"""
    hand = obs[0:3]
    grip = obs[4:7] - jnp.array([0.0, 0.0, GRIP_BELOW_RIGHT])
    stand = grip - jnp.array([0.0, 0.07, 0.0])
    at_grip = (jnp.abs(hand[2] - grip[2]) < 0.015) & (jnp.abs(hand[0] - grip[0]) < 0.01) & (
        hand[1] < grip[1] - 0.03)
    # the closed fingers' front within 2 mm of the grip's: pressing on it
    pressing = at_grip & (hand[1] > grip[1] - 0.046 - 0.002)
    press = grip + jnp.array([0.0, -0.036, 0.0])
    target = first((hand[1] > grip[1] - 0.03, jnp.stack([hand[0], stand[1], hand[2]])),
                   (pressing, press + jnp.array([0.0, 0.0, 0.1])),
                   (at_grip, press),
                   (jnp.abs(hand[0] - grip[0]) > 0.01, stand.at[2].set(hand[2])),
                   default=stand)
    return act(move(hand, target, 25.0), 1.0)


def pull_side_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's route (above the handle, down to it, squeeze the lever arm, rise), but it
    rises only once the fingers press on the arm (Meta-World's rises as they close, and its
    soft contact lets the handle catch up; ours would take the handle down with it again)."""
    hand, handle = obs[0:3], obs[4:7]
    near = xy_dist(hand, handle) <= 0.01
    low = near & (jnp.abs(hand[2] - handle[2]) <= 0.03)
    squeezing = low & (obs[3] < 0.7)  # the pads on the arm's sides (6.4 cm apart)
    target = first((~near, handle + jnp.array([0.0, 0.0, 0.1])),
                   (squeezing, handle + jnp.array([0.0, 0.0, 0.2])),
                   default=handle)
    return act(move(hand, target, 25.0), jnp.where(low, 1.0, -1.0))


def press_expert(obs: jax.Array, y_offset: float = -0.02, grip: float = -1.0) -> jax.Array:
    """Meta-World's: above the handle, then straight down through it."""
    hand, handle = obs[0:3], obs[4:7] + jnp.array([0.0, y_offset, 0.0])
    target = jnp.where(xy_dist(hand, handle) > 0.02, handle + jnp.array([0.0, 0.0, 0.2]),
                       handle + jnp.array([0.0, 0.0, -0.5]))
    return act(move(hand, target, 25.0), grip)


def press_side_expert(obs: jax.Array) -> jax.Array:
    return press_expert(obs, 0.0, 1.0)


def _handle_init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: the box; consts: the handle's point at reset (Meta-World's _handle_init_pos)."""
    return v.anchors[1], jnp.zeros(7).at[0:3].set(v.point)


def _pull_side_init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: the handle's centre at reset (Meta-World's, updated after the reset)."""
    return v.point, jnp.zeros(7)


def _goal(p: Vec3, side: bool):
    return from_vec(0, _turn(p, side))


_FRONT = ((-0.1, 0.8, -0.001), (0.1, 0.9, 0.001))
_SIDE = ((-0.35, 0.65, -0.001), (-0.25, 0.75, 0.001))

SPECS = (
    TaskSpec("handle-press", *_FRONT, _scene(False),
             goal=_goal(GOAL_PRESS, False), reward=press_reward, expert=press_expert,
             init=_handle_init),
    TaskSpec("handle-press-side", *_SIDE, _scene(True),
             goal=_goal(GOAL_PRESS, True), reward=press_reward, expert=press_side_expert,
             init=_handle_init),
    TaskSpec("handle-pull", *_FRONT, _scene(False, pull=True),
             goal=_goal(GOAL_PULL, False), reward=pull_reward, expert=pull_expert),
    TaskSpec("handle-pull-side", (-0.35, 0.65, 0.0), (-0.25, 0.75, 0.0), _scene(True, pull=True),
             goal=_goal(GOAL_PULL, True), reward=pull_side_reward, expert=pull_side_expert,
             init=_pull_side_init),
)
