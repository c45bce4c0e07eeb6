"""A discovery run: ES over a rule's meta-parameters, in jitted chunks of generations, with
metrics, checkpoints and exact resume.

    run = start_run(cfg, "runs/my-run")          # refuses an existing directory
    result = run_discovery(cfg, run)             # or, after a kill:
    cfg, run = open_run("runs/my-run"); run_discovery(cfg, run, resume=True)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import envs
from discovery.checkpoint import Checkpointer
from discovery.config import DiscoveryConfig
from discovery.es import make_es_loop, make_strategy, population_mesh
from discovery.fitness import (
    check_baseline,
    compute_baselines,
    make_evaluate,
    make_level_evaluate,
    reference_ppo,
)
from discovery.inner import make_train
from discovery.logging import ProgressLine, Trackers
from discovery.metagrad import make_metagrad_loop
from discovery.outer import OuterLoop
from discovery.rundir import RunDir

RUN_KIND = "discover"


class DiscoveryResult(NamedTuple):
    meta_params: Any  # the ES mean (or meta-gradient parameters) after the last generation
    state: Any  # the outer loop's state
    fitness: np.ndarray  # [generations, population] raw fitness (NaN where non-finite)
    center: np.ndarray  # [generations] fitness of the ES mean that sampled each generation
    #                     (meta-gradients: of the parameters after a chunk's last step)
    final_center: float | None  # fitness of the returned (final) ES mean; None: not scored


def start_run(cfg: DiscoveryConfig, path: str | Path) -> RunDir:
    """Create a new run directory (fails if it exists) holding the config."""
    return RunDir.create(path, RUN_KIND, cfg.to_dict())


def open_run(path: str | Path) -> tuple[DiscoveryConfig, RunDir]:
    """Open an existing discovery run and its config (fails on missing/foreign directories)."""
    run = RunDir.open(path, RUN_KIND)
    config = {k: v for k, v in run.read_config().items() if k != "kind"}
    return DiscoveryConfig.from_dict(config), run


def env_steps_per_generation(cfg: DiscoveryConfig) -> int:
    """Environment steps one generation (ES) or one meta-step (meta-gradients) takes."""
    if cfg.outer == "metagrad":
        return cfg.metagrad.num_agents * (cfg.metagrad.unroll + 1) * cfg.train.steps_per_update
    runs = cfg.es.population_size * cfg.seeds_per_member + cfg.center_seeds
    return runs * len(cfg.envs) * cfg.train.num_updates * cfg.train.steps_per_update


def load_baselines(cfg: DiscoveryConfig, run: RunDir, key: jax.Array,
                   echo: Callable[[str], None]) -> dict[str, dict]:
    if not cfg.normalize_fitness or cfg.sample_levels:
        return {name: {"random": 0.0, "ppo": 1.0} for name in cfg.envs}
    path = run.path / "baselines.json"
    if path.exists():
        baselines = json.loads(path.read_text())
        if set(baselines) == set(cfg.envs):
            for name, baseline in baselines.items():
                check_baseline(name, baseline)
            return baselines
    echo(f"computing PPO / random baselines on {len(cfg.envs)} environment(s) ...")
    baselines = compute_baselines(cfg.envs, cfg.train, key, cfg.baseline_seeds, log=echo,
                                  reference=reference_ppo(cfg.rule.build()))
    path.write_text(json.dumps(baselines, indent=2))
    return baselines


def make_fitness(cfg: DiscoveryConfig, rule: Any, baselines: dict[str, dict], mesh: Any
                 ) -> Callable:
    """The run's `evaluate(population, center, key)` (see `discovery.fitness`)."""
    if cfg.sample_levels:
        return make_level_evaluate(rule, cfg.envs[0], cfg.train, cfg.es.antithetic,
                                   cfg.seeds_per_member, cfg.center_seeds, mesh)
    return make_evaluate(rule, cfg.envs, cfg.train, baselines, cfg.seeds_per_member,
                         cfg.center_seeds, mesh)


def build_loop(cfg: DiscoveryConfig, rule: Any, evaluate: Callable, mesh: Any,
               keys: tuple[jax.Array, jax.Array, jax.Array]) -> OuterLoop:
    """The run's outer loop: ES (evosax) or the meta-gradient (`cfg.outer`)."""
    k_init, k_outer, k_gen = keys
    template = rule.init(k_init)
    steps = env_steps_per_generation(cfg)
    if cfg.outer == "es":
        es, es_params = make_strategy(cfg.es, template)
        return make_es_loop(es, es_params, evaluate, mesh, template, k_outer, k_gen, cfg.envs,
                            steps)
    env, _ = envs.make(cfg.envs[0])
    trainer = make_train(env, rule, cfg.train)
    score = ((lambda params, key: evaluate(None, params, key)[1]) if cfg.center_seeds
             else None)
    return make_metagrad_loop(rule, trainer, cfg.metagrad, level_sampler(cfg), template,
                              k_outer, k_gen, score, steps)


def level_sampler(cfg: DiscoveryConfig) -> Callable[[jax.Array, int], tuple[Any, jax.Array]]:
    """`sample(key, n) -> (env_params [n], lifetime [n])`: fresh levels for new agents (a level
    distribution, or the named env with the run's horizon)."""
    if cfg.sample_levels:
        from envs.gridworld import sample_levels

        distribution = cfg.envs[0].split("/", 1)[1]

        def sample(key, n):
            levels = sample_levels(key, distribution, n)
            return levels.params, levels.lifetime

        return sample
    _, params = envs.make(cfg.envs[0])

    def fixed(key, n):
        batch = jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (n, *jnp.shape(x))),
                             params)
        return batch, jnp.full(n, cfg.train.num_updates, jnp.int32)

    return fixed


