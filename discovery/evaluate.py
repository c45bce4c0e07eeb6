"""Held-out evaluation of a discovered rule: fresh agents on other environments, against PPO.

    summary = evaluate_run("runs/my-run", envs=["CartPole-v1", "Acrobot-v1"], seeds=16)

For every environment, `seeds` agents are trained (one vmapped call per rule) with the run's
discovered rule (its final meta-parameters) and with each baseline rule (`ppo`, `dpo`, `a2c`, ...
by name). All rules on one environment share the same agent seeds (common random numbers).
Returns are normalised per environment by this evaluation's own PPO agents:

    normalised = (R - R_random) / (R_ppo - R_random)      (PPO = 1, uniform random = 0)

Grid-worlds (`gridworld/<level>`): on tabular levels the normaliser is the level's exact optimum
(expectimax DP over one episode, `envs.gridworld.optimal_return`) instead of PPO's return, so
`normalised = (R - R_random) / (R_opt - R_random)` (optimum = 1, random = 0). For runs of the
LPG family (`lpg`, `ta-lpg`) the hand-designed reference rule on grid-worlds is A2C (the agent
LPG replaces, GROOVE's baseline) instead of PPO: it always runs there, and it is the normaliser
on non-tabular grid-worlds (no DP optimum). Everywhere else PPO stays the reference.

Inner-loop settings: the run's own `TrainConfig` when the environment belongs to a family the
rule was meta-trained on (classic control, MinAtar, brax, grid-world, manipulation), otherwise
that family's train preset (`discovery.presets`), since e.g. a CartPole MLP config does not suit
MinAtar. `total_timesteps` replaces the horizon of either; a TA-LPO rule then sees n/N relative
to the new horizon, which tests its temporal awareness. Baselines use the same settings as the
discovered rule (so `a2c` also runs several epochs/minibatches per rollout), which keeps the
comparison about the objective alone.

`compare=(other_run, ...)` (`rldisco evaluate RUN --compare OTHER ...`) trains other discovery
runs' rules the same way, next to this run's, under their run names.

Writes into the run directory: `eval/<env>.csv` (rule, seed, final_return, normalized),
`eval/summary.md` (mean, IQM and a bootstrap 95% CI of the normalised return per env and rule,
plus an aggregate over envs), `eval/summary.json`, and `plots/eval_<env>.png` (learning curves).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from discovery.stats import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES, score_summary

DISCOVERED = "discovered"


# ---------------------------------------------------------------------------- evaluation
def evaluate_run(run_path: str | Path, *, envs: Sequence[str], seeds: int = 16,
                 total_timesteps: int | None = None,
                 baselines: Sequence[str] = ("ppo", "dpo"), seed: int = 0,
                 compare: Sequence[str | Path] = (), progress: bool = True,
                 echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train fresh agents with the run's discovered rule and the baselines on `envs`.

    `compare`: other discovery runs whose discovered rules are trained the same way (this
    run's inner loop, the same keys), reported under their run names, e.g. a nominally
    discovered rule next to a robustly discovered one. Everything is validated (run
    directories, checkpoints, env names, rule names, train configs) before anything compiles.
    Returns the summary (also written to `eval/summary.json`).
    """
    import envs as env_registry
    from discovery.agents import train_agents
    from discovery.checkpoint import load_meta_params
    from discovery.compile_cache import enable_compile_cache
    from discovery.fitness import normalize_return, random_policy_return
    from discovery.inner import fitness_measure
    from discovery.plotting import plot_curves
    from discovery.run import open_run
    from discovery.rundir import check_writable
    from meta_objectives import make_rule

    cfg, run = open_run(run_path)
    check_writable(run.path, "evaluation writes eval/ and plots/ into the run")
    enable_compile_cache()
    if isinstance(envs, str):
        envs = [envs]
    env_names = list(dict.fromkeys(envs))
    if not env_names:
        raise ValueError("evaluate: give at least one environment (--envs)")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    made = {name: env_registry.make(name) for name in env_names}  # unknown names fail here
    references = {name: reference_rule(cfg.rule.name) for name in env_names}
    rule_names = [*references.values(), *baselines]  # the references run first (normalisers)
    rule_names = list(dict.fromkeys(rule_names))
    if DISCOVERED in rule_names:
        raise ValueError(f"'{DISCOVERED}' is the run's own rule; it is not a baseline name")
    rules = {DISCOVERED: cfg.rule.build()}
    metas: dict[str, Any] = {}
    for other in compare:
        other_cfg, other_run = open_run(other)
        if other_run.name in rules or other_run.name in rule_names:
            raise ValueError(f"--compare {other}: the name '{other_run.name}' is taken (by "
                             "this run, a baseline or another compared run)")
        try:
            metas[other_run.name] = load_meta_params(other_run.checkpoints)[0]
        except FileNotFoundError:
            raise FileNotFoundError(f"compared run {other_run.path} has no checkpoint") from None
        rules[other_run.name] = other_cfg.rule.build()
    rules.update({b: make_rule(b) for b in rule_names})
    train_cfgs = {name: _train_config(cfg, name, total_timesteps) for name in env_names}
    # Every rule is scored as the discovered rule's papers score it (one measure per table).
    train_cfgs = {name: (tcfg.replace(fitness_measure=fitness_measure(rules[DISCOVERED], tcfg)),
                         source) for name, (tcfg, source) in train_cfgs.items()}
    try:
        meta_params, meta = load_meta_params(run.checkpoints)
    except FileNotFoundError:
        raise FileNotFoundError(f"run {run.path} has no checkpoint yet: run (or resume) "
                                "`rldisco discover` first") from None
    metas[DISCOVERED] = meta_params
    generation = meta.get("generation")
    echo(f"evaluating {run.name} ({cfg.rule.name}, generation {generation}) on "
         f"{', '.join(env_names)}: {seeds} seeds x {len(rules)} rules "
         f"({', '.join(rules)})")

    run.eval_dir.mkdir(parents=True, exist_ok=True)
    base_key = jax.random.key(seed)
    per_env: dict[str, Any] = {}
    for i, name in enumerate(env_names):
        env, params = made[name]
        tcfg, source = train_cfgs[name]
        k_rand, k_train = jax.random.split(jax.random.fold_in(base_key, i))
        r_random = float(jax.jit(random_policy_return, static_argnums=0)(env, params, k_rand))
        results = {}
        for label, rule in rules.items():
            mp = metas.get(label)
            t0 = time.perf_counter()
            res = train_agents(env, params, rule, tcfg, k_train, seeds, mp,
                               label=f"{name} {label}", progress=progress)
            results[label] = {"final_return": np.asarray(res.final_return, dtype=float),
                              "curve": np.asarray(res.curve, dtype=float),
                              "seconds": time.perf_counter() - t0}
        r_ppo = float(np.nanmean(results["ppo"]["final_return"])) if "ppo" in results else None
        r_ref = float(np.nanmean(results[references[name]]["final_return"]))
        optimum = _tabular_optimum(name, env, params)
        norm = {"random": r_random, "ppo": r_ref if optimum is None else optimum}
        for r in results.values():
            r["normalized"] = np.asarray(normalize_return(r["final_return"], norm))

        slug = env_slug(name)
        csv_path = run.eval_dir / f"{slug}.csv"
        with csv_path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["rule", "seed", "final_return", "normalized"])
            for label, r in results.items():
                for s in range(seeds):
                    writer.writerow([label, s, repr(float(r["final_return"][s])),
                                     repr(float(r["normalized"][s]))])
        x = (np.arange(tcfg.num_updates) + 1) * tcfg.steps_per_update
        plot = plot_curves({_plot_label(label, cfg.rule.name): r["curve"]
                            for label, r in results.items()}, x,
                           run.plots / f"eval_{slug}.png",
                           title=f"{name}: {run.name} vs baselines")
        per_env[name] = {
            "random": r_random, "ppo": r_ppo, "train_config": source,
            "measure": tcfg.fitness_measure,
            "reference": references[name], "reference_return": r_ref, "optimum": optimum,
            "normalizer": references[name] if optimum is None else "optimum",
            "total_timesteps": tcfg.total_timesteps, "num_updates": tcfg.num_updates,
            "csv": str(csv_path), "plot": str(plot),
            "rules": {label: {"final_return": r["final_return"].tolist(),
                              "normalized": r["normalized"].tolist(),
                              "return_mean": float(np.nanmean(r["final_return"])),
                              "seconds": r["seconds"],
                              **score_summary([r["normalized"]])}
                      for label, r in results.items()}}

    aggregate = {label: score_summary([np.asarray(per_env[e]["rules"][label]["normalized"])
                                       for e in env_names])
                 for label in rules}
    summary = {"run": str(run.path), "rule": cfg.rule.name, "generation": generation,
               "train_envs": list(cfg.envs), "seeds": seeds, "seed": seed,
               "rules": list(rules), "envs": per_env, "aggregate": aggregate,
               "bootstrap": {"resamples": N_RESAMPLES, "confidence": CONFIDENCE,
                             "seed": BOOTSTRAP_SEED, "statistic": "mean"}}
    markdown = summary_markdown(summary, run.name)
    (run.eval_dir / "summary.md").write_text(markdown)
    (run.eval_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2))
    echo(markdown)
    echo(f"wrote {run.eval_dir}/ (summary.md, summary.json, "
         f"{', '.join(env_slug(e) + '.csv' for e in env_names)}) and "
         f"{run.plots}/eval_*.png")
    return summary


