"""dial-turn: a dial on a vertical hinge on the table, turned by pushing its head round
(Meta-World's dial.xml)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, move
from envs.manipulation.rewards import (
    Outcome,
    RewardInputs,
    hamacher_product,
    norm,
    outcome,
    tolerance,
)
from envs.manipulation.scene import (
    JOINT_HINGE,
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
from envs.manipulation.tasks.spec import TaskSpec, View, from_vec

TARGET_RADIUS = 0.07  # Meta-World's, for this task
RIM = (0.0, -0.05, 0.0)  # the observed point: the dial's rim, turning with it
PUSH_OFFSET = jnp.array([0.05, 0.02, 0.09])  # Meta-World's dial_push_position - rim point
# the dial (a cylinder about its axis) and its head bar, relative to the dial body
DIAL = (Box((0.0, 0.0, 0.018), (0.05, 0.05, 0.018), round="xy"),
        Box((0.0, 0.0, 0.051), (0.015, 0.046, 0.015)))


def _scene() -> Scene:
    # 1.4e-3 kg m^2 (armature included, from MuJoCo's mass matrix) damped at 1 N m s: a push
    # turns it, it does not coast
    hinge = Joint(JOINT_HINGE, (0.0, 0.0, 1.0), -3.14, 3.14, inertia=0.001418, damping=1.0)
    return Scene(fixture=Fixture(joints=(hinge,), boxes=DIAL),
                 obs_point=Point(ON_FIXTURE, RIM),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ))


def dial_reward(ri: RewardInputs) -> Outcome:
    obj, push_init = ri.obj, ri.init[9:12]
    push = obj + PUSH_OFFSET
    to_target = norm(obj - ri.goal)
    in_place = tolerance(to_target, 0.0, TARGET_RADIUS,
                         jnp.abs(norm(push_init - ri.goal) - TARGET_RADIUS))
    tcp_to_push = norm(push - ri.tcp)
    reach = tolerance(tcp_to_push, 0.0, 0.005, jnp.abs(norm(push_init - ri.init_tcp) - 0.005),
                      sigmoid="gaussian")
    reach = hamacher_product(reach, jnp.clip(ri.action[3], 0.0, 1.0))
    return outcome(10.0 * hamacher_product(reach, in_place), to_target <= TARGET_RADIUS,
                   near_object=tcp_to_push <= 0.01, grasp_success=1.0, grasp_reward=reach,
                   in_place_reward=in_place, obj_to_target=to_target)


def dial_expert(obs: jax.Array) -> jax.Array:
    """Turns the dial a quarter turn and more by pushing its head bar round: the dial's centre is
    the goal less (0, 0.03, 0.03), the bar points at the observed rim point; the closed fingers
    come down behind the bar and push along the rim's clockwise tangent. (Meta-World's expert,
    a fixed 5 cm sweep from beside the head re-aimed each step, turns ours only about 20 degrees:
    its pads hold the bar by friction, which this engine does not model.)"""
    hand, rim, goal = obs[0:3], obs[4:7], obs[36:39]
    centre = goal - jnp.array([0.0, 0.03, 0.03])
    u = (rim - centre)[:2]
    u = u / jnp.sqrt(jnp.sum(u * u) + 1e-12)
    t = jnp.stack([u[1], -u[0]])  # the direction the rim moves as the joint angle decreases
    behind = centre[:2] + 0.03 * u - 0.05 * t
    ahead = centre[:2] + 0.03 * u + 0.06 * t
    far = jnp.sqrt(jnp.sum((hand[:2] - behind) ** 2)) > 0.02
    target = jnp.where(far, jnp.concatenate([behind, jnp.array([0.15])]),
                       jnp.where(hand[2] > 0.1, jnp.concatenate([behind, jnp.array([0.09])]),
                                 jnp.concatenate([ahead, jnp.array([0.09])])))
    return act(move(hand, target, 10.0), 1.0)


def _dial_init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: the dial; consts: the push position at reset (dial_push_position)."""
    return v.anchors[1], jnp.zeros(7).at[0:3].set(v.point + PUSH_OFFSET)


SPECS = (
    TaskSpec("dial-turn", (-0.1, 0.7, 0.0), (0.1, 0.8, 0.0), _scene(),
             goal=from_vec(0, (0.0, 0.03, 0.03)), reward=dial_reward, expert=dial_expert,
             init=_dial_init),
)
