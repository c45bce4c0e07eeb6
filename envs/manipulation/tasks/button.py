"""The button tasks: a spring-loaded button in a box, pressed from above (button-press-topdown,
-topdown-wall) or from the front (button-press, button-press-wall), the wall variants with a
brick wall in front of the box; and coffee-button, the button on a coffee machine's front."""

from __future__ import annotations

from collections.abc import Callable

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
    ANCHOR_WORLD,
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
PRESS_DEPTH = 0.0935  # |hole - buttonStart| along the press (Meta-World's _obj_to_target_init)
# the same box and button facing the hand (Meta-World's buttonbox.xml, unrotated): the button
# slides along -y into the box
BOX_FRONT = (
    Box((0.0, 0.012, 0.072), (0.12, 0.102, 0.048)),
    Box((0.0, 0.012, -0.072), (0.12, 0.102, 0.048)),
    Box((-0.073, 0.012, 0.0), (0.047, 0.102, 0.024)),
    Box((0.073, 0.012, 0.0), (0.047, 0.102, 0.024)),
)
BUTTON_FRONT = (
    Box((0.0, -0.183, 0.0), (0.043, 0.011, 0.043)),
    Box((0.0, -0.166, 0.0), (0.026, 0.008, 0.026)),
    Box((0.0, -0.128, 0.0), (0.021, 0.039, 0.021)),
)


# the coffee machine (Meta-World's coffeemachine.xml, relative to the machine body): the frame
# round the button, the body, the spout; the button is a cylinder along y on a 3 cm slide
COFFEE_MACHINE = (
    Box((0.069, -0.133, 0.3), (0.031, 0.05, 0.035)),
    Box((-0.069, -0.133, 0.3), (0.031, 0.05, 0.035)),
    Box((0.0, -0.133, 0.352), (0.1, 0.05, 0.018)),
    Box((0.0, -0.133, 0.248), (0.1, 0.05, 0.018)),
    Box((0.0, 0.0, 0.115), (0.1, 0.098, 0.115)),
    Box((0.0, 0.0, 0.3), (0.1, 0.098, 0.07)),
    Box((0.0, -0.109, 0.135), (0.009, 0.018, 0.009)),
    Box((0.0, -0.141, 0.152), (0.016, 0.016, 0.041)),
)
COFFEE_BUTTON = Box((0.0, -0.19, 0.3), (0.032, 0.03, 0.032), round="xz")
COFFEE_TRAVEL = 0.03  # Meta-World's max_dist


def _coffee_scene() -> Scene:
    # 100 g (+ 1 g armature) on a slide damped at 1 N s/m, pressed in along +y
    slide = Joint(JOINT_SLIDE, (0.0, 1.0, 0.0), 0.0, COFFEE_TRAVEL, inertia=0.101, damping=1.0)
    return Scene(static=COFFEE_MACHINE,
                 fixture=Fixture(joints=(slide,), boxes=(COFFEE_BUTTON,)),
                 obs_point=Point(ON_FIXTURE, (0.0, -0.22, 0.3)),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ))


def _wall(y: float) -> Box:
    """Meta-World's wall.xml (0.2 x 0.02 x 0.15 m of brick on the table) at x = 0.1."""
    return Box((0.1, y, 0.075), (0.1, 0.01, 0.075), anchor=ANCHOR_WORLD)


def _topdown_scene(walls: tuple[Box, ...] = ()) -> Scene:
    # spring 0.5 N/m towards q = 0.5 (beyond the upper limit), button mass 0.01 kg
    slide = Joint(JOINT_SLIDE, (0.0, 0.0, 1.0), -0.06, 0.0, init=0.00046, inertia=0.011,
                  damping=1.0, stiffness=0.5, springref=0.5, gravity=-9.81 * 0.01 / 0.011)
    return Scene(static=BOX_TOPDOWN + walls,
                 fixture=Fixture(joints=(slide,), origin=(0.0, 0.0, 0.0),
                                 boxes=BUTTON_TOPDOWN),
                 obs_point=Point(ON_FIXTURE, (0.0, 0.0, 0.193)),
                 obs_quat=Quat(QUAT_CONST, (0.70739, -0.70683, 0.0, 0.0), WXYZ))