def run_discovery(cfg: DiscoveryConfig, run: RunDir, *, resume: bool = False,
                  progress: bool = True, trackers: Trackers | None = None,
                  echo: Callable[[str], None] = print) -> DiscoveryResult:
    """Run (or continue) the outer loop until `cfg.generations`, logging and checkpointing.

    With ES, every generation also scores the ES mean that sampled it (`center_fitness`, with
    `cfg.center_seeds` runs in the same vmapped call); with meta-gradients the meta-parameters
    are scored at chunk ends. At the end the final meta-parameters are scored once more, as
    generation `cfg.generations` would score them (`final_center` in the result and in
    `result.json`).
    """
    rule = cfg.rule.build()
    k_baseline, k_init, k_outer, k_gen = jax.random.split(jax.random.key(cfg.seed), 4)
    mesh = population_mesh(cfg.es.population_size if cfg.outer == "es" else jax.device_count())
    if cfg.outer == "es":
        echo(f"population of {cfg.es.population_size} sharded over {mesh.devices.size} "
             f"{jax.devices()[0].platform} device(s)")
    baselines = load_baselines(cfg, run, k_baseline, echo)
    evaluate = make_fitness(cfg, rule, baselines, mesh)
    loop = build_loop(cfg, rule, evaluate, mesh, (k_init, k_outer, k_gen))

    state = loop.init()
    ckpt = Checkpointer(run.checkpoints)
    done = 0
    if resume and ckpt.latest() is not None:
        state, _, meta = ckpt.restore(state)
        done = int(meta["generation"])
        run.truncate_metrics(lambda r: r.get("generation", -1) < done)
        echo(f"resumed {run.name} at {loop.label} {done}/{cfg.generations}")
    history = [r for r in run.metrics() if "fitness" in r]
    scores: dict[int, float | None] = {}

    def score(meta_params: Any, generation: int) -> float | None:
        if cfg.center_seeds and generation not in scores:
            scores[generation] = loop.score(meta_params, generation)
        return scores.get(generation)

    steps_per_gen = env_steps_per_generation(cfg)
    bar = ProgressLine(run.name, cfg.generations, unit="env-steps") if progress else None
    chunks_done = 0
    while done < cfg.generations:
        length = min(cfg.chunk, cfg.generations - done)
        state, log = loop.chunk(state, jnp.int32(done), length)
        rows = loop.records(done, jax.device_get(log))
        done += length
        if rows[-1]["center_fitness"] is None:  # loops that score at chunk ends only
            rows[-1]["center_fitness"] = score(loop.meta_params(state), done)
        for row in rows:
            history.append(row)
            run.log(row)
            if trackers is not None:
                trackers.log(row["generation"], tracker_scalars(row))
        chunks_done += 1
        if bar is not None:
            bar.report(done, work=length * steps_per_gen, **progress_fields(rows, cfg))
        if chunks_done % cfg.checkpoint_every == 0 or done == cfg.generations:
            ckpt.save(done, state, loop.meta_params(state),
                      {"rule": cfg.rule.name, "envs": list(cfg.envs), "outer": cfg.outer})
    ckpt.close()
    meta_params = loop.meta_params(state)
    final_center = score(meta_params, cfg.generations)
    if final_center is not None:
        (run.path / "result.json").write_text(json.dumps(
            {"generation": cfg.generations, "final_center_fitness": final_center,
             "center_seeds": cfg.center_seeds, "fitness": cfg.fitness_label}, indent=2))
        echo(f"final meta-parameters: fitness {final_center:.4g} ({cfg.fitness_label}, "
             f"{cfg.center_seeds} runs)")
    fitness = np.stack([np.asarray(r["fitness"], dtype=float) for r in history]) if history \
        else np.zeros((0, 0))
    center = np.asarray([_float(r.get("center_fitness")) for r in history], dtype=float)
    if len(fitness):
        from discovery.plotting import plot_fitness

        plot_fitness(fitness, run.plots / "fitness.png", title=run.name,
                     ylabel=f"fitness: {cfg.fitness_label}",
                     center=center if cfg.center_seeds else None)
    return DiscoveryResult(meta_params, state, fitness, center, final_center)


def progress_fields(rows: list[dict[str, Any]], cfg: DiscoveryConfig) -> dict[str, Any]:
    """What the progress line shows after a chunk: the last row's centre, best and mean
    fitness, and the chunk's non-finite members."""
    last = rows[-1]
    fields = {"center": last["center_fitness"]} if cfg.center_seeds else {}
    fields.update(best=last["fitness_best"], mean=last["fitness_mean"],
                  nonfinite=sum(r["nonfinite"] for r in rows))
    if cfg.outer == "metagrad":
        fields["meta_loss"] = last["meta_loss"]
    return {k: (float("nan") if v is None else v) for k, v in fields.items()}


def tracker_scalars(record: dict[str, Any]) -> dict[str, float]:
    """TensorBoard / W&B scalars of one metrics row (None becomes NaN)."""
    scalars = {f"fitness/{k}": record.get(f"fitness_{k}") for k in ("mean", "best", "std")}
    scalars["fitness/center"] = record.get("center_fitness")
    scalars["fitness/nonfinite"] = record.get("nonfinite")
    for key in ("meta_loss", "pg_loss", "grad_norm", "resets"):
        if key in record:
            scalars[f"metagrad/{key}"] = record[key]
    for group in ("per_env", "center_per_env"):
        scalars.update({f"{group}/{k}": v for k, v in record.get(group, {}).items()})
    return {k: float("nan") if v is None else float(v) for k, v in scalars.items()}


def _float(value: Any) -> float:
    """A host float from a logged value (None, as JSON writes NaN, reads back as NaN)."""
    return float("nan") if value is None else float(value)
