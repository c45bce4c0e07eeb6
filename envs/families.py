"""What the rest of the platform may know about an environment family, without parsing names.

`envs.family(name)` gives the `Family` of any registered name. Upper floors ask it for facts
(which training preset suits an environment, whether a name is a level distribution and how to
draw from it, whether a level has an exact optimum) instead of testing name prefixes. Each
family states its own facts (the grid-world's live in `envs.gridworld`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax

from envs.params import Level

LevelGenerator = Callable[[jax.Array, int], Level]


def _no_levels(short: str, lifetime: int | None = None) -> LevelGenerator | None:
    return None


def _no_optimum(env: Any) -> Callable[[Any], jax.Array] | None:
    return None


@dataclass(frozen=True)
class Family:
    """The facts of one environment family.

    train_preset(short) -> the name of the inner-loop preset that suits environment `short`
        (a key of `discovery.presets.TRAIN_PRESETS`)
    level_generator(short, lifetime=None) -> `generate(key, n) -> Level [n]` if `short` names a
        level distribution (fresh levels with their agent lifetimes, or `lifetime` for all),
        else None
    optimum(env) -> `optimum(params) -> exact optimal episode return` (batched params) where
        the family has one for `env`, else None
    """

    name: str
    train_preset: Callable[[str], str]
    level_generator: Callable[..., LevelGenerator | None] = _no_levels
    optimum: Callable[[Any], Callable[[Any], jax.Array] | None] = _no_optimum


GYMNAX = Family("gymnax", lambda short: "minatar" if short.endswith("-MinAtar") else "classic")
BRAX = Family("brax", lambda short: "brax")
MANIPULATION = Family("metaworld", lambda short: "manipulation")
