"""Inspecting a discovery run: the discovered rule, its fitness curve, and an LPG agent's
targets along its lifetime.

    rule, meta_params, cfg = load_discovered("runs/my-run")
    display(fitness_curve("runs/my-run"))
    trace = trace_lifetime(rule, meta_params, env, env_params, cfg.train, jax.random.key(0))

The rule-side analysis (drift grids and heatmaps, LPG targets over n/N, their plots) lives in
`meta_objectives.analysis` and `meta_objectives.lpg_analysis`; what needs a run directory or
the trainer lives here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from discovery.checkpoint import load_meta_params
from discovery.inner import make_train, wrap_env
from discovery.run import open_run
from meta_objectives.base import MetaParams, Progress, Rollout, UpdateRule
from meta_objectives.lpg import LPG
from meta_objectives.lpg_analysis import (
    DEFAULT_FRACTIONS,
    check_fractions,
    check_lpg_rule,
    discounted_return_to_go,
    positive_int,
    windowed_targets,
)


def load_discovered(run_path: str | Path) -> tuple[UpdateRule, MetaParams, Any]:
    """(rule, final meta-parameters, DiscoveryConfig) of a discovery run directory."""
    cfg, run = open_run(run_path)
    meta_params, _ = load_meta_params(run.checkpoints)
    return cfg.rule.build(), meta_params, cfg



def fitness_curve(run_path: str | Path, *, fig: Figure | None = None) -> Figure:
    """The discovered rule's fitness (the ES mean, `center_fitness`) and the population's mean
    and best per generation, from `metrics.jsonl`, with the population's interquartile range
    shaded (PPO = 1 for runs with normalised fitness; for grid-world runs
    the return divided by the level's optimum)."""
    cfg, run = open_run(run_path)
    normalized = cfg.fitness_is_ppo_normalised
    records = [r for r in run.metrics() if "generation" in r]
    if not records:
        raise ValueError(f"run {run.path} has no generation metrics yet")
    gens = np.array([r["generation"] for r in records])
    nan = float("nan")
    mean = np.array([nan if r.get("fitness_mean") is None else r["fitness_mean"]
                     for r in records], dtype=float)
    best = np.array([nan if r.get("fitness_best") is None else r["fitness_best"]
                     for r in records], dtype=float)
    fig = fig or Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    if all("fitness" in r for r in records):
        pop = [np.array([nan if x is None else x for x in r["fitness"]], dtype=float)
               for r in records]
        q = np.array([np.nanpercentile(p, [25, 75]) if np.isfinite(p).any() else [nan, nan]
                      for p in pop])
        ax.fill_between(gens, q[:, 0], q[:, 1], alpha=0.2, label="population IQR")
    center = np.array([nan if r.get("center_fitness") is None else r["center_fitness"]
                       for r in records], dtype=float)
    if np.isfinite(center).any():
        ax.plot(gens, center, color="black", lw=2, marker="o", ms=3,
                label="the discovered rule (ES mean / meta-parameters)")
    ax.plot(gens, mean, marker="o", ms=3, label="population mean")
    ax.plot(gens, best, marker="o", ms=3, alpha=0.7, label="best member")
    if normalized:
        ax.axhline(1.0, color="grey", ls="--", lw=0.8, label="PPO")
    ax.set(title=f"ES fitness: {run.name}", xlabel="generation",
           ylabel=f"fitness: {cfg.fitness_label}")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _agent_cell(env_state: Any) -> jax.Array | None:
    """The agent's cell in a (wrapped) grid-world state, None for other environments."""
    while env_state is not None:
        if hasattr(env_state, "pos") and hasattr(env_state, "obj_pos"):
            return env_state.pos
        env_state = getattr(env_state, "env_state", None)
    return None


@functools.lru_cache(maxsize=16)
def _compiled_trace(env: Any, rule: UpdateRule, cfg: Any, num_steps: int, window: int):
    """Jitted `run(meta_params, env_params, key, horizon, points) -> per-point outputs`.

    Cached per (env, rule, train config, num_steps, window): the level (env_params), the key,
    the horizon and the lifetime points are traced, so new levels and points do not recompile.
    """
    train = make_train(env, rule, cfg, env.default_params)
    reset = jax.vmap(wrap_env(env, env.default_params).reset, in_axes=(0, None))

    def collect(state: Any, env_params: Any, key: jax.Array) -> tuple[Rollout, jax.Array]:
        """From a fresh reset, `num_steps` steps in one env: the Rollout exactly as the trainer
        builds it (its own `collect`), and the agent's cell at every s_t (-1 if not a grid)."""
        k_reset, k_run = jax.random.split(key)
        obs, env_state = reset(jax.random.split(k_reset, 1), env_params)
        rollout, _, _, extras = train.collect(state.params, state.obs_stats, env_state, obs,
                                              env_params, k_run, num_steps, keep_states=True)
        cell = _agent_cell(extras["env_state"])
        return rollout, (jnp.full(rollout.reward.shape, -1, jnp.int32) if cell is None
                         else cell)

    def run(meta_params: Any, env_params: Any, key: jax.Array, horizon: jax.Array,
            points: jax.Array):
        k_train, k_roll = jax.random.split(key)
        state = train.init(meta_params, env_params, k_train, horizon)

        def to_point(carry, n):
            state, trained = carry  # updates applied so far

            def one_update(i, s):
                return train.advance(meta_params, env_params, s, i, 1)[0]

            state = jax.lax.fori_loop(trained, n, one_update, state)
            progress = Progress(step=n, horizon=state.horizon)
            rollout, cell = collect(state, env_params, k_roll)  # same key at every point
            targets = windowed_targets(rule, meta_params, rollout, progress, window)
            return (state, n), (rollout, cell, targets, state.last_return)

        _, out = jax.lax.scan(to_point, (state, jnp.int32(0)), points)
        return out

    return jax.jit(run)


def trace_lifetime(rule: LPG, meta_params: MetaParams, env: Any, env_params: Any,
                   train_cfg: Any, key: jax.Array, *,
                   at: Sequence[float] = DEFAULT_FRACTIONS, num_steps: int | None = None,
                   num_updates: int | None = None, window: int | None = None
                   ) -> dict[str, Any]:
    """Train one agent with `rule` and trace its targets at lifetime points n/N in `at`.

    The agent trains for N = `num_updates` updates (default and maximum: `train_cfg`'s); at
    n = round(f * N) for each f in `at` (after n updates; f = 1 is the trained agent, one step
    past the last update's n/N = (N-1)/N) the current agent acts for `num_steps` steps
    (default: one rollout, `train_cfg.num_steps`) with sampled actions in one env, from a fresh
    reset and with the same environment key at every point. The rule's targets are computed
    with `Progress(n, N)` on consecutive windows of `window` steps (default
    `train_cfg.num_steps`: the rollouts the trainer would hand the rule; LPG's backward GRU sees
    the future only up to the end of its window, so a longer window gives other targets).

    Returns numpy arrays, F = len(at), T = num_steps, K = rule.prediction_size:
    `fractions` [F] (n/N as used), `updates` [F] (n), `horizon` (N), `window`,
    `reward`, `done`, `terminated`, `action`, `pi` (pi(a_t|s_t)), `pi_hat` [F, T],
    `y`, `y_hat` [F, T, K] (the agent's prediction probabilities and the targets),
    `return_to_go` [F, T] (discounted with the rule's gamma, cut at episode ends and at the
    trajectory's end), `last_return` [F] (the trainer's latest mean episode return), `cell`
    [F, T] (grid-worlds: the agent's cell `row * grid_size + col` at s_t; absent elsewhere),
    and `rollout`, the Rollout the rule saw (fields [F, T, 1, ...]) for `targets_at_fractions`.
    `at` must be non-decreasing (the agent only trains forwards).
    """
    check_lpg_rule(rule)
    at = check_fractions(at)
    if np.any(np.diff(at) < 0):
        raise ValueError(f"at: lifetime fractions must be non-decreasing, got {list(at)}")
    cfg = getattr(train_cfg, "train", train_cfg)
    num_steps = positive_int("num_steps", cfg.num_steps if num_steps is None else num_steps)
    window = positive_int("window", cfg.num_steps if window is None else window)
    horizon = positive_int("num_updates",
                            cfg.num_updates if num_updates is None else num_updates)
    if horizon > cfg.num_updates:
        raise ValueError(f"num_updates ({horizon}) exceeds the train config's "
                         f"{cfg.num_updates} updates (the trainer caps lifetimes there)")
    points = np.rint(at * horizon).astype(np.int32)
    run = _compiled_trace(env, rule, cfg, num_steps, min(window, num_steps))
    rollout, cell, targets, last_return = jax.device_get(
        run(meta_params, env_params, key, jnp.int32(horizon), jnp.asarray(points)))
    rollout = jax.tree.map(np.asarray, rollout)
    sq = lambda x: np.asarray(x)[:, :, 0]  # noqa: E731 - drop the single env column
    y = np.asarray(jax.nn.softmax(rollout.prediction, axis=-1))
    trace = {
        "rule": rule.name, "fractions": points / horizon, "updates": points,
        "horizon": horizon, "window": min(window, num_steps),
        "reward": sq(rollout.reward), "done": sq(rollout.terminated | rollout.truncated),
        "terminated": sq(rollout.terminated), "action": sq(rollout.action),
        "pi": np.exp(sq(rollout.log_prob)), "y": sq(y),
        "pi_hat": sq(targets["pi_hat"]), "y_hat": sq(targets["y_hat"]),
        "last_return": np.asarray(last_return), "rollout": rollout,
    }
    trace["return_to_go"] = discounted_return_to_go(trace["reward"], trace["done"], rule.gamma)
    if np.all(sq(cell) >= 0):
        trace["cell"] = sq(cell)
    return trace


def level_buffers(run_path: str | Path) -> dict[int, dict[str, Any]]:
    """The PLR / ACCEL level buffer of every checkpoint a curriculum run keeps, by generation:
    the filled slots' scores, staleness (episodes since last played), level features (as in
    `metrics.jsonl`) and stored extras (e.g. the reference rule's return)."""
    from discovery.checkpoint import Checkpointer
    from discovery.es import population_mesh
    from discovery.levels import level_features
    from discovery.run import build_loop

    cfg, run = open_run(run_path)
    if not cfg.levels.curriculum or cfg.outer != "es":
        raise ValueError(f"run {run.path} has no level buffer (levels.kind is "
                         f"{cfg.levels.kind!r}, outer {cfg.outer!r}); PLR and ACCEL runs have one")
    rule = cfg.rule.build()
    mesh = population_mesh(cfg.es.population_size)
    keys = tuple(jax.random.split(jax.random.key(cfg.seed), 4)[1:])
    template = build_loop(cfg, rule, {}, mesh, keys).init()
    features = level_features(cfg.envs[0])
    ckpt = Checkpointer(run.checkpoints)
    out = {}
    try:
        for step in sorted(ckpt.steps()):
            state, _, meta = ckpt.restore(template, step)
            buffer = jax.device_get(state[1]["buffer"])
            size = int(buffer["size"])
            level = jax.tree.map(lambda x, n=size: x[:n], buffer["levels"])
            out[int(meta["generation"])] = {
                "scores": np.asarray(buffer["scores"][:size]),
                "staleness": np.asarray(buffer["episode_count"] - buffer["timestamps"])[:size],
                "features": {k: np.asarray(v) for k, v in features(level).items()},
                "extras": {k: np.asarray(v[:size]) for k, v in buffer["levels_extra"].items()},
                "capacity": len(buffer["scores"])}
    finally:
        ckpt.close()
    if not out:
        raise ValueError(f"run {run.path} has no checkpoint yet")
    return out


def buffer_snapshots(buffers: dict[int, dict[str, Any]], *, fig: Figure | None = None
                     ) -> Figure:
    """How the buffer moved: for each kept checkpoint (one colour per generation), the
    distribution of scores and of each level feature over the filled slots."""
    gens = sorted(buffers)
    viridis = colormaps["viridis"]
    names = ["scores", *buffers[gens[-1]]["features"]]
    fig = fig or Figure(figsize=(3.2 * len(names), 3.2))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for i, g in enumerate(gens):
            b = buffers[g]
            values = b["scores"] if name == "scores" else b["features"][name]
            colour = viridis(i / max(len(gens) - 1, 1))
            ax.hist(values, bins=20, histtype="step", color=colour,
                    label=f"gen {g} ({len(values)}/{b['capacity']})")
        ax.set(title=name, xlabel=name if name != "scores" else "level score")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("levels in the buffer")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig
