"""Which levels agents train on: the `levels` section of a config and the level source it
builds (`environment_design`), for discovery (ES over levels) and for agent training (UED).

    levels:
      kind: fixed | sampled | plr | accel | iwocs
      score: regret | random            (discovery; agent training: pvl | maxmc | l1)
      ...buffer settings (PLR / ACCEL), worst-case set settings (IWOCS)

Where sampled levels come from is the environment family's business: a level distribution
(`gridworld/<distribution>`) draws levels with their own lifetimes; any other environment
varies its default `ParamSpace` (physical constants), each level with the run's horizon.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

import envs
from discovery.validate import check_fields
from environment_design import (
    ACCEL,
    PLR,
    LevelBuffer,
    Sampled,
    gridworld_mutate,
    space_generator,
    space_mutate,
)
from envs.params import Level

KINDS = ("fixed", "sampled", "plr", "accel", "iwocs")
WORST_CASE = ("min", "cvar")
DISCOVERY_SCORES = ("regret", "random")
AGENT_SCORES = ("pvl", "maxmc", "l1", "random")
PRIORITIZATIONS = ("rank", "topk")


@dataclass(frozen=True)
class LevelsConfig:
    """Where levels come from and how a curriculum ranks them (defaults: PLR's published
    settings: buffer 4000, replay 0.5, staleness 0.3, rank temperature 0.3)."""

    kind: str = "fixed"  # fixed | sampled (domain randomisation) | plr | accel
    score: str = "regret"  # discovery: regret | random; agent training: pvl | maxmc | l1
    reference: str | None = None  # regret's reference rule (None: a2c for LPG rules, else ppo)
    fitness: str = "normalized"  # normalized (PPO = 1, or level optimum = 1) | raw
    buffer_size: int = 4000
    replay_prob: float = 0.5
    staleness_coeff: float = 0.3
    temperature: float = 0.3
    prioritization: str = "rank"
    top_k: int = 4
    minimum_fill_ratio: float = 0.5
    duplicate_check: bool = True
    robust: bool = False  # robust PLR: learn only on replayed levels
    mutation_edits: int = 2  # ACCEL on grid-worlds: edits per mutation
    mutation_scale: float = 0.1  # ACCEL on a ParamSpace: std as a fraction of each range
    space: str | None = None  # the named uncertainty set of kind sampled (dr) or iwocs
    # kind iwocs (robust discovery): a member's fitness is its agents' return on the set's
    # models, reduced by `worst_case` (min, or CVaR: the mean of the worst cvar_alpha
    # fraction); every `search_every` generations CMA-ES (search_population x
    # search_generations evaluations) finds the ES mean's agent's worst case in `space` and
    # adds it to the set (at most `set_size` models, the nominal one first).
    worst_case: str = "min"
    cvar_alpha: float = 0.25
    set_size: int = 8
    search_every: int = 4
    search_population: int = 8
    search_generations: int = 8

    def __post_init__(self) -> None:
        check_fields(self, "levels")
        for name, allowed in (("kind", KINDS), ("fitness", ("normalized", "raw")),
                              ("prioritization", PRIORITIZATIONS), ("worst_case", WORST_CASE),
                              ("score", DISCOVERY_SCORES + AGENT_SCORES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"levels.{name} must be one of {allowed}, got "
                                 f"{getattr(self, name)!r}")
        for name in ("buffer_size", "top_k", "mutation_edits", "set_size", "search_every",
                     "search_population", "search_generations"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"levels.{name} must be a positive integer, got {value!r}")
        if self.search_population < 2:
            raise ValueError(f"levels.search_population must be >= 2 (CMA-ES), got "
                             f"{self.search_population}")
        for name in ("replay_prob", "staleness_coeff", "minimum_fill_ratio", "cvar_alpha"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"levels.{name} must be in [0, 1], got {value!r}")
        for name in ("temperature", "mutation_scale"):
            value = getattr(self, name)
            if (not isinstance(value, int | float) or isinstance(value, bool)
                    or not 0 < value < float("inf")):
                raise ValueError(f"levels.{name} must be a finite number > 0, got {value!r}")

        if self.space is not None:
            from environment_design.spaces import spec

            try:
                spec(self.space)
            except ValueError as e:
                raise ValueError(f"levels.space: {e}") from None
            if self.kind not in ("sampled", "iwocs"):
                raise ValueError(f"levels.space ({self.space}) is for kind 'sampled' (domain "
                                 f"randomisation over the set) or 'iwocs' (a worst-case set), "
                                 f"got kind {self.kind!r}")
        elif self.kind == "iwocs":
            raise ValueError("levels.space: kind 'iwocs' searches a named uncertainty set; "
                             "set levels.space (rldisco envs --spaces lists them)")
        if self.kind == "iwocs" and self.worst_case == "cvar" and not self.cvar_alpha > 0:
            raise ValueError(f"levels.cvar_alpha must be in (0, 1] for worst_case cvar, got "
                             f"{self.cvar_alpha!r}")

    @property
    def curriculum(self) -> bool:
        """Whether levels are scored and replayed (PLR, ACCEL)."""
        return self.kind in ("plr", "accel")

    def replace(self, **changes: Any) -> LevelsConfig:
        return dataclasses.replace(self, **changes)


def level_generator(env_name: str, lifetime: int) -> Callable[[jax.Array, int], Level]:
    """Fresh levels of `env_name`: its family's level distribution, or its default ParamSpace
    (each level with `lifetime` updates)."""
    family, short = envs.family(env_name), envs.short_name(env_name)
    generate = family.level_generator(short)
    if generate is not None:
        return generate
    return space_generator(envs.default_param_space(env_name), lifetime)


def level_mutation(env_name: str, cfg: LevelsConfig):
    """ACCEL's edit: grid-world structure edits, or a Gaussian step in the ParamSpace."""
    if envs.family(env_name).level_generator(envs.short_name(env_name)) is not None:
        return gridworld_mutate(cfg.mutation_edits)
    return space_mutate(envs.default_param_space(env_name), cfg.mutation_scale)


