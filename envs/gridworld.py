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

import math
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from envs.params import Box, Choice, Level, ParamSpace

N_ACTIONS = 5
# Action id -> (d_row, d_col): up, down, left, right, no-op.
_D_ROW = (-1, 1, 0, 0, 0)
_D_COL = (0, 0, -1, 1, 0)


# ----------------------------------------------------------------------------- pytrees
@struct.dataclass
class EnvParams:
    """One grid-world level, padded to its layout's maximum shapes.

    Shapes: G = max grid size, N = object slots, T = object types.
    Slot i (< n_objs) holds an object of type `obj_types[i]`; slots >= n_objs never exist.
    """

    grid_size: jax.Array  # int32 (), g <= G
    walls: jax.Array  # bool (G, G), walls[row, col]; only [:g, :g] is read
    start_pos: jax.Array  # int32 (), cell index row * g + col
    n_objs: jax.Array  # int32 (), number of active slots
    obj_types: jax.Array  # int32 (N,), type of each slot
    obj_cells: jax.Array  # int32 (N,), fixed cell of each slot (tabular placement)
    obj_rewards: jax.Array  # float32 (T,)
    obj_p_terminate: jax.Array  # float32 (T,)
    obj_p_respawn: jax.Array  # float32 (T,)
    max_steps_in_episode: jax.Array  # int32 (), episode length (time limit)


@struct.dataclass
class EnvState(environment.EnvState):
    """Step count, agent cell, object cells, which objects exist, sticky termination flag."""

    pos: jax.Array  # int32 ()
    obj_pos: jax.Array  # int32 (N,)
    obj_exists: jax.Array  # bool (N,)
    terminated: jax.Array  # bool ()


# ----------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class Layout:
    """Static shapes shared by every level of a mode, and its default episode cap."""

    max_grid_size: int
    max_n_objs: int
    max_n_obj_types: int
    tabular: bool
    max_episode_steps: int

    def obs_size(self, tabular: bool | None = None) -> int:
        tab = self.tabular if tabular is None else tabular
        cells = self.max_grid_size**2
        if tab:
            return cells * 2**self.max_n_objs + 1
        return cells * (self.max_n_obj_types + 1) + 1


# Wall maps of the named levels ('#' = wall, row 0 first).
_MAP_L1 = ("....#....", ".........", "....#....", "....#....", "....#....", "....#....",
           "....#....", ".........", "....#....")
_MAP_L2 = ("...........", ".....#.....", ".....#.....", ".....#.....", "##.#####.##",
           ".....#.....", ".....#.....", "...........", ".....#.....", ".....#.....",
           ".....#.....")
_MAP_L3 = (".......", "..#....", ".......", "....#..", ".......", ".......", ".......")


@dataclass(frozen=True)
class _Named:
    grid_size: int
    wall_map: tuple[str, ...] | None
    obj_types: tuple[int, ...]
    rewards: tuple[float, ...]
    p_terminate: tuple[float, ...]
    p_respawn: tuple[float, ...]
    max_steps: int
    lifetime: int
    layout: Layout


# Named levels that share an observation layout share one Layout (so they batch together).
_TAB11 = Layout(11, 4, 3, True, 2000)  # dense, long, long_dense: obs 1937
_RAND7 = Layout(7, 4, 2, False, 500)  # rand_small, rand_sparse: obs 148
_DENSE = ((0, 0, 1, 2), (1.0, -1.0, -1.0), (0.0, 0.5, 0.0), (0.05, 0.1, 0.5))
_LONG = ((0, 0, 1, 1), (1.0, -1.0), (0.0, 0.5), (0.01, 1.0))

