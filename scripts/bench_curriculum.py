"""Curriculum benchmark: LPG discovered with GROOVE's regret curriculum (`quickstart-groove`, a PLR
buffer over 'small' grid-world levels) against the same discovery on freshly sampled levels
(`quickstart-lpg`, domain randomisation), at equal ES generations and equal agent env steps.

Each discovery seed runs both presets; every final rule then trains fresh agents on the same
held-out levels: fresh 'small' levels (a key no run trained on) and named tabular levels outside
the training distribution ('dense', 'sparse': larger grids; lifetimes capped at the preset's),
all scored by the optimum-normalised return R / max(R_opt, 0.1). Reported per method: the mean
and IQM over levels of each seed's per-level mean, with a 95% stratified bootstrap CI
(discovery seeds as strata). The curriculum also trains A2C once on every new level (its regret
reference); that compute is reported, not equalised.

    python scripts/bench_curriculum.py --seeds 0 1 2 --out curriculum.json

Figures go into BENCHMARKS.md by hand, with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from discovery.compile_cache import enable_compile_cache, quiet_cache_loads

quiet_cache_loads()  # before jax loads: no warning per executable read from the cache

import jax  # noqa: E402
import numpy as np  # noqa: E402

from discovery.config import apply_overrides, preset  # noqa: E402
from discovery.level_eval import evaluate_on_levels  # noqa: E402
from discovery.run import run_discovery, start_run  # noqa: E402
from discovery.stats import score_summary  # noqa: E402

METHODS = {"dr (quickstart-lpg)": "quickstart-lpg", "plr (quickstart-groove)": "quickstart-groove"}
HELD_OUT_KEY = 1234


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--levels", type=int, default=32, help="held-out 'small' levels")
    parser.add_argument("--named", nargs="*", default=["dense", "sparse"],
                        help="held-out named levels (outside the training distribution)")
    parser.add_argument("--agents", type=int, default=2, help="agent seeds per level")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    enable_compile_cache()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, {platform.processor()}")
    key = jax.random.key(HELD_OUT_KEY)
    root = Path(tempfile.mkdtemp(prefix="bench_curriculum_"))
    per_level: dict[str, dict[str, list[np.ndarray]]] = {m: {"small": [], "named": []}
                                                         for m in METHODS}
    seconds: dict[str, list[float]] = {m: [] for m in METHODS}
    for seed in args.seeds:
        for method, name in METHODS.items():
            cfg = apply_overrides(preset(name), [f"seed={seed}"])
            run = start_run(cfg, root / f"{name}-{seed}")
            t0 = time.perf_counter()
            result = run_discovery(cfg, run, progress=False, echo=lambda _: None)
            seconds[method].append(time.perf_counter() - t0)
            rule = cfg.rule.build()
            small = evaluate_on_levels(rule, result.meta_params, cfg.envs[0], cfg.train, key,
                                       seeds=args.agents, num_levels=args.levels)
            per_level[method]["small"].append(np.asarray(small["normalized_mean"]))
            if args.named:
                named = evaluate_on_levels(rule, result.meta_params, args.named, cfg.train, key,
                                           seeds=args.agents)
                per_level[method]["named"].append(np.asarray(named["normalized_mean"]))
            named_mean = (np.round(per_level[method]["named"][-1], 3).tolist()
                          if args.named else [])
            print(f"seed {seed} {method}: discovery {seconds[method][-1]:.0f} s, held-out small "
                  f"{np.mean(per_level[method]['small'][-1]):.3f}, named "
                  f"{dict(zip(args.named, named_mean, strict=True))}", flush=True)

    table = {m: {"small": score_summary(v["small"]),
                 "named": score_summary(v["named"]) if v["named"] else None,
                 "discovery_seconds": float(np.mean(seconds[m]))}
             for m, v in per_level.items()}
    print(f"\n{len(args.seeds)} discovery seeds x {args.levels} held-out 'small' levels "
          f"and named levels {args.named} (optimum-normalised), {args.agents} "
          "agents each; mean / IQM [95% stratified bootstrap CI of the mean]")
    print("| method | held-out small: mean | IQM | 95% CI | named: mean | 95% CI | discovery s |")
    print("|---|---|---|---|---|---|---|")
    for m, r in table.items():
        s, n = r["small"], r["named"] or {"mean": float("nan"), "ci": [float("nan")] * 2}
        print(f"| {m} | {s['mean']:.3f} | {s['iqm']:.3f} | [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]"
              f" | {n['mean']:.3f} | [{n['ci'][0]:.3f}, {n['ci'][1]:.3f}] | "
              f"{r['discovery_seconds']:.0f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"seeds": args.seeds, "named": args.named,
                                              "levels": args.levels, "agents": args.agents,
                                              "table": table}, indent=2))


if __name__ == "__main__":
    main()
