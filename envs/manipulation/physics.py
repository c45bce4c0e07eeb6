"""The shared physical core: a position-controlled hand, a two-finger gripper, one free rigid
object and one 1-DoF fixture, stepped quasi-statically with a fixed number of substeps.

Model (all positions in metres, world frame of Meta-World: x right, y away from the robot, z up):
- hand: the mocap target; each substep adds `action[:3] * 0.01 / substeps` and clips to the
  workspace. The tool centre point (tcp) is the hand position; the fingers reach 5 cm below it.
- gripper: opening g in [0, 1] (1 open) moves towards (1 - action[3]) / 2 at a fixed rate; it
  cannot close past an object or handle that sits between the fingers.
- object: rests on the table (or the shelf board); falls under gravity when unsupported; the hand
  pushes it in the xy plane by resolving penetration between two vertical cylinders; it is grasped
  when it sits between the fingers and the fingers close on it, and then moves rigidly with the
  hand until the gripper opens.
- fixture: a slider or hinge with joint limits. Contact with the hand pushes the joint so that the
  hand stays on the side it came from; a gripper closed on the handle drags it along the joint
  (the hand is then constrained to the joint's path).
No Python control flow depends on traced values; every task runs the same arithmetic with its own
row of constants (`tasks.TASK_TABLE`), absent parts masked out.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from envs.manipulation.tasks import (
    HAND_HIGH,
    HAND_LOW,
    HINGE,
    NO_FIXTURE,
    SHELF_HALF,
    SHELF_HEIGHT,
)

ACTION_SCALE = 0.01  # metres per unit action per env step
STEP_SECONDS = 0.0125  # Meta-World: 0.0025 s timestep x frame_skip 5
GRAVITY = 9.81
GRIPPER_RATE = 0.2  # opening change per env step
FINGER_DEPTH = 0.05  # fingers reach this far below the tcp
HAND_TOP = 0.1  # the hand body extends this far above the tcp
HAND_RADIUS = 0.02  # xy radius of the closed fingers / hand
GRASP_RADIUS = 0.02  # xy distance within which an object sits between the fingers
MIN_HINGE_RADIUS = 0.03


@struct.dataclass
class EnvState:
    """Full simulator state (gymnax EnvState)."""

    time: jax.Array
    hand: jax.Array  # (3,)
    grip: jax.Array  # () opening in [0, 1]
    obj_pos: jax.Array  # (3,)
    obj_vel_z: jax.Array  # ()
    obj_grasped: jax.Array  # () bool
    grasp_offset: jax.Array  # (3,) object - hand, frozen while grasped
    joint: jax.Array  # () fixture joint coordinate
    fixture_grasped: jax.Array  # () bool
    fixture_offset: jax.Array  # (3,) hand - handle, frozen while grasped
    prev_frame: jax.Array  # (18,) previous obs[0:18]
    goal: jax.Array  # (3,)
    obj_init: jax.Array  # (3,)
    fixture_base: jax.Array  # (3,)
    aux: jax.Array  # (3,) peg box / basket / shelf base
    hand_init: jax.Array  # (3,)
    reach_margin: jax.Array  # () initial tcp-to-object distance (reward margin)
    err_margin: jax.Array  # () initial success error (reward margin)
    task_id: jax.Array  # () int32


def _safe_norm(x: jax.Array, axis: int = -1) -> jax.Array:
    return jnp.sqrt(jnp.sum(x * x, axis=axis) + 1e-12)


def hinge_normal(c: dict[str, jax.Array]) -> jax.Array:
    return jnp.cross(c["fix_axis"], c["fix_axis2"])


def handle_position(joint: jax.Array, base: jax.Array, c: dict[str, jax.Array]) -> jax.Array:
    """Position of the fixture's handle (button top, lever tip ...) at joint value `joint`."""
    pivot = base + c["fix_origin"]
    slider = pivot + c["fix_axis"] * joint
    hinge = pivot + c["fix_radius"] * (jnp.cos(joint) * c["fix_axis"]
                                       + jnp.sin(joint) * c["fix_axis2"])
    return jnp.where(c["fix_kind"] == HINGE, hinge, slider)


