"""One env step of the reduced Meta-World physics: mocap-driven hand, fingers, one articulated
fixture, one free object and static obstacles, all contacts between boxes.

Per step (Meta-World's 5 MuJoCo substeps of 2.5 ms are one step here):
1. mocap and hand lag (`hand.py`), finger joints (exact linear map);
2. fixture joints coast (damping, spring) and soft limits pull back (MuJoCo's arithmetic for
   light fixtures); the free object coasts (gravity, friction on its support) unless held;
3. the hand (one box around fingers and wrist, or around the fingers alone below the wrist's
   height) and a held object against the static boxes (the object-only ones stop the object
   alone): hard, the hand is pushed out (MuJoCo's weld is much softer than a contact with the
   world);
4. the hand's boxes and a held object (and its attached part) against the fixture's boxes
   (boxes, spheres or cylinders): the joint moves to remove the overlap along its direction,
   the rest of the overlap pushes the hand (a light fixture gives way along the contact normal
   instead; a hand resting on a `drag` fixture, or a probe pressed into a `friction` one, takes
   it along); past a limit the joint gives only `give` of the way (Meta-World's limits are soft
   against a light fixture pushed by the arm);
5. the free object: pushed by the fingers and the palm (a ball along the contact normal), then
   out of the static boxes, the fixture and the table (what a support refuses pushes the hand
   back);
6. the object between the pads is a soft stop for the finger joints (stage 1); squeezed by both
   pads it is held and moves with the hand (sliding up between the pads when the hand presses
   it into the table, stage 3), pressed by one it is pushed across.
Objects do not rotate. No Python control flow depends on traced values: every task runs the same
arithmetic with its own row of constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from envs.manipulation import hand as H
from envs.manipulation.geometry import (
    dot3,
    mat_t_vec,
    mat_vec,
    push_lookback,
    push_out_round,
    push_simple,
)
from envs.manipulation.scene import JOINT_HINGE, JOINT_SLIDE, MAX_MOVING, MAX_STATIC

DT = H.TIMESTEP * H.FRAME_SKIP
GRAVITY = 9.81
SQUEEZE = 5e-4  # free space between the pads and the object that still counts as a grip
LIMIT_RELAX = 0.3  # heavy fixtures: fraction of a limit violation left after a step unpushed
LIGHT_COS = 0.5  # most oblique contact normal a light fixture gives way along in full
DRAG_GAP, DRAG_DEPTH = 0.003, 0.01  # a probe this near a drag fixture's top rests on it
DRAG_SINK = 0.005  # and sinks this far into it (Meta-World's fingertips into the plate)
FRICTION_PUSH = 1e-4  # overlap with a `friction` fixture that counts as pressing on it
PEN_CAP = 0.01  # overlap a hand may keep with a fixture pushed past its limit
SIDE_LOOKBACK = 4.0  # steps back along a probe's motion that decide its side of a fixture box
FRAME_SIZE = 18
SLIP_TOP = float(H.PALM_OFFSET[2] - H.PALM_HALF[2])  # palm's underside above the hand body
INIT_SIZE = 16


@struct.dataclass
class EnvState:
    """Full simulator state (gymnax EnvState). Vectors are world frame, metres."""

    time: jax.Array
    mocap: jax.Array  # (3,)
    hand: jax.Array  # (3,) body("hand").xpos
    hand_vel: jax.Array  # (3,) per step
    hand_vel_prev: jax.Array  # (3,)
    fingers: jax.Array  # (2,) joint positions (right, left)
    fingers_vel: jax.Array  # (2,)
    obj: jax.Array  # (3,) free object centre
    obj_vel: jax.Array  # (3,) m/s
    held: jax.Array  # () bool
    held_offset: jax.Array  # (3,) object - hand while held
    joint: jax.Array  # (2,) fixture joints
    joint_vel: jax.Array  # (2,)
    anchors: jax.Array  # (3, 3): world origin, variant anchors A and B
    goal: jax.Array  # (3,)
    init: jax.Array  # (INIT_SIZE,) constants the task's reward reads (see tasks)
    frame: jax.Array  # (18,) obs[0:18] of this state
    prev_frame: jax.Array  # (18,) the previous step's obs[0:18]
    task_id: jax.Array  # () int32


# ------------------------------------------------------------------------------ fixture kinematics
def _rotation(axis: jax.Array, angle: jax.Array) -> jax.Array:
    k = jnp.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                   [-axis[1], axis[0], 0.0]])
    k2 = axis[:, None] * axis[None, :] - jnp.sum(axis * axis) * jnp.eye(3)  # k @ k
    return jnp.eye(3) + jnp.sin(angle) * k + (1.0 - jnp.cos(angle)) * k2


def fixture_pose(joint: jax.Array, anchors: jax.Array, c: dict) -> tuple[jax.Array, jax.Array,
                                                                          jax.Array]:
    """(origin in the world, rotation, translation) of the fixture body at joint values `joint`:
    a local point p (relative to the origin at q = 0) is at origin + R p + t."""
    origin = anchors[c["fix_anchor"]] + c["fix_origin"]
    is_hinge = c["joint_kind"][0] == JOINT_HINGE
    rot = _rotation(c["joint_axis"][0], jnp.where(is_hinge, joint[0], 0.0))
    slides = (c["joint_kind"] == JOINT_SLIDE)[:, None] * c["joint_axis"] * joint[:, None]
    return origin, rot, jnp.sum(slides, axis=0)


def fixture_point(local: jax.Array, joint: jax.Array, anchors: jax.Array, c: dict) -> jax.Array:
    origin, rot, trans = fixture_pose(joint, anchors, c)
    return origin + mat_vec(rot, local) + trans


def _joint_directions(point: jax.Array, origin: jax.Array, c: dict) -> jax.Array:
    """(2, 3): motion of `point` per unit of each joint."""
    hinge = jnp.cross(c["joint_axis"][0], point - origin)
    first = jnp.where(c["joint_kind"][0] == JOINT_HINGE, hinge, c["joint_axis"][0])
    dirs = jnp.stack([first, c["joint_axis"][1]])
    return dirs * (c["joint_kind"] > 0)[:, None]


# ------------------------------------------------------------------------------ the hand's boxes
def hand_probes(hand: jax.Array, fingers: jax.Array, obj: jax.Array, held: jax.Array, c: dict,
                with_object: bool = True, with_part: bool = False
                ) -> tuple[jax.Array, jax.Array]:
    """(centres (n, 3), half extents (n, 3)) of the left finger, right finger, palm and, with
    `with_object`, the held object and (`with_part`) its attached part (zero-size far away when
    nothing is held)."""
    left, right = H.finger_centres(hand, fingers)
    centres = [left, right, hand + H.PALM_OFFSET]
    halves = [H.FINGER_HALF, H.FINGER_HALF, H.PALM_HALF]
    if with_object:
        centres.append(jnp.where(held, obj, hand + 1e3))
        halves.append(jnp.where(held, c["obj_half"], 0.0))
    if with_object and with_part:
        centres.append(jnp.where(held, obj + c["obj_part_offset"], hand + 1e3))
        halves.append(jnp.where(held, c["obj_part_half"], 0.0))
    return jnp.stack(centres), jnp.stack(halves)


def _stop_velocity(vel: jax.Array, push: jax.Array) -> jax.Array:
    """Remove the velocity component into a surface whose outward push is `push`."""
    n2 = jnp.sum(push * push)
    into = jnp.minimum(dot3(vel, push), 0.0)
    return vel - jnp.where(n2 > 0, into / jnp.maximum(n2, 1e-12), 0.0) * push


def _pad_stops(hand: jax.Array, fingers: jax.Array, obj: jax.Array, c: dict,
               centred: bool = False) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(object between the pads, right finger's upper stop, left finger's lower stop): the joint
    values at which each pad's inner face meets the object's faces across y. `centred` takes
    the object where closing pads end up holding it, midway between them."""
    rel = obj - hand
    overlap_xz = ((jnp.abs(rel[0]) < H.FINGER_HALF[0] + c["obj_half"][0])
                  & (jnp.abs(rel[2]) < H.FINGER_HALF[2] + c["obj_half"][2]))
    left_c, right_c = H.finger_centres(hand, fingers)
    between = (c["has_obj"] > 0) & overlap_xz & (obj[1] < left_c[1]) & (obj[1] > right_c[1])
    inner = H.FINGER_Y - H.FINGER_HALF[1]  # pad face from the hand at q = 0
    y = 0.5 * (fingers[0] + fingers[1]) if centred else rel[1]
    stop_right = y - 0.5 * c["obj_grip"] + inner
    stop_left = y + 0.5 * c["obj_grip"] - inner
    return between, stop_right, stop_left