NAMED_LEVELS: dict[str, _Named] = {
    "dense": _Named(11, None, *_DENSE, 500, 2500, _TAB11),
    "sparse": _Named(13, None, (0, 1), (1.0, -1.0), (1.0, 1.0), (0.0, 0.0), 50, 2500,
                     Layout(13, 2, 2, True, 50)),
    "long": _Named(11, None, *_LONG, 1000, 2500, _TAB11),
    # The LPG paper's `longer` (Oh et al. 2020, appendix): 2 objects of type A, 5 of type B.
    "longer": _Named(9, _MAP_L1, (0, 0, 1, 1, 1, 1, 1), (1.0, -1.0), (0.1, 0.8), (0.01, 1.0),
                     2000, 2500, Layout(9, 7, 2, True, 2000)),
    # GROOVE's variant of it (2 + 3 objects), the one its `tabular` group mixes in.
    "longer_groove": _Named(9, _MAP_L1, (0, 0, 1, 1, 1), (1.0, -1.0), (0.1, 0.8), (0.01, 1.0),
                            2000, 2500, Layout(9, 5, 2, True, 2000)),
    "long_dense": _Named(11, _MAP_L2, (0, 0, 0, 0), (1.0,), (0.0,), (0.005,), 2000, 2500,
                         _TAB11),
    "rand_dense": _Named(11, None, *_DENSE, 500, 25000, Layout(11, 4, 3, False, 500)),
    "rand_long": _Named(11, None, *_LONG, 1000, 25000, Layout(11, 4, 2, False, 1000)),
    "rand_small": _Named(7, _MAP_L3, (0, 0, 1, 1), (1.0, -1.0), (0.0, 0.5), (0.05, 0.1), 500,
                         25000, _RAND7),
    "rand_sparse": _Named(7, None, (0, 1, 1), (1.0, -1.0), (1.0, 1.0), (1.0, 1.0), 50, 25000,
                          _RAND7),
    "rand_very_dense": _Named(11, None, (0,), (1.0,), (0.0,), (1.0,), 2000, 25000,
                              Layout(11, 1, 1, False, 2000)),
    # GROOVE's custom debugging level.
    "rand_tiny": _Named(3, None, (0, 0), (1.0,), (0.0,), (1.0,), 50, 250,
                        Layout(3, 2, 1, False, 50)),
}


@dataclass(frozen=True)
class _Dist:
    """A random level distribution (GROOVE `configs.py`)."""

    grid_sizes: tuple[int, int]  # U{lo..hi}
    n_objs: tuple[int, int]  # U{lo..hi}
    max_steps: tuple[int, int]  # LUi[lo, hi]
    n_walls: int  # distinct indices over [0, G^2), read with stride g
    lifetime: int | tuple[int, int]  # fixed, or LUi[lo, hi]
    layout: Layout


_ALL = Layout(10, 5, 5, True, 750)
DISTRIBUTIONS: dict[str, _Dist] = {
    "small": _Dist((4, 6), (1, 3), (20, 100), 7, 250, Layout(6, 3, 3, True, 100)),
    "medium": _Dist((6, 8), (2, 4), (100, 250), 10, 1000, Layout(8, 4, 4, True, 250)),
    "large": _Dist((8, 10), (2, 5), (250, 750), 15, 2500, _ALL),
    "all": _Dist((4, 10), (1, 5), (20, 750), 15, 1000, _ALL),
    "rand_all": _Dist((4, 10), (1, 5), (20, 750), 15, 25000, Layout(10, 5, 5, False, 750)),
    "all_shortlife": _Dist((4, 10), (1, 5), (20, 750), 15, 250, _ALL),
    "all_randlife": _Dist((4, 10), (1, 5), (20, 750), 15, (50, 250), _ALL),
    "all_vrandlife": _Dist((4, 10), (1, 5), (20, 750), 15, (10, 250), _ALL),
    "debug": _Dist((3, 4), (1, 2), (5, 10), 4, 4, Layout(4, 2, 2, True, 10)),
}

# The 'tabular' group: one of the five tabular named levels, embedded in a 13x13x5 layout.
TABULAR_GROUP = ("dense", "sparse", "long", "longer_groove", "long_dense")
_TABULAR_GROUP_LAYOUT = Layout(13, 5, 3, True, 2000)


def layout_of(name: str) -> Layout:
    """The layout (static shapes) of a named level or a distribution."""
    if name in NAMED_LEVELS:
        return NAMED_LEVELS[name].layout
    if name in DISTRIBUTIONS:
        return DISTRIBUTIONS[name].layout
    if name == "tabular":
        return _TABULAR_GROUP_LAYOUT
    raise ValueError(f"Unknown grid-world level or distribution '{name}'. Named levels: "
                     f"{', '.join(NAMED_LEVELS)}; distributions: "
                     f"{', '.join([*DISTRIBUTIONS, 'tabular'])}")


