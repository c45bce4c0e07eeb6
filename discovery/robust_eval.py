"""`rldisco robust-eval`: worst-case and mean return of a run over an uncertainty set's grid.

RUN is either
- a trained-agent run (`rldisco train`): its saved agents (`agent/`, orbax) act in every grid
  point (fresh episodes, sampled actions, the same keys at every point), or
- a discovery run (`rldisco discover`): fresh agents are trained with the discovered rule at
  every grid point, and with PPO the same way (same seeds, same inner-loop settings); the score
  of a point is the trainer's fitness measure of the run it trained there.

The grid has `points` values per dimension with both bounds included (numpy linspace, as RRLS
builds it); every point is scored in one compiled, vmapped call. Writes
`eval/robust_<set>.csv` (one row per point: unit coordinates, physical values, return of each
agent and their mean), `eval/robust_<set>.json` (worst case and mean per agent and their
means with bootstrap CIs) and `plots/robust_<set>.png`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from discovery.stats import bootstrap_ci
from environment_design.robust import GridResult, evaluate_grid
from environment_design.spaces import SPECS, UncertaintySet, make_space


def train_config_from_dict(d: dict[str, Any]):
    """The `TrainConfig` a run's config.yaml stored (lists back to tuples)."""
    from discovery.inner import TrainConfig

    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def check_space_env(uset: UncertaintySet, env_name: str) -> None:
    """The set must be over the run's environment (the error lists the sets that are)."""
    if uset.spec.env != env_name:
        fits = [n for n, s in SPECS.items() if s.env == env_name]
        raise ValueError(f"--space {uset.name} is a set over {uset.spec.env}, but the run "
                         f"trained on {env_name}; sets over {env_name}: "
                         f"{', '.join(fits) or 'none'}")


def agent_score_fn(uset: UncertaintySet, cfg: Any, rule: Any, agent_params: Any,
                   obs_stats: Any, episodes: int) -> Callable[[Any, jax.Array], jax.Array]:
    """`score(params, key) -> [agents]`: each saved agent's mean return over `episodes` fresh
    episodes in the dynamics `params` (the trainer's own evaluation, sampled actions)."""
    from discovery.inner import make_train

    cfg = cfg.replace(num_envs=episodes, num_minibatches=1,
                      total_timesteps=max(cfg.total_timesteps, episodes * cfg.num_steps))
    trainer = make_train(uset.env, rule, cfg, uset.base)

    def score(params: Any, key: jax.Array) -> jax.Array:
        return jax.vmap(trainer.evaluate, in_axes=(0, 0, None, None))(
            agent_params, obs_stats, params, key)

    return score


def training_score_fn(uset: UncertaintySet, cfg: Any, rule: Any, meta_params: Any,
                      seeds: int) -> Callable[[Any, jax.Array], jax.Array]:
    """`score(params, key) -> [seeds]`: the final return of `seeds` fresh agents trained with
    `rule` (and `meta_params`) in the dynamics `params`."""
    from discovery.inner import make_train

    trainer = make_train(uset.env, rule, cfg, uset.base)

    def score(params: Any, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, seeds)
        return jax.vmap(lambda k: trainer(meta_params, params, k).final_return)(keys)

    return score


def grid_summary(result: GridResult) -> dict[str, Any]:
    """Worst case (min over the grid) and mean per agent, their means and 95% bootstrap CIs,
    and the worst point of the agents' mean return."""
    worst, mean = np.atleast_1d(result.worst), np.atleast_1d(result.mean)
    i = int(result.argmin)
    return {"points": len(result.returns), "agents": int(worst.size),
            "worst_case": float(worst.mean()), "worst_case_ci": list(bootstrap_ci(worst)),
            "mean": float(mean.mean()), "mean_ci": list(bootstrap_ci(mean)),
            "worst_case_per_agent": worst.tolist(), "mean_per_agent": mean.tolist(),
            "worst_point": result.values[i].tolist(), "worst_point_unit": result.unit[i].tolist()}