def reference_rule(rule_name: str) -> str:
    """The hand-designed rule a discovered rule is compared with (the rule's `reference`: A2C
    for the LPG family, as the LPG paper and GROOVE compare it, on grid-worlds and Atari alike;
    PPO for learned objectives)."""
    from meta_objectives import RULES

    return getattr(RULES[rule_name], "reference", "ppo")


def _tabular_optimum(env_name: str, env: Any, params: Any) -> float | None:
    """The exact optimal episode return of a level where the env family has one (tabular
    grid-worlds), else None."""
    import envs as env_registry

    optimum = env_registry.family(env_name).optimum(env)
    return None if optimum is None else float(optimum(params))


def _train_config(cfg: Any, env_name: str, total_timesteps: int | None) -> tuple[Any, str]:
    """(TrainConfig, where it came from) for evaluating on `env_name` (validated here)."""
    from discovery.presets import train_preset, train_preset_for

    family = train_preset_for(env_name)
    if family in {train_preset_for(e) for e in cfg.envs}:
        tcfg, source = cfg.train, "run"
    else:
        tcfg, source = train_preset(family), f"preset:{family}"
    if total_timesteps is not None:
        try:
            tcfg = tcfg.replace(total_timesteps=int(total_timesteps))
        except ValueError as e:
            raise ValueError(f"--total-timesteps for {env_name} ({source} settings): {e}") \
                from None
    return tcfg, source


