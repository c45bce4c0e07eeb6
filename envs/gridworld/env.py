"""The grid-world environment (gymnax >= 1.0 interface)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from envs.gridworld.dynamics import (
    N_ACTIONS,
    active_slots,
    distinct_cells,
    free_cells,
    move,
    slot_values,
)
from envs.gridworld.levels import default_level, layout_of
from envs.gridworld.optimum import optimal_return
from envs.gridworld.params import EnvParams


@struct.dataclass
class EnvState(environment.EnvState):
    """Step count, agent cell, object cells, which objects exist, sticky termination flag."""

    pos: jax.Array  # int32 ()
    obj_pos: jax.Array  # int32 (N,)
    obj_exists: jax.Array  # bool (N,)
    terminated: jax.Array  # bool ()



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
            self._default = default_level(level).params
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
        active = active_slots(params)
        pos = jnp.asarray(params.start_pos, jnp.int32)
        if self.tabular:
            obj_pos, exists = jnp.asarray(params.obj_cells, jnp.int32), active
        else:
            free = free_cells(params) & (jnp.arange(self.max_grid_size**2) != pos)
            noise = jax.random.uniform(key, (self.max_grid_size**2,))
            cells, exists = distinct_cells(noise, free, active)
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
        rewards, p_term, p_respawn = slot_values(params)
        active = active_slots(params)

        pos = move(state.pos, action, params)
        collected = state.obj_exists & (state.obj_pos == pos)
        spawn = (u[:n] < p_respawn) & active & ~state.obj_exists
        if self.tabular:
            obj_pos = state.obj_pos
        else:
            kept = state.obj_exists & ~collected
            cells = jnp.arange(cells_n)
            occupied = jnp.any((cells[:, None] == state.obj_pos[None, :]) & kept[None, :], -1)
            free = free_cells(params) & (cells != pos) & ~occupied
            new_cells, spawn = distinct_cells(u[n + 1:], free, spawn)
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