def write_grid_csv(path: Path, uset: UncertaintySet, result: GridResult,
                   columns: dict[str, np.ndarray]) -> Path:
    """One row per grid point: unit coordinates, physical values, then each named [P, agents]
    block of returns (one column per agent and their mean)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = {k: np.asarray(v, dtype=float).reshape(len(result.unit), -1)
              for k, v in columns.items()}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*(f"u_{i}" for i in range(uset.dim)), *uset.labels,
                         *(f"{k}_{a}" for k, b in blocks.items() for a in range(b.shape[1])),
                         *(f"{k}_mean" for k in blocks)])
        for p in range(len(result.unit)):
            writer.writerow([*(repr(float(x)) for x in result.unit[p]),
                             *(repr(float(x)) for x in result.values[p]),
                             *(repr(float(x)) for b in blocks.values() for x in b[p]),
                             *(repr(float(b[p].mean())) for b in blocks.values())])
    return path


def robust_eval_run(run_path: str | Path, space: str, *, points: int = 10,
                    seeds: int | None = None, episodes: int = 16, seed: int = 0,
                    compare: tuple[str | Path, ...] = (),
                    echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Evaluate a run over the grid of `space`; returns the summary (also written to
    `eval/robust_<space>.json`). `seeds`: agents (a trained run: the first `seeds` saved
    ones, default all; a discovery run: agents trained per grid point, default 4).
    `compare` (discovery runs only): other discovery runs whose rules are trained at every
    point too, with this run's inner loop and the same keys (e.g. a nominally discovered rule
    next to a robustly discovered one), reported under their run names."""
    from discovery.rundir import RunDir, check_writable

    path = Path(run_path).expanduser()
    kind = RunDir(path).read_config().get("kind") if (path / "config.yaml").is_file() else None
    if kind not in ("train", "discover"):
        raise ValueError(f"{path} is not a train or discover run directory")
    run = RunDir.open(path, kind)
    check_writable(run.path, "robust-eval writes eval/ and plots/ into the run")
    if int(points) < 2:
        raise ValueError(f"--grid must be >= 2 points per dimension, got {points}")
    if seeds is not None and int(seeds) < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    uset = make_space(space)
    key = jax.random.key(seed)
    if kind == "train":
        if compare:
            raise ValueError("--compare is for discovery runs (their rules are trained at "
                             "every point); this is a train run")
        summary, columns = _eval_trained(run, uset, points, seeds, episodes, key, echo)
    else:
        summary, columns = _eval_discovered(run, uset, points, seeds or 4, key, echo, compare)
    result = summary.pop("_result")
    csv_path = write_grid_csv(run.eval_dir / f"robust_{space}.csv", uset, result, columns)
    from discovery.plotting import plot_grid

    png = plot_grid(result.values, columns[summary["label"]], uset.labels,
                    run.plots / f"robust_{space}.png",
                    title=f"{run.name}: {summary['label']} on {space}")
    summary.update(space=space, grid=points, upper_bound_included=True, csv=str(csv_path),
                   plot=str(png), ranges=uset.describe())
    (run.eval_dir / f"robust_{space}.json").write_text(json.dumps(summary, indent=2))
    for label, s in summary["rules"].items():
        echo(f"{label:>10s}: worst case {s['worst_case']:.2f} "
             f"[{s['worst_case_ci'][0]:.2f}, {s['worst_case_ci'][1]:.2f}] at "
             f"{_point(uset, s['worst_point'])}; mean {s['mean']:.2f} "
             f"[{s['mean_ci'][0]:.2f}, {s['mean_ci'][1]:.2f}] over {s['points']} points x "
             f"{s['agents']} agents")
    echo(f"wrote {csv_path}, {png}")
    return summary


def _point(uset: UncertaintySet, values: list[float]) -> str:
    return ", ".join(f"{label} {v:.3g}" for label, v in zip(uset.labels, values, strict=True))


def _trained_score(run, uset, seeds, episodes):
    """(score_fn -> [agents], rule name, number of agents) of a train run's saved agents."""
    from discovery.agent_store import load_agent
    from meta_objectives import make_rule

    config = run.read_config()
    check_space_env(uset, config["env"])
    params, stats = load_agent(run.path / "agent")
    n = int(np.shape(jax.tree.leaves(params)[0])[0])
    if seeds is not None:
        if seeds > n:
            raise ValueError(f"--seeds {seeds}: the run saved {n} agents")
        params, stats = jax.tree.map(lambda x: x[:seeds], (params, stats))
        n = seeds
    label = config["rule"]
    score = agent_score_fn(uset, train_config_from_dict(config["train"]), make_rule(label),
                           params, stats, episodes)
    return score, label, n


