"""What a task's scene holds, as data: static boxes, one articulated fixture, one free object,
and the points the observation and the reward read off them.

Positions are relative to an anchor: the world origin, or one of the two variant positions
`rand_vec[0:3]` (anchor A) and `rand_vec[3:6]` (anchor B) that Meta-World places bodies at.
Every collision shape is a box (Meta-World's cylinders, capsules and meshes by their bounding
boxes). `compile_rows` turns the scenes of all tasks into padded arrays with a leading task axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from envs.manipulation.hand import FRAME_SKIP, TIMESTEP

Vec3 = tuple[float, float, float]

ANCHOR_WORLD, ANCHOR_A, ANCHOR_B = 0, 1, 2
JOINT_NONE, JOINT_SLIDE, JOINT_HINGE = 0, 1, 2
ON_WORLD, ON_OBJECT, ON_FIXTURE = 0, 1, 2  # what an observed point is attached to
QUAT_ZERO, QUAT_CONST, QUAT_FIXTURE = 0, 1, 2  # obs quaternion: zeros, constant, fixture-rotated
WXYZ, XYZW = 0, 1  # MuJoCo's xquat order, scipy's as_quat order

MAX_STATIC = 10
MAX_MOVING = 6
MAX_JOINTS = 2
TABLE_FRICTION = 1.0  # Meta-World's default geom friction (max over the pair)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: centre relative to its anchor (static) or to the fixture origin at
    q = 0 (moving), and half extents. A fixture box may be `round` across some axes: "xyz" a
    sphere of radius half[0], "yz" a cylinder along x of radius half[1] and half length half[0]
    (and so on); its contact normal follows the surface, so a push on it can turn a hinge.

    A static box with `hand=False` meets the free object only: it stands for a part of the object
    away from the object's box meeting a real obstacle, as the set of positions of the object's
    box at which that part overlaps the obstacle (their Minkowski sum, see `object_part_box`)."""

    center: Vec3
    half: Vec3
    anchor: int = ANCHOR_A
    round: str = ""
    hand: bool = True

    @property
    def round_mask(self) -> tuple[float, float, float]:
        return tuple(float(axis in self.round) for axis in "xyz")


@dataclass(frozen=True)
class Joint:
    """One degree of freedom of the fixture (Meta-World's joint constants).

    `inertia`: mass (slide) or moment of inertia (hinge) the joint moves, armature included.
    Limits are soft, as in Meta-World: a hand pushing past a limit takes the joint `give` of the
    way past it (the contact and the limit share MuJoCo's default softness), and the limit pulls
    it back once the push stops."""

    kind: int
    axis: Vec3
    lo: float
    hi: float
    init: float = 0.0
    inertia: float = 1.0
    damping: float = 0.0
    stiffness: float = 0.0
    springref: float = 0.0
    give: float = 0.5
    gravity: float = 0.0  # acceleration gravity gives the joint (slides along z)
    init_vel: float = 0.0  # joint velocity at reset (per second)


@dataclass(frozen=True)
class Fixture:
    """An articulated body: one slide, one hinge (about `origin`) or two slides (planar)."""

    joints: tuple[Joint, ...] = ()
    origin: Vec3 = (0.0, 0.0, 0.0)
    anchor: int = ANCHOR_A
    boxes: tuple[Box, ...] = ()
    light: bool = False  # gives way along the contact normal (a few grams, see physics.py)
    drag: bool = False  # a hand resting on it drags it along (friction; a plate on the table)
    friction: bool = False  # a probe pressed into it drags it along (a handle lifted by its grip)


@dataclass(frozen=True)
class FreeObject:
    """A free rigid body that does not rotate: a box `half`, resting with its centre `rest_z`
    above a support (Meta-World's soft contacts let it sink by a fraction of a millimetre).

    `grip`: the gap between the pads' faces when they hold it, read off Meta-World (its pads sink
    into a squeezed object by millimetres; on a sphere they close above its equator)."""

    half: Vec3
    mass: float
    rest_z: float
    grip: float
    start: Vec3 = (0.0, 0.0, 0.0)  # relative to ANCHOR_A
    # how far the object's lowest point is below its centre, where that is not the box's bottom
    # (a lid held by its handle: its plate)
    bottom: float | None = None
    # a second box rigidly attached (centre offset, half extents) that meets the fixture while
    # the object is held: a hammer's head, its handle being the object's box
    part: tuple[Vec3, Vec3] | None = None
    # a ball (radius half[0]): the hand pushes it along the contact normal, and it rolls on the
    # table without friction (`friction` 0); otherwise it slides with Meta-World's friction
    ball: bool = False
    friction: float = TABLE_FRICTION


