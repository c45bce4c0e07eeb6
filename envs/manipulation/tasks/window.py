"""window-open, window-close: a sash sliding along x in a frame, pushed by its handle."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, first, move, xy_dist
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
)
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec, joint_extra

FRAME = (  # around anchor A = rand_vec: sides, top and bottom bars, base, the fixed pane
    Box((-0.216, 0.0, 0.0), (0.015, 0.03, 0.181)),
    Box((0.216, 0.0, 0.0), (0.015, 0.03, 0.181)),
    Box((0.0, 0.0, 0.166), (0.201, 0.03, 0.015)),
    Box((0.0, 0.0, -0.166), (0.201, 0.03, 0.015)),
    Box((0.0, 0.0, -0.192), (0.25, 0.06, 0.01)),
    Box((0.1, 0.013, 0.0), (0.1, 0.012, 0.15)),
)
SASH = (  # the sliding sash and its handle, relative to A with the window shut
    Box((-0.014, -0.095, 0.0), (0.008, 0.008, 0.053)),
    Box((-0.014, -0.06, 0.045), (0.008, 0.043, 0.008)),
    Box((-0.014, -0.06, -0.045), (0.008, 0.043, 0.008)),
    Box((-0.1, -0.013, 0.0), (0.1, 0.012, 0.15)),
)
TARGET_RADIUS = 0.05
HANDLE_RADIUS = 0.02


def _window(init: float, handle_x: float) -> Scene:
    slide = Joint(JOINT_SLIDE, (1.0, 0.0, 0.0), 0.0, 0.2, init=init, inertia=0.63879,
                  damping=2.0)
    return Scene(static=FRAME, fixture=Fixture(joints=(slide,), boxes=SASH),
                 obs_point=Point(ON_FIXTURE, (handle_x, -0.095, 0.0)))


def _window_reward(ri: RewardInputs, sigmoid: str) -> Outcome:
    obj = ri.obj
    handle_init = ri.init[9:12]
    to_target = jnp.abs(obj[0] - ri.goal[0])
    # window-open measures the start from obj_init (the window base), window-close from the
    # handle
    init_x = handle_init[0] if sigmoid == "gaussian" else ri.obj_init[0]
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS,
                         jnp.abs(jnp.abs(init_x - ri.goal[0]) - TARGET_RADIUS))
    tcp_to_obj = norm(obj - ri.tcp)
    reach = tolerance(tcp_to_obj, 0.0, HANDLE_RADIUS,
                      jnp.abs(norm(handle_init - ri.init_tcp) - HANDLE_RADIUS), sigmoid)
    reward = 10.0 * hamacher_product(reach, in_place)
    return outcome(reward, to_target <= TARGET_RADIUS, near_object=tcp_to_obj <= 0.05,
                   grasp_success=1.0, grasp_reward=reach, in_place_reward=in_place,
                   obj_to_target=to_target)


def window_open_reward(ri: RewardInputs) -> Outcome:
    return _window_reward(ri, "long_tail")


def window_close_reward(ri: RewardInputs) -> Outcome:
    return _window_reward(ri, "gaussian")


def _window_expert(offset_x: float, push_x: float):
    def expert(obs: jax.Array) -> jax.Array:
        hand = obs[0:3]
        handle = obs[4:7] + jnp.array([offset_x, -0.03, -0.08])
        above = 0.3 if push_x > 0 else 0.25
        target = first((xy_dist(hand, handle) > 0.04, handle + jnp.array([0.0, 0.0, above])),
                       (jnp.abs(hand[2] - handle[2]) > 0.02, handle),
                       default=handle + jnp.array([push_x, 0.0, 0.0]))
        return act(move(hand, target, 25.0), 1.0)

    return expert


def _open_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.anchors[1], jnp.zeros(7).at[0:3].set(v.point)


def _close_init(v: View) -> tuple[jax.Array, jax.Array]:
    # measured before the reset slides the sash open: the shut handle + 0.2 in x
    shut = v.anchors[1] + jnp.array([0.01 + 0.2, -0.095, 0.0])
    return v.anchors[1], jnp.zeros(7).at[0:3].set(shut)


SPECS = (
    TaskSpec("window-open", (-0.1, 0.7, 0.16), (0.1, 0.9, 0.16), _window(0.0, -0.04),
             goal=from_vec(0, (0.2, 0.0, 0.0)), reward=window_open_reward,
             expert=_window_expert(-0.03, 0.1), init=_open_init, extra=joint_extra,
             hand_init=(0.0, 0.4, 0.2)),
    TaskSpec("window-close", (0.0, 0.75, 0.2), (0.0, 0.9, 0.2), _window(0.2, 0.01),
             goal=from_vec(0), reward=window_close_reward, expert=_window_expert(0.03, -0.1),
             init=_close_init, extra=joint_extra, hand_init=(0.0, 0.4, 0.2),
             reset_obs_joint=(0.0, 0.0)),
)
