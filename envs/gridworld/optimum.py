"""The exact optimal episode return of a tabular level (finite-horizon expectimax DP)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from envs.gridworld.dynamics import N_ACTIONS, active_slots, move, slot_values
from envs.gridworld.params import EnvParams


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
    rewards, p_term, p_respawn = slot_values(params)
    active = active_slots(params)

    nxt = jax.vmap(lambda a: move(cells, a, params))(jnp.arange(N_ACTIONS))  # (A, C)
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


