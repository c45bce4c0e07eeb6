"""The ES outer loop over any rule's meta-parameters (evosax >= 0.3), sharded over devices.

`make_generation(es, evaluate, mesh)` returns one jittable generation: ask a population
(antithetic pairs for OpenES), evaluate it (the population axis sharded over the `pop` mesh
axis), replace non-finite fitness by the worst value and count it, tell. evosax minimises; this
module maximises fitness everywhere and negates at the boundary.
"""

from __future__ import annotations

import functools
import time
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

from discovery.outer import OuterLoop
from discovery.validate import check_fields
from environment_design import train_on_last

STRATEGIES = ("open_es", "snes", "cma_es", "sep_cma_es")
SHAPINGS = ("centered_rank", "pair_rank", "z_score")


@dataclass(frozen=True)
class ESConfig:
    """Outer-loop settings.

    Defaults are the OpenES of the LPO papers (evosax 0.1.4 as they used it): population 64,
    Adam lr 0.03 and sigma 0.03, each decayed by 0.99 per generation down to a floor (evosax
    0.1.4's `lrate_limit` 1e-3 and `sigma_limit` 1e-2). Generation g samples with
    sigma_g = max(sigma * sigma_decay^g, sigma_min) and its update uses
    lr_g = max(lr * lr_decay^g, lr_min) (`lr_schedule`, `sigma_schedule`).
    """

    strategy: str = "open_es"
    population_size: int = 64
    lr: float = 0.03
    lr_decay: float = 0.99  # per generation (OpenES / SNES)
    lr_min: float = 1e-3
    sigma: float = 0.03
    sigma_decay: float = 0.99  # per generation (OpenES)
    sigma_min: float = 1e-2
    antithetic: bool = True
    fitness_shaping: str = "centered_rank"  # or "pair_rank" (GROOVE), "z_score"

    def __post_init__(self) -> None:
        check_fields(self, "es")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"es.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.fitness_shaping not in SHAPINGS:
            raise ValueError(f"es.fitness_shaping must be one of {SHAPINGS}, got "
                             f"{self.fitness_shaping!r}")
        if (not isinstance(self.population_size, int) or isinstance(self.population_size, bool)
                or self.population_size < 2):
            raise ValueError(f"es.population_size must be an integer >= 2, got "
                             f"{self.population_size!r}")
        if self.antithetic and self.population_size % 2:
            raise ValueError("es.population_size must be even with antithetic sampling, got "
                             f"{self.population_size}")
        if self.fitness_shaping == "pair_rank" and not (self.antithetic
                                                        and self.strategy == "open_es"):
            raise ValueError("es.fitness_shaping 'pair_rank' needs strategy open_es with "
                             "antithetic sampling")
        for name in ("lr", "sigma", "lr_min", "sigma_min"):  # finite numbers: check_fields
            if not getattr(self, name) > 0:
                raise ValueError(f"es.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("lr_decay", "sigma_decay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
                raise ValueError(f"es.{name} must be in (0, 1], got {value!r}")
        for name, floor in (("lr", "lr_min"), ("sigma", "sigma_min")):
            if getattr(self, floor) > getattr(self, name):
                raise ValueError(f"es.{floor} ({getattr(self, floor)}) must not exceed es.{name} "
                                 f"({getattr(self, name)})")


def lr_schedule(cfg: ESConfig) -> Callable[[jax.Array], jax.Array]:
    """The ES learning rate of update g: max(lr * lr_decay^g, lr_min)."""
    return lambda g: jnp.maximum(cfg.lr * cfg.lr_decay ** jnp.asarray(g, jnp.float32),
                                 cfg.lr_min)


def sigma_schedule(cfg: ESConfig) -> Callable[[jax.Array], jax.Array]:
    """The sampling std of generation g: max(sigma * sigma_decay^g, sigma_min)."""
    return lambda g: jnp.maximum(cfg.sigma * cfg.sigma_decay ** jnp.asarray(g, jnp.float32),
                                 cfg.sigma_min)


class ScheduledOpenES(ea.Open_ES):
    """evosax's OpenES with the schedule indexed by the generation that samples.

    evosax 0.3 samples generation g with `std_schedule(g - 1)` (set by the previous `tell`) and
    generation 0 with `std_schedule(0)`; evosax 0.1.4 (the papers) samples generation g with
    sigma decayed g times. Shifting the schedule by one and starting from sigma restores that.
    """

    def __init__(self, *args, sampling_std: Callable[[jax.Array], jax.Array], **kwargs):
        super().__init__(*args, std_schedule=lambda c: sampling_std(c + 1), **kwargs)
        self._sampling_std = sampling_std

    def _init(self, key, params):
        state = super()._init(key, params)
        return state.replace(std=self._sampling_std(0))


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
    lr = lr_schedule(cfg)
    if cfg.strategy == "open_es":
        es = ScheduledOpenES(cfg.population_size, template,
                             use_antithetic_sampling=cfg.antithetic, optimizer=optax.adam(lr),
                             sampling_std=sigma_schedule(cfg), fitness_shaping_fn=shaping)
        return es, es.default_params
    if cfg.strategy == "snes":
        es = ea.SNES(cfg.population_size, template, optimizer=optax.sgd(lr))
    elif cfg.strategy == "cma_es":
        es = ea.CMA_ES(cfg.population_size, template)
    else:
        es = ea.Sep_CMA_ES(cfg.population_size, template)
    return es, es.default_params.replace(std_init=cfg.sigma)


def population_mesh(population_size: int, devices: list | None = None) -> Mesh:
    """A 1-D `pop` mesh over all (or the given) devices; one device is the trivial mesh.

    On one host's CPU devices (one per core, `discovery.devices`) it takes as many as divide
    the population; elsewhere the population must divide over every device."""
    if devices is None:
        devices = jax.devices()
        if devices[0].platform == "cpu" and jax.process_count() == 1:
            devices = devices[:max(n for n in range(1, len(devices) + 1)
                                   if population_size % n == 0)]
    if population_size % len(devices):
        raise ValueError(f"es.population_size ({population_size}) must be divisible by the "
                         f"number of devices ({len(devices)}) to shard the population")
    return Mesh(np.asarray(devices), ("pop",))


def generation_keys(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(ask, evaluate, tell) keys of the generation whose key is `key`."""
    k_ask, k_eval, k_tell = jax.random.split(key, 3)
    return k_ask, k_eval, k_tell


class GenerationLog(NamedTuple):
    fitness: jax.Array  # [P] raw (maximised) fitness, non-finite kept as NaN
    num_nonfinite: jax.Array
    best: jax.Array
    mean: jax.Array
    center: jax.Array  # fitness of the ES mean that sampled this generation (NaN: not scored)
    info: dict[str, jax.Array]  # extra arrays from the evaluator, e.g. per-env


def make_generation(es: Any, es_params: Any, fitness: Any, mesh: Mesh) -> Callable:
    """One generation `((es_state, levels_state), key) -> ((es_state, levels_state),
    GenerationLog)`; jit it or scan it.

    `fitness.eval(population, center, levels_state, key) -> (fitness [P], center_fitness,
    levels_state, info)` maximises and shards its runs over the mesh's `pop` axis. The
    population and its fitness are replicated before `tell`, so every reduction over members
    runs in one fixed order whatever the number of devices. Under robust PLR the ES does not
    step on generations whose levels were new (they were only scored).
    """
    replicated = NamedSharding(mesh, P())

    def generation(carry, key):
        es_state, levels_state = carry
        k_ask, k_eval, k_tell = generation_keys(key)
        center = es.get_mean(es_state)
        population, asked = es.ask(k_ask, es_state, es_params)
        fit, center_fitness, levels_state, info = fitness.eval(population, center,
                                                               levels_state, k_eval)
        population, fit = jax.lax.with_sharding_constraint((population, fit), replicated)
        finite = jnp.isfinite(fit)
        worst = jnp.where(jnp.any(finite), jnp.min(jnp.where(finite, fit, jnp.inf)), 0.0)
        clean = jnp.where(finite, fit, worst - 1.0)  # strictly worse than every finite one
        told, _ = es.tell(k_tell, population, -clean, asked, es_params)
        es_state = jax.tree.map(lambda a, b: jnp.where(train_on_last(levels_state), a, b),
                                told, es_state)
        log = GenerationLog(jnp.where(finite, fit, jnp.nan), jnp.sum(~finite),
                            jnp.max(clean), jnp.mean(jnp.where(finite, fit, worst)),
                            center_fitness, info)
        return (es_state, levels_state), log

    return generation


def make_es_loop(es: Any, es_params: Any, fitness: Any, mesh: Mesh, template: Any,
                 k_es: jax.Array, k_gen: jax.Array, env_names: tuple[str, ...],
                 steps_per_generation: int, score_fitness: Any = None) -> OuterLoop:
    """The ES outer loop as `run_discovery` drives it (see `discovery.outer.OuterLoop`); its
    state is `(es_state, levels_state)`.

    Rows: population fitness (mean, best, std, every member), the centre's fitness (the ES
    mean that sampled the generation, `center_fitness`), per-env means of both, the number of
    non-finite members, and with a level source the batch's mean level features and (PLR /
    ACCEL) whether it was replayed, its mean score and the buffer's statistics.
    `score_fitness` (default `fitness`) scores the centre alone at chunk ends and at the end.
    """
    generation = make_generation(es, es_params, fitness, mesh)

    @functools.partial(jax.jit, static_argnums=2)
    def keyed_chunk(state, start, length, k_gen):
        gens = start + jnp.arange(length)
        return jax.lax.scan(lambda s, g: generation(s, jax.random.fold_in(k_gen, g)), state,
                            gens)

    def chunk(state, start, length):
        # The run's key is an argument, not a constant of the program: runs that differ in
        # their seed alone share one compiled program (the persistent compilation cache).
        return keyed_chunk(state, start, length, k_gen)

    def records(start: int, log: GenerationLog) -> list[dict[str, Any]]:
        return [generation_record(start + i, log, i, env_names, steps_per_generation)
                for i in range(len(log.fitness))]

    levels_state = fitness.init(k_es)
    score_fitness = fitness if score_fitness is None else score_fitness
    scorer = jax.jit(lambda m, k, s: score_fitness.eval(None, m, s, k)[1])  # (nothing seeded)

    def score(meta_params: Any, g: int, levels_state: Any = levels_state) -> float:
        return float(scorer(meta_params, generation_keys(jax.random.fold_in(k_gen, g))[1],
                            levels_state))

    return OuterLoop(init=lambda: (es.init(k_es, template, es_params), levels_state),
                     chunk=chunk,
                     meta_params=lambda state: es.get_mean(state[0]), records=records,
                     score=score)


def generation_record(generation: int, log: GenerationLog, i: int, env_names: tuple[str, ...],
                      steps_per_generation: int) -> dict[str, Any]:
    """One metrics.jsonl row from row `i` of a chunk's (host) GenerationLog."""
    fit = np.asarray(log.fitness[i], dtype=float)
    per_env = np.nanmean(np.asarray(log.info["normalized"][i]), axis=0)
    center_per_env = np.asarray(log.info["center_normalized"][i], dtype=float)
    extra: dict[str, Any] = {}
    for group in ("levels", "buffer", "iwocs"):
        if group in log.info:
            extra[group] = {k: float(v[i]) for k, v in log.info[group].items()}
    for name in ("replayed", "level_score"):
        if name in log.info:
            extra[name] = log.info[name][i].item()
    return {"generation": generation, "fitness_mean": float(np.nanmean(fit)),
            "fitness_best": float(np.nanmax(fit)) if np.isfinite(fit).any() else None,
            "fitness_std": float(np.nanstd(fit)),
            "center_fitness": float(log.center[i]),
            "nonfinite": int(log.num_nonfinite[i]),
            "per_env": dict(zip(env_names, per_env.tolist(), strict=True)),
            "center_per_env": dict(zip(env_names, center_per_env.tolist(), strict=True)),
            "fitness": fit.tolist(), "env_steps": (generation + 1) * steps_per_generation,
            "time": time.time(), **extra}