def _eval_trained(run, uset, points, seeds, episodes, key, echo):
    score, label, n = _trained_score(run, uset, seeds, episodes)
    echo(f"{run.name}: {n} saved {label} agents x {episodes} episodes on "
         f"{points}^{uset.dim} points of {uset.name}")
    result = evaluate_grid(score, uset, points, key)
    return {"run": str(run.path), "kind": "train", "label": label,
            "rules": {label: grid_summary(result)}, "_result": result}, {label: result.returns}


def worst_case_run(run_path: str | Path, space: str, *, points: int = 10,
                   population: int = 8, generations: int = 12, seeds: int | None = None,
                   episodes: int = 16, seed: int = 0,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """CMA-ES worst-case search of a train run's agents (their mean return) over `space`,
    next to the grid's worst case; both score with the same key. Writes
    `eval/worst_case_<space>.json` and returns it."""
    from discovery.rundir import RunDir, check_writable
    from environment_design.iwocs import WorstCaseSearch

    run = RunDir.open(run_path, "train")
    check_writable(run.path, "worst-case writes eval/ into the run")
    uset = make_space(space)
    search = WorstCaseSearch(uset.dim, population=population, generations=generations)
    score, label, n = _trained_score(run, uset, seeds, episodes)
    mean_score = lambda params, key: score(params, key).mean()  # noqa: E731
    k_search, k_eval = jax.random.split(jax.random.key(seed))
    echo(f"{run.name}: worst case of {n} {label} agents over {uset.name} "
         f"(CMA-ES {population} x {generations}; grid {points}^{uset.dim})")
    found = jax.jit(lambda k: search.run(mean_score, uset, k, k_eval))(k_search)
    grid = evaluate_grid(mean_score, uset, points, k_eval)
    i = int(grid.argmin)
    report = {
        "run": str(run.path), "space": space, "agents": n, "episodes": episodes,
        "search": {"worst_return": float(found.score),
                   "worst_point": np.asarray(found.values).tolist(),
                   "evaluations": int(found.evaluations),
                   "best_trace": np.asarray(found.best_trace).tolist(),
                   "mean_trace": np.asarray(found.mean_trace).tolist(),
                   "sigma_trace": np.asarray(found.sigma_trace).tolist()},
        "grid": {"worst_return": float(grid.worst), "worst_point": grid.values[i].tolist(),
                 "evaluations": len(grid.returns), "points_per_dim": points}}
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    path = run.eval_dir / f"worst_case_{space}.json"
    path.write_text(json.dumps(report, indent=2))
    s, g = report["search"], report["grid"]
    echo(f"  CMA-ES: worst return {s['worst_return']:.2f} at "
         f"{_point(uset, s['worst_point'])} ({s['evaluations']} evaluations)")
    echo(f"  grid:   worst return {g['worst_return']:.2f} at "
         f"{_point(uset, g['worst_point'])} ({g['evaluations']} evaluations)")
    echo(f"wrote {path}")
    return report


def _eval_discovered(run, uset, points, seeds, key, echo, compare=()):
    from discovery.checkpoint import load_meta_params
    from discovery.run import open_run
    from meta_objectives import make_rule

    cfg, run = open_run(run.path)
    if uset.spec.env not in cfg.envs:
        check_space_env(uset, cfg.envs[0])
    meta_params, meta = load_meta_params(run.checkpoints)
    rules = [("discovered", cfg.rule.build(), meta_params)]
    for other in compare:
        other_cfg, other_run = open_run(Path(other).expanduser())
        label = other_run.name if other_run.name not in ("discovered", "ppo") else str(other)
        if label in {r[0] for r in rules}:
            raise ValueError(f"--compare {other}: two runs named {label}")
        rules.append((label, other_cfg.rule.build(), load_meta_params(other_run.checkpoints)[0]))
    rules.append(("ppo", make_rule("ppo"), {}))
    echo(f"{run.name} (generation {meta.get('generation')}): training {seeds} agents per point "
         f"on {points}^{uset.dim} points of {uset.name}: "
         f"{', '.join(label for label, *_ in rules)}")
    summaries, columns, results = {}, {}, {}
    for label, rule, mp in rules:
        score = training_score_fn(uset, cfg.train, rule, mp, seeds)
        results[label] = evaluate_grid(score, uset, points, key)
        summaries[label] = grid_summary(results[label])
        columns[label] = results[label].returns
    return {"run": str(run.path), "kind": "discover", "label": "discovered",
            "rules": summaries, "_result": results["discovered"]}, columns