# ----------------------------------------------------------------------------- helpers
def _cell_rc(cell: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    return cell // g, cell % g


def _free_cells(params: EnvParams) -> jax.Array:
    """bool (G*G,): cell index lies inside the g x g grid and is not a wall."""
    big = params.walls.shape[-1]
    cells = jnp.arange(big * big)
    g = params.grid_size
    row, col = _cell_rc(cells, g)
    inside = cells < g * g
    wall = params.walls[jnp.clip(row, 0, big - 1), jnp.clip(col, 0, big - 1)]
    return inside & ~wall


def _move(pos: jax.Array, action: jax.Array, params: EnvParams) -> jax.Array:
    """Next cell: off-grid moves and moves into walls leave the agent in place."""
    big = params.walls.shape[-1]
    g = params.grid_size
    a = jnp.clip(jnp.asarray(action, jnp.int32), 0, N_ACTIONS - 1)
    row, col = _cell_rc(pos, g)
    nr = row + jnp.asarray(_D_ROW, jnp.int32)[a]
    nc = col + jnp.asarray(_D_COL, jnp.int32)[a]
    inside = (nr >= 0) & (nr < g) & (nc >= 0) & (nc < g)
    wall = params.walls[jnp.clip(nr, 0, big - 1), jnp.clip(nc, 0, big - 1)]
    return jnp.where(inside & ~wall, nr * g + nc, pos).astype(jnp.int32)


def _distinct_cells(noise: jax.Array, free: jax.Array, wanted: jax.Array) -> tuple[jax.Array,
                                                                                   jax.Array]:
    """Uniform distinct free cells for the `wanted` slots, from iid U[0,1) `noise` (one per cell).

    Returns (cells, ok): slot i gets the rank_i-th of a uniformly random ordering of the free
    cells (rank_i = its position among the wanted slots); `ok` is False where the grid had no
    free cell left for it (such an object simply does not appear).
    """
    n = wanted.shape[-1]
    score = jnp.where(free, noise, -1.0)
    vals, idx = jax.lax.top_k(score, n)
    rank = jnp.clip(jnp.cumsum(wanted) - 1, 0, n - 1)
    return idx[rank].astype(jnp.int32), wanted & (vals[rank] >= 0.0)


def _slot_values(params: EnvParams) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-slot reward, p_terminate and p_respawn (looked up by slot type)."""
    t = jnp.clip(params.obj_types, 0, params.obj_rewards.shape[-1] - 1)
    return params.obj_rewards[t], params.obj_p_terminate[t], params.obj_p_respawn[t]


def _active(params: EnvParams) -> jax.Array:
    return jnp.arange(params.obj_types.shape[-1]) < params.n_objs


# ----------------------------------------------------------------------------- environment
class GridWorld(environment.Environment[EnvState, EnvParams]):
    """The LPG / GROOVE grid-world (gymnax >= 1.0 interface).

    Static: the layout (max grid size, object slots, object types) and whether observations are
    tabular (a one-hot over (cell, object-existence bitmask)) or not (one-hot agent cell plus one
    occupancy plane per object type). Everything else is in `EnvParams`.

    Observations end with the episode's elapsed time, so the time limit is a true terminal
    (`observes_time`: the trainer does not bootstrap truncated steps here, as GROOVE).
    """

    observes_time = True

    def __init__(self, max_grid_size: int = 11, max_n_objs: int = 4, max_n_obj_types: int = 3,
                 tabular: bool = True, *, level: str = "dense", params: EnvParams | None = None,
                 max_episode_steps: int | None = None):
        """`level` names the default level (named level or distribution); `params` instead
        gives a custom default level (e.g. from `level_from_ascii`)."""
        super().__init__()
        self.max_grid_size = int(max_grid_size)
        self.max_n_objs = int(max_n_objs)
        self.max_n_obj_types = int(max_n_obj_types)
        self.tabular = bool(tabular)
        if params is None:
            self.level = level
            self._default = _default_level(level).params
            cap = layout_of(level).max_episode_steps
        else:
            self.level = "custom"
            self._default = params
            cap = int(np.max(np.asarray(params.max_steps_in_episode)))
        self.max_episode_steps = int(max_episode_steps if max_episode_steps is not None else cap)
        shapes = (self._default.walls.shape[-1], self._default.obj_types.shape[-1],
                  self._default.obj_rewards.shape[-1])
        if shapes != (self.max_grid_size, self.max_n_objs, self.max_n_obj_types):
            raise ValueError(f"GridWorld: level '{self.level}' has layout (G, N, T) = {shapes}, "
                             f"not {(self.max_grid_size, self.max_n_objs, self.max_n_obj_types)}")

    @classmethod
    def for_params(cls, params: EnvParams, tabular: bool = True) -> GridWorld:
        """An env whose layout fits `params` (unbatched), with `params` as its default level."""
        return cls(params.walls.shape[-1], params.obj_types.shape[-1],
                   params.obj_rewards.shape[-1], tabular, params=params)

    # -- gymnax interface -------------------------------------------------------------
    @property
    def default_params(self) -> EnvParams:
        return self._default

    @property
    def name(self) -> str:
        if self.level == "custom":
            return "GridWorld-custom" + ("" if self.tabular else "-nontabular")
        suffix = "" if self.tabular == layout_of(self.level).tabular else (
            "-tabular" if self.tabular else "-nontabular")
        return f"GridWorld-{self.level}{suffix}"

    @property
    def num_actions(self) -> int:
        return N_ACTIONS

    @property
    def obs_size(self) -> int:
        """Length of the observation vector."""
        cells = self.max_grid_size**2
        if self.tabular:
            return cells * 2**self.max_n_objs + 1
        return cells * (self.max_n_obj_types + 1) + 1

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(N_ACTIONS)

    def observation_space(self, params: EnvParams) -> spaces.Box:
        high = jnp.maximum(1.0, 0.001 * jnp.max(params.max_steps_in_episode))
        return spaces.Box(0.0, high, (self.obs_size,), jnp.float32)

    def state_space(self, params: EnvParams) -> spaces.Dict:
        cells = self.max_grid_size**2
        return spaces.Dict({
            "time": spaces.Discrete(int(np.max(np.asarray(params.max_steps_in_episode))) + 1),
            "pos": spaces.Discrete(cells),
            "obj_pos": spaces.Box(0, cells - 1, (self.max_n_objs,), jnp.int32),
            "obj_exists": spaces.Box(0, 1, (self.max_n_objs,), jnp.bool_),
            "terminated": spaces.Discrete(2),
        })

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Agent at `start_pos`; objects at their fixed cells (tabular) or fresh free cells."""
        active = _active(params)
        pos = jnp.asarray(params.start_pos, jnp.int32)
        if self.tabular:
            obj_pos, exists = jnp.asarray(params.obj_cells, jnp.int32), active
        else:
            free = _free_cells(params) & (jnp.arange(self.max_grid_size**2) != pos)
            noise = jax.random.uniform(key, (self.max_grid_size**2,))
            cells, exists = _distinct_cells(noise, free, active)
            obj_pos = jnp.where(active, cells, params.obj_cells).astype(jnp.int32)
        state = EnvState(time=jnp.asarray(0, jnp.int32), pos=pos, obj_pos=obj_pos,
                         obj_exists=exists, terminated=jnp.asarray(False))
        return self.get_obs(state, params), state

    def step_env(self, key: jax.Array, state: EnvState, action: int | jax.Array,
                 params: EnvParams) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict]:
        """One transition; `terminated` is object termination only (never the time limit)."""
        # One uniform draw per step (cheaper to compile than several samplers): respawn draws,
        # the termination draw, then placement noise.
        n, cells_n = self.max_n_objs, self.max_grid_size**2
        u = jax.random.uniform(key, (n + 1 + (0 if self.tabular else cells_n),))
        rewards, p_term, p_respawn = _slot_values(params)
        active = _active(params)

        pos = _move(state.pos, action, params)
        collected = state.obj_exists & (state.obj_pos == pos)
        spawn = (u[:n] < p_respawn) & active & ~state.obj_exists
        if self.tabular:
            obj_pos = state.obj_pos
        else:
            kept = state.obj_exists & ~collected
            cells = jnp.arange(cells_n)
            occupied = jnp.any((cells[:, None] == state.obj_pos[None, :]) & kept[None, :], -1)
            free = _free_cells(params) & (cells != pos) & ~occupied
            new_cells, spawn = _distinct_cells(u[n + 1:], free, spawn)
            obj_pos = jnp.where(spawn, new_cells, state.obj_pos).astype(jnp.int32)
        exists = (state.obj_exists | spawn) & ~collected & active

        p_done = jnp.clip(jnp.sum(jnp.where(collected, p_term, 0.0)), 0.0, 1.0)
        terminated = state.terminated | (u[n] < p_done)
        reward = jnp.sum(jnp.where(collected, rewards, 0.0)).astype(jnp.float32)

        new_state = EnvState(time=state.time + 1, pos=pos, obj_pos=obj_pos, obj_exists=exists,
                             terminated=terminated)
        return self.get_obs(new_state, params), new_state, reward, terminated, {}

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """Time limit: the level's own episode length."""
        return state.time >= params.max_steps_in_episode

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return state.terminated

    def get_obs(self, state: EnvState, params: EnvParams | None = None,
                key: jax.Array | None = None) -> jax.Array:
        """Tabular or non-tabular observation, with `0.001 * t` appended."""
        cells = self.max_grid_size**2
        time = jnp.asarray(0.001 * state.time, jnp.float32)[None]
        if self.tabular:
            bits = jnp.sum(jnp.where(state.obj_exists, 2 ** jnp.arange(self.max_n_objs), 0))
            obs = jax.nn.one_hot(state.pos + cells * bits, cells * 2**self.max_n_objs,
                                 dtype=jnp.float32)
        else:
            if params is None:
                params = self.default_params
            types = jnp.clip(params.obj_types, 0, self.max_n_obj_types - 1)
            agent = jax.nn.one_hot(state.pos, cells, dtype=jnp.float32)
            planes = jnp.zeros(cells * self.max_n_obj_types, jnp.float32).at[
                types * cells + state.obj_pos].max(state.obj_exists.astype(jnp.float32))
            obs = jnp.concatenate([agent, planes])
        return jnp.concatenate([obs, time])

    # -- analysis ---------------------------------------------------------------------
    def optimal_return(self, params: EnvParams, horizon: int | None = None) -> jax.Array:
        """Exact optimal expected return from the start state (finite-horizon expectimax DP).

        Tabular levels only (objects respawn at fixed cells, so (cell, existence bitmask) is the
        full state). `params` may carry leading batch axes (levels are vmapped). `horizon`
        defaults to the largest `max_steps_in_episode` in `params` (values must then be concrete;
        pass it explicitly under jit/vmap). Undiscounted; V_t = 0 for t >= a level's episode
        length.
        """
        if not self.tabular:
            raise NotImplementedError(
                f"{self.name}: optimal_return needs tabular dynamics (objects respawning at fixed "
                "cells); non-tabular levels respawn objects at random cells, so the state space "
                "is not (cell, bitmask). Use a tabular env (tabular=True) for the same level.")
        return optimal_return(params, horizon)

    def __repr__(self) -> str:
        return (f"GridWorld(level={self.level!r}, G={self.max_grid_size}, N={self.max_n_objs}, "
                f"T={self.max_n_obj_types}, tabular={self.tabular})")


