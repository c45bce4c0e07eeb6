"""A discovery run: an outer loop (ES or meta-gradients) over a rule's meta-parameters, in
jitted chunks of generations, with metrics, checkpoints and exact resume.

    run = start_run(cfg, "runs/my-run")          # refuses an existing directory
    result = run_discovery(cfg, run)             # or, after a kill:
    cfg, run = open_run("runs/my-run"); run_discovery(cfg, run, resume=True)

One process at a time writes a run (`discovery.runlock`); a resume restores the newest intact
checkpoint and refuses config changes that alter results (`discovery.resume`); with
`stop=StopSignals()` SIGTERM/SIGINT stop the run at a safe point with a checkpoint
(`discovery.signals`). The outer loop's whole state is checkpointed: the ES state (or the
meta-gradient's agents and optimiser) and the level source's state (a PLR buffer in flight).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import envs
from discovery.checkpoint import Checkpointer
from discovery.config import DiscoveryConfig
from discovery.distributed import is_main
from discovery.es import make_es_loop, make_strategy, population_mesh
from discovery.fitness import (
    Fitness,
    check_baseline,
    compute_baselines,
    make_evaluate,
    make_level_evaluate,
    make_robust_evaluate,
    reference_ppo,
)
from discovery.inner import make_train
from discovery.levels import level_features, make_level_source
from discovery.logging import ProgressLine, Trackers
from discovery.memory import check_fits
from discovery.metagrad import make_metagrad_loop
from discovery.outer import OuterLoop
from discovery.resume import restore_for_resume
from discovery.rundir import ReadOnlyRun, RunDir, RunDirError
from discovery.runlock import RunLock
from discovery.signals import NoStop, StopSignals
from meta_objectives import make_rule

RUN_KIND = "discover"


class DiscoveryResult(NamedTuple):
    meta_params: Any  # the ES mean (or meta-gradient parameters) after the last generation
    state: Any  # the outer loop's state
    fitness: np.ndarray  # [generations, population] raw fitness (NaN where non-finite)
    center: np.ndarray  # [generations] fitness of the ES mean that sampled each generation
    #                     (meta-gradients: of the parameters after a chunk's last step)
    final_center: float | None  # fitness of the returned (final) meta-parameters


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
    """Environment steps one generation (ES) or one meta-step (meta-gradients) takes."""
    if cfg.outer == "metagrad":
        return cfg.metagrad.num_agents * (cfg.metagrad.unroll + 1) * cfg.train.steps_per_update
    runs = cfg.es.population_size * cfg.seeds_per_member + cfg.center_seeds
    return runs * len(cfg.envs) * cfg.train.num_updates * cfg.train.steps_per_update


def load_baselines(cfg: DiscoveryConfig, run: RunDir, key: jax.Array,
                   echo: Callable[[str], None]) -> dict[str, dict]:
    """PPO / random returns per training env (computed once, kept in baselines.json); empty
    where fitness is not PPO-normalised."""
    if not cfg.fitness_is_ppo_normalised:
        return {}
    path = run.path / "baselines.json"
    if path.exists():
        try:
            baselines = json.loads(path.read_text())
        except ValueError:
            raise RunDirError(f"{path}: not valid JSON; delete it to recompute the "
                              "baselines") from None
        if set(baselines) == set(cfg.envs):
            for name, baseline in baselines.items():
                check_baseline(name, baseline)
            return baselines
    echo(f"computing PPO / random baselines on {len(cfg.envs)} environment(s) ...")
    baselines = compute_baselines(cfg.envs, cfg.train, key, cfg.baseline_seeds, log=echo,
                                  reference=reference_ppo(cfg.rule.build()))
    run.write_json(path.name, baselines)
    return baselines


def make_fitness(cfg: DiscoveryConfig, rule: Any, baselines: dict[str, dict], mesh: Any
                 ) -> Fitness:
    """The run's fitness: on fixed named envs, or on levels from the config's level source."""
    if not cfg.samples_levels:
        return make_evaluate(rule, cfg.envs, cfg.train, baselines, cfg.seeds_per_member,
                             cfg.center_seeds, mesh)
    if cfg.levels.kind == "iwocs":
        return make_robust_evaluate(rule, cfg.envs[0], cfg.train, cfg.levels,
                                    cfg.seeds_per_member, cfg.center_seeds, mesh)
    regret = cfg.levels.curriculum and cfg.levels.score == "regret"
    source = make_level_source(cfg.levels, cfg.envs[0], cfg.train.num_updates,
                               extras={"reference_return": float("nan")} if regret else None)
    return make_level_evaluate(
        rule, cfg.envs[0], cfg.train, source, cfg.es.antithetic, cfg.seeds_per_member,
        cfg.center_seeds, mesh, normalize=cfg.levels.fitness == "normalized",
        reference=make_rule(cfg.reference_rule) if regret else None,
        features=level_features(cfg.envs[0]))


def build_loop(cfg: DiscoveryConfig, rule: Any, baselines: dict[str, dict], mesh: Any,
               keys: tuple[jax.Array, jax.Array, jax.Array]) -> OuterLoop:
    """The run's outer loop: ES (evosax) or the meta-gradient (`cfg.outer`).

    The population is scored sharded over `mesh`; the centre alone (its score at chunk ends
    and at the end) on one device's batch, so that its score does not depend on the device
    count (XLA:CPU's rounding can depend on how many runs a device holds)."""
    k_init, k_outer, k_gen = keys
    template = rule.init(k_init)
    steps = env_steps_per_generation(cfg)
    fitness = make_fitness(cfg, rule, baselines, mesh)
    center_fitness = make_fitness(cfg, rule, baselines, None)
    if cfg.outer == "es":
        es, es_params = make_strategy(cfg.es, template)
        return make_es_loop(es, es_params, fitness, mesh, template, k_outer, k_gen, cfg.envs,
                            steps, score_fitness=center_fitness)
    env, _ = envs.make(cfg.envs[0])
    trainer = make_train(env, rule, cfg.train)
    score = None
    if cfg.center_seeds:
        levels_state = center_fitness.init(k_outer)

        def score(params, key):
            return center_fitness.eval(None, params, levels_state, key)[1]
    return make_metagrad_loop(rule, trainer, cfg.metagrad, level_sampler(cfg), template,
                              k_outer, k_gen, score, steps)


def level_sampler(cfg: DiscoveryConfig) -> Callable[[jax.Array, int], tuple[Any, jax.Array]]:
    """`sample(key, n) -> (env_params [n], lifetime [n])`: fresh levels for new meta-gradient
    agents (drawn from the run's level distribution, or the named env with the run's
    horizon)."""
    if cfg.samples_levels:
        from discovery.levels import level_generator

        generate = level_generator(cfg.envs[0], cfg.train.num_updates)

        def sample(key, n):
            levels = generate(key, n)
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
                  echo: Callable[[str], None] = print, allow_config_change: bool = False,
                  stop: StopSignals | None = None) -> DiscoveryResult:
    """Run (or continue) the outer loop until `cfg.generations`, logging and checkpointing.

    With ES, every generation also scores the ES mean that sampled it (`center_fitness`, with
    `cfg.center_seeds` runs in the same vmapped call); with meta-gradients the meta-parameters
    are scored at chunk ends. At the end the final meta-parameters are scored once more, as
    generation `cfg.generations` would score them (`final_center` in the result and in
    `result.json`).

    Holds the run's lock throughout (RunLockedError if another process has it). On resume,
    a config that differs from the checkpoint's in fields that change results is refused
    (ConfigChangeError) unless `allow_config_change`. With `stop` (an active StopSignals), a
    SIGTERM/SIGINT ends the run at the next safe point with a checkpoint, raising `Stopped`.
    """
    if not is_main():  # a multi-host run: process 0 holds the lock and writes the files
        return _run_locked(cfg, ReadOnlyRun(run.path), resume, False, None, lambda _: None,
                           allow_config_change, stop or NoStop())
    with RunLock(run.path):
        return _run_locked(cfg, run, resume, progress, trackers, echo, allow_config_change,
                           stop or NoStop())


