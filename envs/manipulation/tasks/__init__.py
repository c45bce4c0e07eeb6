"""The Meta-World v3 tasks, their order, the benchmark splits, and the table of constants.

Task ids are positions in `TASKS`: the 16 tasks of MT10 + ML10 first (the order this suite has
always had), then the other 34 of MT50, so existing ids and variants do not move. Every task's
constants are one row of `TASK_TABLE` (a dict of arrays with a leading task axis); the physics
gathers the row of `state.task_id`, so a batch that mixes tasks is one vmapped step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.manipulation import hand as H
from envs.manipulation.scene import compile_row
from envs.manipulation.tasks import (
    basketball,
    bins,
    box,
    button,
    coffee,
    dial,
    door,
    door_lock,
    drawer,
    faucet,
    hammer,
    handle,
    lever,
    nut,
    peg,
    pit,
    plate,
    plug,
    reach_push_pick,
    shelf,
    soccer,
    sticks,
    sweep,
    walls,
    window,
)
from envs.manipulation.tasks.spec import RAND_DIM, Reject, TaskSpec, View

_MODULES = (reach_push_pick, door, drawer, button, peg, window, sweep, basketball, shelf, lever,
            walls, handle, plate, dial, faucet, door_lock, coffee, pit, box, bins, nut, plug,
            hammer, sticks, soccer)
_BY_NAME: dict[str, TaskSpec] = {s.name: s for m in _MODULES for s in m.SPECS}

ORDER = (
    "reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
    "button-press-topdown", "peg-insert-side", "window-open", "window-close", "sweep",
    "basketball", "door-close", "shelf-place", "sweep-into", "lever-pull",
    # MT50's other tasks, appended so that the ids and variants above do not move
    "reach-wall", "push-wall", "pick-place-wall", "button-press-topdown-wall", "button-press",
    "button-press-wall", "handle-press", "handle-press-side",
    "plate-slide", "plate-slide-side", "plate-slide-back", "plate-slide-back-side", "push-back",
    "coffee-button", "dial-turn", "faucet-open", "faucet-close", "door-lock", "door-unlock",
    "coffee-push", "coffee-pull", "hand-insert", "pick-out-of-hole", "box-close",
    "bin-picking", "disassemble", "peg-unplug-side", "assembly", "hammer", "stick-push",
    "stick-pull", "soccer", "handle-pull", "handle-pull-side",
)
TASK_SPECS: tuple[TaskSpec, ...] = tuple(_BY_NAME[n] for n in ORDER)
TASKS: tuple[str, ...] = tuple(s.name for s in TASK_SPECS)
TASK_INDEX: dict[str, int] = {n: i for i, n in enumerate(TASKS)}

# Meta-World v3's splits (metaworld.env_dict), in its order
MT10 = ("reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
        "button-press-topdown", "peg-insert-side", "window-open", "window-close")
ML10_TRAIN = ("reach", "push", "pick-place", "door-open", "drawer-close", "button-press-topdown",
              "peg-insert-side", "window-open", "sweep", "basketball")
ML10_TEST = ("drawer-open", "door-close", "shelf-place", "sweep-into", "lever-pull")
MT50 = ("assembly", "basketball", "bin-picking", "box-close", "button-press-topdown",
        "button-press-topdown-wall", "button-press", "button-press-wall", "coffee-button",
        "coffee-pull", "coffee-push", "dial-turn", "disassemble", "door-close", "door-lock",
        "door-open", "door-unlock", "hand-insert", "drawer-close", "drawer-open", "faucet-open",
        "faucet-close", "hammer", "handle-press-side", "handle-press", "handle-pull-side",
        "handle-pull", "lever-pull", "pick-place-wall", "pick-out-of-hole", "pick-place",
        "plate-slide", "plate-slide-side", "plate-slide-back", "plate-slide-back-side",
        "peg-insert-side", "peg-unplug-side", "soccer", "stick-push", "stick-pull", "push",
        "push-wall", "push-back", "reach", "reach-wall", "shelf-place", "sweep-into", "sweep",
        "window-open", "window-close")
ML45_TEST = ("bin-picking", "box-close", "hand-insert", "door-lock", "door-unlock")
ML45_TRAIN = ("assembly", "basketball", "button-press-topdown", "button-press-topdown-wall",
              "button-press", "button-press-wall", "coffee-button", "coffee-pull", "coffee-push",
              "dial-turn", "disassemble", "door-close", "door-open", "drawer-close",
              "drawer-open", "faucet-open", "faucet-close", "hammer", "handle-press-side",
              "handle-press", "handle-pull-side", "handle-pull", "lever-pull", "pick-place-wall",
              "pick-out-of-hole", "push-back", "pick-place", "plate-slide", "plate-slide-side",
              "plate-slide-back", "plate-slide-back-side", "peg-insert-side", "peg-unplug-side",
              "soccer", "stick-push", "stick-pull", "push-wall", "push", "reach-wall", "reach",
              "shelf-place", "sweep-into", "sweep", "window-open", "window-close")


def task_spec(name: str) -> TaskSpec:
    """The spec of a task by name (with or without Meta-World's "-v3" suffix)."""
    short = name.removesuffix("-v3")
    if short not in TASK_INDEX:
        raise ValueError(f"Unknown manipulation task '{name}'; known tasks: {', '.join(TASKS)}")
    return TASK_SPECS[TASK_INDEX[short]]


def _pad(vec: tuple[float, ...]) -> np.ndarray:
    out = np.zeros(RAND_DIM, np.float32)
    out[:len(vec)] = vec
    return out


def default_rand_vec(spec: TaskSpec) -> np.ndarray:
    """The centre of the task's reset ranges (padded to RAND_DIM)."""
    return (_pad(spec.rand_low) + _pad(spec.rand_high)) / 2


def _task_row(spec: TaskSpec) -> dict[str, np.ndarray]:
    p0, v0, v1 = H.reset_hand(spec.hand_init)
    if spec.hand_reset is not None:
        p0 = np.asarray(spec.hand_reset, np.float32)
    row = compile_row(spec.scene)
    obj_m, obj_c = spec.obj_start if spec.obj_start is not None else (
        spec.anchor_a[0], spec.anchor_a[1] + np.asarray(
            spec.scene.obj.start if spec.scene.obj else (0.0, 0.0, 0.0), np.float32))
    row.update(
        mocap_low=np.asarray(spec.mocap_low, np.float32),
        mocap_high=np.asarray(spec.mocap_high, np.float32),
        hand_init=np.asarray(spec.hand_init, np.float32), hand_reset=p0, hand_reset_vel=v0,
        hand_reset_vel_prev=v1, a_m=spec.anchor_a[0], a_c=spec.anchor_a[1],
        b_m=spec.anchor_b[0], b_c=spec.anchor_b[1], goal_m=spec.goal[0], goal_c=spec.goal[1],
        obj_m=obj_m, obj_c=obj_c, table_z=np.float32(spec.table_z),
        stale_reset=np.float32(spec.reset_obs_joint is not None),
        reset_obs_joint=np.asarray(spec.reset_obs_joint or (0.0, 0.0), np.float32))
    return row


def _build_table() -> dict[str, jax.Array]:
    rows = [_task_row(s) for s in TASK_SPECS]
    return {k: jnp.asarray(np.stack([r[k] for r in rows])) for k in rows[0]}


TASK_TABLE: dict[str, jax.Array] = _build_table()
RAND_LOW = np.stack([_pad(s.rand_low) for s in TASK_SPECS])
RAND_HIGH = np.stack([_pad(s.rand_high) for s in TASK_SPECS])


def task_constants(task_id: jax.Array) -> dict[str, jax.Array]:
    """The row of `TASK_TABLE` for one (traced) task id."""
    return {k: v[task_id] for k, v in TASK_TABLE.items()}


__all__ = ["MT10", "ML10_TEST", "ML10_TRAIN", "ORDER", "RAND_DIM", "RAND_HIGH", "RAND_LOW",
           "Reject", "TASKS", "TASK_INDEX", "TASK_SPECS", "TASK_TABLE", "TaskSpec", "View",
           "default_rand_vec", "task_constants", "task_spec"]