# ----------------------------------------------------------------------------- optimum
def optimal_return(params: EnvParams, horizon: int | None = None) -> jax.Array:
    """Optimal return under *tabular* dynamics (see `GridWorld.optimal_return`).

    Works on batched params (any leading axes). Prefer the env method, which refuses
    non-tabular environments.
    """
    if horizon is None:
        try:
            horizon = int(np.max(np.asarray(params.max_steps_in_episode)))
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError) as e:
            raise ValueError("optimal_return: pass `horizon=` (a Python int) when params are "
                             "traced (inside jit / vmap)") from e
    return _optimal_return_jit(params, int(horizon))


@partial(jax.jit, static_argnames=("horizon",))
def _optimal_return_jit(params: EnvParams, horizon: int) -> jax.Array:
    fn = partial(_optimal_return_single, horizon=horizon)
    for _ in range(jnp.ndim(params.grid_size)):  # leading batch axes
        fn = jax.vmap(fn)
    return fn(params)


def _optimal_return_single(params: EnvParams, horizon: int) -> jax.Array:
    big = params.walls.shape[-1]
    n = params.obj_types.shape[-1]
    n_cells, n_masks = big * big, 2**n
    cells = jnp.arange(n_cells)
    rewards, p_term, p_respawn = _slot_values(params)
    active = _active(params)

    nxt = jax.vmap(lambda a: _move(cells, a, params))(jnp.arange(N_ACTIONS))  # (A, C)
    bits = ((jnp.arange(n_masks)[:, None] >> jnp.arange(n)[None, :]) & 1).astype(bool)  # (M, N)
    occupied = (params.obj_cells[None, :] == cells[:, None]) & active[None, :]  # (C, N)
    # Arriving at cell c with existence mask m collects coll[c, m].
    coll = occupied[:, None, :] & bits[None, :, :]  # (C, M, N)
    collf = coll.astype(jnp.float32)
    reward = collf @ rewards  # (C, M)
    keep = 1.0 - jnp.clip(collf @ p_term, 0.0, 1.0)  # (C, M)
    # Next-mask distribution W[c, m, m'] = prod_i P(bit_i of m' | m, collected).
    weight = jnp.ones((n_cells, n_masks, n_masks), jnp.float32)
    for i in range(n):
        nb = bits[None, None, :, i]  # bit i of m'
        was = bits[None, :, None, i]  # bit i of m
        col = coll[:, :, None, i]
        p = p_respawn[i]
        factor = jnp.where(~active[i] | col, ~nb,
                           jnp.where(was, nb, jnp.where(nb, p, 1.0 - p)))
        weight = weight * factor.astype(jnp.float32)

    def backup(v_next: jax.Array, t: jax.Array) -> tuple[jax.Array, None]:
        expected = jnp.einsum("cmk,ck->cm", weight, v_next)
        after = reward + keep * expected  # value of arriving at (c, m) at step t
        v = jnp.max(after[nxt], axis=0)  # (C, M): best action from (c, m)
        return jnp.where(t < params.max_steps_in_episode, v, 0.0), None

    v0, _ = jax.lax.scan(backup, jnp.zeros((n_cells, n_masks), jnp.float32),
                         jnp.arange(horizon)[::-1])
    start_mask = jnp.sum(jnp.where(active, 2 ** jnp.arange(n), 0))
    return v0[params.start_pos, start_mask]


