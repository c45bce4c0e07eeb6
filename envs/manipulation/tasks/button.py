"""button-press-topdown: a spring-loaded button in a box, pressed from above."""

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
    QUAT_CONST,
    WXYZ,
    Box,
    Fixture,
    Joint,
    Point,
    Quat,
    Scene,
)
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec, joint_extra

BOX_TOPDOWN = (  # the button box around anchor A = rand_vec, an opening in its top for the button
    Box((0.0, 0.072, -0.012), (0.12, 0.048, 0.102)),
    Box((0.0, -0.072, -0.012), (0.12, 0.048, 0.102)),
    Box((-0.073, 0.0, -0.012), (0.047, 0.024, 0.102)),
    Box((0.073, 0.0, -0.012), (0.047, 0.024, 0.102)),
)
BUTTON_TOPDOWN = (  # the button, relative to A, released
    Box((0.0, 0.0, 0.1835), (0.043, 0.043, 0.011)),
    Box((0.0, 0.0, 0.1665), (0.026, 0.026, 0.008)),
    Box((0.0, 0.0, 0.1285), (0.021, 0.021, 0.039)),
)
PRESS_DEPTH = 0.0935  # |hole z - buttonStart z| (Meta-World's _obj_to_target_init)


def _topdown_scene() -> Scene:
    # spring 0.5 N/m towards q = 0.5 (beyond the upper limit), button mass 0.01 kg
    slide = Joint(JOINT_SLIDE, (0.0, 0.0, 1.0), -0.06, 0.0, init=0.00046, inertia=0.011,
                  damping=1.0, stiffness=0.5, springref=0.5, gravity=-9.81 * 0.01 / 0.011)
    return Scene(static=BOX_TOPDOWN,
                 fixture=Fixture(joints=(slide,), origin=(0.0, 0.0, 0.0),
                                 boxes=BUTTON_TOPDOWN),
                 obs_point=Point(ON_FIXTURE, (0.0, 0.0, 0.193)),
                 obs_quat=Quat(QUAT_CONST, (0.70739, -0.70683, 0.0, 0.0), WXYZ))


def topdown_reward(ri: RewardInputs) -> Outcome:
    obj = ri.obj
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = jnp.abs(ri.goal[2] - obj[2])
    near = tolerance(tcp_to_obj, 0.0, 0.01, norm(obj - ri.init_tcp))
    pressed = tolerance(to_target, 0.0, 0.005, ri.init[9])
    reward = 5.0 * hamacher_product(1.0 - ri.gripper, near)
    reward = jnp.where(tcp_to_obj <= 0.03, reward + 5.0 * pressed, reward)
    return outcome(reward, to_target <= 0.024, near_object=tcp_to_obj <= 0.05,
                   grasp_success=ri.gripper > 0, grasp_reward=near, in_place_reward=pressed,
                   obj_to_target=to_target)


def topdown_expert(obs: jax.Array) -> jax.Array:
    hand, button = obs[0:3], obs[4:7]
    target = jnp.where(xy_dist(hand, button) > 0.04, button + jnp.array([0.0, 0.0, 0.1]),
                       button)
    return act(move(hand, target, 25.0), 1.0)


def _topdown_init(v: View) -> tuple[jax.Array, jax.Array]:
    return v.anchors[1], jnp.zeros(7).at[0].set(PRESS_DEPTH)


SPECS = (
    TaskSpec("button-press-topdown", (-0.1, 0.8, 0.115), (0.1, 0.9, 0.115), _topdown_scene(),
             goal=from_vec(0, (0.0, -0.00008, 0.1)), reward=topdown_reward, expert=topdown_expert,
             init=_topdown_init, extra=joint_extra, hand_init=(0.0, 0.4, 0.2)),
)
