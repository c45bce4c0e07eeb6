"""LPG / GROOVE grid-worlds: named levels, random level distributions and an exact optimum.

A level is an `EnvParams` value with fixed maximum shapes (a *layout*: max grid size G, object
slots N, object types T), so levels of different grid sizes and object counts batch under one
`jax.vmap`. Cells are indexed `row * g + col` with `g` the level's own grid size (as in GROOVE),
so a level with g < G only uses the first g*g cells of every observation block.

Dynamics per step (GROOVE `0c091c0`): move (walls and the edge block), collect every existing
object on the agent's new cell (standing still also collects), respawn absent objects with their
type's `p_respawn` (tabular: at their fixed cell; non-tabular: at a uniform free cell), terminate
with probability sum(p_terminate of collected), reward = sum(reward of collected).
Deliberate fix: non-tabular placement really avoids walls, the agent and the other objects
(GROOVE's `isin(cells, wall_mask)` test excluded cells 0/1 instead of the walls).

Public API::

    env, params = make_gridworld("dense")             # or envs.make("gridworld/dense")
    level = named_level("rand_small")                 # Level(params, lifetime)
    levels = sample_levels(key, "all_vrandlife", 64)  # batched Level, jittable
    env.optimal_return(levels.params)                 # exact expectimax DP (tabular only)
    print(render_text(params, state))
"""

from __future__ import annotations

from envs.gridworld.env import EnvState, GridWorld
from envs.gridworld.levels import (
    DISTRIBUTIONS,
    NAMED_LEVELS,
    TABULAR_GROUP,
    default_param_space,
    layout_of,
    level_from_ascii,
    named_level,
    sample_levels,
)
from envs.gridworld.optimum import optimal_return
from envs.gridworld.params import EnvParams, Layout
from envs.gridworld.render import render_png, render_text
from envs.params import Level


def make_gridworld(name: str, *, tabular: bool | None = None) -> tuple[GridWorld, EnvParams]:
    """`(env, default_params)` for a named level or a distribution (default: a fixed sample).

    `tabular` overrides the level's observation kind (e.g. `dense` with non-tabular obs).
    """
    lay = layout_of(name)
    env = GridWorld(lay.max_grid_size, lay.max_n_objs, lay.max_n_obj_types,
                    lay.tabular if tabular is None else tabular, level=name)
    return env, env.default_params



__all__ = [
    "DISTRIBUTIONS", "NAMED_LEVELS", "TABULAR_GROUP", "EnvParams", "EnvState", "GridWorld",
    "Layout", "Level", "default_param_space", "layout_of", "level_from_ascii", "make_gridworld",
    "named_level", "optimal_return", "render_png", "render_text", "sample_levels",
]
