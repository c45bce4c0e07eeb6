"""Robustness benchmark: PPO trained on the nominal dynamics, with domain randomisation over an
uncertainty set, and with IWOCS, at equal training env steps; each agent's worst case (min) and
mean return over the set's grid (10 points per dimension, bounds included), mean over seeds
with 95% bootstrap CIs.

    python scripts/bench_robust.py                                  # CartPole, CPU minutes
    python scripts/bench_robust.py --space cartpole-2d --timesteps 500000 --seeds 5 --out r.json

IWOCS runs all its iterations (no early stop, so every method trains for the same env steps);
its CMA-ES search costs extra evaluation episodes, not counted in the training budget.
Figures go into BENCHMARKS.md by hand, with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import numpy as np

from discovery.agents import train_agents
from discovery.compile_cache import enable_compile_cache
from discovery.iwocs_train import IwocsConfig, train_iwocs
from discovery.levels import LevelsConfig
from discovery.presets import train_preset, train_preset_for
from discovery.robust_eval import agent_score_fn
from discovery.stats import bootstrap_ci
from discovery.ued import train_on_levels
from environment_design.robust import evaluate_grid
from environment_design.spaces import make_space
from meta_objectives import make_rule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="cartpole-2d")
    parser.add_argument("--timesteps", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--grid", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--out")
    args = parser.parse_args()
    enable_compile_cache()

    uset = make_space(args.space)
    env_name = uset.spec.env
    cfg = train_preset(train_preset_for(env_name)).replace(total_timesteps=args.timesteps)
    rule = make_rule("ppo")
    agents: dict[str, tuple] = {}
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    res = train_agents(uset.env, uset.base, rule, cfg, jax.random.key(0), args.seeds,
                       label="nominal", progress=False)
    agents["nominal"] = (res.agent_params, res.obs_stats)
    seconds["nominal"] = time.perf_counter() - t0

    for label in ("dr", "iwocs"):
        t0 = time.perf_counter()
        params, stats = [], []
        for s in range(args.seeds):
            key = jax.random.key(s)
            if label == "dr":
                state, _, _ = train_on_levels(
                    env_name, rule, cfg, LevelsConfig(kind="sampled", score="random",
                                                      space=args.space), key, progress=False)
            else:
                state, rows, _ = train_iwocs(uset, rule, cfg,
                                             IwocsConfig(iterations=args.iterations,
                                                         patience=args.iterations), key,
                                             progress=False)
                print(f"iwocs seed {s}: {len(rows)} iterations, estimate "
                      f"{rows[-1]['estimate']:.1f}, models {rows[-1]['models']}")
            params.append(state.agent.params)
            stats.append(state.agent.obs_stats)
        agents[label] = jax.tree.map(lambda *x: np.stack(x), *params), \
            jax.tree.map(lambda *x: np.stack(x), *stats)
        seconds[label] = time.perf_counter() - t0

    table = {}
    for label, (params, stats) in agents.items():
        score = agent_score_fn(uset, cfg, rule, params, stats, args.episodes)
        result = evaluate_grid(score, uset, args.grid, jax.random.key(123))
        worst, mean = result.worst, result.mean
        table[label] = {"worst": float(worst.mean()), "worst_ci": bootstrap_ci(worst),
                        "mean": float(mean.mean()), "mean_ci": bootstrap_ci(mean),
                        "worst_per_seed": worst.tolist(), "mean_per_seed": mean.tolist(),
                        "train_seconds": seconds[label]}
    print(f"\n{env_name}, {args.space} ({uset.describe()}), PPO, {args.timesteps} env steps, "
          f"{args.seeds} seeds, grid {args.grid}^{uset.dim}, {args.episodes} episodes/point")
    print("| training | worst case [95% CI] | mean [95% CI] |")
    print("|---|---|---|")
    for label, r in table.items():
        print(f"| {label} | {r['worst']:.1f} [{r['worst_ci'][0]:.1f}, {r['worst_ci'][1]:.1f}] "
              f"| {r['mean']:.1f} [{r['mean_ci'][0]:.1f}, {r['mean_ci'][1]:.1f}] |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "machine": platform.platform(), "results": table},
                      f, indent=2)


if __name__ == "__main__":
    main()