def _limits(q: jax.Array, c: dict) -> tuple[jax.Array, jax.Array]:
    lo = jnp.where(c["joint_kind"] > 0, c["joint_lo"], q)
    hi = jnp.where(c["joint_kind"] > 0, c["joint_hi"], q)
    return lo, hi


def fixture_coast(q: jax.Array, qd: jax.Array, c: dict) -> tuple[jax.Array, jax.Array]:
    """Fixture joints (q, qd per second) after one env step without the hand: MuJoCo's five
    Euler substeps (damping implicit, spring and gravity explicit) with its soft limits (solref
    0.02, impedance 0.95): past a limit the constraint acceleration is 0.95 of the reference
    -b qd - k x plus 0.05 of the free one, only while it pushes back, and the implicit damping
    scales it by M / (M + h D), so a light, damped fixture (the lever) creeps back over some
    15 steps. A joint that coasts into a limit from inside stops at it."""
    lo, hi = _limits(q, c)
    inside = (q >= lo) & (q <= hi)
    for _ in range(H.FRAME_SKIP):
        a_free = (c["joint_gravity"] - c["joint_spring"] * (q - c["joint_springref"])
                  - c["joint_damping"] * qd)
        qd = qd + H.TIMESTEP * c["joint_implicit"] * H.soft_limit(q, qd, a_free, lo, hi)
        q = q + H.TIMESTEP * qd
    # a fixture coasting into a limit stops at it (Meta-World's drawer: within 1 mm)
    hit = inside & ((q < lo) | (q > hi))
    return jnp.where(hit, jnp.clip(q, lo, hi), q), jnp.where(hit, 0.0, qd)