def _run_locked(cfg: DiscoveryConfig, run: RunDir, resume: bool, progress: bool,
                trackers: Trackers | None, echo: Callable[[str], None],
                allow_config_change: bool, stop: StopSignals) -> DiscoveryResult:
    rule = cfg.rule.build()
    k_baseline, k_init, k_outer, k_gen = jax.random.split(jax.random.key(cfg.seed), 4)
    mesh = population_mesh(cfg.es.population_size if cfg.outer == "es" else jax.device_count())
    replicated = NamedSharding(mesh, P())
    # One placement for the fresh, restored and carried state, so that every chunk call has
    # the same input types and the chunk compiles once.
    place = lambda tree: replicate(tree, replicated)  # noqa: E731
    keys = (k_init, k_outer, k_gen)
    # The loop's state does not depend on the baselines: restore (and refuse a changed config)
    # before computing them.
    loop = build_loop(cfg, rule, {}, mesh, keys)
    state = place(loop.init())
    ckpt = Checkpointer(run.checkpoints)
    done, saved = 0, None
    if resume:
        check_fits(cfg)
        state, done = restore_for_resume(cfg, run, ckpt, state,
                                         allow_config_change=allow_config_change, echo=echo)
        state, saved = place(state), (done if done else None)
    resume_hint = f"continue with: rldisco discover --resume {run.path}"

    def held() -> str:
        """What the checkpoints hold (said when the run stops)."""
        return (f"checkpoint {done} holds generation {done}/{cfg.generations}" if done
                else "nothing to save before the first generation")

    stop.idle(f"{held()}; {resume_hint}")  # a stop during baselines or compilation loses nothing
    if cfg.outer == "es":
        echo(f"population of {cfg.es.population_size} sharded over {mesh.devices.size} "
             f"{jax.devices()[0].platform} device(s)")
    baselines = load_baselines(cfg, run, k_baseline, echo)
    if baselines:
        loop = build_loop(cfg, rule, baselines, mesh, keys)
    history = [r for r in run.metrics() if "fitness" in r]
    scores: dict[int, float | None] = {}

    def score(meta_params: Any, generation: int) -> float | None:
        if cfg.center_seeds and generation not in scores:
            # a robust run scores its rule on the worst-case set it has found so far
            on_set = {"levels_state": state[1]} if cfg.levels.kind == "iwocs" else {}
            scores[generation] = loop.score(meta_params, generation, **on_set)
        return scores.get(generation)

    def save(done: int) -> None:
        ckpt.save(done, state, loop.meta_params(state),
                  {"rule": cfg.rule.name, "envs": list(cfg.envs), "outer": cfg.outer,
                   "config": cfg.to_dict()})

    def stop_here(abandoned: bool) -> None:
        """Checkpoint what is done (unless saved already) and raise Stopped."""
        nonlocal saved
        if stop.requested is None:
            return
        if done and saved != done:
            save(done)
            saved = done
        ckpt.close()
        abandoned_text = f"; the {loop.label}s in flight were abandoned" if abandoned else ""
        stop.raise_if_requested(f"{held()}{abandoned_text}; {resume_hint}",
                                abandoned_work=abandoned)

    steps_per_gen = env_steps_per_generation(cfg)
    bar = ProgressLine(run.name, cfg.generations, unit="env-steps") if progress else None
    chunks_done = 0
    while done < cfg.generations:
        stop_here(abandoned=False)
        if saved == done or not done:
            stop.idle(f"{held()}; {resume_hint}")  # a stop while the chunk compiles loses nothing
        length = min(cfg.chunk, cfg.generations - done)
        new_state, log = loop.chunk(state, jnp.int32(done), length)
        stop.busy()  # from here this thread answers a stop (it polls while the chunk runs)
        if not stop.wait((new_state, log)):
            stop_here(abandoned=True)
        state = new_state
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
            save(done)
            saved = done
    ckpt.close()
    meta_params = loop.meta_params(state)
    final_center = score(meta_params, cfg.generations)
    if final_center is not None:
        run.write_json("result.json", {"generation": cfg.generations,
                                       "final_center_fitness": final_center,
                                       "center_seeds": cfg.center_seeds,
                                       "fitness": cfg.fitness_label})
        echo(f"final meta-parameters: fitness {final_center:.4g} ({cfg.fitness_label}, "
             f"{cfg.center_seeds} runs)")
    fitness_rows = _stack_rows([np.asarray(r["fitness"], dtype=float) for r in history])
    center = np.asarray([_float(r.get("center_fitness")) for r in history], dtype=float)
    if len(fitness_rows) and not isinstance(run, ReadOnlyRun):
        from discovery.plotting import plot_fitness, plot_levels

        plot_fitness(fitness_rows, run.plots / "fitness.png", title=run.name,
                     ylabel=f"fitness: {cfg.fitness_label}",
                     center=center if cfg.center_seeds else None)
        if any("levels" in r for r in history):
            plot_levels(history, run.plots / "levels.png", title=run.name)
        if any("iwocs" in r for r in history):
            from discovery.plotting import plot_worst_case_set

            plot_worst_case_set(history, run.plots / "worst_case_set.png", title=run.name)
    if cfg.levels.curriculum and cfg.outer == "es" and not isinstance(run, ReadOnlyRun):
        save_top_levels(cfg, state[1], run)
    return DiscoveryResult(meta_params, state, fitness_rows, center, final_center)