# ----------------------------------------------------------------------------- levels
def _wall_array(rows: tuple[str, ...] | None, big: int) -> np.ndarray:
    walls = np.zeros((big, big), bool)
    for r, line in enumerate(rows or ()):
        for c, ch in enumerate(line):
            walls[r, c] = ch == "#"
    return walls


def _pad(values: tuple, size: int, fill: float | int = 0) -> list:
    return list(values) + [fill] * (size - len(values))


def _start_and_cells(noise: jax.Array, walls: jax.Array, g: jax.Array,
                     n: int) -> tuple[jax.Array, jax.Array]:
    """N+1 distinct uniform free cells (from per-cell U[0,1) noise): start and object cells."""
    big = walls.shape[-1]
    cells = jnp.arange(big * big)
    row, col = _cell_rc(cells, g)
    free = (cells < g * g) & ~walls[jnp.clip(row, 0, big - 1), jnp.clip(col, 0, big - 1)]
    score = jnp.where(free, noise, -1.0)
    _, idx = jax.lax.top_k(score, n + 1)
    idx = idx.astype(jnp.int32)
    return idx[0], idx[1:]


def _named_params(key: jax.Array, name: str, layout: Layout | None = None) -> EnvParams:
    """A named level with a random start cell and random fixed object cells (as in GROOVE)."""
    spec = NAMED_LEVELS[name]
    lay = layout or spec.layout
    big, n, t = lay.max_grid_size, lay.max_n_objs, lay.max_n_obj_types
    walls = jnp.asarray(_wall_array(spec.wall_map, big))
    g = jnp.asarray(spec.grid_size, jnp.int32)
    start, cells = _start_and_cells(jax.random.uniform(key, (big * big,)), walls, g, n)
    return EnvParams(
        grid_size=g, walls=walls, start_pos=start,
        n_objs=jnp.asarray(len(spec.obj_types), jnp.int32),
        obj_types=jnp.asarray(_pad(spec.obj_types, n), jnp.int32), obj_cells=cells,
        obj_rewards=jnp.asarray(_pad(spec.rewards, t), jnp.float32),
        obj_p_terminate=jnp.asarray(_pad(spec.p_terminate, t), jnp.float32),
        obj_p_respawn=jnp.asarray(_pad(spec.p_respawn, t), jnp.float32),
        max_steps_in_episode=jnp.asarray(spec.max_steps, jnp.int32))


