"""Throughput benchmark: raw env steps/s, and PPO training steps/s of our trainer against a
purejaxrl-style single-file PPO (`scripts/reference_ppo.py`) measured in the same run.

    python scripts/bench.py                 # CPU-sized (minutes on 2 cores)
    python scripts/bench.py --full          # the published sizes (GPU)
    python scripts/bench.py --out bench.json

Figures go into BENCHMARKS.md by hand, with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from discovery.devices import use_cpu_devices

use_cpu_devices()  # one device per core, as `rldisco` does (before anything starts JAX)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_ppo import make_reference_train  # noqa: E402

import envs  # noqa: E402
from discovery.es import population_mesh  # noqa: E402
from discovery.inner import TrainConfig, make_train  # noqa: E402
from meta_objectives import PPO  # noqa: E402

CONFIGS = {
    "CartPole-v1": dict(num_envs=4, num_steps=128, total_timesteps=500_000, epochs=4,
                        minibatches=4, lr=2.5e-4, activation="tanh"),
    "Breakout-MinAtar": dict(num_envs=64, num_steps=128, total_timesteps=1_000_000, epochs=4,
                             minibatches=8, lr=5e-3, activation="relu"),
}


def timed(fn, *args, repeats: int = 1) -> tuple[float, float]:
    """(compile seconds, best run seconds) of jitted fn(*args)."""
    return timed_output(fn, *args, repeats=repeats)[:2]


def timed_output(fn, *args, repeats: int = 1) -> tuple[float, float, object]:
    """(compile seconds, best run seconds, output) of jitted fn(*args)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return compile_s, best, out


