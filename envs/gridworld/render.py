"""Pictures of a level: ASCII and PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.gridworld.env import EnvState
from envs.gridworld.params import EnvParams


def _unbatched(params: EnvParams, state: EnvState | None) -> None:
    if np.ndim(params.grid_size) or (state is not None and np.ndim(state.pos)):
        raise ValueError("render: pass a single level/state (index the batch first)")


def _grid_contents(params: EnvParams, state: EnvState | None
                   ) -> tuple[int, np.ndarray, int, list[tuple[int, int, int]]]:
    """(g, walls[g, g], agent cell, [(cell, type, slot)] of existing objects)."""
    g = int(params.grid_size)
    walls = np.asarray(params.walls)[:g, :g]
    types, n_objs = np.asarray(params.obj_types), int(params.n_objs)
    if state is None:
        pos, cells, exists = int(params.start_pos), np.asarray(params.obj_cells), \
            np.arange(len(types)) < n_objs
    else:
        pos, cells, exists = int(state.pos), np.asarray(state.obj_pos), \
            np.asarray(state.obj_exists)
    objs = [(int(cells[i]), int(types[i]), i) for i in range(len(types)) if exists[i]]
    return g, walls, pos, objs


def render_text(params: EnvParams, state: EnvState | None = None) -> str:
    """ASCII picture: '#' wall, '@' agent, letters = objects (upper case: reward > 0,
    lower case: reward <= 0; 'a' is type 0), '.' empty; then a legend.

    Without `state` the level's start is shown (objects at their fixed cells).
    """
    _unbatched(params, state)
    g, walls, pos, objs = _grid_contents(params, state)
    rewards = np.asarray(params.obj_rewards)
    grid = [["#" if walls[r, c] else "." for c in range(g)] for r in range(g)]
    for cell, typ, _ in objs:
        letter = chr(ord("a") + typ)
        grid[cell // g][cell % g] = letter.upper() if rewards[typ] > 0 else letter
    grid[pos // g][pos % g] = "@"
    t = 0 if state is None else int(state.time)
    done = "" if state is None else f", terminated={bool(state.terminated)}"
    lines = [f"GridWorld {g}x{g}, t={t}/{int(params.max_steps_in_episode)}{done}"]
    lines += ["".join(row) for row in grid]
    p_term, p_resp = np.asarray(params.obj_p_terminate), np.asarray(params.obj_p_respawn)
    for typ in sorted({int(x) for x in np.asarray(params.obj_types)[: int(params.n_objs)]}):
        lines.append(f"{chr(ord('a') + typ)}: reward {rewards[typ]:+.3f}, p_terminate "
                     f"{p_term[typ]:.3f}, p_respawn {p_resp[typ]:.4f}")
    return "\n".join(lines)


def render_png(params: EnvParams, state: EnvState | None, path: str | Path) -> Path:
    """Draw the level (walls grey, agent blue, objects green/red by reward sign) to a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    _unbatched(params, state)
    g, walls, pos, objs = _grid_contents(params, state)
    rewards = np.asarray(params.obj_rewards)
    fig = Figure(figsize=(max(2.0, 0.45 * g), max(2.0, 0.45 * g)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for r in range(g):
        for c in range(g):
            ax.add_patch(Rectangle((c, g - 1 - r), 1, 1, facecolor="0.35" if walls[r, c]
                                   else "white", edgecolor="0.8", linewidth=0.5))
    for cell, typ, _ in objs:
        r, c = divmod(cell, g)
        colour = "tab:green" if rewards[typ] > 0 else ("tab:red" if rewards[typ] < 0
                                                        else "0.6")
        ax.add_patch(Rectangle((c + 0.15, g - 1 - r + 0.15), 0.7, 0.7, facecolor=colour))
        ax.text(c + 0.5, g - 1 - r + 0.5, chr(ord("a") + typ), ha="center", va="center",
                color="white", fontsize=8)
    r, c = divmod(pos, g)
    ax.add_patch(Circle((c + 0.5, g - 1 - r + 0.5), 0.3, facecolor="tab:blue", zorder=3))
    ax.set_xlim(0, g)
    ax.set_ylim(0, g)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    title = "start" if state is None else f"t={int(state.time)}"
    ax.set_title(f"GridWorld {g}x{g} ({title})", fontsize=8)
    path = Path(path)
    fig.savefig(path)
    return path

