"""The 16 tasks of MT10 + ML10: reset ranges, goal offsets, objects, fixtures and success rules.

Every task is one row of a table of constants (`TASK_TABLE`, a pytree of arrays with a leading
axis of 16). The environment gathers the row of `params.task_id` and runs the same arithmetic for
every task, so a batch that mixes tasks is still one vmapped step.

A variant of a task is a 6-float `rand_vec` (Meta-World's `_last_rand_vec`): `[obj xyz, goal xyz]`
for object tasks and `[fixture base xyz, 0, 0, 0]` for articulated tasks. Every position a reset
needs (object start, goal, fixture base, auxiliary body such as the peg box, the basket or the
shelf) is an affine function of it: `pos = rand_vec @ M + c`, with `M` (6x3) and `c` per task.

Geometry deviations from Meta-World (our scenes are not MuJoCo's):
- door: hinge at base + (-0.3, -0.15, 0), handle at radius 0.3, opening 0..pi/2 towards the robot.
  door-open keeps Meta-World's goal (base + (-0.3, -0.45, 0), the handle when fully open, success
  on x only); door-close's goal is the closed handle, base + (0, -0.15, 0).
- button-press-topdown: the button top starts 0.08 above the box base and the goal ("hole") is the
  box base; window handles sit at the window base + (opening, 0, 0).
- lever-pull: pivot at base + (0.12, 0, 0.25), arm 0.2 pointing at the robot; the goal
  (base + (0.12, 0, 0.45)) is the arm's end when vertical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

# ----------------------------------------------------------------------------- shared constants
HAND_LOW = np.array([-0.5, 0.40, 0.05], np.float32)
HAND_HIGH = np.array([0.5, 1.0, 0.5], np.float32)
MAX_STEPS = 500

# object kinds
NO_OBJECT, PUCK, BALL, PEG = 0, 1, 2, 3
# fixture kinds
NO_FIXTURE, SLIDER, HINGE = 0, 1, 2
# what the success error is measured on
ERR_TCP, ERR_OBJECT, ERR_HANDLE, ERR_JOINT = 0, 1, 2, 3
# reward families (see rewards.py)
REWARD_REACH, REWARD_PUSH, REWARD_PICK, REWARD_FIXTURE = 0, 1, 2, 3

# name -> (collision radius, half height = resting centre height, width as a gripper opening)
OBJECTS = {
    NO_OBJECT: (0.0, 0.0, 0.0),
    PUCK: (0.02, 0.02, 0.4),
    BALL: (0.025, 0.03, 0.5),
    PEG: (0.02, 0.02, 0.4),
}
PEG_HEAD = (-0.1, 0.0, 0.0)  # the peg's head (the end that goes in the hole) from its grasp point
SHELF_HALF = (0.1, 0.06)  # half extents (x, y) of the shelf board
SHELF_HEIGHT = 0.28  # board top above the shelf base


def _affine(*cols: tuple[int | None, float]) -> tuple[np.ndarray, np.ndarray]:
    """(M, c) such that pos[j] = rand_vec[i_j] + c_j (or just c_j where i_j is None)."""
    m = np.zeros((6, 3), np.float32)
    c = np.zeros(3, np.float32)
    for j, (i, off) in enumerate(cols):
        if i is not None:
            m[i, j] = 1.0
        c[j] = off
    return m, c


def _from(start: int, offset=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    return _affine(*[(start + j, offset[j]) for j in range(3)])


_ZERO = _affine((None, 0.0), (None, 0.0), (None, 0.0))


@dataclass(frozen=True)
class Fixture:
    """A 1-DoF articulated fixture.

    SLIDER: handle at base + origin + axis * q.  HINGE: handle at base + origin (the hinge) +
    radius * (cos q * e1 + sin q * e2).  The hand pushes the fixture along the joint where it meets
    the fixture's contact region (half depth `depth` along the joint, half extents `extent` across
    it), and drags it when the gripper closes on the handle (within `capture` of it).
    """

    kind: int
    origin: tuple[float, float, float]
    axis: tuple[float, float, float] = (0.0, 0.0, 0.0)  # SLIDER direction / HINGE e1
    axis2: tuple[float, float, float] = (0.0, 0.0, 0.0)  # HINGE e2
    radius: float = 0.0
    limits: tuple[float, float] = (0.0, 0.0)
    init: float = 0.0
    extent: tuple[float, float, float] = (1.0, 1.0, 1.0)  # SLIDER: per world axis; HINGE: [0]=axial
    depth: float = 0.02
    capture: tuple[float, float, float] = (0.03, 0.03, 0.03)
    handle_width: float = 0.2  # gripper opening when closed on the handle
    face: float = 0.0  # joint coordinate of the pushable face relative to the handle


_DRAWER = dict(kind=SLIDER, origin=(0.0, -0.16, 0.09), axis=(0.0, -1.0, 0.0), limits=(0.0, 0.2),
               extent=(0.1, 1.0, 0.05), depth=0.025, capture=(0.05, 0.02, 0.03), face=-0.04)
_WINDOW = dict(kind=SLIDER, origin=(0.0, 0.0, 0.0), axis=(1.0, 0.0, 0.0), limits=(0.0, 0.2),
               extent=(1.0, 0.03, 0.04), depth=0.03, capture=(0.02, 0.03, 0.03))
_DOOR = dict(kind=HINGE, origin=(-0.3, -0.15, 0.0), axis=(1.0, 0.0, 0.0), axis2=(0.0, -1.0, 0.0),
             radius=0.3, limits=(0.0, math.pi / 2), extent=(0.1, 0.0, 0.0), depth=0.02,
             capture=(0.035, 0.035, 0.035))
_LEVER = dict(kind=HINGE, origin=(0.12, 0.0, 0.25), axis=(0.0, -1.0, 0.0), axis2=(0.0, 0.0, 1.0),
              radius=0.2, limits=(0.0, math.pi / 2), extent=(0.04, 0.0, 0.0), depth=0.02,
              capture=(0.03, 0.03, 0.03))
_BUTTON = dict(kind=SLIDER, origin=(0.0, 0.0, 0.08), axis=(0.0, 0.0, -1.0), limits=(0.0, 0.08),
               extent=(0.03, 0.03, 1.0), depth=0.045, capture=(0.02, 0.02, 0.02))


@dataclass(frozen=True)
class TaskSpec:
    """Static description of one task (see the module docstring for the conventions)."""

    name: str
    hand_init: tuple[float, float, float]
    rand_low: tuple[float, ...]
    rand_high: tuple[float, ...]
    obj_map: tuple = _ZERO
    goal_map: tuple = _ZERO
    fixture_map: tuple = _ZERO
    aux_map: tuple = _ZERO
    min_xy_dist: float = 0.0  # rejection sampling: |rand_vec[0:2] - rand_vec[3:5]| >= this
    obj_kind: int = NO_OBJECT
    fixture: Fixture = field(default_factory=lambda: Fixture(kind=NO_FIXTURE, origin=(0, 0, 0)))
    err_kind: int = ERR_OBJECT
    err_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    success_threshold: float = 0.05
    reward_kind: int = REWARD_PICK
    has_shelf: bool = False


_OBJ_XYZ = _from(0)
_GOAL_XYZ = _from(3)
_REACH_LOW = (-0.1, 0.6, 0.02)
_REACH_HIGH = (0.1, 0.7, 0.02)

TASK_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec("reach", (0.0, 0.6, 0.2), _REACH_LOW + (-0.1, 0.8, 0.05),
             _REACH_HIGH + (0.1, 0.9, 0.3),
             obj_map=_OBJ_XYZ, goal_map=_GOAL_XYZ, min_xy_dist=0.15, obj_kind=PUCK,
             err_kind=ERR_TCP, success_threshold=0.05, reward_kind=REWARD_REACH),
    TaskSpec("push", (0.0, 0.6, 0.2), _REACH_LOW + (-0.1, 0.8, 0.01),
             _REACH_HIGH + (0.1, 0.9, 0.02),
             obj_map=_OBJ_XYZ, goal_map=_affine((3, 0.0), (4, 0.0), (2, 0.0)), min_xy_dist=0.15,
             obj_kind=PUCK, success_threshold=0.05, reward_kind=REWARD_PUSH),
    TaskSpec("pick-place", (0.0, 0.6, 0.2), _REACH_LOW + (-0.1, 0.8, 0.05),
             _REACH_HIGH + (0.1, 0.9, 0.3), obj_map=_OBJ_XYZ, goal_map=_GOAL_XYZ,
             min_xy_dist=0.15, obj_kind=PUCK, success_threshold=0.07, reward_kind=REWARD_PICK),
    TaskSpec("door-open", (0.0, 0.6, 0.2), (0.0, 0.85, 0.15, 0, 0, 0), (0.1, 0.95, 0.15, 0, 0, 0),
             goal_map=_from(0, (-0.3, -0.45, 0.0)), fixture_map=_from(0),
             fixture=Fixture(**_DOOR, init=0.0), err_kind=ERR_HANDLE,
             err_weights=(1.0, 0.0, 0.0), success_threshold=0.08, reward_kind=REWARD_FIXTURE),
    TaskSpec("drawer-open", (0.0, 0.6, 0.2), (-0.1, 0.9, 0.0, 0, 0, 0), (0.1, 0.9, 0.0, 0, 0, 0),
             goal_map=_from(0, (0.0, -0.36, 0.09)), fixture_map=_from(0),
             fixture=Fixture(**_DRAWER, init=0.0), err_kind=ERR_HANDLE, success_threshold=0.03,
             reward_kind=REWARD_FIXTURE),
    TaskSpec("drawer-close", (0.0, 0.6, 0.2), (-0.1, 0.9, 0.0, 0, 0, 0), (0.1, 0.9, 0.0, 0, 0, 0),
             goal_map=_from(0, (0.0, -0.16, 0.09)), fixture_map=_from(0),
             fixture=Fixture(**_DRAWER, init=0.15), err_kind=ERR_HANDLE,
             success_threshold=0.065, reward_kind=REWARD_FIXTURE),
    TaskSpec("button-press-topdown", (0.0, 0.4, 0.2), (-0.1, 0.8, 0.115, 0, 0, 0),
             (0.1, 0.9, 0.115, 0, 0, 0), goal_map=_from(0), fixture_map=_from(0),
             fixture=Fixture(**_BUTTON, init=0.0), err_kind=ERR_HANDLE,
             err_weights=(0.0, 0.0, 1.0), success_threshold=0.024, reward_kind=REWARD_FIXTURE),
    TaskSpec("peg-insert-side", (0.0, 0.6, 0.2), (0.0, 0.5, 0.02, -0.35, 0.4, 0.0),
             (0.2, 0.7, 0.02, -0.25, 0.7, 0.0), obj_map=_OBJ_XYZ,
             goal_map=_from(3, (0.03, 0.0, 0.13)), aux_map=_GOAL_XYZ, min_xy_dist=0.1,
             obj_kind=PEG, err_weights=(1.0, 2.0, 2.0), success_threshold=0.07,
             reward_kind=REWARD_PICK),
    TaskSpec("window-open", (0.0, 0.4, 0.2), (-0.1, 0.7, 0.16, 0, 0, 0), (0.1, 0.9, 0.16, 0, 0, 0),
             goal_map=_from(0, (0.2, 0.0, 0.0)), fixture_map=_from(0),
             fixture=Fixture(**_WINDOW, init=0.0), err_kind=ERR_HANDLE,
             err_weights=(1.0, 0.0, 0.0), success_threshold=0.05, reward_kind=REWARD_FIXTURE),
    TaskSpec("window-close", (0.0, 0.4, 0.2), (0.0, 0.75, 0.2, 0, 0, 0), (0.0, 0.9, 0.2, 0, 0, 0),
             goal_map=_from(0), fixture_map=_from(0), fixture=Fixture(**_WINDOW, init=0.2),
             err_kind=ERR_HANDLE, err_weights=(1.0, 0.0, 0.0), success_threshold=0.05,
             reward_kind=REWARD_FIXTURE),
    TaskSpec("sweep", (0.0, 0.6, 0.2), _REACH_LOW + (0, 0, 0), _REACH_HIGH + (0, 0, 0),
             obj_map=_OBJ_XYZ, goal_map=_affine((None, 0.5), (1, 0.0), (None, 0.02)),
             obj_kind=PUCK, success_threshold=0.05, reward_kind=REWARD_PUSH),
    TaskSpec("basketball", (0.0, 0.6, 0.2), (-0.1, 0.6, 0.03, -0.1, 0.85, 0.0),
             (0.1, 0.7, 0.03, 0.1, 0.9, 0.0), obj_map=_OBJ_XYZ,
             goal_map=_from(3, (0.0, -0.083, 0.25)), aux_map=_GOAL_XYZ, min_xy_dist=0.15,
             obj_kind=BALL, success_threshold=0.08, reward_kind=REWARD_PICK),
    TaskSpec("door-close", (-0.5, 0.6, 0.2), (0.0, 0.85, 0.15, 0, 0, 0), (0.1, 0.95, 0.15, 0, 0, 0),
             goal_map=_from(0, (0.0, -0.15, 0.0)), fixture_map=_from(0),
             fixture=Fixture(**_DOOR, init=math.pi / 2), err_kind=ERR_HANDLE,
             success_threshold=0.08, reward_kind=REWARD_FIXTURE),
    TaskSpec("shelf-place", (0.0, 0.6, 0.2), (-0.1, 0.5, 0.02, -0.1, 0.8, 0.3),
             (0.1, 0.6, 0.02, 0.1, 0.9, 0.3), obj_map=_OBJ_XYZ, goal_map=_GOAL_XYZ,
             aux_map=_from(3, (0.0, 0.0, -0.3)), min_xy_dist=0.1, obj_kind=PUCK,
             success_threshold=0.07, reward_kind=REWARD_PICK, has_shelf=True),
    TaskSpec("sweep-into", (0.0, 0.6, 0.2), _REACH_LOW + (-0.001, 0.8399, 0.0199),
             _REACH_HIGH + (0.001, 0.8401, 0.0201), obj_map=_OBJ_XYZ, goal_map=_GOAL_XYZ,
             min_xy_dist=0.15, obj_kind=PUCK, success_threshold=0.05, reward_kind=REWARD_PUSH),
    TaskSpec("lever-pull", (0.0, 0.4, 0.2), (-0.1, 0.7, 0.0, 0, 0, 0), (0.1, 0.8, 0.0, 0, 0, 0),
             goal_map=_from(0, (0.12, 0.0, 0.45)), fixture_map=_from(0),
             fixture=Fixture(**_LEVER, init=0.0), err_kind=ERR_JOINT,
             success_threshold=math.pi / 24, reward_kind=REWARD_FIXTURE),
)

TASKS: tuple[str, ...] = tuple(t.name for t in TASK_SPECS)
TASK_INDEX: dict[str, int] = {n: i for i, n in enumerate(TASKS)}

MT10 = ("reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
        "button-press-topdown", "peg-insert-side", "window-open", "window-close")
ML10_TRAIN = ("reach", "push", "pick-place", "door-open", "drawer-close", "button-press-topdown",
              "peg-insert-side", "window-open", "sweep", "basketball")
ML10_TEST = ("drawer-open", "door-close", "shelf-place", "sweep-into", "lever-pull")


def task_spec(name: str) -> TaskSpec:
    """The spec of a task by name (with or without Meta-World's "-v3" suffix)."""
    short = name.removesuffix("-v3")
    if short not in TASK_INDEX:
        raise ValueError(f"Unknown manipulation task '{name}'; known tasks: {', '.join(TASKS)}")
    return TASK_SPECS[TASK_INDEX[short]]


def default_rand_vec(spec: TaskSpec) -> np.ndarray:
    """The centre of the task's reset ranges (a valid variant for every task)."""
    return (np.asarray(spec.rand_low, np.float32) + np.asarray(spec.rand_high, np.float32)) / 2


def _target_joint(spec: TaskSpec) -> float:
    """Joint value the success rule aims at (only used by ERR_JOINT tasks)."""
    return spec.fixture.limits[1] if spec.err_kind == ERR_JOINT else 0.0


def _build_table() -> dict[str, jax.Array]:
    rows: dict[str, list] = {k: [] for k in (
        "hand_init", "obj_m", "obj_c", "goal_m", "goal_c", "fix_m", "fix_c", "aux_m", "aux_c",
        "has_obj", "obj_radius", "obj_half_height", "obj_width", "head_offset",
        "fix_kind", "fix_origin", "fix_axis", "fix_axis2", "fix_radius", "fix_lo", "fix_hi",
        "fix_init", "fix_extent", "fix_depth", "fix_capture", "handle_width", "fix_face",
        "err_kind", "err_weights", "success_threshold", "reward_kind", "has_shelf",
        "target_joint")}
    for s in TASK_SPECS:
        f = s.fixture
        radius, half_h, width = OBJECTS[s.obj_kind]
        vals = dict(
            hand_init=s.hand_init, obj_m=s.obj_map[0], obj_c=s.obj_map[1], goal_m=s.goal_map[0],
            goal_c=s.goal_map[1], fix_m=s.fixture_map[0], fix_c=s.fixture_map[1],
            aux_m=s.aux_map[0], aux_c=s.aux_map[1], has_obj=float(s.obj_kind != NO_OBJECT),
            obj_radius=radius, obj_half_height=half_h, obj_width=width,
            head_offset=PEG_HEAD if s.obj_kind == PEG else (0.0, 0.0, 0.0),
            fix_kind=f.kind, fix_origin=f.origin, fix_axis=f.axis, fix_axis2=f.axis2,
            fix_radius=f.radius, fix_lo=f.limits[0], fix_hi=f.limits[1], fix_init=f.init,
            fix_extent=f.extent, fix_depth=f.depth, fix_capture=f.capture,
            handle_width=f.handle_width, fix_face=f.face, err_kind=s.err_kind,
            err_weights=s.err_weights,
            success_threshold=s.success_threshold, reward_kind=s.reward_kind,
            has_shelf=float(s.has_shelf), target_joint=_target_joint(s))
        for k, v in vals.items():
            rows[k].append(np.asarray(v))
    table = {}
    for k, v in rows.items():
        arr = np.stack(v)
        dtype = np.int32 if k in ("fix_kind", "err_kind", "reward_kind") else np.float32
        table[k] = jnp.asarray(arr.astype(dtype))
    return table


TASK_TABLE: dict[str, jax.Array] = _build_table()
RAND_LOW = np.stack([np.asarray(s.rand_low, np.float32) for s in TASK_SPECS])
RAND_HIGH = np.stack([np.asarray(s.rand_high, np.float32) for s in TASK_SPECS])


def task_constants(task_id: jax.Array) -> dict[str, jax.Array]:
    """The row of `TASK_TABLE` for one (traced) task id."""
    return {k: v[task_id] for k, v in TASK_TABLE.items()}