def _log_uniform(u: jax.Array, low: float, high: float) -> jax.Array:
    """U[0,1) -> log-uniform on [low, high)."""
    return jnp.exp(math.log(low) + u * (math.log(high) - math.log(low)))


def _log_uniform_int(u: jax.Array, low: int, high: int) -> jax.Array:
    """U[0,1) -> log-uniform float rounded to an int in [low, high]."""
    return jnp.round(_log_uniform(u, low, high)).astype(jnp.int32)


def _uniform_int(u: jax.Array, low: int, high: int) -> jax.Array:
    """U[0,1) -> uniform int in {low..high}."""
    return jnp.minimum(low + jnp.floor(u * (high - low + 1)), high).astype(jnp.int32)


def _random_level(key: jax.Array, dist: _Dist) -> Level:
    """One level of a random distribution (GROOVE `reset_env_params` + `reset_lifetime`)."""
    lay = dist.layout
    big, n, t = lay.max_grid_size, lay.max_n_objs, lay.max_n_obj_types
    cells_n = big * big
    # All randomness from one uniform draw (one threefry call keeps compilation fast).
    u = jax.random.uniform(key, (4 + 3 * t + 2 * cells_n,))
    u_type, u_wall, u_cell = u[4:4 + 3 * t].reshape(3, t), u[4 + 3 * t:4 + 3 * t + cells_n], \
        u[4 + 3 * t + cells_n:]
    g = _uniform_int(u[0], *dist.grid_sizes)
    n_objs = _uniform_int(u[1], *dist.n_objs)
    max_steps = _log_uniform_int(u[2], *dist.max_steps)
    # Rewards: first type U[0,1), the others U[-1,1).
    rewards = jnp.where(jnp.arange(t) == 0, u_type[0], 2.0 * u_type[0] - 1.0)
    p_term = _log_uniform(u_type[1], 1e-2, 1.0)
    p_respawn = _log_uniform(u_type[2], 1e-3, 1e-1)
    # Walls: distinct uniform indices over [0, G^2) read with stride g; those >= g^2 fall outside
    # the grid. Walls beyond what leaves N+1 free cells are dropped (never happens in practice).
    _, idx = jax.lax.top_k(u_wall, dist.n_walls)
    inside = idx < g * g
    inside = inside & (jnp.cumsum(inside) <= g * g - (n + 1))
    row, col = _cell_rc(idx, g)
    walls = jnp.zeros((big, big), bool).at[jnp.where(inside, row, big),
                                           jnp.where(inside, col, big)].set(True, mode="drop")
    start, cells = _start_and_cells(u_cell, walls, g, n)
    if isinstance(dist.lifetime, tuple):
        lifetime = _log_uniform_int(u[3], *dist.lifetime)
    else:
        lifetime = jnp.asarray(dist.lifetime, jnp.int32)
    params = EnvParams(
        grid_size=g, walls=walls, start_pos=start,
        n_objs=n_objs, obj_types=jnp.arange(n, dtype=jnp.int32) % t,
        obj_cells=cells, obj_rewards=rewards.astype(jnp.float32),
        obj_p_terminate=p_term.astype(jnp.float32), obj_p_respawn=p_respawn.astype(jnp.float32),
        max_steps_in_episode=max_steps)
    return Level(params=params, lifetime=lifetime)