@dataclass(frozen=True)
class Point:
    """A point on the world (relative to an anchor), the object or the fixture body (relative to
    its origin at q = 0)."""

    on: int
    offset: Vec3 = (0.0, 0.0, 0.0)
    anchor: int = ANCHOR_A


@dataclass(frozen=True)
class Quat:
    """How an observed quaternion is produced: zeros, a constant, or the fixture's hinge rotation
    composed with `base`; `order` is the component order Meta-World reports it in."""

    mode: int = QUAT_ZERO
    base: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # (w, x, y, z)
    order: int = WXYZ


@dataclass(frozen=True)
class Scene:
    static: tuple[Box, ...] = ()
    fixture: Fixture = field(default_factory=Fixture)
    obj: FreeObject | None = None
    obs_point: Point = field(default_factory=lambda: Point(ON_WORLD))
    obs_quat: Quat = field(default_factory=Quat)
    obs_point2: Point | None = None
    obs_quat2: Quat = field(default_factory=Quat)


# Meta-World's "-side" scenes turn a body by euler z = 1.57 (not quite pi / 2)
SIDE_TURN = 1.57


def turn_about_z(point: Vec3, angle: float = SIDE_TURN) -> Vec3:
    """`point` turned by `angle` about the z axis."""
    c, s = math.cos(angle), math.sin(angle)
    return (c * point[0] - s * point[1], s * point[0] + c * point[1], point[2])


def quarter_turn(box: Box, angle: float = SIDE_TURN) -> Box:
    """`box` (centre relative to its anchor) turned by a near quarter turn about z: its centre
    turned, its x and y extents (and round axes) swapped, as an axis-aligned box."""
    if abs(abs(angle) - math.pi / 2) > 0.01:
        raise ValueError(f"quarter_turn takes a quarter turn, got {angle} rad")
    swap = {"x": "y", "y": "x", "z": "z"}
    return Box(turn_about_z(box.center, angle), (box.half[1], box.half[0], box.half[2]),
               anchor=box.anchor, round="".join(sorted(swap[a] for a in box.round)))


def object_part_box(obstacle: Box, part_offset: Vec3, part_half: Vec3, obj_half: Vec3) -> Box:
    """The object-only static box that stops a free object's box (half extents `obj_half`) where
    a rigid part of the object (centre `part_offset` from the object's centre, half extents
    `part_half`) would overlap `obstacle`: a lid's plate on a box's walls, seen from its handle."""
    half = tuple(o + p - h for o, p, h in zip(obstacle.half, part_half, obj_half, strict=True))
    if min(half) <= 0:
        raise ValueError(f"object part {part_half} is smaller than the object's box {obj_half}")
    center = tuple(c - d for c, d in zip(obstacle.center, part_offset, strict=True))
    return Box(center, half, anchor=obstacle.anchor, hand=False)


def quat_about(axis: Vec3, angle: float) -> tuple[float, float, float, float]:
    """(w, x, y, z) rotation by `angle` about a unit `axis`."""
    s = math.sin(angle / 2)
    return (math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s)


_FAR = (1e3, 1e3, 1e3)


def _pad_boxes(boxes: tuple[Box, ...], n: int, what: str) -> dict[str, np.ndarray]:
    if len(boxes) > n:
        raise ValueError(f"{len(boxes)} {what} boxes, at most {n}")
    centers = [b.center for b in boxes] + [_FAR] * (n - len(boxes))
    halves = [b.half for b in boxes] + [(0.0, 0.0, 0.0)] * (n - len(boxes))
    anchors = [b.anchor for b in boxes] + [ANCHOR_WORLD] * (n - len(boxes))
    rounds = [b.round_mask for b in boxes] + [(0.0, 0.0, 0.0)] * (n - len(boxes))
    hand = [float(b.hand) for b in boxes] + [1.0] * (n - len(boxes))
    return {"center": np.asarray(centers, np.float32), "half": np.asarray(halves, np.float32),
            "anchor": np.asarray(anchors, np.int32), "round": np.asarray(rounds, np.float32),
            "hand": np.asarray(hand, np.float32)}


STEP = TIMESTEP * FRAME_SKIP  # one env step (s)


def _force_gain(j: Joint, dt: float = STEP) -> float:
    """The velocity a unit constant acceleration adds over one env step against the joint's
    damping, (1 - exp(-g dt)) / g with g = damping / inertia (dt where there is no damping):
    a heavily damped joint under gravity creeps at its terminal velocity."""
    rate = j.damping / j.inertia
    return dt if rate * dt < 1e-6 else (1.0 - math.exp(-rate * dt)) / rate