def env_slug(name: str) -> str:
    """A file-name-safe form of an environment name (`brax/ant` -> `brax-ant`)."""
    return name.replace("/", "-")


def _plot_label(label: str, rule_name: str) -> str:
    return f"{rule_name} (discovered)" if label == DISCOVERED else label


def _fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def summary_markdown(summary: dict[str, Any], run_name: str = "") -> str:
    """The markdown report of an evaluation summary (as returned by `evaluate_run`)."""
    rules = summary["rules"]
    envs = summary["envs"]
    lines = [f"# Held-out evaluation of `{run_name or summary['run']}`", "",
             f"Discovered rule: `{summary['rule']}` (generation {summary['generation']}, "
             f"meta-trained on {', '.join(summary['train_envs'])}); {summary['seeds']} seeds "
             f"per rule and environment (seed {summary['seed']}).", "",
             "Normalised return = (R - R_random) / (R_norm - R_random): the normaliser "
             "(the reference rule of this evaluation: PPO, or A2C for LPG rules; the exact DP "
             "optimum on tabular grid-worlds; the 'normalised by' column) = 1, uniform random "
             "policy = 0. "
             "R is the mean episode return over the last "
             "part of training (final_window) or of fresh episodes of the final agent "
             "(final_policy), for every rule as the discovered rule's papers score it (the "
             "last column). 95% CI: percentile bootstrap of the mean "
             f"({summary['bootstrap']['resamples']} resamples, fixed seed; stratified by "
             "environment in the aggregate). IQM: mean of the middle 50%.", "",
             "| env | rule | n | return | normalised mean | 95% CI | IQM |",
             "|---|---|---:|---:|---:|---|---:|"]
    for env, e in envs.items():
        for label in rules:
            r = e["rules"][label]
            lines.append(f"| {env} | {label} | {r['n']} | {_fmt(r['return_mean'], 2)} | "
                         f"{_fmt(r['mean'])} | [{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}] | "
                         f"{_fmt(r['iqm'])} |")
    for label in rules:
        r = summary["aggregate"][label]
        lines.append(f"| **aggregate** | {label} | {r['n']} | | {_fmt(r['mean'])} | "
                     f"[{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}] | {_fmt(r['iqm'])} |")
    lines += ["", "| env | train config | total timesteps | updates | R_random | R_PPO | "
              "reference | R_reference | normalised by | R measured as |",
              "|---|---|---:|---:|---:|---:|---|---:|---|---|"]
    for env, e in envs.items():
        lines.append(f"| {env} | {e['train_config']} | {e['total_timesteps']} | "
                     f"{e['num_updates']} | {_fmt(e['random'], 2)} | {_fmt(e['ppo'], 2)} | "
                     f"{e.get('reference', 'ppo')} | {_fmt(e.get('reference_return'), 2)} | "
                     f"{_normalizer_label(e)} | {e.get('measure', 'final_window')} |")
    nonfinite = {label: summary["aggregate"][label]["nonfinite"] for label in rules}
    if any(nonfinite.values()):
        lines += ["", "Non-finite returns (dropped from the statistics): "
                  + ", ".join(f"{k} {v}" for k, v in nonfinite.items() if v)]
    return "\n".join(lines) + "\n"


def _normalizer_label(e: dict[str, Any]) -> str:
    if e.get("normalizer") == "optimum":
        return f"DP optimum {_fmt(e['optimum'], 2)}"
    return e.get("normalizer", "ppo").upper()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