def _front_scene(walls: tuple[Box, ...] = ()) -> Scene:
    # the spring holds the button a fraction of a millimetre past its upper limit (as measured)
    slide = Joint(JOINT_SLIDE, (0.0, -1.0, 0.0), -0.06, 0.0, inertia=0.011, damping=1.0,
                  stiffness=0.5, springref=0.5)
    return Scene(static=BOX_FRONT + walls,
                 fixture=Fixture(joints=(slide,), origin=(0.0, 0.0, 0.0), boxes=BUTTON_FRONT,
                                 light=True),
                 obs_point=Point(ON_FIXTURE, (0.0, -0.193, 0.0)),
                 obs_quat=Quat(QUAT_CONST, (1.0, 0.0, 0.0, 0.0), WXYZ))


def _press(ri: RewardInputs, axis: int, near_within: float
           ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """tcp-to-button distance, button-to-hole distance along the press, and their tolerances."""
    obj = ri.obj
    tcp_to_obj = norm(obj - ri.tcp)
    to_target = jnp.abs(ri.goal[axis] - obj[axis])
    near = tolerance(tcp_to_obj, 0.0, near_within, norm(obj - ri.init_tcp))
    pressed = tolerance(to_target, 0.0, 0.005, ri.init[9])
    return tcp_to_obj, to_target, near, pressed


def _button_outcome(ri: RewardInputs, reward, success, tcp_to_obj, to_target, near, pressed
                    ) -> Outcome:
    return outcome(reward, success, near_object=tcp_to_obj <= 0.05,
                   grasp_success=ri.gripper > 0, grasp_reward=near, in_place_reward=pressed,
                   obj_to_target=to_target)


def front_reward(ri: RewardInputs) -> Outcome:
    tcp_to_obj, to_target, near, pressed = _press(ri, 1, 0.05)
    reward = 2.0 * hamacher_product(jnp.maximum(ri.gripper, 0.0), near)
    reward = jnp.where(tcp_to_obj <= 0.05, reward + 8.0 * pressed, reward)
    return _button_outcome(ri, reward, to_target <= 0.02, tcp_to_obj, to_target, near, pressed)


def front_wall_reward(ri: RewardInputs) -> Outcome:
    tcp_to_obj, to_target, near, pressed = _press(ri, 1, 0.01)
    far = 2.0 * hamacher_product((1.0 - ri.gripper) / 2.0, near)
    close = 2.0 + 2.0 * (1.0 + ri.gripper) + 4.0 * pressed ** 2
    reward = jnp.where(tcp_to_obj > 0.07, far, close)
    return _button_outcome(ri, reward, to_target <= 0.03, tcp_to_obj, to_target, near, pressed)


def _topdown(ri: RewardInputs, closed: jax.Array) -> Outcome:
    tcp_to_obj, to_target, near, pressed = _press(ri, 2, 0.01)
    reward = 5.0 * hamacher_product(closed, near)
    reward = jnp.where(tcp_to_obj <= 0.03, reward + 5.0 * pressed, reward)
    return _button_outcome(ri, reward, to_target <= 0.024, tcp_to_obj, to_target, near, pressed)


def topdown_reward(ri: RewardInputs) -> Outcome:
    return _topdown(ri, 1.0 - ri.gripper)


def topdown_wall_reward(ri: RewardInputs) -> Outcome:
    """As button-press-topdown's, but rewarding an open gripper near the button (Meta-World)."""
    return _topdown(ri, jnp.maximum(ri.gripper, 0.0))


def topdown_expert(obs: jax.Array) -> jax.Array:
    hand, button = obs[0:3], obs[4:7]
    target = jnp.where(xy_dist(hand, button) > 0.04, button + jnp.array([0.0, 0.0, 0.1]),
                       button)
    return act(move(hand, target, 25.0), 1.0)


def topdown_wall_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: above the point 6 cm in front of the button, then down onto it."""
    hand, button = obs[0:3], obs[4:7] + jnp.array([0.0, -0.06, 0.0])
    target = jnp.where(xy_dist(hand, button) > 0.04, button + jnp.array([0.0, 0.0, 0.1]),
                       button)
    return act(move(hand, target, 25.0), -1.0)


def front_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: back off while lining the hand up 7 cm below the button, then push in."""
    hand, button = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, -0.07])
    aligned = (jnp.abs(hand[0] - button[0]) <= 0.02 + 1e-5 * jnp.abs(button[0])) & (
        jnp.abs(hand[2] - button[2]) <= 0.02 + 1e-5 * jnp.abs(button[2]))
    target = jnp.where(aligned, button + jnp.array([0.0, 0.02, 0.0]),
                       button.at[1].set(hand[1] - 0.1))
    return act(move(hand, target, 25.0), 0.0)