def _tabular_group_level(key: jax.Array) -> Level:
    """One of the five tabular named levels, uniformly, in the shared 13x13 / 5-slot layout."""
    k_pick, k_level = jax.random.split(key)
    options = [_named_params(k_level, name, _TABULAR_GROUP_LAYOUT) for name in TABULAR_GROUP]
    which = _uniform_int(jax.random.uniform(k_pick), 0, len(options) - 1)
    params = jax.tree.map(lambda *xs: jnp.stack(xs)[which], *options)
    lifetime = jnp.asarray([NAMED_LEVELS[n].lifetime for n in TABULAR_GROUP], jnp.int32)[which]
    return Level(params=params, lifetime=lifetime)


def _sample_one(key: jax.Array, distribution: str) -> Level:
    if distribution in DISTRIBUTIONS:
        return _random_level(key, DISTRIBUTIONS[distribution])
    if distribution == "tabular":
        return _tabular_group_level(key)
    spec = NAMED_LEVELS[distribution]
    return Level(params=_named_params(key, distribution),
                 lifetime=jnp.asarray(spec.lifetime, jnp.int32))


@partial(jax.jit, static_argnames=("distribution", "n"))
def _sample_levels(key: jax.Array, distribution: str, n: int) -> Level:
    return jax.vmap(lambda k: _sample_one(k, distribution))(jax.random.split(key, n))


def sample_levels(key: jax.Array, distribution: str, n: int) -> Level:
    """`n` levels (a batched `Level`) from a distribution, jitted.

    `distribution`: a random distribution (small, medium, large, all, rand_all, all_shortlife,
    all_randlife, all_vrandlife, debug), 'tabular' (a uniform pick among the five tabular named
    levels in a shared 13x13 layout), or a named level (fresh random start and object cells, as
    GROOVE draws them per level). All levels of one call share the layout `layout_of(name)`.
    """
    layout_of(distribution)  # validates the name
    return _sample_levels(key, distribution, int(n))


def named_level(name: str, key: jax.Array | None = None) -> Level:
    """A named level (reference §2.1) with its lifetime in agent updates.

    GROOVE draws the start and object cells at random per level; without `key` a fixed key gives
    a reproducible default layout.
    """
    if name not in NAMED_LEVELS:
        raise ValueError(f"Unknown named grid-world level '{name}'. Known: "
                         f"{', '.join(NAMED_LEVELS)}")
    if key is None:
        key = jax.random.PRNGKey(zlib.crc32(name.encode()) % 2**31)
    return Level(params=_named_params(key, name),
                 lifetime=jnp.asarray(NAMED_LEVELS[name].lifetime, jnp.int32))