def raw_env(name: str, batch: int, steps: int = 1000) -> float:
    env, params = envs.make(name)

    def rollout(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, batch), params)
        n = env.action_space(params).n

        def step(carry, k):
            state, total = carry
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (batch,), 0, n)
            _, state, reward, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(ks, batch), state, action, params)
            return (state, total + reward.sum()), None

        (_, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
        return total

    _, run_s = timed(rollout, jax.random.key(0), repeats=2)
    return batch * steps / run_s


def ppo_pair(name: str, seeds: int, timesteps: int) -> dict:
    c = dict(CONFIGS[name], total_timesteps=timesteps)
    env, params = envs.make(name)
    cfg = TrainConfig(num_envs=c["num_envs"], num_steps=c["num_steps"],
                      total_timesteps=timesteps, update_epochs=c["epochs"],
                      num_minibatches=c["minibatches"], lr=c["lr"], activation=c["activation"])
    ours = jax.vmap(make_train(env, PPO(), cfg), in_axes=(None, None, 0))
    ref = jax.vmap(make_reference_train(env, params, num_envs=c["num_envs"],
                                        num_steps=c["num_steps"], total_timesteps=timesteps,
                                        epochs=c["epochs"], minibatches=c["minibatches"],
                                        lr=c["lr"], activation=c["activation"]))
    keys = jax.random.split(jax.random.key(0), seeds)
    # Ours shards the seeds over the devices that divide them (one per CPU core), as discovery
    # shards its population; the single-file reference runs on one device, as it is written.
    mesh = population_mesh(seeds)
    sharded = jax.device_put(keys, NamedSharding(mesh, P("pop")))
    steps = seeds * cfg.num_updates * cfg.steps_per_update
    repeats = 2 if steps <= 2_000_000 else 1
    ours_c, ours_s, ours_ret = timed_output(lambda k: ours({}, params, k).final_return, sharded,
                                            repeats=repeats)
    # the reference's curve, scored like ours: the last 10% of updates
    window = max(1, cfg.num_updates // 10)
    ref_c, ref_s, ref_ret = timed_output(lambda k: ref(k)[:, -window:].mean(1), keys,
                                         repeats=repeats)
    return {"env": name, "seeds": seeds, "steps_per_seed": cfg.num_updates * cfg.steps_per_update,
            "ours_sps": steps / ours_s, "reference_sps": steps / ref_s,
            "ours_devices": int(mesh.devices.size), "ours_return": float(np.mean(ours_ret)),
            "reference_return": float(np.mean(ref_ret)),
            "ours_compile_s": ours_c, "reference_compile_s": ref_c}


def es_overhead(population: int, timesteps: int) -> dict:
    """One ES generation (ask + sharded vmapped training + tell) vs the same training alone."""
    from discovery.config import apply_overrides, preset
    from discovery.es import make_generation, make_strategy, population_mesh
    from discovery.fitness import make_evaluate

    cfg = apply_overrides(preset("quickstart"), [f"es.population_size={population}",
                                                 f"train.total_timesteps={timesteps}",
                                                 "center_seeds=0"])
    rule = cfg.rule.build()
    template = rule.init(jax.random.key(0))
    es, es_params = make_strategy(cfg.es, template)
    baselines = {name: {"random": 0.0, "ppo": 1.0} for name in cfg.envs}
    fitness = make_evaluate(rule, cfg.envs, cfg.train, baselines)
    generation = make_generation(es, es_params, fitness, population_mesh(population))
    state = (es.init(jax.random.key(1), template, es_params), fitness.init(jax.random.key(4)))
    pop, _ = es.ask(jax.random.key(2), state[0], es_params)
    env, params = envs.make(cfg.envs[0])
    single = make_train(env, rule, cfg.train)
    _, gen_s = timed(lambda s, k: generation(s, k)[1].fitness, state, jax.random.key(3),
                     repeats=2)
    center = es.get_mean(state[0])
    _, pop_s = timed(lambda p, k: fitness.eval(p, center, {}, k)[0], pop, jax.random.key(3),
                     repeats=2)
    one = jax.tree.map(lambda x: x[0], pop)
    _, one_s = timed(lambda m, k: single(m, params, k).final_return, one, jax.random.key(3),
                     repeats=2)
    return {"population": population, "generation_s": gen_s, "vmapped_train_s": pop_s,
            "single_train_s": one_s, "overhead_vs_vmapped": gen_s / pop_s - 1.0,
            "generation_vs_population_x_single": gen_s / (population * one_s)}


def plr_overhead(population: int, generations: int, repeats: int = 3) -> dict:
    """`quickstart-groove` generations (LPG on 'small' grid-world levels) with levels from a PLR
    buffer against the same generations on freshly sampled levels (domain randomisation, no
    buffer): the buffer's cost with random level scores, and separately with GROOVE's
    algorithmic regret (the A2C reference trained on each new batch of levels).

    Each variant runs `generations` generations as one jitted scan, first to fill the buffer
    past its replay threshold (and compile), then timed from there (`repeats` times, best)."""
    from discovery.config import apply_overrides, preset
    from discovery.es import make_generation, make_strategy, population_mesh
    from discovery.run import make_fitness

    base = apply_overrides(preset("quickstart-groove"), [
        f"es.population_size={population}", "center_seeds=0",
        f"levels.buffer_size={population // 2 * generations}", "levels.minimum_fill_ratio=0.5"])
    variants = {"sampled": ["levels.kind=sampled"], "plr_random": ["levels.score=random"],
                "plr_regret": []}
    out: dict = {"population": population, "generations": generations}
    for label, overrides in variants.items():
        cfg = apply_overrides(base, overrides)
        rule = cfg.rule.build()
        template = rule.init(jax.random.key(0))
        es, es_params = make_strategy(cfg.es, template)
        mesh = population_mesh(population)
        fitness = make_fitness(cfg, rule, {}, mesh)
        generation = make_generation(es, es_params, fitness, mesh)

        def chunk(state, key, generation=generation):
            step = lambda c, g: generation(c, jax.random.fold_in(key, g))  # noqa: E731
            state, log = jax.lax.scan(step, state, jnp.arange(generations))
            return state, log.info.get("replayed", jnp.zeros(generations, bool))

        state = (es.init(jax.random.key(1), template, es_params), fitness.init(jax.random.key(2)))
        compiled = jax.jit(chunk).lower(state, jax.random.key(3)).compile()
        state, _ = jax.block_until_ready(compiled(state, jax.random.key(3)))  # fill the buffer
        best, replayed = float("inf"), 0
        for r in range(repeats):
            t0 = time.perf_counter()
            _, flags = jax.block_until_ready(compiled(state, jax.random.key(10 + r)))
            best = min(best, time.perf_counter() - t0)
            replayed = int(flags.sum())
        out[label] = {"generation_s": best / generations, "replayed": replayed}
    sampled = out["sampled"]["generation_s"]
    out["plr_random_overhead"] = out["plr_random"]["generation_s"] / sampled - 1.0
    out["plr_regret_overhead"] = out["plr_regret"]["generation_s"] / sampled - 1.0
    return out


def minatar_generation(population: int, updates: int) -> dict:
    """One `ta-lpo-minatar` generation (four games, 64 envs x 128 steps) at a shrunk size."""
    from discovery.config import apply_overrides, preset
    from discovery.es import make_generation, make_strategy, population_mesh
    from discovery.fitness import make_evaluate
    from discovery.run import env_steps_per_generation

    cfg = apply_overrides(preset("ta-lpo-minatar"), [
        f"es.population_size={population}", f"train.total_timesteps={64 * 128 * updates}"])
    rule = cfg.rule.build()
    template = rule.init(jax.random.key(0))
    es, es_params = make_strategy(cfg.es, template)
    evaluate = make_evaluate(rule, cfg.envs, cfg.train,
                             {n: {"random": 0.0, "ppo": 1.0} for n in cfg.envs})
    generation = make_generation(es, es_params, evaluate, population_mesh(population))
    state = es.init(jax.random.key(1), template, es_params)
    compile_s, gen_s = timed(lambda s, k: generation(s, k)[1].fitness, state, jax.random.key(2))
    steps = env_steps_per_generation(cfg)
    full = env_steps_per_generation(preset("ta-lpo-minatar"))
    return {"population": population, "updates": updates, "generation_s": gen_s,
            "compile_s": compile_s, "sps": steps / gen_s,
            "projected_full_generation_min": full / (steps / gen_s) / 60}


def _timed_cli(args: list[str], cache: Path) -> float:
    """Wall seconds of `rldisco ARGS` in a fresh process using the compilation cache `cache`."""
    env = {**os.environ, "RLDISCO_COMPILE_CACHE": str(cache)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "discovery.cli", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def startup(eval_seeds: int = 4) -> dict:
    """Cold vs warm start: `rldisco discover --preset quickstart` and `rldisco evaluate` of
    that run, each twice against one persistent compilation cache that starts empty (the
    second process loads what the first compiled)."""
    root = Path(tempfile.mkdtemp(prefix="rldisco-bench-startup-"))
    out: dict = {"discover": {}, "evaluate": {}}
    try:
        for start in ("cold", "warm"):
            t = _timed_cli(["discover", "--preset", "quickstart", "--runs-dir", str(root),
                            "--name", start], root / "cache-discover")
            rows = (root / start / "metrics.jsonl").read_text().splitlines()
            out["discover"][start] = {"total_s": t, "generations": len(rows)}
        for start in ("cold", "warm"):
            out["evaluate"][start] = {"total_s": _timed_cli(
                ["evaluate", str(root / "cold"), "--envs", "CartPole-v1", "--seeds",
                 str(eval_seeds)], root / "cache-evaluate")}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def _compile_chunk(cfg) -> tuple:
    """(compiled, seconds): one jitted chunk of `cfg`'s outer loop, the program `discover` runs,
    compiled (not run) against placeholder baselines."""
    from discovery.es import population_mesh
    from discovery.run import build_loop

    rule = cfg.rule.build()
    mesh = population_mesh(cfg.es.population_size)
    baselines = {env: {"random": 0.0, "ppo": 1.0} for env in cfg.envs}
    keys = tuple(jax.random.split(jax.random.key(cfg.seed), 4)[1:])
    loop = build_loop(cfg, rule, baselines, mesh, keys)
    t0 = time.perf_counter()
    compiled = jax.jit(lambda s: loop.chunk(s, 0, cfg.chunk)).lower(loop.init()).compile()
    return compiled, time.perf_counter() - t0


def _peak_bytes(compiled) -> int | None:
    """XLA's peak-memory estimate of a compiled program: arguments + outputs + temporaries,
    aliased buffers counted once (None where the backend gives no analysis)."""
    mem = compiled.memory_analysis()
    return None if mem is None else (mem.argument_size_in_bytes + mem.output_size_in_bytes
                                     + mem.temp_size_in_bytes - mem.alias_size_in_bytes)


def compile_presets(presets: list[str]) -> dict:
    """Compile time and peak memory (`_peak_bytes`) of one jitted chunk of generations of each
    preset (the persistent cache off)."""
    from discovery.config import preset

    jax.config.update("jax_enable_compilation_cache", False)
    out = {}
    for name in presets:
        cfg = preset(name)
        compiled, seconds = _compile_chunk(cfg)
        members = cfg.metagrad.num_agents if cfg.outer == "metagrad" else cfg.es.population_size
        out[name] = {"compile_s": seconds, "chunk": cfg.chunk, "population": members,
                     "peak_bytes": _peak_bytes(compiled)}
    return out


def largest_population(presets: list[str], sizes: tuple[int, ...] = (16, 32, 64),
                       budget_bytes: int | None = None) -> dict:
    """Peak memory of a chunk at several ES population sizes (XLA's memory analysis, nothing
    run) and, from a least-squares line through them, the largest population whose chunk
    fits in `budget_bytes` (default: this machine's physical memory)."""
    from discovery.config import apply_overrides, preset

    jax.config.update("jax_enable_compilation_cache", False)
    if budget_bytes is None:
        budget_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    out = {"budget_bytes": budget_bytes}
    for name in presets:
        peaks = [_peak_bytes(_compile_chunk(
            apply_overrides(preset(name), [f"es.population_size={p}"]))[0]) for p in sizes]
        per_member, fixed = np.polyfit(np.asarray(sizes, float), np.asarray(peaks, float), 1)
        residual = max(abs(fixed + per_member * p - b) / b for p, b in zip(sizes, peaks,
                                                                          strict=True))
        out[name] = {"sizes": list(sizes), "peak_bytes": peaks, "per_member_bytes": per_member,
                     "fixed_bytes": fixed, "max_relative_residual": residual,
                     "largest_population": int((budget_bytes - fixed) // per_member)}
    return out


def manipulation_mt(batch: int, tasks: str = "MT10", steps: int = 200) -> dict:
    """Env steps/s of an MT benchmark (MT10 or MT50) batched over `batch` envs (task-variants
    tiled), the batch sharded over the devices that divide it (one per CPU core)."""
    from envs import manipulation

    bench = manipulation.benchmark(tasks, split="train", seed=0)
    n = jax.tree.leaves(bench.params)[0].shape[0]
    mesh = population_mesh(batch)
    shard = NamedSharding(mesh, P("pop"))
    params = jax.device_put(
        jax.tree.map(lambda x: jnp.resize(x, (batch, *x.shape[1:])), bench.params), shard)
    env = bench.env

    def rollout(params, keys):  # one device's share of the batch
        obs, state = jax.vmap(env.reset)(keys, params)

        def step(carry, _):
            state, keys, total = carry
            keys, k_act, k_env = jnp.unstack(jax.vmap(lambda k: jax.random.split(k, 3))(keys),
                                             axis=1)
            action = jax.vmap(lambda k: jax.random.uniform(k, (4,), minval=-1.0,
                                                           maxval=1.0))(k_act)
            _, state, reward, *_ = jax.vmap(env.step)(k_env, state, action, params)
            return (state, keys, total + reward.sum()), None

        (_, _, total), _ = jax.lax.scan(step, (state, keys, 0.0), None, length=steps)
        return jax.lax.psum(total, "pop")

    # shard_map, not GSPMD: the batch is embarrassingly parallel (GSPMD's partitioning of the
    # same program ran ~10% slower); check_vma off because the env's per-task lax.switch
    # mixes branches with constant and per-env outputs
    sharded = jax.shard_map(rollout, mesh=mesh, in_specs=(P("pop"), P("pop")), out_specs=P(),
                            check_vma=False)

    keys = jax.device_put(jax.random.split(jax.random.key(0), batch), shard)
    _, run_s = timed(lambda k: sharded(params, k), keys, repeats=2)
    return {"batch": batch, "tasks": len(bench.tasks), "variants": n,
            "sps": batch * steps / run_s, "devices": int(mesh.devices.size)}


def lpg_inner_loop(agents: int, distribution: str, updates: int = 5) -> dict:
    """Agent-updates/s of the LPG inner loop at the published batch (64 workers x 20 steps),
    `agents` agents vmapped, each on its own level sampled from `distribution`.

    The tabular `all` layout has 3,201-float observations (37 GB of rollouts for 256 agents),
    so the CPU run uses `small` (289 floats); `--full` uses `all`."""
    from discovery.presets import TRAIN_PRESETS
    from envs.gridworld import sample_levels
    from meta_objectives import LPG

    env, _ = envs.make(f"gridworld/{distribution}")
    rule = LPG()
    cfg = TRAIN_PRESETS["gridworld-tabular"].replace(total_timesteps=64 * 20 * updates)
    train = jax.vmap(make_train(env, rule, cfg), in_axes=(0, 0, None))
    levels = sample_levels(jax.random.key(0), distribution, agents)
    pop = jax.vmap(rule.init)(jax.random.split(jax.random.key(1), agents))
    compile_s, run_s = timed(lambda p, lv, k: train(p, lv, k).final_return, pop, levels.params,
                             jax.random.key(2))
    rate = agents * updates / run_s
    # the published run: 2,500 generations x 1,024 agents x 250 updates (the batch's maximum
    # lifetime; shorter lifetimes are masked, not skipped)
    return {"agents": agents, "distribution": distribution, "updates": updates,
            "agent_updates_per_s": rate,
            "compile_s": compile_s, "published_run_hours": 2500 * 1024 * 250 / rate / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="published sizes (for GPUs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--only", nargs="+", default=["raw", "ppo", "es"],
                        choices=["raw", "ppo", "es", "plr", "minatar", "manipulation", "lpg",
                                 "startup", "compile", "memory"],
                        help="which sections to run")
    args = parser.parse_args()

    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.device_kind} ({device.platform}), "
          f"{platform.processor() or platform.machine()}")
    raw_batches = {"CartPole-v1": 65536 if args.full else 2048,
                   "Breakout-MinAtar": 8192 if args.full else 512}
    results = {"device": device.device_kind, "platform": device.platform, "raw": {}, "ppo": []}
    for name, batch in raw_batches.items():
        if "raw" not in args.only:
            break
        results["raw"][name] = {"batch": batch, "sps": raw_env(name, batch)}
        print(f"raw {name:18s} batch {batch:6d}: {results['raw'][name]['sps']:.3g} steps/s")

    for name, c in CONFIGS.items():
        for seeds in (args.seeds if "ppo" in args.only else []):
            timesteps = c["total_timesteps"]
            if not args.full and seeds > 1:  # CPU: fewer updates per seed, same config
                timesteps = c["num_envs"] * c["num_steps"] * (24 if name == "CartPole-v1" else 3)
            elif not args.full and name == "Breakout-MinAtar":
                timesteps = c["num_envs"] * c["num_steps"] * 30
            r = ppo_pair(name, seeds, timesteps)
            results["ppo"].append(r)
            print(f"PPO {name:18s} seeds {seeds:3d} ({r['steps_per_seed']:.2g} steps/seed): ours "
                  f"{r['ours_sps']:.3g} steps/s, reference {r['reference_sps']:.3g} steps/s, "
                  f"ratio {r['ours_sps'] / r['reference_sps']:.2f} (ours on {r['ours_devices']} "
                  f"device(s)); final return ours {r['ours_return']:.1f}, reference "
                  f"{r['reference_return']:.1f}")

    if results["ppo"]:
        print("\n| env | seeds | ours steps/s | reference steps/s | ours/reference | "
              "training/raw |")
        print("|---|---|---|---|---|---|")
    for r in results["ppo"]:
        raw = results["raw"].get(r["env"], {}).get("sps", float("nan"))
        print(f"| {r['env']} | {r['seeds']} | {r['ours_sps']:.3g} | {r['reference_sps']:.3g} | "
              f"{r['ours_sps'] / r['reference_sps']:.2f} | {r['ours_sps'] / raw:.3f} |")

    if "es" in args.only:
        pop = 64 if args.full else 16
        r = es_overhead(pop, 8 * 64 * 30)
        results["es"] = r
        print(f"\nES generation (quickstart config, population {pop}): {r['generation_s']:.3f} s; "
              f"vmapped training alone {r['vmapped_train_s']:.3f} s (overhead "
              f"{100 * r['overhead_vs_vmapped']:+.1f}%); population x single train "
              f"{pop * r['single_train_s']:.3f} s (generation / that = "
              f"{r['generation_vs_population_x_single']:.2f})")
    if "plr" in args.only:
        pop, gens = (1024, 16) if args.full else (16, 16)
        r = plr_overhead(pop, gens)
        results["plr"] = r
        print(f"\nquickstart-groove generation, population {pop} ({gens} generations per "
              f"timed scan): sampled levels {r['sampled']['generation_s']:.3f} s; PLR buffer "
              f"with random scores {r['plr_random']['generation_s']:.3f} s "
              f"({100 * r['plr_random_overhead']:+.1f}%, {r['plr_random']['replayed']} of "
              f"{gens} batches replayed); with algorithmic regret "
              f"{r['plr_regret']['generation_s']:.3f} s ({100 * r['plr_regret_overhead']:+.1f}%,"
              f" {r['plr_regret']['replayed']} replayed: A2C trains on the new batches)")
    if "minatar" in args.only:
        pop, updates = (64, 1220) if args.full else (4, 4)
        r = minatar_generation(pop, updates)
        results["minatar_generation"] = r
        print(f"\nta-lpo-minatar generation, population {pop}, {updates} updates per member: "
              f"{r['generation_s']:.2f} s ({r['sps']:.3g} env-steps/s, compile "
              f"{r['compile_s']:.0f} s); the full preset (pop 64, 1e7 steps x 4 games) would "
              f"take {r['projected_full_generation_min']:.1f} min per generation at this rate")
    if "manipulation" in args.only:
        batch = 65536 if args.full else 4096
        for tasks in ("MT10", "MT50"):
            r = manipulation_mt(batch, tasks)
            results[f"manipulation_{tasks}"] = r
            print(f"\nmanipulation {tasks} ({r['tasks']} tasks), {batch} envs batched "
                  f"({r['variants']} task-variants tiled) on {r['devices']} device(s), random "
                  f"actions: {r['sps']:.3g} env-steps/s")
    if "lpg" in args.only:
        results["lpg"] = []
        for agents in (256, 1024):
            r = lpg_inner_loop(agents, "all" if args.full else "small")
            results["lpg"].append(r)
            print(f"\nLPG inner loop on '{r['distribution']}' levels, {agents} agents x "
                  f"(64 workers x 20 steps): "
                  f"{r['agent_updates_per_s']:.3g} agent-updates/s (compile {r['compile_s']:.0f} "
                  f"s); the published 2,500-generation TA-LPG run would take "
                  f"{r['published_run_hours']:.3g} h at this rate")
    if "startup" in args.only:
        r = startup()
        results["startup"] = r
        for cmd in ("discover", "evaluate"):
            cold, warm = r[cmd]["cold"]["total_s"], r[cmd]["warm"]["total_s"]
            print(f"\n{cmd} (quickstart): cold start {cold:.1f} s, warm (compilation cache "
                  f"filled by the first) {warm:.1f} s, saved {cold - warm:.1f} s")
    if "compile" in args.only:
        r = compile_presets(["quickstart", "quickstart-lpg", "quickstart-lpg-metagrad",
                             "quickstart-groove", "quickstart-lpo-plr"])
        results["compile"] = r
        print("\n| preset | population (agents) | generations per chunk | compile | "
              "peak memory of a chunk |\n|---|---|---|---|---|")
        for name, c in r.items():
            peak = "n/a" if c["peak_bytes"] is None else f"{c['peak_bytes'] / 2**20:.1f} MiB"
            print(f"| {name} | {c['population']} | {c['chunk']} | {c['compile_s']:.1f} s | "
                  f"{peak} |")
    if "memory" in args.only:
        r = largest_population(["quickstart", "quickstart-lpg", "quickstart-groove",
                                "quickstart-lpo-plr", "quickstart-robust"])
        results["memory"] = r
        print(f"\nlargest ES population whose chunk fits in {r['budget_bytes'] / 2**30:.1f} GiB "
              "(XLA's peak estimate, linear in the population)\n| preset | peak at "
              f"population {', '.join(map(str, r['quickstart']['sizes']))} | per member | "
              "largest population |\n|---|---|---|---|")
        for name, m in r.items():
            if name == "budget_bytes":
                continue
            peaks = ", ".join(f"{b / 2**20:.1f}" for b in m["peak_bytes"])
            print(f"| {name} | {peaks} MiB | {m['per_member_bytes'] / 2**20:.2f} MiB | "
                  f"{m['largest_population']:,} |")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing
    main()