def fixture_quaternion(joint: jax.Array, c: dict[str, jax.Array]) -> jax.Array:
    """(w, x, y, z) rotation of a hinge by `joint` about its axis; identity otherwise."""
    n = hinge_normal(c)
    rot = jnp.concatenate([jnp.cos(joint / 2)[None], jnp.sin(joint / 2) * n])
    return jnp.where(c["fix_kind"] == HINGE, rot, jnp.array([1.0, 0.0, 0.0, 0.0]))


def joint_coordinate(point: jax.Array, base: jax.Array, c: dict[str, jax.Array]
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Project a point on the fixture's joint: (coordinate, metres per unit, inside contact region).

    Slider: coordinate = distance along the axis, region = a box across it.
    Hinge: coordinate = angle about the hinge, region = within the door/lever's radius and height.
    """
    rel = point - base - c["fix_origin"]
    along = rel @ c["fix_axis"]
    across = rel - c["fix_axis"] * along
    in_slider = jnp.all(jnp.abs(across) <= c["fix_extent"])
    x2 = rel @ c["fix_axis2"]
    axial = rel @ hinge_normal(c)
    rho = jnp.sqrt(along ** 2 + x2 ** 2 + 1e-12)
    angle = jnp.arctan2(x2, along)
    in_hinge = ((rho >= MIN_HINGE_RADIUS) & (rho <= c["fix_radius"] + 0.02)
                & (jnp.abs(axial) <= c["fix_extent"][0]))
    is_hinge = c["fix_kind"] == HINGE
    coord = jnp.where(is_hinge, angle, along)
    scale = jnp.where(is_hinge, jnp.maximum(rho, MIN_HINGE_RADIUS), 1.0)
    inside = jnp.where(is_hinge, in_hinge, in_slider) & (c["fix_kind"] != NO_FIXTURE)
    return coord, scale, inside


def support_height(obj: jax.Array, state: EnvState, c: dict[str, jax.Array]) -> jax.Array:
    """Resting height of the object's centre below its current position (table or shelf)."""
    half_h = c["obj_half_height"]
    top = state.aux[2] + SHELF_HEIGHT
    over_shelf = ((jnp.abs(obj[0] - state.aux[0]) <= SHELF_HALF[0])
                  & (jnp.abs(obj[1] - state.aux[1]) <= SHELF_HALF[1])
                  & (obj[2] - half_h >= top - 0.02) & (c["has_shelf"] > 0))
    return jnp.where(over_shelf, top + half_h, half_h)


def substep(state: EnvState, action: jax.Array, c: dict[str, jax.Array], n_sub: int
            ) -> EnvState:
    """Advance the physics by 1/n_sub of an env step under a (clipped) action."""
    dt = STEP_SECONDS / n_sub
    has_obj = c["has_obj"] > 0
    has_fix = c["fix_kind"] != NO_FIXTURE
    base = state.fixture_base

    # gripper effort
    grip_target = 0.5 * (1.0 - action[3])
    rate = GRIPPER_RATE / n_sub
    grip = state.grip + jnp.clip(grip_target - state.grip, -rate, rate)

    # hand (mocap) motion, constrained to the handle's path while the fixture is grasped
    hand_cmd = jnp.clip(state.hand + action[:3] * (ACTION_SCALE / n_sub), HAND_LOW, HAND_HIGH)
    coord_cmd, _, _ = joint_coordinate(hand_cmd - state.fixture_offset, base, c)
    joint_dragged = jnp.clip(coord_cmd, c["fix_lo"], c["fix_hi"])
    hand_dragged = jnp.clip(handle_position(joint_dragged, base, c) + state.fixture_offset,
                            HAND_LOW, HAND_HIGH)
    hand = jnp.where(state.fixture_grasped, hand_dragged, hand_cmd)

    # fixture contact: push the joint so the hand stays on the side it came from
    coord_prev, _, _ = joint_coordinate(state.hand, base, c)
    coord, scale, inside = joint_coordinate(hand, base, c)
    face = state.joint + c["fix_face"]
    side = jnp.where(coord_prev >= face, 1.0, -1.0)
    contact = inside & (jnp.abs(coord - face) * scale < c["fix_depth"])
    pushed = coord - c["fix_face"] - side * c["fix_depth"] / scale
    joint = jnp.where(state.fixture_grasped, joint_dragged,
                      jnp.where(contact, pushed, state.joint))
    joint = jnp.where(has_fix, jnp.clip(joint, c["fix_lo"], c["fix_hi"]), state.joint)

    # gripper closing on the handle
    handle = handle_position(joint, base, c)
    at_handle = has_fix & jnp.all(jnp.abs(hand - handle) <= c["fix_capture"])
    grip = jnp.where(at_handle, jnp.maximum(grip, c["handle_width"]), grip)
    closing_on_handle = grip_target < c["handle_width"]
    fixture_grasped = has_fix & closing_on_handle & (
        state.fixture_grasped | (at_handle & (grip <= c["handle_width"] + 0.02)))
    fixture_offset = jnp.where(state.fixture_grasped, state.fixture_offset, hand - handle)
    fixture_offset = jnp.where(fixture_grasped, fixture_offset, 0.0)

    # free object: between the fingers?
    obj = state.obj_pos
    rel = obj - hand
    dist_xy = _safe_norm(rel[:2])
    between = has_obj & (dist_xy < GRASP_RADIUS) & (rel[2] > -FINGER_DEPTH) & (rel[2] < 0.02)
    grip = jnp.where(between, jnp.maximum(grip, c["obj_width"]), grip)
    closing_on_obj = grip_target < c["obj_width"]
    obj_grasped = has_obj & closing_on_obj & (
        state.obj_grasped | (between & (grip <= c["obj_width"] + 0.02)))
    grasp_offset = jnp.where(state.obj_grasped, state.grasp_offset, rel)

    # pushing in the xy plane (open fingers straddling the object do not push it)
    overlap_z = ((obj[2] + c["obj_half_height"] > hand[2] - FINGER_DEPTH)
                 & (obj[2] - c["obj_half_height"] < hand[2] + HAND_TOP))
    straddled = (dist_xy < 0.015) & (grip > c["obj_width"])
    min_dist = HAND_RADIUS + c["obj_radius"]
    push = has_obj & ~obj_grasped & overlap_z & (dist_xy < min_dist) & ~straddled
    direction = jnp.where(dist_xy > 1e-6, rel[:2] / dist_xy, jnp.array([0.0, 1.0]))
    obj_xy = jnp.where(push, hand[:2] + direction * min_dist, obj[:2])

    # gravity onto the table / shelf
    free = jnp.concatenate([obj_xy, obj[2:]])
    support = support_height(free, state, c)
    vel_z = state.obj_vel_z - GRAVITY * dt
    z = obj[2] + vel_z * dt
    landed = z <= support
    free = free.at[2].set(jnp.where(landed, support, z))
    vel_z = jnp.where(landed, 0.0, vel_z)

    carried = hand + grasp_offset
    carried = carried.at[2].set(jnp.maximum(carried[2], support_height(carried, state, c)))
    obj = jnp.where(obj_grasped, carried, free)
    obj = jnp.where(has_obj, obj, state.obj_pos)
    vel_z = jnp.where(obj_grasped | ~has_obj, 0.0, vel_z)

    return state.replace(hand=hand, grip=grip, obj_pos=obj, obj_vel_z=vel_z,
                         obj_grasped=obj_grasped, grasp_offset=grasp_offset, joint=joint,
                         fixture_grasped=fixture_grasped, fixture_offset=fixture_offset)


def physics_step(state: EnvState, action: jax.Array, c: dict[str, jax.Array], n_sub: int
                 ) -> EnvState:
    """One env step = `n_sub` substeps under the same action."""
    action = jnp.clip(action, -1.0, 1.0)
    return jax.lax.fori_loop(0, n_sub, lambda _, s: substep(s, action, c, n_sub), state)
