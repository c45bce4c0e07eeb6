"""Grid-world levels as pytrees: `EnvParams` (one level, padded to its layout) and `Layout`
(the static shapes shared by every level of a mode)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import struct


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


