"""Matplotlib rendering of manipulation states and trajectories: a top view (x-y) and a side view
(y-z), with the hand, gripper fingers, object, goal and fixtures. PNG for states/trajectories and
a short GIF for rollouts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patches  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from envs.manipulation.physics import EnvState  # noqa: E402
from envs.manipulation.tasks import (  # noqa: E402
    BALL,
    HAND_HIGH,
    HAND_LOW,
    HINGE,
    NO_FIXTURE,
    OBJECTS,
    PEG,
    PEG_HEAD,
    SHELF_HALF,
    SHELF_HEIGHT,
    SLIDER,
    TASK_SPECS,
)

_VIEWS = (("top view (x, y)", 0, 1, (-0.55, 0.55), (0.3, 1.05)),
          ("side view (y, z)", 1, 2, (0.3, 1.05), (-0.02, 0.55)))
_HAND_C, _OBJ_C, _GOAL_C, _FIX_C = "tab:blue", "tab:orange", "tab:green", "dimgray"


def _numpy_state(state: EnvState, index: int | None = None) -> dict[str, np.ndarray]:
    leaves = {k: np.asarray(v) for k, v in vars(state).items()}
    if index is not None:
        leaves = {k: v[index] for k, v in leaves.items()}
    return leaves


def _handle(s: dict[str, np.ndarray], spec: Any) -> tuple[np.ndarray, np.ndarray]:
    """(pivot or slider origin, handle position) of the task's fixture in numpy."""
    f = spec.fixture
    pivot = s["fixture_base"] + np.asarray(f.origin)
    q = float(s["joint"])
    if f.kind == HINGE:
        tip = pivot + f.radius * (math.cos(q) * np.asarray(f.axis) + math.sin(q) * np.asarray(
            f.axis2))
    else:
        tip = pivot + np.asarray(f.axis) * q
    return pivot, tip


def _draw_fixture(ax: Any, s: dict[str, np.ndarray], spec: Any, i: int, j: int) -> None:
    f = spec.fixture
    if f.kind == NO_FIXTURE:
        return
    pivot, tip = _handle(s, spec)
    base = s["fixture_base"]
    name = spec.name
    if f.kind == HINGE:  # door panel or lever arm, drawn as a thick bar from the hinge
        ax.plot([pivot[i], tip[i]], [pivot[j], tip[j]], color=_FIX_C, lw=5, solid_capstyle="butt")
        ax.plot(pivot[i], pivot[j], "o", color="black", ms=5)
    elif name.startswith("drawer"):  # cabinet + drawer box (front face behind the handle)
        front = tip[1] + 0.04
        box = {0: (base[0] - 0.1, base[0] + 0.1), 1: (front, front + 0.2), 2: (0.0, 0.14)}
        cab = {0: (base[0] - 0.12, base[0] + 0.12), 1: (base[1] - 0.14, base[1] + 0.1),
               2: (0.0, 0.18)}
        for rect, style in ((cab, dict(fill=False, ec=_FIX_C, lw=1.5)),
                            (box, dict(fc="burlywood", ec=_FIX_C, alpha=0.8))):
            ax.add_patch(patches.Rectangle((rect[i][0], rect[j][0]), rect[i][1] - rect[i][0],
                                           rect[j][1] - rect[j][0], **style))
    elif name.startswith("window"):  # frame + sliding pane
        frame = {0: (base[0] - 0.15, base[0] + 0.35), 1: (base[1] + 0.01, base[1] + 0.03),
                 2: (base[2] - 0.1, base[2] + 0.2)}
        pane = {0: (tip[0] - 0.1, tip[0] + 0.1), 1: (base[1] + 0.015, base[1] + 0.025),
                2: (base[2] - 0.08, base[2] + 0.18)}
        for rect, style in ((frame, dict(fill=False, ec=_FIX_C, lw=1.5)),
                            (pane, dict(fc="lightblue", ec=_FIX_C, alpha=0.8))):
            ax.add_patch(patches.Rectangle((rect[i][0], rect[j][0]), rect[i][1] - rect[i][0],
                                           rect[j][1] - rect[j][0], **style))
    elif f.kind == SLIDER:  # button box + button stem
        box = {0: (base[0] - 0.06, base[0] + 0.06), 1: (base[1] - 0.06, base[1] + 0.06),
               2: (0.0, base[2])}
        ax.add_patch(patches.Rectangle((box[i][0], box[j][0]), box[i][1] - box[i][0],
                                       box[j][1] - box[j][0], fc="lightgray", ec=_FIX_C))
        if j == 2:
            ax.plot([tip[i], tip[i]], [base[2], tip[2]], color="red", lw=6, solid_capstyle="butt")
        else:
            ax.add_patch(patches.Circle((tip[i], tip[j]), 0.02, fc="red", ec="black"))
    ax.plot(tip[i], tip[j], "s", color="black", ms=5)


def _draw_scene(ax: Any, s: dict[str, np.ndarray], spec: Any, i: int, j: int) -> None:
    """Everything except the hand: table, aux bodies, fixture, object, goal."""
    if j == 2:
        ax.axhline(0.0, color="saddlebrown", lw=2)
    lo, hi = HAND_LOW, HAND_HIGH
    ax.add_patch(patches.Rectangle((lo[i], lo[j]), hi[i] - lo[i], hi[j] - lo[j], fill=False,
                                   ls=":", ec="lightgray"))
    aux = s["aux"]
    if spec.has_shelf:
        top = aux[2] + SHELF_HEIGHT
        ext = {0: (aux[0] - SHELF_HALF[0], aux[0] + SHELF_HALF[0]),
               1: (aux[1] - SHELF_HALF[1], aux[1] + SHELF_HALF[1]), 2: (top - 0.01, top)}
        ax.add_patch(patches.Rectangle((ext[i][0], ext[j][0]), ext[i][1] - ext[i][0],
                                       ext[j][1] - ext[j][0], fc="tan", ec=_FIX_C))
    if spec.name == "peg-insert-side":  # the box with the hole (hole = goal)
        ext = {0: (aux[0] - 0.03, aux[0] + 0.03), 1: (aux[1] - 0.08, aux[1] + 0.08),
               2: (0.0, aux[2] + 0.2)}
        ax.add_patch(patches.Rectangle((ext[i][0], ext[j][0]), ext[i][1] - ext[i][0],
                                       ext[j][1] - ext[j][0], fc="lightgray", ec=_FIX_C))
    if spec.name == "basketball":  # hoop ring around the goal, backboard at the basket
        goal = s["goal"]
        ax.add_patch(patches.Ellipse((goal[i], goal[j]), 0.12, 0.12 if j != 2 else 0.02,
                                     fill=False, ec="red", lw=2))
        ax.plot([aux[i], aux[i]] if j == 2 else [aux[i] - 0.08, aux[i] + 0.08],
                [0.0, goal[2] + 0.1] if j == 2 else [aux[j], aux[j]], color=_FIX_C, lw=3)
    _draw_fixture(ax, s, spec, i, j)
    radius, half_h, _ = OBJECTS[spec.obj_kind]
    obj = s["obj_pos"]
    if spec.obj_kind == PEG:
        head = obj + np.asarray(PEG_HEAD)
        tail = obj - 0.5 * np.asarray(PEG_HEAD)
        ax.plot([head[i], tail[i]], [head[j], tail[j]], color=_OBJ_C, lw=6,
                solid_capstyle="butt")
        ax.plot(head[i], head[j], "o", color="darkred", ms=4)
    elif spec.obj_kind == BALL:
        ax.add_patch(patches.Circle((obj[i], obj[j]), radius, fc=_OBJ_C, ec="black"))
    elif spec.obj_kind != 0:
        if j == 2:
            ax.add_patch(patches.Rectangle((obj[i] - radius, obj[j] - half_h), 2 * radius,
                                           2 * half_h, fc=_OBJ_C, ec="black"))
        else:
            ax.add_patch(patches.Circle((obj[i], obj[j]), radius, fc=_OBJ_C, ec="black"))
    goal = s["goal"]
    ax.plot(goal[i], goal[j], "*", color=_GOAL_C, ms=14, mec="black", zorder=5)


def _draw_hand(ax: Any, s: dict[str, np.ndarray], i: int, j: int) -> list[Any]:
    hand, grip = s["hand"], float(s["grip"])
    half_gap = 0.005 + 0.045 * grip  # fingers spread along x
    artists = []
    if j == 2:  # side view: fingers hang below the tcp, the arm goes up
        artists += ax.plot([hand[i], hand[i]], [hand[j] + 0.01, hand[j] + 0.12], color=_HAND_C,
                           lw=6, alpha=0.6)
        artists += ax.plot([hand[i] - 0.015, hand[i] + 0.015], [hand[j] + 0.01] * 2,
                           color=_HAND_C, lw=4)
        artists += ax.plot([hand[i], hand[i]], [hand[j] + 0.01, hand[j] - 0.045],
                           color="navy", lw=3)
    else:
        artists += ax.plot([hand[0] - half_gap, hand[0] + half_gap], [hand[1], hand[1]],
                           color=_HAND_C, lw=2)
        for sx in (-1, 1):
            artists.append(ax.add_patch(patches.Rectangle(
                (hand[0] + sx * half_gap - 0.006, hand[1] - 0.012), 0.012, 0.024, fc="navy")))
    artists += ax.plot(hand[i], hand[j], "+", color="white", ms=6)
    return artists


def _setup_axes(fig: Any) -> list[Any]:
    axes = fig.subplots(1, 2)
    for ax, (title, _, _, xlim, ylim) in zip(axes, _VIEWS, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    return list(axes)


def render_state(state: EnvState, path: str | Path | None = None, index: int | None = None,
                 title: str | None = None, info: str = "") -> Any:
    """Draw one state (or element `index` of a batched state); save a PNG if `path` is given."""
    s = _numpy_state(state, index)
    spec = TASK_SPECS[int(s["task_id"])]
    fig = plt.figure(figsize=(9, 4.2))
    axes = _setup_axes(fig)
    for ax, (_, i, j, _, _) in zip(axes, _VIEWS, strict=True):
        _draw_scene(ax, s, spec, i, j)
        _draw_hand(ax, s, i, j)
    fig.suptitle(title or f"{spec.name}  t={int(s['time'])}  {info}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return fig


def _stack(states: EnvState, index: int | None) -> list[dict[str, np.ndarray]]:
    """A trajectory EnvState with a leading time axis (and optionally a batch axis) -> frames."""
    leaves = jax.tree.map(np.asarray, states)
    arrays = {k: v for k, v in vars(leaves).items()}
    if index is not None:
        arrays = {k: v[:, index] for k, v in arrays.items()}
    length = arrays["hand"].shape[0]
    return [{k: v[t] for k, v in arrays.items()} for t in range(length)]


def render_trajectory(states: EnvState, png_path: str | Path | None = None,
                      gif_path: str | Path | None = None, index: int | None = None,
                      success: Any = None, gif_frames: int = 40, fps: int = 10) -> Any:
    """Draw a rollout: PNG with the hand (blue) and object (orange) paths over the final frame,
    and optionally a GIF of `gif_frames` evenly spaced frames.

    `states` is an EnvState with a leading time axis (e.g. stacked by `lax.scan`), optionally
    with a batch axis after it (pick an element with `index`). `success` (per step) goes in the
    titles.
    """
    frames = _stack(states, index)
    spec = TASK_SPECS[int(frames[0]["task_id"])]
    succ = None
    if success is not None:  # per step; align with frames when frames include the reset state
        succ = np.asarray(success).reshape(np.shape(success)[0], -1)[:, 0]
        succ = np.concatenate([np.zeros(len(frames) - len(succ)), succ])
    hands = np.stack([f["hand"] for f in frames])
    objs = np.stack([f["obj_pos"] for f in frames])
    first_success = (None if succ is None or not succ.any()
                     else int(np.argmax(succ > 0)))
    fig = plt.figure(figsize=(9, 4.2))
    axes = _setup_axes(fig)
    for ax, (_, i, j, _, _) in zip(axes, _VIEWS, strict=True):
        _draw_scene(ax, frames[-1], spec, i, j)
        ax.plot(hands[:, i], hands[:, j], color=_HAND_C, lw=1, alpha=0.8)
        if spec.obj_kind != 0:
            ax.plot(objs[:, i], objs[:, j], color=_OBJ_C, lw=1, ls="--")
        ax.plot(hands[0, i], hands[0, j], "o", color=_HAND_C, ms=4)
        _draw_hand(ax, frames[-1], i, j)
    verdict = ("" if succ is None else
               f"  success at step {first_success}" if first_success is not None else
               "  no success")
    fig.suptitle(f"{spec.name}: {len(frames)} steps{verdict}", fontsize=10)
    fig.tight_layout()
    if png_path is not None:
        fig.savefig(png_path, dpi=90)
        plt.close(fig)
    if gif_path is not None:
        _write_gif(frames, spec, succ, gif_path, gif_frames, fps)
    return fig


def _write_gif(frames: list[dict[str, np.ndarray]], spec: Any, succ: Any, path: str | Path,
               n: int, fps: int) -> None:
    picks = np.unique(np.linspace(0, len(frames) - 1, n).astype(int))
    fig = plt.figure(figsize=(7, 3.3))
    axes = _setup_axes(fig)

    def draw(t: int) -> list[Any]:
        for ax, (title, i, j, xlim, ylim) in zip(axes, _VIEWS, strict=True):
            ax.clear()
            ax.set_title(title, fontsize=8)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            _draw_scene(ax, frames[t], spec, i, j)
            _draw_hand(ax, frames[t], i, j)
        done = "" if succ is None else ("  SUCCESS" if succ[: t + 1].any() else "")
        fig.suptitle(f"{spec.name}  t={t}{done}", fontsize=9)
        return []

    anim = FuncAnimation(fig, draw, frames=list(picks), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps), dpi=60)
    plt.close(fig)