def _default_level(name: str) -> Level:
    if name in NAMED_LEVELS:
        return named_level(name)
    layout_of(name)
    return jax.tree.map(lambda x: x[0], sample_levels(jax.random.PRNGKey(0), name, 1))


def level_from_ascii(rows: list[str] | tuple[str, ...], *, rewards: list[float],
                     p_terminate: list[float], p_respawn: list[float], max_steps: int,
                     max_grid_size: int | None = None, max_n_objs: int | None = None,
                     max_n_obj_types: int | None = None) -> EnvParams:
    """A hand-made level: '#' wall, '@' agent start, a digit k = an object of type k, '.' empty.

    Object slots are numbered in reading order. Maximum shapes default to the level's own.
    """
    g = len(rows)
    if any(len(r) != g for r in rows):
        raise ValueError("level_from_ascii: the grid must be square")
    walls, start, types, cells = np.zeros((g, g), bool), None, [], []
    for r, line in enumerate(rows):
        for c, ch in enumerate(line):
            if ch == "#":
                walls[r, c] = True
            elif ch == "@":
                start = r * g + c
            elif ch.isdigit():
                types.append(int(ch))
                cells.append(r * g + c)
            elif ch != ".":
                raise ValueError(f"level_from_ascii: unknown character {ch!r}")
    if start is None:
        raise ValueError("level_from_ascii: no agent start '@'")
    big = max_grid_size or g
    n = max_n_objs or max(len(types), 1)
    t = max_n_obj_types or len(rewards)
    if big < g or n < len(types) or t < len(rewards) or (types and max(types) >= t):
        raise ValueError("level_from_ascii: the level does not fit the given maximum shapes")
    padded_walls = np.zeros((big, big), bool)
    padded_walls[:g, :g] = walls
    return EnvParams(
        grid_size=jnp.asarray(g, jnp.int32), walls=jnp.asarray(padded_walls),
        start_pos=jnp.asarray(start, jnp.int32), n_objs=jnp.asarray(len(types), jnp.int32),
        obj_types=jnp.asarray(_pad(tuple(types), n), jnp.int32),
        obj_cells=jnp.asarray(_pad(tuple(cells), n), jnp.int32),
        obj_rewards=jnp.asarray(_pad(tuple(rewards), t), jnp.float32),
        obj_p_terminate=jnp.asarray(_pad(tuple(p_terminate), t), jnp.float32),
        obj_p_respawn=jnp.asarray(_pad(tuple(p_respawn), t), jnp.float32),
        max_steps_in_episode=jnp.asarray(max_steps, jnp.int32))


# ----------------------------------------------------------------------------- factory
def make_gridworld(name: str, *, tabular: bool | None = None) -> tuple[GridWorld, EnvParams]:
    """`(env, default_params)` for a named level or a distribution (default: a fixed sample).

    `tabular` overrides the level's observation kind (e.g. `dense` with non-tabular obs).
    """
    lay = layout_of(name)
    env = GridWorld(lay.max_grid_size, lay.max_n_objs, lay.max_n_obj_types,
                    lay.tabular if tabular is None else tabular, level=name)
    return env, env.default_params


def default_param_space(params: EnvParams, *, max_steps: tuple[int, int] = (20, 750)
                        ) -> ParamSpace:
    """Object rewards U[-1,1], p_terminate log[1e-2,1], p_respawn log[1e-3,1e-1], episode length
    log-int `max_steps`, and the number of objects (a choice in 1..N).

    Grid size, walls and cells are structural: use `sample_levels` for those.
    """
    n = int(np.shape(params.obj_types)[-1])
    fields: dict[str, Box | Choice] = {
        "obj_rewards": Box(-1.0, 1.0),
        "obj_p_terminate": Box(1e-2, 1.0, log=True),
        "obj_p_respawn": Box(1e-3, 1e-1, log=True),
        "max_steps_in_episode": Box(max_steps[0], max_steps[1], log=True, integer=True),
    }
    if n > 1:
        fields["n_objs"] = Choice(tuple(range(1, n + 1)))
    return ParamSpace(params, **fields)


# ----------------------------------------------------------------------------- rendering
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


__all__ = [
    "DISTRIBUTIONS", "NAMED_LEVELS", "TABULAR_GROUP", "EnvParams", "EnvState", "GridWorld",
    "Layout", "Level", "default_param_space", "layout_of", "level_from_ascii", "make_gridworld",
    "named_level", "optimal_return", "render_png", "render_text", "sample_levels",
]
