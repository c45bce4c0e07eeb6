"""coffee-push, coffee-pull: a mug pushed under, or pulled out from under, a coffee machine's
spout (Meta-World's sawyer_coffee.xml). coffee-button is with the button tasks."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation.experts import act, move, xy_dist
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
    ANCHOR_A,
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
from envs.manipulation.tasks.button import COFFEE_MACHINE
from envs.manipulation.tasks.spec import Reject, TaskSpec, View, from_vec

# the mug's body (a cylinder of radius 2.8 cm, its handle left out); its origin, the observed
# point, is 3.5 cm below the cylinder's centre, and it settles 2.9 mm into the table (measured)
MUG = FreeObject(half=(0.028, 0.028, 0.033), mass=0.11, rest_z=0.0321, grip=0.05,
                 start=(0.0, 0.0, 0.035))
MUG_ORIGIN = (0.0, 0.0, -0.035)
# Meta-World's reset sets the mug's position only: it keeps the small turn it has in the scene
# file's first settle (recorded), as xyzw
MUG_QUAT = Quat(QUAT_CONST, (0.999541, 0.0047, -0.0026, -0.029801), XYZW)
SCALE = jnp.array([2.0, 2.0, 1.0])


def _scene(machine_anchor: int) -> Scene:
    machine = tuple(Box((b.center[0], b.center[1] + 0.22, b.center[2]), b.half,
                        anchor=machine_anchor) for b in COFFEE_MACHINE)
    return Scene(static=machine, obj=MUG, obs_point=Point(ON_OBJECT, MUG_ORIGIN),
                 obs_quat=MUG_QUAT)


def mug_reward(ri: RewardInputs) -> Outcome:
    obj, opened = ri.obj, ri.gripper
    to_target = norm((obj - ri.goal) * SCALE)
    in_place = tolerance(to_target, 0.0, 0.05, norm((ri.obj_init - ri.goal) * SCALE))
    tcp_to_obj = norm(obj - ri.tcp)
    grasped = gripper_caging(ri, obj, obj_radius=0.02, pad_success_thresh=0.05,
                             object_reach_radius=0.04, xz_thresh=0.05,
                             desired_gripper_effort=0.7, medium_density=True)
    reward = hamacher_product(grasped, in_place)
    reward = jnp.where((tcp_to_obj < 0.04) & (opened > 0), reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(to_target < 0.05, 10.0, reward)
    distance = norm(obj - ri.goal)  # Meta-World reports (and tests success on) it unscaled
    return outcome(reward, distance <= 0.07, near_object=tcp_to_obj <= 0.03,
                   grasp_success=ri.touching & (opened > 0), grasp_reward=grasped,
                   in_place_reward=in_place, obj_to_target=distance)


def _expert(obs: jax.Array, grasp_x: float, above: float, grip: float,
            carry_to: jax.Array) -> jax.Array:
    hand, mug = obs[0:3], obs[4:7] + jnp.array([grasp_x, 0.0, 0.05])
    far = xy_dist(hand, mug) > 0.06
    target = jnp.where(far, mug + jnp.array([0.0, 0.0, above]),
                       jnp.where(jnp.abs(hand[2] - mug[2]) > 0.02, mug, carry_to))
    holding = xy_dist(hand, obs[4:7] + jnp.array([0.01, 0.0, 0.05])) <= 0.06
    near_z = jnp.abs(hand[2] - (obs[6] + 0.05)) <= 0.1
    return act(move(hand, target, 10.0), jnp.where(holding & near_z, grip, -1.0))


def push_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: above the mug, down round it, close to 0.5, carry it to the goal."""
    return _expert(obs, 0.01, 0.2, 0.5, jnp.stack([obs[36], obs[37], jnp.float32(0.1)]))


def pull_expert(obs: jax.Array) -> jax.Array:
    """Meta-World's: the same, closing to 0.7, carrying it to the goal itself."""
    return _expert(obs, -0.005, 0.15, 0.7, obs[36:39])


def _mug_init(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init: the mug's origin at reset (the variant's mug position)."""
    return v.point, jnp.zeros(7)


_REJECT = Reject(0, 0.15, j=3)
_NEAR, _FAR = ((-0.1, 0.55, -0.001), (0.1, 0.65, 0.001)), ((-0.05, 0.7, -0.001),
                                                           (0.05, 0.75, 0.001))
_HAND = (0.0, 0.4, 0.2)

SPECS = (
    TaskSpec("coffee-push", _NEAR[0] + _FAR[0], _NEAR[1] + _FAR[1], _scene(ANCHOR_B),
             goal=from_vec(3), reward=mug_reward, expert=push_expert, init=_mug_init,
             reject=_REJECT, hand_init=_HAND),
    TaskSpec("coffee-pull", _FAR[0] + _NEAR[0], _FAR[1] + _NEAR[1], _scene(ANCHOR_A),
             goal=from_vec(3), reward=mug_reward, expert=pull_expert, init=_mug_init,
             reject=_REJECT, hand_init=_HAND),
)
