"""Named levels (LPG / GROOVE), random level distributions, hand-made levels, and the level
ParamSpace."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from envs.gridworld.dynamics import cell_rc
from envs.gridworld.params import EnvParams, Layout
from envs.params import Box, Choice, Level, ParamSpace

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
    row, col = cell_rc(cells, g)
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
    row, col = cell_rc(idx, g)
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


def default_level(name: str) -> Level:
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