def _relax_coast(q: jax.Array, qd: jax.Array, c: dict) -> tuple[jax.Array, jax.Array]:
    """The heavy fixtures' coast: exact damping over the step (gravity and spring held for the
    step); a joint past a limit relaxes to LIMIT_RELAX of its violation, one coasting into a
    limit stops at it. (MuJoCo's arithmetic, `fixture_coast`, is measured against Meta-World
    for the light lever only.)"""
    lo, hi = _limits(q, c)
    beyond = jnp.clip(q, lo, hi)
    qd_new = qd * c["joint_decay"] + c["joint_force_gain"] * (
        c["joint_gravity"] - c["joint_spring"] * (q - c["joint_springref"]))
    q_new = q + DT * qd_new
    outside = (q < lo) | (q > hi)
    q_new = jnp.where(outside, beyond + LIMIT_RELAX * (q - beyond), q_new)
    hit = (q_new < lo) | (q_new > hi)
    q_new = jnp.where(hit & ~outside, jnp.clip(q_new, lo, hi), q_new)
    return q_new, jnp.where(hit, 0.0, qd_new)


# ------------------------------------------------------------------------------ step
@dataclass(frozen=True)
class Features:
    """The engine stages an env's tasks need (static: the others are not traced at all).

    objects: some task has a free object; fixtures: some task has a fixture; hinges: some
    fixture turns; round: some fixture box is a sphere or cylinder; light: some fixture is light;
    drag: some fixture is dragged by a hand resting on it; friction: some fixture is dragged by
    a probe pressed into it;
    ball: some free object is a ball (`FreeObject.ball`); object_boxes: some static box meets
    the object only (`Box.hand`);
    object_fixture: the free object can meet the fixture (a task has both); object_part: a held
    object's attached part meets the fixture too (`FreeObject.part`); n_static /
    n_moving: the most boxes of a kind a task has."""

    objects: bool = True
    fixtures: bool = True
    hinges: bool = True
    round: bool = True
    light: bool = True
    drag: bool = True
    friction: bool = True
    ball: bool = True
    object_boxes: bool = True
    object_fixture: bool = True
    object_part: bool = True
    n_static: int = MAX_STATIC
    n_moving: int = MAX_MOVING