def replicate(tree: Any, sharding: NamedSharding) -> Any:
    """`tree` as arrays replicated by `sharding`. Over several hosts every process passes the
    same values and builds its own shards (`device_put` would compare the processes' values,
    and NaN, which an ES state holds, never equals itself)."""
    tree = jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), tree)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(one(jax.random.key_data(x)),
                                            impl=jax.random.key_impl(x))
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def save_top_levels(cfg: DiscoveryConfig, levels_state: dict, run: RunDir, top: int = 8) -> None:
    """The buffer's highest-scored levels: `levels/top.json` (score, features, extras) and,
    where the env family draws its levels, `plots/levels/top_<rank>.png`."""
    buffer = jax.device_get(levels_state["buffer"])
    size = int(buffer["size"])
    if not size:
        return
    order = np.argsort(-np.asarray(buffer["scores"])[:size])[:top]
    features = level_features(cfg.envs[0])
    family = envs.family(cfg.envs[0])
    rows = []
    for rank, slot in enumerate(order.tolist()):
        level = jax.tree.map(lambda x, i=slot: x[i], buffer["levels"])
        feats = jax.tree.map(lambda x: float(np.asarray(x)), features(level))
        extras = {k: float(v[slot]) for k, v in buffer["levels_extra"].items()}
        rows.append({"rank": rank, "slot": slot, "score": float(buffer["scores"][slot]),
                     **feats, **extras})
        if family.render is not None:
            family.render(level.params, _plot_path(run, f"levels/top_{rank}.png"))
    run.write_json("levels/top.json", rows)


