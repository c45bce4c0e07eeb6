"""handle-press and handle-press-side: a handle on a vertical slide in front of (or, -side,
turned 90 degrees beside) a base tower (Meta-World's handle_press.xml), pressed down.

(handle-pull and handle-pull-side are not built yet: Meta-World's fingertip claws lift the low
grip from below its axis, which the finger boxes here, as tall as the claws, cannot.)"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, move, xy_dist
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
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
GOAL_PRESS = (0.0, -0.216, 0.075)


def _turn(p: Vec3, side: bool) -> Vec3:
    return turn_about_z(p) if side else p


def _turn_box(b: Box, side: bool) -> Box:
    return quarter_turn(b) if side else b


def _scene(side: bool) -> Scene:
    # 2 g of handle on a slide damped at 30 N s/m: gravity sinks it by ~9 um per step
    slide = Joint(JOINT_SLIDE, (0.0, 0.0, 1.0), -0.1, 0.0, init=-0.001, inertia=0.003,
                  damping=30.0, gravity=-9.81 * 0.002 / 0.003)
    return Scene(static=tuple(_turn_box(b, side) for b in BASE),
                 fixture=Fixture(joints=(slide,), boxes=tuple(_turn_box(b, side)
                                                              for b in HANDLE)),
                 obs_point=Point(ON_FIXTURE, _turn(HANDLE_START, side)))


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
)
