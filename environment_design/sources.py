"""Plain level sources (`Fixed`, `Sampled`) and the level generators and mutations PLR/ACCEL use.

A *generator* `(key, n) -> Level [n]` draws new levels (domain randomisation); a *mutation*
`(key, level) -> level` edits one unbatched level (ACCEL). Builders here make them from a
`ParamSpace`; a level distribution's own generator is its env family's hook
(`envs.family(name).level_generator(short)`, e.g. grid-world distributions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from envs.params import Level, ParamSpace

Generator = Callable[[jax.Array, int], Level]
Mutate = Callable[[jax.Array, Level], Level]
State = dict[str, Any]


class Fixed:
    """Always the same levels: `sample` returns them in order, cycling when `n` exceeds their
    number (a single level is repeated). The state is empty and `update` does nothing."""

    def __init__(self, levels: Level):
        """`levels`: a batched Level [m], or one unbatched Level."""
        levels = jax.tree.map(jnp.asarray, levels)
        if levels.lifetime.ndim == 0:
            levels = jax.tree.map(lambda x: x[None], levels)
        self.levels = levels
        self.num_levels = int(jnp.shape(levels.lifetime)[0])

    def init(self, key: jax.Array) -> State:
        return {}

    def sample(self, state: State, key: jax.Array, n: int) -> tuple[State, Level]:
        index = jnp.arange(n) % self.num_levels
        return state, jax.tree.map(lambda x: x[index], self.levels)

    def update(self, state: State, key: jax.Array, levels: Level, scores: jax.Array,
               extras: dict[str, jax.Array]) -> State:
        return state


class Sampled:
    """Fresh levels from `generator` at every `sample` (domain randomisation); empty state,
    `update` does nothing."""

    def __init__(self, generator: Generator):
        self.generator = generator

    def init(self, key: jax.Array) -> State:
        return {}

    def sample(self, state: State, key: jax.Array, n: int) -> tuple[State, Level]:
        return state, self.generator(key, n)

    def update(self, state: State, key: jax.Array, levels: Level, scores: jax.Array,
               extras: dict[str, jax.Array]) -> State:
        return state


# ----------------------------------------------------------------------------- generators
def space_generator(space: ParamSpace, lifetime: int) -> Generator:
    """Uniform draws from `space` (`ParamSpace.sample`), each with the same agent `lifetime`."""
    if int(lifetime) < 1:
        raise ValueError(f"space_generator: lifetime must be >= 1 update, got {lifetime}")

    def generate(key: jax.Array, n: int) -> Level:
        return Level(params=space.sample(key, n),
                     lifetime=jnp.full((n,), int(lifetime), jnp.int32))

    return generate


# ----------------------------------------------------------------------------- mutations
def space_mutate(space: ParamSpace, scale: float) -> Mutate:
    """`ParamSpace.mutate` of a level's params (Gaussian steps of `scale` x each field's range,
    clipped: the child stays inside the space); the lifetime is kept."""

    def mutate(key: jax.Array, level: Level) -> Level:
        return level.replace(params=space.mutate(key, level.params, scale))

    return mutate


def gridworld_mutate(num_edits: int) -> Mutate:
    """`num_edits` random edits of a grid-world level's structure, each one of (uniformly):
    flip a wall, move one active object, move the start cell.

    Edits stay inside the level's own g x g grid and keep it valid: walls never cover the
    start or an object slot's cell, and the start and every slot's cell (active or not) stay
    on distinct wall-free cells. An edit with no allowed cell does nothing.
    """
    if int(num_edits) < 1:
        raise ValueError(f"gridworld_mutate: num_edits must be >= 1, got {num_edits}")

    def mutate(key: jax.Array, level: Level) -> Level:
        params, _ = jax.lax.scan(_grid_edit, level.params, jax.random.split(key, num_edits))
        return level.replace(params=params)

    return mutate


def _grid_edit(params: Any, key: jax.Array) -> tuple[Any, None]:
    """One structural edit of `envs.gridworld.EnvParams` (see `gridworld_mutate`).

    Written with dense masks instead of gathers and scatters: it is vmapped over levels, and
    one uniform draw feeds every choice (both keep compilation cheap).
    """
    big = params.walls.shape[-1]
    n_slots = params.obj_cells.shape[-1]
    g = params.grid_size
    cells = jnp.arange(big * big)
    lanes = jnp.arange(big)
    row_hot = (cells // g)[:, None] == lanes  # [C, G]: the row of each cell index
    col_hot = (cells % g)[:, None] == lanes
    inside = cells < g * g
    wall = jnp.any(row_hot[:, :, None] & params.walls[None] & col_hot[:, None, :], axis=(1, 2))
    occupied = (cells == params.start_pos) | jnp.any(cells[:, None] == params.obj_cells[None],
                                                     axis=-1)

    u = jax.random.uniform(key, (2 + big * big,))
    kind = jnp.minimum(jnp.floor(3 * u[0]), 2).astype(jnp.int32)  # 0 wall, 1 object, 2 start
    n_active = jnp.maximum(params.n_objs, 1)
    slot = jnp.minimum(jnp.floor(n_active * u[1]), n_active - 1).astype(jnp.int32)
    allowed = inside & ~occupied & ((kind == 0) | ~wall)
    cell = jnp.argmax(jnp.where(allowed, u[2:], -1.0)).astype(jnp.int32)
    ok = allowed.any()

    flip = (ok & (kind == 0)) & (lanes[:, None] == cell // g) & (lanes[None, :] == cell % g)
    move = ok & (kind == 1) & (jnp.arange(n_slots) == slot)
    return params.replace(
        walls=params.walls ^ flip,
        obj_cells=jnp.where(move, cell, params.obj_cells).astype(params.obj_cells.dtype),
        start_pos=jnp.where(ok & (kind == 2), cell, params.start_pos).astype(jnp.int32),
    ), None
