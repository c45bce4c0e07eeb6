"""The ES outer loop over any rule's meta-parameters (evosax >= 0.3), sharded over devices.

`make_generation(es, evaluate, mesh)` returns one jittable generation: ask a population
(antithetic pairs for OpenES), evaluate it (the population axis sharded over the `pop` mesh
axis), replace non-finite fitness by the worst value and count it, tell. evosax minimises; this
module maximises fitness everywhere and negates at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import evosax.algorithms as ea
import jax
import jax.numpy as jnp
import numpy as np
import optax
from evosax.core.fitness_shaping import (
    centered_rank_fitness_shaping_fn,
    standardize_fitness_shaping_fn,
)
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from discovery.validate import check_fields

STRATEGIES = ("open_es", "snes", "cma_es", "sep_cma_es")
SHAPINGS = ("centered_rank", "pair_rank", "z_score")


@dataclass(frozen=True)
class ESConfig:
    """Outer-loop settings (defaults: LPO's OpenES, pop 64, Adam lr .03, sigma .03, decays .99)."""

    strategy: str = "open_es"
    population_size: int = 64
    lr: float = 0.03
    lr_decay: float = 0.99  # per generation (OpenES / SNES)
    sigma: float = 0.03
    sigma_decay: float = 0.99  # per generation (OpenES)
    sigma_min: float = 1e-3
    antithetic: bool = True
    fitness_shaping: str = "centered_rank"  # or "pair_rank" (GROOVE), "z_score"

    def __post_init__(self) -> None:
        check_fields(self, "es")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"es.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.fitness_shaping not in SHAPINGS:
            raise ValueError(f"es.fitness_shaping must be one of {SHAPINGS}, got "
                             f"{self.fitness_shaping!r}")
        if not isinstance(self.population_size, int) or self.population_size < 2:
            raise ValueError(f"es.population_size must be an integer >= 2, got "
                             f"{self.population_size!r}")
        if self.antithetic and self.population_size % 2:
            raise ValueError("es.population_size must be even with antithetic sampling, got "
                             f"{self.population_size}")
        if self.fitness_shaping == "pair_rank" and not (self.antithetic
                                                        and self.strategy == "open_es"):
            raise ValueError("es.fitness_shaping 'pair_rank' needs strategy open_es with "
                             "antithetic sampling")
        for name in ("lr", "sigma"):
            if getattr(self, name) <= 0:
                raise ValueError(f"es.{name} must be > 0, got {getattr(self, name)}")
        for name in ("lr_decay", "sigma_decay"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"es.{name} must be in (0, 1], got {getattr(self, name)}")


def pair_rank_fitness_shaping_fn(population, fitness, state, params):
    """GROOVE's per-pair rank: within each antithetic pair (i, i + P/2), +-0.5 by which is worse.

    evosax minimises, so the larger (worse) member of a pair gets +0.5.
    """
    half = fitness.shape[-1] // 2
    sign = 0.5 * jnp.sign(fitness[:half] - fitness[half:])
    return jnp.concatenate([sign, -sign])


def make_strategy(cfg: ESConfig, template: Any) -> tuple[Any, Any]:
    """The evosax algorithm and its params for a meta-parameter pytree `template`."""
    shaping = {"centered_rank": centered_rank_fitness_shaping_fn,
               "pair_rank": pair_rank_fitness_shaping_fn,
               "z_score": standardize_fitness_shaping_fn}[cfg.fitness_shaping]
    lr = optax.exponential_decay(cfg.lr, 1, cfg.lr_decay)
    if cfg.strategy == "open_es":
        sigma = lambda g: jnp.maximum(cfg.sigma * cfg.sigma_decay ** g, cfg.sigma_min)
        es = ea.Open_ES(cfg.population_size, template, use_antithetic_sampling=cfg.antithetic,
                        optimizer=optax.adam(lr), std_schedule=sigma, fitness_shaping_fn=shaping)
        return es, es.default_params
    if cfg.strategy == "snes":
        es = ea.SNES(cfg.population_size, template, optimizer=optax.sgd(lr))
    elif cfg.strategy == "cma_es":
        es = ea.CMA_ES(cfg.population_size, template)
    else:
        es = ea.Sep_CMA_ES(cfg.population_size, template)
    return es, es.default_params.replace(std_init=cfg.sigma)


def population_mesh(population_size: int, devices: list | None = None) -> Mesh:
    """A 1-D `pop` mesh over all (or the given) devices; one device is the trivial mesh."""
    devices = jax.devices() if devices is None else devices
    if population_size % len(devices):
        raise ValueError(f"es.population_size ({population_size}) must be divisible by the "
                         f"number of devices ({len(devices)}) to shard the population")
    return Mesh(np.asarray(devices), ("pop",))


class GenerationLog(NamedTuple):
    fitness: jax.Array  # [P] raw (maximised) fitness, non-finite kept as NaN
    num_nonfinite: jax.Array
    best: jax.Array
    mean: jax.Array
    info: dict[str, jax.Array]  # extra per-member arrays from the evaluator, e.g. per-env


def make_generation(es: Any, es_params: Any, evaluate: Callable, mesh: Mesh) -> Callable:
    """One generation `(es_state, key) -> (es_state, GenerationLog)`; jit it or scan it.

    `evaluate(population, key) -> (fitness [P], info)` maximises; members are sharded over the
    mesh's `pop` axis while they train.
    """
    shard = NamedSharding(mesh, P("pop"))
    replicated = NamedSharding(mesh, P())

    def generation(es_state, key):
        k_ask, k_eval, k_tell = jax.random.split(key, 3)
        population, es_state = es.ask(k_ask, es_state, es_params)
        population = jax.lax.with_sharding_constraint(population, shard)
        fitness, info = evaluate(population, k_eval)
        fitness = jax.lax.with_sharding_constraint(fitness, replicated)
        finite = jnp.isfinite(fitness)
        worst = jnp.where(jnp.any(finite), jnp.min(jnp.where(finite, fitness, jnp.inf)), 0.0)
        clean = jnp.where(finite, fitness, worst - 1.0)  # strictly worse than every finite one
        es_state, _ = es.tell(k_tell, population, -clean, es_state, es_params)
        log = GenerationLog(jnp.where(finite, fitness, jnp.nan), jnp.sum(~finite),
                            jnp.max(clean), jnp.mean(jnp.where(finite, fitness, worst)), info)
        return es_state, log

    return generation
