"""IWOCS agent training: a growing set of worst-case dynamics models (Zouitine et al. 2024).

One iteration, one jitted call:
1. train the agent (continuing it) for `cfg.num_updates / iterations` updates on the current
   set (`environment_design.iwocs.WorstCaseSet`: each environment draws a model, worst models
   weighted up: the on-policy adaptation, see `WorstCaseSet`);
2. search the uncertainty set for the new policy's worst case (CMA-ES, common random numbers);
3. add that model to the set, score the policy on every model of the set (the new weights),
   and record the set's worst return and the worst-case estimate.
The loop stops when the search's worst case has not improved by more than `tol` for
`patience` iterations, or when the iterations (the budget) end. The agent, the set, the
search results and the iteration count are one state pytree: checkpointed after every
iteration (orbax) and resumed bit-identically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from discovery.inner import TrainConfig, make_train
from discovery.rundir import RunDir
from discovery.ued import UEDState, make_ued
from environment_design.iwocs import WorstCaseSearch, WorstCaseSet
from environment_design.spaces import UncertaintySet
from meta_objectives.base import UpdateRule


@dataclass(frozen=True)
class IwocsConfig:
    """IWOCS settings: iterations (the set grows by one model per iteration), CMA-ES search,
    the evaluation episodes that score a model, the sampling weights and the stopping rule."""

    iterations: int = 8
    population: int = 8
    generations: int = 12
    sigma: float = 0.3
    episodes: int = 8
    temperature: float = 0.25
    uniform: float = 0.2
    patience: int = 2
    tol: float = 0.0

    def __post_init__(self) -> None:
        for name in ("iterations", "population", "generations", "episodes", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"iwocs.{name} must be a positive integer, got {value!r}")
        if self.population < 2:
            raise ValueError(f"iwocs.population must be >= 2, got {self.population}")
        for name in ("sigma", "temperature"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ValueError(f"iwocs.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.uniform <= 1:
            raise ValueError(f"iwocs.uniform must be in [0, 1], got {self.uniform!r}")
        if not self.tol >= 0:
            raise ValueError(f"iwocs.tol must be >= 0, got {self.tol!r}")

    def replace(self, **changes: Any) -> IwocsConfig:
        return dataclasses.replace(self, **changes)


class IwocsLog(NamedTuple):
    """What one iteration reports (scalars; `worst_point` [d])."""

    train_return: jax.Array  # mean return of the training episodes of this iteration
    search_worst: jax.Array  # the search's worst return of the new policy
    worst_point: jax.Array  # its physical values
    set_worst: jax.Array  # the new policy's lowest return on the set's models (new one too)
    estimate: jax.Array  # the worst-case estimate (never increases)
    models: jax.Array  # models in the set
    evaluations: jax.Array  # score calls of the search


@dataclass(frozen=True)
class Iwocs:
    """`init(key) -> UEDState`; `iteration(state, i) -> (state, IwocsLog)` (jit it);
    `source` the worst-case set, `updates_per_iteration` the agent updates per iteration."""

    init: Callable[[jax.Array], UEDState]
    iteration: Callable[[UEDState, jax.Array], tuple[UEDState, IwocsLog]]
    source: WorstCaseSet
    updates_per_iteration: int


def make_iwocs(uset: UncertaintySet, rule: UpdateRule, cfg: TrainConfig,
               icfg: IwocsConfig) -> Iwocs:
    """Build IWOCS training of `rule` on `uset`'s environment (`cfg.total_timesteps` is the
    training budget, split evenly over the iterations)."""
    per_iteration = cfg.num_updates // icfg.iterations
    if per_iteration < 1:
        raise ValueError(f"iwocs.iterations ({icfg.iterations}) exceeds the run's "
                         f"{cfg.num_updates} updates; lower it or raise total_timesteps")
    source = WorstCaseSet(uset, icfg.iterations + 1, cfg.num_updates,
                          temperature=icfg.temperature, uniform=icfg.uniform)
    ued = make_ued(uset.env, rule, cfg, source, "random")
    scorer = make_train(uset.env, rule, cfg.replace(
        num_envs=icfg.episodes, num_minibatches=1,
        total_timesteps=max(cfg.total_timesteps, icfg.episodes * cfg.num_steps)), uset.base)
    search = WorstCaseSearch(uset.dim, icfg.population, icfg.generations, icfg.sigma)

    def iteration(state: UEDState, i: jax.Array) -> tuple[UEDState, IwocsLog]:
        state, log = ued.advance(state, i * per_iteration, per_iteration)
        agent = state.agent

        def score(params, key):
            return scorer.evaluate(agent.params, agent.obs_stats, params, key)

        k_search, k_eval = jax.random.split(jax.random.fold_in(agent.key, -1 - i))
        found = search.run(score, uset, k_search, k_eval)
        levels = source.add(state.levels, found.unit)
        returns = jax.vmap(score, in_axes=(0, None))(source.models(levels), k_eval)
        levels = source.reweight(levels, returns)
        valid = jnp.arange(source.capacity) < levels["count"]
        set_worst = jnp.min(jnp.where(valid, returns, jnp.inf))
        levels = source.record(levels, set_worst, found.score)
        train_return = jnp.nanmean(log.episode_return)
        return state._replace(levels=levels), IwocsLog(
            train_return, found.score, found.values, set_worst, levels["estimate"],
            levels["count"], found.evaluations)

    return Iwocs(ued.init, iteration, source, per_iteration)


# --------------------------------------------------------------------------- the run loop
def train_iwocs(uset: UncertaintySet, rule: UpdateRule, cfg: TrainConfig, icfg: IwocsConfig,
                key: jax.Array, *, checkpoint_dir: str | Path | None = None,
                on_iteration: Callable[[int, dict[str, Any]], None] | None = None,
                progress: bool = True, stop_after: int | None = None
                ) -> tuple[UEDState, list[dict[str, Any]], Iwocs]:
    """Run IWOCS; with `checkpoint_dir`, save after every iteration and continue from its
    latest checkpoint if there is one. `stop_after` ends the call after that many iterations
    of this call (to test resume). Returns the state, one row per iteration (all of them, the
    restored ones included) and the `Iwocs`."""
    from discovery.logging import ProgressLine

    iw = make_iwocs(uset, rule, cfg, icfg)
    state = iw.init(key)
    rows: list[dict[str, Any]] = []
    ckpt = None
    if checkpoint_dir is not None:
        from discovery.checkpoint import Checkpointer

        ckpt = Checkpointer(checkpoint_dir)
        if ckpt.latest() is not None:
            saved, _, meta = ckpt.restore(to_saveable(state))
            state = from_saveable(saved, state)
            rows = list(meta["rows"])
    step = jax.jit(iw.iteration)
    bar = ProgressLine(f"iwocs {uset.name}", icfg.iterations, unit="env-steps") \
        if progress else None
    done_here = 0
    while len(rows) < icfg.iterations and not _stalled(rows, icfg):
        i = len(rows)
        state, log = step(state, jnp.int32(i))
        row = _row(i, log, iw, cfg)
        rows.append(row)
        if ckpt is not None:
            ckpt.save(i + 1, to_saveable(state), {"iteration": np.int32(i + 1)},
                      {"rows": rows})
        if on_iteration is not None:
            on_iteration(i, row)
        if bar is not None:
            fields = {"return": row["train_return"], "worst": row["search_worst"],
                      "estimate": row["estimate"], "models": row["models"]}
            bar.report(i + 1, work=iw.updates_per_iteration * cfg.steps_per_update,
                       **{k: v for k, v in fields.items() if v is not None})
        done_here += 1
        if stop_after is not None and done_here >= stop_after:
            break
    if ckpt is not None:
        ckpt.close()
    return state, rows, iw


def save_iwocs_results(run: RunDir, uset: UncertaintySet, state: Any,
                       rows: list[dict[str, Any]], title: str) -> Path:
    """Write a finished IWOCS run's agent (`agent/`, one seed), its set of worst-case models
    with their returns and the iteration rows (`eval/iwocs_set.json`), and the plot of the
    search's worst case, the set's estimate and the training return (returned path)."""
    from discovery.agent_store import save_agent
    from discovery.plotting import plot_curves

    save_agent(run.path / "agent", jax.tree.map(lambda x: x[None], state.agent.params),
               jax.tree.map(lambda x: x[None], state.agent.obs_stats))
    count = int(state.levels["count"])
    models = np.asarray(jax.vmap(uset.values)(state.levels["unit"]))[:count]
    run.write_json("eval/iwocs_set.json", {
        "labels": list(uset.labels), "models": models.tolist(),
        "returns": np.asarray(state.levels["returns"])[:count].tolist(),
        "iterations": rows})

    def trace(field: str) -> np.ndarray:
        return np.asarray([[np.nan if r[field] is None else r[field] for r in rows]], float)

    return plot_curves({"search worst case": trace("search_worst"),
                        "worst-case estimate (set)": trace("estimate"),
                        "training return": trace("train_return")},
                       np.asarray([r["iteration"] for r in rows]), run.plots / "iwocs.png",
                       title=title, xlabel="iteration")


def _stalled(rows: list[dict[str, Any]], icfg: IwocsConfig) -> bool:
    """The search's worst case has not improved by more than `tol` for `patience`
    iterations."""
    if len(rows) <= icfg.patience:
        return False
    worst = [-np.inf if r["search_worst"] is None else r["search_worst"] for r in rows]
    return max(worst[-icfg.patience:]) <= max(worst[:-icfg.patience]) + icfg.tol


def _row(i: int, log: IwocsLog, iw: Iwocs, cfg: TrainConfig) -> dict[str, Any]:
    labels = iw.source.uset.labels
    return {"iteration": i + 1,
            "env_steps": (i + 1) * iw.updates_per_iteration * cfg.steps_per_update,
            "train_return": _num(log.train_return), "search_worst": _num(log.search_worst),
            "worst_point": dict(zip(labels, np.asarray(log.worst_point).tolist(), strict=True)),
            "set_worst": _num(log.set_worst), "estimate": _num(log.estimate),
            "models": int(log.models), "search_evaluations": int(log.evaluations)}


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def to_saveable(tree: Any) -> Any:
    """PRNG keys as their raw data (orbax saves plain arrays)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def from_saveable(saved: Any, template: Any) -> Any:
    """The inverse of `to_saveable`, shaped like `template`."""
    return jax.tree.map(lambda s, t: jax.random.wrap_key_data(s) if _is_key(t) else
                        jnp.asarray(s, t.dtype), saved, template)


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