WALL_FACE_Y = 0.61  # the button-press-wall wall's face towards the button


def front_wall_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's (over the wall at 0.3 m with the fingers closed, down in front of the
    button, push with them open), except that it comes down no nearer the wall than the closed
    fingers' half width: Meta-World's lands on the wall on the variants whose button is nearest
    it (2 of its first 5 failures in Meta-World too)."""
    hand, button = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, 0.04])
    off_x = jnp.abs(hand[0] - button[0]) > 0.02
    far_y = button[1] - hand[1] > 0.09
    off_z = jnp.abs(hand[2] - button[2]) > 0.02
    down_y = jnp.maximum(button[1] - 0.05, WALL_FACE_Y + 0.022)
    target = first((off_x, jnp.stack([button[0], hand[1], jnp.float32(0.3)])),
                   (far_y, jnp.stack([button[0], button[1], jnp.float32(0.3)])),
                   (off_z, jnp.stack([button[0], down_y, button[2]])),
                   default=button + jnp.array([0.0, -0.02, 0.0]))
    return act(move(hand, target, 15.0), jnp.where(off_x | far_y | off_z, 1.0, -1.0))


def coffee_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: line the hand up 7 cm below the button (in x and z), then push in."""
    hand, button = obs[0:3], obs[4:7] + jnp.array([0.0, 0.0, -0.07])
    xz = jnp.array([0, 2])
    aligned = jnp.sqrt(jnp.sum((hand[xz] - button[xz]) ** 2)) <= 0.02
    target = jnp.where(aligned, button + jnp.array([0.0, 0.2, 0.0]),
                       jnp.stack([button[0], hand[1], button[2]]))
    return act(move(hand, target, 10.0), -1.0)


def _press_init(depth: float) -> Callable[[View], tuple[jax.Array, jax.Array]]:
    """obj_init: the box (anchor A); consts[0]: the press's travel (the press term's margin)."""
    def init(v: View) -> tuple[jax.Array, jax.Array]:
        return v.anchors[1], jnp.zeros(7).at[0].set(depth)
    return init


_button_init, _coffee_init = _press_init(PRESS_DEPTH), _press_init(COFFEE_TRAVEL)


_HAND = (0.0, 0.4, 0.2)

SPECS = (
    TaskSpec("button-press-topdown", (-0.1, 0.8, 0.115), (0.1, 0.9, 0.115), _topdown_scene(),
             goal=from_vec(0, (0.0, -0.00008, 0.1)), reward=topdown_reward, expert=topdown_expert,
             init=_button_init, extra=joint_extra, hand_init=_HAND),
    TaskSpec("button-press-topdown-wall", (-0.1, 0.8, 0.115), (0.1, 0.9, 0.115),
             _topdown_scene((_wall(0.7),)), goal=from_vec(0, (0.0, -0.00008, 0.1)),
             reward=topdown_wall_reward, expert=topdown_wall_expert, init=_button_init,
             extra=joint_extra, hand_init=_HAND),
    TaskSpec("button-press", (-0.1, 0.85, 0.115), (0.1, 0.9, 0.115), _front_scene(),
             goal=from_vec(0, (0.0, -0.1, 0.0)), reward=front_reward, expert=front_expert,
             init=_button_init, extra=joint_extra, hand_init=_HAND),
    TaskSpec("button-press-wall", (-0.05, 0.85, 0.1149), (0.05, 0.9, 0.1151),
             _front_scene((_wall(0.6),)), goal=from_vec(0, (0.0, -0.1, 0.0)),
             reward=front_wall_reward, expert=front_wall_expert, init=_button_init,
             extra=joint_extra, hand_init=_HAND),
    # the same reward as button-press's, with the 3 cm travel as its margin
    TaskSpec("coffee-button", (-0.1, 0.8, -0.001), (0.1, 0.9, 0.001), _coffee_scene(),
             goal=from_vec(0, (0.0, -0.19, 0.3)), reward=front_reward, expert=coffee_expert,
             init=_coffee_init, extra=joint_extra, hand_init=_HAND),
)
