"""Moves, free cells and per-slot object values: the pieces the dynamics and the DP share."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.gridworld.params import EnvParams

N_ACTIONS = 5
# Action id -> (d_row, d_col): up, down, left, right, no-op.
_D_ROW = (-1, 1, 0, 0, 0)
_D_COL = (0, 0, -1, 1, 0)


def cell_rc(cell: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    return cell // g, cell % g


def free_cells(params: EnvParams) -> jax.Array:
    """bool (G*G,): cell index lies inside the g x g grid and is not a wall."""
    big = params.walls.shape[-1]
    cells = jnp.arange(big * big)
    g = params.grid_size
    row, col = cell_rc(cells, g)
    inside = cells < g * g
    wall = params.walls[jnp.clip(row, 0, big - 1), jnp.clip(col, 0, big - 1)]
    return inside & ~wall


def move(pos: jax.Array, action: jax.Array, params: EnvParams) -> jax.Array:
    """Next cell: off-grid moves and moves into walls leave the agent in place."""
    big = params.walls.shape[-1]
    g = params.grid_size
    a = jnp.clip(jnp.asarray(action, jnp.int32), 0, N_ACTIONS - 1)
    row, col = cell_rc(pos, g)
    nr = row + jnp.asarray(_D_ROW, jnp.int32)[a]
    nc = col + jnp.asarray(_D_COL, jnp.int32)[a]
    inside = (nr >= 0) & (nr < g) & (nc >= 0) & (nc < g)
    wall = params.walls[jnp.clip(nr, 0, big - 1), jnp.clip(nc, 0, big - 1)]
    return jnp.where(inside & ~wall, nr * g + nc, pos).astype(jnp.int32)


def distinct_cells(noise: jax.Array, free: jax.Array, wanted: jax.Array) -> tuple[jax.Array,
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


def slot_values(params: EnvParams) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-slot reward, p_terminate and p_respawn (looked up by slot type)."""
    t = jnp.clip(params.obj_types, 0, params.obj_rewards.shape[-1] - 1)
    return params.obj_rewards[t], params.obj_p_terminate[t], params.obj_p_respawn[t]


def active_slots(params: EnvParams) -> jax.Array:
    return jnp.arange(params.obj_types.shape[-1]) < params.n_objs