def compile_row(scene: Scene) -> dict[str, np.ndarray]:
    """One task's scene as fixed-shape arrays (the physics reads these)."""
    static = _pad_boxes(scene.static, MAX_STATIC, "static")
    moving = _pad_boxes(scene.fixture.boxes, MAX_MOVING, "fixture")
    joints = list(scene.fixture.joints)
    if len(joints) > MAX_JOINTS:
        raise ValueError(f"{len(joints)} joints, at most {MAX_JOINTS}")
    if any(j.kind == JOINT_HINGE for j in joints) and len(joints) > 1:
        raise ValueError("a hinge fixture has one joint")
    none = Joint(JOINT_NONE, (1.0, 0.0, 0.0), 0.0, 0.0)
    joints += [none] * (MAX_JOINTS - len(joints))
    obj = scene.obj
    p2 = scene.obs_point2
    row = {
        "static_center": static["center"], "static_half": static["half"],
        "static_anchor": static["anchor"], "static_hand": static["hand"],
        "moving_center": moving["center"], "moving_half": moving["half"],
        "moving_round": moving["round"],
        "fix_anchor": np.int32(scene.fixture.anchor),
        "fix_origin": np.asarray(scene.fixture.origin, np.float32),
        "fix_light": np.float32(scene.fixture.light),
        "fix_drag": np.float32(scene.fixture.drag),
        "fix_friction": np.float32(scene.fixture.friction),
        "joint_kind": np.asarray([j.kind for j in joints], np.int32),
        "joint_axis": np.asarray([j.axis for j in joints], np.float32),
        "joint_lo": np.asarray([j.lo for j in joints], np.float32),
        "joint_hi": np.asarray([j.hi for j in joints], np.float32),
        "joint_init": np.asarray([j.init for j in joints], np.float32),
        "joint_init_vel": np.asarray([j.init_vel for j in joints], np.float32),
        "joint_decay": np.asarray([math.exp(-STEP * j.damping / j.inertia) for j in joints],
                                  np.float32),
        "joint_damping": np.asarray([j.damping / j.inertia for j in joints], np.float32),
        "joint_force_gain": np.asarray([_force_gain(j) for j in joints], np.float32),
        "joint_implicit": np.asarray([j.inertia / (j.inertia + TIMESTEP * j.damping)
                                      for j in joints], np.float32),
        "joint_spring": np.asarray([j.stiffness / j.inertia for j in joints], np.float32),
        "joint_springref": np.asarray([j.springref for j in joints], np.float32),
        "joint_give": np.asarray([j.give for j in joints], np.float32),
        "joint_gravity": np.asarray([j.gravity for j in joints], np.float32),
        "has_obj": np.float32(obj is not None),
        "obj_half": np.asarray(obj.half if obj else (0.0, 0.0, 0.0), np.float32),
        "obj_mass": np.float32(obj.mass if obj else 1.0),
        "obj_rest": np.float32(obj.rest_z if obj else 0.0),
        "obj_bottom": np.float32(0.0 if obj is None else obj.half[2] if obj.bottom is None
                                 else obj.bottom),
        "obj_grip": np.float32(obj.grip if obj else 0.0),
        "obj_ball": np.float32(obj is not None and obj.ball),
        "obj_friction": np.float32(obj.friction if obj else TABLE_FRICTION),
        "obj_start": np.asarray(obj.start if obj else (0.0, 0.0, 0.0), np.float32),
        "obj_part_offset": np.asarray(obj.part[0] if obj and obj.part else (0.0, 0.0, 0.0),
                                      np.float32),
        "obj_part_half": np.asarray(obj.part[1] if obj and obj.part else (0.0, 0.0, 0.0),
                                    np.float32),
        "p1_on": np.int32(scene.obs_point.on), "p1_offset": np.asarray(scene.obs_point.offset,
                                                                      np.float32),
        "p1_anchor": np.int32(scene.obs_point.anchor),
        "q1_mode": np.int32(scene.obs_quat.mode),
        "q1_base": np.asarray(scene.obs_quat.base, np.float32),
        "q1_order": np.int32(scene.obs_quat.order),
        "has_p2": np.float32(p2 is not None),
        "p2_on": np.int32(p2.on if p2 else ON_WORLD),
        "p2_offset": np.asarray(p2.offset if p2 else (0.0, 0.0, 0.0), np.float32),
        "p2_anchor": np.int32(p2.anchor if p2 else ANCHOR_WORLD),
        "q2_mode": np.int32(scene.obs_quat2.mode),
        "q2_base": np.asarray(scene.obs_quat2.base, np.float32),
        "q2_order": np.int32(scene.obs_quat2.order),
    }
    return row