def _plot_path(run: RunDir, name: str) -> Path:
    path = run.plots / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def progress_fields(rows: list[dict[str, Any]], cfg: DiscoveryConfig) -> dict[str, Any]:
    """What the progress line shows after a chunk: the last row's centre, best and mean
    fitness, the chunk's non-finite members, and (curricula) the buffer's fill and score."""
    last = rows[-1]
    fields = {"center": last["center_fitness"]} if cfg.center_seeds else {}
    fields.update(best=last["fitness_best"], mean=last["fitness_mean"],
                  nonfinite=sum(r["nonfinite"] for r in rows))
    if cfg.outer == "metagrad":
        fields["meta_loss"] = last["meta_loss"]
    iwocs = last.get("iwocs")
    if iwocs:  # the ES mean's agents on the nominal model (centre: their worst over the set)
        fields.update(models=iwocs.get("models"), nominal=iwocs.get("nominal"))
    buffer = last.get("buffer")
    if buffer:
        fields.update(fill=buffer.get("fill_ratio"), level_score=buffer.get("score_mean"),
                      replayed=sum(bool(r.get("replayed")) for r in rows))
    return {k: (float("nan") if v is None else v) for k, v in fields.items()}


def tracker_scalars(record: dict[str, Any]) -> dict[str, float]:
    """TensorBoard / W&B scalars of one metrics row (None becomes NaN)."""
    scalars = {f"fitness/{k}": record.get(f"fitness_{k}") for k in ("mean", "best", "std")}
    scalars["fitness/center"] = record.get("center_fitness")
    scalars["fitness/nonfinite"] = record.get("nonfinite")
    for key in ("meta_loss", "pg_loss", "grad_norm", "resets"):
        if key in record:
            scalars[f"metagrad/{key}"] = record[key]
    for group in ("per_env", "center_per_env", "levels", "buffer", "iwocs"):
        scalars.update({f"{group}/{k}": v for k, v in record.get(group, {}).items()})
    return {k: float("nan") if v is None else float(v) for k, v in scalars.items()}


def _float(value: Any) -> float:
    """A host float from a logged value (None, as JSON writes NaN, reads back as NaN)."""
    return float("nan") if value is None else float(value)


def _stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """[generations, population] fitness, NaN-padded where a resume allowed another
    population size."""
    if not rows:
        return np.zeros((0, 0))
    width = max(len(r) for r in rows)
    return np.stack([np.pad(r, (0, width - len(r)), constant_values=np.nan) for r in rows])
