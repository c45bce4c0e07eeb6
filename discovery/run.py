"""A discovery run: ES over a rule's meta-parameters, in jitted chunks of generations, with
metrics, checkpoints and exact resume.

    run = start_run(cfg, "runs/my-run")          # refuses an existing directory
    result = run_discovery(cfg, run)             # or, after a kill:
    cfg, run = open_run("runs/my-run"); run_discovery(cfg, run, resume=True)

One process at a time writes a run (`discovery.runlock`); a resume restores the newest intact
checkpoint and refuses config changes that alter results (`discovery.resume`); with
`stop=StopSignals()` SIGTERM/SIGINT stop the run at a safe point with a checkpoint
(`discovery.signals`).
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
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from discovery.checkpoint import Checkpointer
from discovery.compile_cache import enable_compile_cache
from discovery.config import DiscoveryConfig
from discovery.es import make_generation, make_strategy, population_mesh
from discovery.fitness import compute_baselines, make_evaluate, make_level_evaluate
from discovery.logging import ProgressLine, Trackers
from discovery.memory import check_fits
from discovery.resume import restore_for_resume
from discovery.rundir import RunDir, RunDirError
from discovery.runlock import RunLock
from discovery.signals import NoStop, StopSignals

RUN_KIND = "discover"


class DiscoveryResult(NamedTuple):
    meta_params: Any  # the ES mean after the last generation
    es_state: Any
    fitness: np.ndarray  # [generations, population] raw fitness (NaN where non-finite)


def start_run(cfg: DiscoveryConfig, path: str | Path) -> RunDir:
    """Create a new run directory (fails if it exists) holding the config, once the config is
    known to fit in memory: nothing is created for a run that cannot start."""
    check_fits(cfg)
    return RunDir.create(path, RUN_KIND, cfg.to_dict())


def open_run(path: str | Path) -> tuple[DiscoveryConfig, RunDir]:
    """Open an existing discovery run and its config (fails on missing/foreign directories and
    on a config.yaml that is not a valid config, naming the file)."""
    run = RunDir.open(path, RUN_KIND)
    config = {k: v for k, v in run.read_config().items() if k != "kind"}
    try:
        return DiscoveryConfig.from_dict(config), run
    except (TypeError, ValueError) as e:
        raise RunDirError(f"{run.config_path}: {e}") from None


def env_steps_per_generation(cfg: DiscoveryConfig) -> int:
    return (cfg.es.population_size * cfg.seeds_per_member * len(cfg.envs)
            * cfg.train.num_updates * cfg.train.steps_per_update)


def load_baselines(cfg: DiscoveryConfig, run: RunDir, key: jax.Array,
                   echo: Callable[[str], None]) -> dict[str, dict]:
    if not cfg.normalize_fitness or cfg.sample_levels:
        return {name: {"random": 0.0, "ppo": 1.0} for name in cfg.envs}
    path = run.path / "baselines.json"
    if path.exists():
        try:
            baselines = json.loads(path.read_text())
        except ValueError:
            raise RunDirError(f"{path}: not valid JSON; delete it to recompute the "
                              "baselines") from None
        if set(baselines) == set(cfg.envs):
            return baselines
    echo(f"computing PPO / random baselines on {len(cfg.envs)} environment(s) ...")
    baselines = compute_baselines(cfg.envs, cfg.train, key, cfg.baseline_seeds, log=echo)
    run.write_json(path.name, baselines)
    return baselines


def run_discovery(cfg: DiscoveryConfig, run: RunDir, *, resume: bool = False,
                  progress: bool = True, trackers: Trackers | None = None,
                  echo: Callable[[str], None] = print, allow_config_change: bool = False,
                  stop: StopSignals | None = None) -> DiscoveryResult:
    """Run (or continue) the ES loop until `cfg.generations`, logging and checkpointing.

    Holds the run's lock throughout (RunLockedError if another process has it). On resume,
    a config that differs from the checkpoint's in fields that change results is refused
    (ConfigChangeError) unless `allow_config_change`. With `stop` (an active StopSignals), a
    SIGTERM/SIGINT ends the run at the next safe point with a checkpoint, raising `Stopped`.
    """
    enable_compile_cache()
    with RunLock(run.path):
        return _run_locked(cfg, run, resume, progress, trackers, echo, allow_config_change,
                           stop or NoStop())


def _run_locked(cfg: DiscoveryConfig, run: RunDir, resume: bool, progress: bool,
                trackers: Trackers | None, echo: Callable[[str], None],
                allow_config_change: bool, stop: StopSignals) -> DiscoveryResult:
    rule = cfg.rule.build()
    k_baseline, k_init, k_es, k_gen = jax.random.split(jax.random.key(cfg.seed), 4)
    mesh = population_mesh(cfg.es.population_size)
    replicated = NamedSharding(mesh, P())
    # One placement for the fresh, restored and carried ES state, so that every chunk call
    # has the same input types and the chunk compiles once.
    place = lambda tree: jax.device_put(
        jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), tree), replicated)
    template = rule.init(k_init)
    es, es_params = make_strategy(cfg.es, template)
    es_state = place(es.init(k_es, template, es_params))
    ckpt = Checkpointer(run.checkpoints)
    done, saved = 0, None
    if resume:
        check_fits(cfg)
        es_state, done = restore_for_resume(cfg, run, ckpt, es_state,
                                            allow_config_change=allow_config_change,
                                            echo=echo)
        es_state, saved = place(es_state), (done if done else None)

    resume_hint = f"continue with: rldisco discover --resume {run.path}"

    def held() -> str:
        """What the checkpoints hold (said when the run stops)."""
        return (f"checkpoint {done} holds generation {done}/{cfg.generations}" if done
                else "nothing to save before the first generation")

    stop.idle(f"{held()}; {resume_hint}")  # a stop during baselines or compilation loses nothing
    echo(f"population of {cfg.es.population_size} sharded over {mesh.devices.size} "
         f"{jax.devices()[0].platform} device(s)")
    baselines = load_baselines(cfg, run, k_baseline, echo)
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

    def save(done: int) -> None:
        ckpt.save(done, es_state, es.get_mean(es_state),
                  {"rule": cfg.rule.name, "envs": list(cfg.envs), "config": cfg.to_dict()})

    def stop_here(abandoned: bool) -> None:
        """Checkpoint what is done (unless saved already) and raise Stopped."""
        nonlocal saved
        if stop.requested is None:
            return
        if done and saved != done:
            save(done)
            saved = done
        ckpt.close()
        abandoned_text = "; the generations in flight were abandoned" if abandoned else ""
        stop.raise_if_requested(f"{held()}{abandoned_text}; {resume_hint}",
                                abandoned_work=abandoned)

    fitness_history = [np.asarray(r["fitness"], dtype=float) for r in run.metrics()
                       if "fitness" in r]

    steps_per_gen = env_steps_per_generation(cfg)
    bar = ProgressLine(run.name, cfg.generations, unit="env-steps") if progress else None
    chunks_done = 0
    while done < cfg.generations:
        stop_here(abandoned=False)
        if saved == done or not done:
            stop.idle(f"{held()}; {resume_hint}")  # a stop while the chunk compiles loses nothing
        length = min(cfg.chunk, cfg.generations - done)
        new_state, log = run_chunk(es_state, jnp.int32(done), length)
        stop.busy()  # from here this thread answers a stop (it polls while the chunk runs)
        if not stop.wait((new_state, log)):
            stop_here(abandoned=True)
        es_state = new_state
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
            save(done)
            saved = done
    ckpt.close()
    fitness = _stack_rows(fitness_history)
    if len(fitness):
        from discovery.plotting import plot_fitness

        plot_fitness(fitness, run.plots / "fitness.png", title=run.name,
                     ylabel=f"fitness: {cfg.fitness_label}")
    return DiscoveryResult(es.get_mean(es_state), es_state, fitness)


def _stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """[generations, population] fitness, NaN-padded where a resume allowed another
    population size."""
    if not rows:
        return np.zeros((0, 0))
    width = max(len(r) for r in rows)
    return np.stack([np.pad(r, (0, width - len(r)), constant_values=np.nan) for r in rows])