ALL_FEATURES = Features()


def physics_step(s: EnvState, action: jax.Array, c: dict, f: Features = ALL_FEATURES
                 ) -> EnvState:
    """Advance one env step (see the module docstring for the order of the stages)."""
    a = jnp.clip(action, -1.0, 1.0)
    has_obj = c["has_obj"] > 0

    # 1. mocap, hand, fingers
    mocap = H.mocap_step(s.mocap, a, c["mocap_low"], c["mocap_high"])
    hand, hand_vel = H.hand_step(s.hand, s.hand_vel, s.hand_vel_prev, mocap, s.mocap)
    if f.objects:
        # the object between the pads stops them softly (MuJoCo's soft contact: they squeeze
        # it by millimetres, and let go some steps after the gripper opens)
        held_obj = jnp.where(s.held, hand + s.held_offset, s.obj)
        between, stop_right, stop_left = _pad_stops(hand, s.fingers, held_obj, c, centred=True)
        lo = jnp.asarray(H.FINGER_LO).at[1].max(jnp.where(between, stop_left, -1.0))
        hi = jnp.asarray(H.FINGER_HI).at[0].min(jnp.where(between, stop_right, 1.0))
        fingers, fingers_vel = H.finger_step(s.fingers, s.fingers_vel, a[3], lo, hi)
    else:
        fingers, fingers_vel = H.finger_step(s.fingers, s.fingers_vel, a[3])

    # 2. fixture joints and the free object coast
    joint, jvel = s.joint, s.joint_vel
    if f.fixtures:
        joint, jvel = _relax_coast(s.joint, s.joint_vel, c)
        if f.light:
            soft, soft_vel = fixture_coast(s.joint, s.joint_vel, c)
            joint = jnp.where(c["fix_light"] > 0, soft, joint)
            jvel = jnp.where(c["fix_light"] > 0, soft_vel, jvel)
    obj, obj_vel = s.obj, s.obj_vel
    if f.objects:
        obj_vel = s.obj_vel.at[2].add(-GRAVITY * DT)
        obj = jnp.where(s.held, hand + s.held_offset, s.obj + DT * obj_vel)

    # 3. the hand and a held object against the static boxes: hard, the hand is pushed out.
    # The hand is one box around fingers and wrist, or, against a box that does not reach the
    # wrist's height, one box around the fingers, open or closed as they are (a closed hand fits
    # where an open one would not: between a wall and a button)
    static_c = c["static_center"] + s.anchors[c["static_anchor"]]
    fingers_c, fingers_h = H.fingers_box(fingers)
    shift = jnp.zeros(3)
    for b in range(f.n_static):
        centre, half = static_c[b], c["static_half"][b]
        wrist_z = hand[2] + shift[2] + H.PALM_OFFSET[2]
        below_wrist = centre[2] + half[2] < wrist_z - H.PALM_HALF[2]
        above_wrist = centre[2] - half[2] > wrist_z + H.PALM_HALF[2]
        wrist_clear = below_wrist | above_wrist
        box_c = jnp.where(wrist_clear, fingers_c, H.HAND_BOX_OFFSET)
        box_h = jnp.where(wrist_clear, fingers_h, H.HAND_BOX_HALF)
        push = push_simple(hand + box_c + shift, box_h, centre, half)
        shift = shift + (c["static_hand"][b] * push if f.object_boxes else push)
        if f.objects:
            shift = shift + jnp.where(s.held, push_simple(obj + shift, c["obj_half"],
                                                          static_c[b], c["static_half"][b]), 0.0)
    # the fingertips and a held object stay above the table; a held object pressed into it
    # slides up between the pads (the arm's weld is far stronger than the pads' friction)
    # until it meets the palm, and only then does the table hold the hand up
    lowest = hand[2] + shift[2] - H.FINGER_HALF[2]
    held_offset = s.held_offset
    if f.objects:
        sink = jnp.maximum(0.0, c["table_z"] - (obj[2] + shift[2] - c["obj_bottom"]))
        room = jnp.maximum(0.0, SLIP_TOP - c["obj_half"][2] - s.held_offset[2])
        slip = jnp.where(s.held, jnp.minimum(sink, room), 0.0)
        held_offset = held_offset.at[2].add(slip)
        obj = obj.at[2].add(slip)
        lowest = jnp.minimum(lowest, jnp.where(s.held, obj[2] + shift[2] - c["obj_bottom"],
                                               1.0))
    shift = shift.at[2].add(jnp.maximum(0.0, c["table_z"] - lowest))
    hand_vel = _stop_velocity(hand_vel, shift)
    # the lag model's memory too, or the stopped hand springs back off the surface
    prev_vel = _stop_velocity(s.hand_vel, shift)
    hand = hand + shift
    obj = jnp.where(s.held, obj + shift, obj) if f.objects else obj

    # 4. the hand against the fixture; a probe's side of a box is taken from its motion (its
    # position a few steps back along its relative velocity), so a deep push does not flip it
    if f.fixtures:
        origin, rot, trans = fixture_pose(joint, s.anchors, c)
        prev_origin, prev_rot, prev_trans = fixture_pose(s.joint, s.anchors, c)
        lo, hi = _limits(s.joint, c)
        probes, halves = hand_probes(hand, fingers, obj, s.held, c, f.object_fixture,
                                     f.object_part)
        prev_probes, _ = hand_probes(s.hand, s.fingers, s.obj, s.held, c, f.object_fixture,
                                     f.object_part)
        shift = jnp.zeros(3)
        dq = jnp.zeros(2)
        asked = jnp.zeros((2, 3))  # per joint: the world push the joint is asked to take
        dragged, drag_dq = jnp.asarray(False), jnp.zeros(2)
        for i in range(probes.shape[0]):
            # the probe in the fixture body's frame (now, and where it was last step)
            local = mat_t_vec(rot, probes[i] - origin - trans)
            before = mat_t_vec(prev_rot, prev_probes[i] - prev_origin - prev_trans)
            back = local - SIDE_LOOKBACK * (local - before)
            e_local = mat_t_vec(jnp.abs(rot), halves[i]) if f.hinges else halves[i]
            push_local = jnp.zeros(3)
            resting = jnp.asarray(False)
            for b in range(f.n_moving):
                centre, half = c["moving_center"][b], c["moving_half"][b]
                if f.drag:  # the probe's bottom on (or just in) the box's top
                    rel = local - centre
                    over = jnp.all(jnp.abs(rel[:2]) < half[:2] + e_local[:2])
                    gap = rel[2] - e_local[2] - half[2]
                    resting = resting | (over & (gap > -DRAG_DEPTH) & (gap < DRAG_GAP))
                push = push_lookback(local + push_local, back + push_local, e_local, centre,
                                     half)
                if f.round:
                    mask = c["moving_round"][b]
                    rounded = push_out_round(local + push_local, e_local, centre, half, mask)
                    push = jnp.where(jnp.any(mask > 0), rounded, push)
                push_local = push_local + push
            push = mat_vec(rot, push_local) if f.hinges else push_local
            # a heavy fixture takes the push's projection on its joints' motion and the rest
            # pushes the hand; a light one (`Fixture.light`, the lever) gives way along the
            # contact normal: its joints take the least motion that clears the overlap along
            # it, for a normal within acos(LIGHT_COS) of their motion (a more oblique one:
            # 1 / LIGHT_COS^2 of the projection, and the hand is pushed by the rest)
            dirs = _joint_directions(probes[i], origin, c)
            n2 = jnp.sum(dirs * dirs, axis=1)
            g = mat_vec(dirs, push)
            along = jnp.where(n2 > 1e-9, g / jnp.maximum(n2, 1e-9), 0.0)
            asked_i, shift_i = along[:, None] * dirs, push - mat_t_vec(dirs, along)
            if f.light:
                p2 = jnp.sum(push * push)
                denom = jnp.maximum(jnp.sum(g * g), LIGHT_COS ** 2 * p2 * jnp.sum(n2))
                light = jnp.where(denom > 1e-18, p2 * g / jnp.maximum(denom, 1e-18), 0.0)
                resolved = jnp.where(p2 > 1e-18, light * g / jnp.maximum(p2, 1e-18), 0.0)
                is_light = c["fix_light"] > 0
                along = jnp.where(is_light, light, along)
                asked_i = jnp.where(is_light, resolved[:, None] * push, asked_i)
                shift_i = jnp.where(is_light, push * (1.0 - jnp.sum(resolved)), shift_i)
            dq = dq - along
            if f.drag:
                # a probe resting on a `drag` fixture takes it along with its horizontal motion
                # (instead of the fixture's own coast), as friction does: the plate under
                # Meta-World's fingertips
                slide = (probes[i] - prev_probes[i]).at[2].set(0.0)
                follow = mat_vec(dirs, slide)
                follow = jnp.where(n2 > 1e-9, follow / jnp.maximum(n2, 1e-9), 0.0)
                dragged = dragged | (resting & (c["fix_drag"] > 0))
                drag_dq = jnp.where(resting & (c["fix_drag"] > 0), follow, drag_dq)
                # and the fingertips sink into it by millimetres, as into Meta-World's soft plate
                sink = jnp.where(resting & (c["fix_drag"] > 0), DRAG_SINK, 0.0)
                shift_i = shift_i.at[2].set(jnp.maximum(shift_i[2] - sink, jnp.minimum(
                    shift_i[2], 0.0)))
            if f.friction:
                # a probe pressed into a `friction` fixture takes it along with its motion
                # across the contact normal (the weld presses far harder than the joint
                # resists: the closed fingers lifting a handle by its grip)
                p2 = jnp.sum(push * push)
                normal = push / jnp.sqrt(p2 + 1e-20)
                motion = probes[i] - prev_probes[i]
                across = motion - dot3(motion, normal) * normal
                rub = mat_vec(dirs, across)
                rub = jnp.where(n2 > 1e-9, rub / jnp.maximum(n2, 1e-9), 0.0)
                pressed = (p2 > FRICTION_PUSH ** 2) & (c["fix_friction"] > 0)
                dragged = dragged | pressed
                drag_dq = jnp.where(pressed, rub, drag_dq)
            asked = asked + asked_i
            shift = shift + shift_i
        if f.drag or f.friction:
            dq = dq + jnp.where(dragged, s.joint + drag_dq - joint, 0.0)
        pushed = joint + dq
        over = pushed - jnp.clip(pushed, lo, hi)
        moved = jnp.abs(dq) > 0
        new_joint = jnp.where(moved, pushed - (1.0 - c["joint_give"]) * over, joint)
        # what the joints did not take stays as overlap, up to PEN_CAP; the rest pushes the hand
        taken = jnp.where(moved, (new_joint - joint) / jnp.where(moved, dq, 1.0), 1.0)
        left = jnp.sum((1.0 - taken)[:, None] * asked, axis=0)
        left_len = jnp.sqrt(jnp.sum(left * left) + 1e-12)
        shift = shift + left * jnp.maximum(left_len - PEN_CAP, 0.0) / left_len
        hand_vel = _stop_velocity(hand_vel, shift)
        prev_vel = _stop_velocity(prev_vel, shift)
        hand = hand + shift
        if f.objects:
            obj = jnp.where(s.held, obj + shift, obj)
        jvel = jnp.where(moved, (new_joint - s.joint) / DT, jvel)
        joint = new_joint

    if not f.objects:
        return s.replace(mocap=mocap, hand=hand, hand_vel=hand_vel, hand_vel_prev=prev_vel,
                         fingers=fingers, fingers_vel=fingers_vel, joint=joint, joint_vel=jvel)

    # 5. the free object: fingers and palm push it; supports push back
    free = has_obj & ~s.held
    probes, halves = hand_probes(hand, fingers, obj, s.held, c, False)
    gripping, _, _ = _pad_stops(hand, fingers, obj, c)  # the pads' pushes are stage 6's
    moved = jnp.zeros(3)
    for i in range(3):
        push = push_simple(obj + moved, c["obj_half"], probes[i], halves[i])
        if f.ball:
            # a ball is pushed along the normal from the probe's nearest point to its centre
            # (out through the nearest face where its centre is inside the probe)
            inside = jnp.all(jnp.abs(obj + moved - probes[i]) < halves[i])
            rolled = -push_out_round(probes[i], halves[i], obj + moved, c["obj_half"],
                                     jnp.ones(3))
            push = jnp.where((c["obj_ball"] > 0) & ~inside, rolled, push)
        moved = moved + jnp.where(free & ~(gripping & (i < 2)), push, 0.0)
    obj = obj + moved
    support = jnp.zeros(3)
    for b in range(f.n_static):
        support = support + push_simple(obj + support, c["obj_half"], static_c[b],
                                        c["static_half"][b])
    if f.object_fixture:
        origin, rot, trans = fixture_pose(joint, s.anchors, c)
        local = mat_t_vec(rot, obj - origin - trans)
        e_local = mat_t_vec(jnp.abs(rot), c["obj_half"]) if f.hinges else c["obj_half"]
        push_local = jnp.zeros(3)
        for b in range(f.n_moving):
            push_local = push_local + push_simple(local + push_local, e_local,
                                                  c["moving_center"][b], c["moving_half"][b])
        support = support + (mat_vec(rot, push_local) if f.hinges else push_local)
    floor = jnp.maximum(0.0, c["table_z"] + c["obj_rest"] - (obj[2] + support[2]))
    support = support.at[2].add(floor)
    support = jnp.where(free, support, 0.0)
    # what a support takes back from a push by the hand pushes the hand back
    moved2 = jnp.sum(moved * moved)
    blocked = jnp.where(moved2 > 0, jnp.minimum(dot3(support, moved), 0.0)
                        / jnp.maximum(moved2, 1e-12), 0.0) * moved
    hand = hand + blocked
    obj = obj + support
    resting = free & (support[2] > 0)
    obj_vel = jnp.where(free, jnp.where(moved2 > 0, obj_vel.at[:2].set(moved[:2] / DT), obj_vel),
                        0.0)
    obj_vel = _stop_velocity(obj_vel, support)
    speed = jnp.sqrt(jnp.sum(obj_vel[:2] ** 2) + 1e-12)
    slowed = jnp.maximum(speed - c["obj_friction"] * (GRAVITY * DT), 0.0) / speed
    obj_vel = obj_vel.at[:2].multiply(jnp.where(resting, slowed, 1.0))

    # 6. the pads on the object: squeezed from both sides it is held (moves with the hand,
    # centred between the pads); pressed from one side it is pushed along y
    between, stop_right, stop_left = _pad_stops(hand, fingers, obj, c)
    pen_right = jnp.maximum(fingers[0] - stop_right, 0.0)
    pen_left = jnp.maximum(stop_left - fingers[1], 0.0)
    gap = stop_right - fingers[0] + fingers[1] - stop_left  # free space left across the object
    holds = between & (gap < SQUEEZE)
    left_c, right_c = H.finger_centres(hand, fingers)
    mid = 0.5 * (left_c[1] + right_c[1])
    obj = jnp.where(between & ~holds & ~s.held, obj.at[1].add(pen_right - pen_left), obj)
    held_offset = jnp.where(holds & ~s.held, obj - hand, held_offset)
    held_offset = held_offset.at[1].set(jnp.where(holds, mid - hand[1], held_offset[1]))
    obj = jnp.where(holds, hand + held_offset, obj)
    # held or just let go: the object moves with the hand
    obj_vel = jnp.where(holds | s.held, hand_vel / DT, obj_vel)

    return s.replace(mocap=mocap, hand=hand, hand_vel=hand_vel, hand_vel_prev=prev_vel,
                     fingers=fingers, fingers_vel=fingers_vel, obj=obj, obj_vel=obj_vel,
                     held=holds, held_offset=held_offset, joint=joint, joint_vel=jvel)
