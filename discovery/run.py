"""A discovery run: ES over a rule's meta-parameters, in jitted chunks of generations, with
metrics, checkpoints and exact resume.

    run = start_run(cfg, "runs/my-run")          # refuses an existing directory
    result = run_discovery(cfg, run)             # or, after a kill:
    cfg, run = open_run("runs/my-run"); run_discovery(cfg, run, resume=True)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from discovery.checkpoint import Checkpointer
from discovery.config import DiscoveryConfig
from discovery.es import make_generation, make_strategy, population_mesh
from discovery.fitness import compute_baselines, make_evaluate, make_level_evaluate
from discovery.logging import ProgressLine, Trackers
from discovery.rundir import RunDir

RUN_KIND = "discover"


class DiscoveryResult(NamedTuple):
    meta_params: Any  # the ES mean after the last generation
    es_state: Any
    fitness: np.ndarray  # [generations, population] raw fitness (NaN where non-finite)


def start_run(cfg: DiscoveryConfig, path: str | Path) -> RunDir:
    """Create a new run directory (fails if it exists) holding the config."""
    return RunDir.create(path, RUN_KIND, cfg.to_dict())


def open_run(path: str | Path) -> tuple[DiscoveryConfig, RunDir]:
    """Open an existing discovery run and its config (fails on missing/foreign directories)."""
    run = RunDir.open(path, RUN_KIND)
    config = {k: v for k, v in run.read_config().items() if k != "kind"}
    return DiscoveryConfig.from_dict(config), run


def env_steps_per_generation(cfg: DiscoveryConfig) -> int:
    return (cfg.es.population_size * cfg.seeds_per_member * len(cfg.envs)
            * cfg.train.num_updates * cfg.train.steps_per_update)


def load_baselines(cfg: DiscoveryConfig, run: RunDir, key: jax.Array,
                   echo: Callable[[str], None]) -> dict[str, dict]:
    if not cfg.normalize_fitness or cfg.sample_levels:
        return {name: {"random": 0.0, "ppo": 1.0} for name in cfg.envs}
    path = run.path / "baselines.json"
    if path.exists():
        baselines = json.loads(path.read_text())
        if set(baselines) == set(cfg.envs):
            return baselines
    echo(f"computing PPO / random baselines on {len(cfg.envs)} environment(s) ...")
    baselines = compute_baselines(cfg.envs, cfg.train, key, cfg.baseline_seeds, log=echo)
    path.write_text(json.dumps(baselines, indent=2))
    return baselines


def run_discovery(cfg: DiscoveryConfig, run: RunDir, *, resume: bool = False,
                  progress: bool = True, trackers: Trackers | None = None,
                  echo: Callable[[str], None] = print) -> DiscoveryResult:
    """Run (or continue) the ES loop until `cfg.generations`, logging and checkpointing."""
    rule = cfg.rule.build()
    k_baseline, k_init, k_es, k_gen = jax.random.split(jax.random.key(cfg.seed), 4)
    mesh = population_mesh(cfg.es.population_size)
    echo(f"population of {cfg.es.population_size} sharded over {mesh.devices.size} "
         f"{jax.devices()[0].platform} device(s)")
    baselines = load_baselines(cfg, run, k_baseline, echo)

    template = rule.init(k_init)
    es, es_params = make_strategy(cfg.es, template)
    if cfg.sample_levels:
        evaluate = make_level_evaluate(rule, cfg.envs[0], cfg.train, cfg.es.antithetic,
                                       cfg.seeds_per_member)
    else:
        evaluate = make_evaluate(rule, cfg.envs, cfg.train, baselines, cfg.seeds_per_member)
    generation = make_generation(es, es_params, evaluate, mesh)

    def run_chunk(es_state, start, length):
        gens = start + jnp.arange(length)
        return jax.lax.scan(lambda s, g: generation(s, jax.random.fold_in(k_gen, g)),
                            es_state, gens)

    run_chunk = jax.jit(run_chunk, static_argnums=2)
    es_state = es.init(k_es, template, es_params)
    ckpt = Checkpointer(run.checkpoints)
    done = 0
    if resume and ckpt.latest() is not None:
        es_state, _, meta = ckpt.restore(es_state)
        done = int(meta["generation"])
        run.truncate_metrics(lambda r: r.get("generation", -1) < done)
        echo(f"resumed {run.name} at generation {done}/{cfg.generations}")
    fitness_history = [np.asarray(r["fitness"], dtype=float) for r in run.metrics()
                       if "fitness" in r]

    steps_per_gen = env_steps_per_generation(cfg)
    bar = ProgressLine(run.name, cfg.generations, unit="env-steps") if progress else None
    chunks_done = 0
    while done < cfg.generations:
        length = min(cfg.chunk, cfg.generations - done)
        es_state, log = run_chunk(es_state, jnp.int32(done), length)
        log = jax.device_get(log)
        for i in range(length):
            fit = np.asarray(log.fitness[i], dtype=float)
            fitness_history.append(fit)
            per_env = np.nanmean(np.asarray(log.info["normalized"][i]), axis=0)
            record = {"generation": done + i, "fitness_mean": float(np.nanmean(fit)),
                      "fitness_best": float(np.nanmax(fit)) if np.isfinite(fit).any() else None,
                      "fitness_std": float(np.nanstd(fit)),
                      "nonfinite": int(log.num_nonfinite[i]),
                      "per_env": dict(zip(cfg.envs, per_env.tolist(), strict=True)),
                      "fitness": fit.tolist(), "env_steps": (done + i + 1) * steps_per_gen,
                      "time": time.time()}
            run.log(record)
            if trackers is not None:
                trackers.log(done + i, {"fitness/mean": record["fitness_mean"],
                                        "fitness/best": record["fitness_best"] or float("nan"),
                                        "fitness/nonfinite": record["nonfinite"],
                                        **{f"per_env/{k}": v for k, v in
                                           record["per_env"].items()}})
        done += length
        chunks_done += 1
        if bar is not None:
            last = fitness_history[-1]
            bar.report(done, work=length * steps_per_gen, best=float(np.nanmax(last)),
                       mean=float(np.nanmean(last)),
                       nonfinite=int(np.sum(log.num_nonfinite)))
        if chunks_done % cfg.checkpoint_every == 0 or done == cfg.generations:
            ckpt.save(done, es_state, es.get_mean(es_state),
                      {"rule": cfg.rule.name, "envs": list(cfg.envs)})
    ckpt.close()
    fitness = np.stack(fitness_history) if fitness_history else np.zeros((0, 0))
    if len(fitness):
        from discovery.plotting import plot_fitness

        plot_fitness(fitness, run.plots / "fitness.png", title=run.name,
                     ylabel=f"fitness: {cfg.fitness_label}")
    return DiscoveryResult(es.get_mean(es_state), es_state, fitness)
