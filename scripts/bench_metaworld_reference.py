"""Reference throughput of the REAL Meta-World (MuJoCo, CPU), for the comparison table in
BENCHMARKS.md. Meta-World is NOT a dependency of this project: run this script with the
python of a scratch virtualenv outside the repo, e.g.

    python3 -m venv /tmp/mwvenv && /tmp/mwvenv/bin/pip install metaworld packaging
    /tmp/mwvenv/bin/python scripts/bench_metaworld_reference.py            # ~1 min on 2 cores
    /tmp/mwvenv/bin/python scripts/bench_metaworld_reference.py --steps 2000 --mt10-steps 300 \
        --out /tmp/mw_bench.json

(metaworld 3.x's gymnasium.envs.mujoco import needs `packaging`, which pip may not pull in.)

Measures, with uniform random actions:
  1. single env, one process, for each task: the bare v3 env from `metaworld.MT1(name)` +
     `env.set_task(task)` (no gymnasium wrappers), `--steps` env.step calls with a reset every
     500 steps (the Meta-World max_path_length; reset time included in steps/s), plus the
     mean reset time; and the same through `gymnasium.make("Meta-World/MT1", env_name=...)`
     (TimeLimit/auto-terminate/stat/task-sampling wrappers) for comparison.
  2. MT10 (and, with --mt50-steps, MT50) via `gymnasium.make_vec("Meta-World/MT10",
     vector_strategy="sync")`: env steps/s summed over the 10 (50) envs (envs x vector steps /
     time; autoreset same-step).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import metaworld  # noqa: F401  (registers the Meta-World/* gymnasium ids)
import numpy as np

TASKS = ["reach-v3", "push-v3", "pick-place-v3", "drawer-close-v3", "door-open-v3"]
EPISODE = 500


def bench_bare(name: str, steps: int, seed: int = 0) -> dict:
    mt1 = metaworld.MT1(name, seed=seed)
    env = mt1.train_classes[name]()
    env.set_task(mt1.train_tasks[0])
    rng = np.random.default_rng(seed)
    lo, hi = env.action_space.low, env.action_space.high
    acts = rng.uniform(lo, hi, size=(steps, lo.shape[0])).astype(np.float32)
    env.reset()
    for i in range(20):  # warm-up
        env.step(acts[i])
    reset_times = []
    t0 = time.perf_counter()
    for i in range(steps):
        if i % EPISODE == 0:
            r0 = time.perf_counter()
            env.reset()
            reset_times.append(time.perf_counter() - r0)
        env.step(acts[i])
    dt = time.perf_counter() - t0
    env.close()
    return dict(steps=steps, seconds=dt, steps_per_s=steps / dt,
                reset_ms=1e3 * float(np.mean(reset_times)), resets=len(reset_times))


def bench_gym(name: str, steps: int, seed: int = 0) -> dict:
    env = gym.make("Meta-World/MT1", env_name=name, seed=seed)
    env.action_space.seed(seed)
    acts = [env.action_space.sample() for _ in range(steps)]
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for i in range(steps):
        _, _, term, trunc, _ = env.step(acts[i])
        if term or trunc or (i + 1) % EPISODE == 0:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return dict(steps=steps, seconds=dt, steps_per_s=steps / dt)


def bench_mt(benchmark: str, vec_steps: int, seed: int = 0) -> dict:
    """Env steps/s of `gymnasium.make_vec("Meta-World/<benchmark>", "sync")` (MT10 or MT50)."""
    t0 = time.perf_counter()
    envs = gym.make_vec(f"Meta-World/{benchmark}", vector_strategy="sync", seed=seed)
    build = time.perf_counter() - t0
    envs.action_space.seed(seed)
    n = envs.num_envs
    acts = [envs.action_space.sample() for _ in range(vec_steps)]
    r0 = time.perf_counter()
    envs.reset(seed=seed)
    reset_s = time.perf_counter() - r0
    t0 = time.perf_counter()
    for i in range(vec_steps):
        envs.step(acts[i])  # TimeLimit(500) + SAME_STEP autoreset handle episode ends
    dt = time.perf_counter() - t0
    envs.close()
    return dict(num_envs=n, vec_steps=vec_steps, seconds=dt, env_steps_per_s=n * vec_steps / dt,
                vec_steps_per_s=vec_steps / dt, reset_all_ms=1e3 * reset_s, build_s=build)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--mt10-steps", type=int, default=300, help="vector steps (x10 env steps)")
    ap.add_argument("--mt50-steps", type=int, default=0, help="vector steps (x50 env steps)")
    ap.add_argument("--tasks", nargs="*", default=TASKS)
    ap.add_argument("--no-gym", action="store_true", help="skip the gymnasium.make MT1 runs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from importlib.metadata import version

    import mujoco
    meta = dict(metaworld=version("metaworld"), mujoco=mujoco.__version__,
                gymnasium=gym.__version__, numpy=np.__version__,
                python=platform.python_version(),
                machine=platform.processor() or platform.machine())
    print(json.dumps(meta))
    res: dict = dict(meta=meta, single={}, single_gym={}, mt10=None, mt50=None)
    for name in args.tasks:
        r = bench_bare(name, args.steps)
        res["single"][name] = r
        print(f"bare  {name:18s} {r['steps_per_s']:8.0f} steps/s   reset {r['reset_ms']:.2f} ms",
              flush=True)
        if not args.no_gym:
            g = bench_gym(name, args.steps)
            res["single_gym"][name] = g
            print(f"gym   {name:18s} {g['steps_per_s']:8.0f} steps/s", flush=True)
    for benchmark, vec_steps in (("MT10", args.mt10_steps), ("MT50", args.mt50_steps)):
        if vec_steps > 0:
            m = bench_mt(benchmark, vec_steps)
            res[benchmark.lower()] = m
            print(f"{benchmark} sync x{m['num_envs']}: {m['env_steps_per_s']:.0f} env steps/s "
                  f"({m['vec_steps_per_s']:.0f} vector steps/s), reset-all "
                  f"{m['reset_all_ms']:.1f} ms, build {m['build_s']:.1f} s", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
