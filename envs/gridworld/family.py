"""The grid-world family's facts (`envs.family("gridworld/...")`)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from envs.families import Family, LevelGenerator
from envs.gridworld.levels import DISTRIBUTIONS, layout_of, sample_levels
from envs.gridworld.optimum import optimal_return


def _train_preset(short: str) -> str:
    """GROOVE's agents: bias-free tables on tabular levels, an MLP [32] elsewhere."""
    return "gridworld-tabular" if layout_of(short).tabular else "gridworld"


def _level_generator(short: str, lifetime: int | None = None) -> LevelGenerator | None:
    if short not in DISTRIBUTIONS and short != "tabular":
        return None

    def generate(key: jax.Array, n: int):
        levels = sample_levels(key, short, n)
        if lifetime is not None:
            levels = levels.replace(lifetime=jnp.full(n, lifetime, jnp.int32))
        return levels

    return generate


def _optimum(env: Any):
    """The exact optimum of tabular levels (objects respawn at fixed cells), over one episode
    of the env's episode cap."""
    if not getattr(env, "tabular", False):
        return None
    horizon = int(env.max_episode_steps)
    return lambda params: optimal_return(params, horizon=horizon)


FAMILY = Family("gridworld", _train_preset, _level_generator, _optimum)