def make_level_source(cfg: LevelsConfig, env_name: str, lifetime: int,
                      extras: dict[str, float] | None = None):
    """The `LevelSource` of a `sampled`, `plr` or `accel` config on `env_name` (with the given
    per-level buffer extras, e.g. {"reference_return": nan})."""
    if cfg.space is not None:
        from environment_design.spaces import make_space

        uset = make_space(cfg.space)
        if uset.spec.env != env_name:
            raise ValueError(f"levels.space {cfg.space} is a set over {uset.spec.env}, not "
                             f"{env_name}")
        return Sampled(space_generator(uset, lifetime))
    generate = level_generator(env_name, lifetime)
    if cfg.kind == "sampled":
        return Sampled(generate)
    if cfg.kind not in ("plr", "accel"):
        raise ValueError(f"levels.kind '{cfg.kind}' has no level source over a distribution")
    buffer = LevelBuffer(cfg.buffer_size, replay_prob=cfg.replay_prob,
                         staleness_coeff=cfg.staleness_coeff, temperature=cfg.temperature,
                         prioritization=cfg.prioritization, top_k=cfg.top_k,
                         minimum_fill_ratio=cfg.minimum_fill_ratio,
                         duplicate_check=cfg.duplicate_check, extras=extras)
    if cfg.kind == "plr":
        return PLR(generate, buffer, robust=cfg.robust)
    return ACCEL(generate, level_mutation(env_name, cfg), buffer, robust=cfg.robust)


def level_features(env_name: str) -> Callable[[Level], dict[str, jax.Array]]:
    """What a user reads off a level in the logs: grid-world size, walls, objects and lifetime,
    or the physical parameters of a ParamSpace (and the lifetime)."""
    if envs.family(env_name).level_generator(envs.short_name(env_name)) is not None:
        def grid(levels: Level) -> dict[str, jax.Array]:
            p = levels.params
            return {"grid_size": p.grid_size.astype(jnp.float32),
                    "walls": p.walls.reshape(*p.walls.shape[:-2], -1).sum(-1).astype(
                        jnp.float32),
                    "objects": p.n_objs.astype(jnp.float32),
                    "lifetime": levels.lifetime.astype(jnp.float32)}
        return grid
    space = envs.default_param_space(env_name)

    def physics(levels: Level) -> dict[str, jax.Array]:
        out = {}
        for name in space.names:
            value = jnp.asarray(getattr(levels.params, name), jnp.float32)
            lead = levels.lifetime.ndim
            out[name] = value.reshape(*value.shape[:lead], -1).mean(-1)
        out["lifetime"] = levels.lifetime.astype(jnp.float32)
        return out

    return physics
