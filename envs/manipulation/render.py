"""Matplotlib rendering of manipulation states and trajectories: a top view (x-y) and a side view
(y-z) of what the physics sees (static boxes, the fixture's boxes at its joint values, the free
object's box, the goal, the fingers and the wrist). PNG for states and trajectories, a short GIF
for rollouts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patches  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from envs.manipulation import hand as H  # noqa: E402
from envs.manipulation.physics import EnvState, fixture_pose  # noqa: E402
from envs.manipulation.tasks import TASK_SPECS, TASK_TABLE  # noqa: E402

_VIEWS = (("top view (x, y)", 0, 1, (-0.55, 0.55), (0.3, 1.05)),
          ("side view (y, z)", 1, 2, (0.3, 1.05), (-0.02, 0.55)))
_HAND_C, _OBJ_C, _GOAL_C, _FIX_C = "tab:blue", "tab:orange", "tab:green", "dimgray"
_CORNERS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))


def _numpy_state(state: EnvState, index: int | None = None) -> dict[str, np.ndarray]:
    leaves = {k: np.asarray(v) for k, v in vars(state).items()}
    if index is not None:
        leaves = {k: v[index] for k, v in leaves.items()}
    return leaves


def _row(task_id: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v[task_id]) for k, v in TASK_TABLE.items()}


def _rect(ax: Any, lo: np.ndarray, hi: np.ndarray, i: int, j: int, **style: Any) -> None:
    ax.add_patch(patches.Rectangle((lo[i], lo[j]), hi[i] - lo[i], hi[j] - lo[j], **style))


def _draw_scene(ax: Any, s: dict[str, np.ndarray], c: dict[str, np.ndarray], i: int, j: int
                ) -> None:
    """Everything except the hand: table, static boxes, fixture boxes, object, goal."""
    if j == 2:
        ax.axhline(float(c["table_z"]), color="saddlebrown", lw=2)
    lo, hi = c["mocap_low"], c["mocap_high"]
    _rect(ax, lo, hi, i, j, fill=False, ls=":", ec="lightgray")
    anchors = s["anchors"]
    for centre, half, anchor, real in zip(c["static_center"], c["static_half"],
                                          c["static_anchor"], c["static_hand"], strict=True):
        if np.any(half > 0) and real > 0:  # not the object-only boxes (`Box.hand`)
            mid = centre + anchors[anchor]
            _rect(ax, mid - half, mid + half, i, j, fc="lightgray", ec=_FIX_C, alpha=0.7)
    if np.any(c["joint_kind"] > 0):
        origin, rot, trans = (np.asarray(x) for x in fixture_pose(s["joint"], anchors, c))
        for centre, half in zip(c["moving_center"], c["moving_half"], strict=True):
            if np.any(half > 0):  # the rotated box's bounding box
                pts = origin + (centre + _CORNERS * half) @ rot.T + trans
                _rect(ax, pts.min(0), pts.max(0), i, j, fc="burlywood", ec=_FIX_C, alpha=0.8)
    if c["has_obj"] > 0:
        obj, half = s["obj"], c["obj_half"]
        _rect(ax, obj - half, obj + half, i, j, fc=_OBJ_C, ec="black")
    goal = s["goal"]
    ax.plot(goal[i], goal[j], "*", color=_GOAL_C, ms=14, mec="black", zorder=5)


def _draw_hand(ax: Any, s: dict[str, np.ndarray], i: int, j: int) -> None:
    hand, q = s["hand"], s["fingers"]
    left, right = (np.asarray(x) for x in H.finger_centres(hand, q))
    for centre in (left, right):
        _rect(ax, centre - H.FINGER_HALF, centre + H.FINGER_HALF, i, j, fc="navy", alpha=0.8)
    palm = hand + H.PALM_OFFSET
    _rect(ax, palm - H.PALM_HALF, palm + H.PALM_HALF, i, j, fc=_HAND_C, alpha=0.4)
    ax.plot(hand[i], hand[j], "+", color="white", ms=6)


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
    task_id = int(s["task_id"])
    c = _row(task_id)
    fig = plt.figure(figsize=(9, 4.2))
    axes = _setup_axes(fig)
    for ax, (_, i, j, _, _) in zip(axes, _VIEWS, strict=True):
        _draw_scene(ax, s, c, i, j)
        _draw_hand(ax, s, i, j)
    name = TASK_SPECS[task_id].name
    fig.suptitle(title or f"{name}  t={int(s['time'])}  {info}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return fig


def _stack(states: EnvState, index: int | None) -> list[dict[str, np.ndarray]]:
    """A trajectory EnvState with a leading time axis (and optionally a batch axis) -> frames."""
    leaves = jax.tree.map(np.asarray, states)
    arrays = dict(vars(leaves))
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
    task_id = int(frames[0]["task_id"])
    c, name = _row(task_id), TASK_SPECS[task_id].name
    succ = None
    if success is not None:  # per step; align with frames when frames include the reset state
        succ = np.asarray(success).reshape(np.shape(success)[0], -1)[:, 0]
        succ = np.concatenate([np.zeros(len(frames) - len(succ)), succ])
    hands = np.stack([f["hand"] for f in frames])
    objs = np.stack([f["obj"] for f in frames])
    first_success = None if succ is None or not succ.any() else int(np.argmax(succ > 0))
    fig = plt.figure(figsize=(9, 4.2))
    axes = _setup_axes(fig)
    for ax, (_, i, j, _, _) in zip(axes, _VIEWS, strict=True):
        _draw_scene(ax, frames[-1], c, i, j)
        ax.plot(hands[:, i], hands[:, j], color=_HAND_C, lw=1, alpha=0.8)
        if c["has_obj"] > 0:
            ax.plot(objs[:, i], objs[:, j], color=_OBJ_C, lw=1, ls="--")
        ax.plot(hands[0, i], hands[0, j], "o", color=_HAND_C, ms=4)
        _draw_hand(ax, frames[-1], i, j)
    verdict = ("" if succ is None else
               f"  success at step {first_success}" if first_success is not None else
               "  no success")
    fig.suptitle(f"{name}: {len(frames)} steps{verdict}", fontsize=10)
    fig.tight_layout()
    if png_path is not None:
        fig.savefig(png_path, dpi=90)
        plt.close(fig)
    if gif_path is not None:
        _write_gif(frames, c, name, succ, gif_path, gif_frames, fps)
    return fig


def _write_gif(frames: list[dict[str, np.ndarray]], c: dict[str, np.ndarray], name: str,
               succ: Any, path: str | Path, n: int, fps: int) -> None:
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
            _draw_scene(ax, frames[t], c, i, j)
            _draw_hand(ax, frames[t], i, j)
        done = "" if succ is None else ("  SUCCESS" if succ[: t + 1].any() else "")
        fig.suptitle(f"{name}  t={t}{done}", fontsize=9)
        return []

    anim = FuncAnimation(fig, draw, frames=list(picks), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps), dpi=60)
    plt.close(fig)
