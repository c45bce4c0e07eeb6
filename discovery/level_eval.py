"""Evaluate an update rule on a FIXED set of grid-world levels (held-out LPG evaluation).

    res = evaluate_on_levels(rule, meta_params, ["dense", "sparse"], train_cfg, key, seeds=4)
    res = evaluate_on_levels(rule, meta_params, "gridworld/small", train_cfg, key, seeds=2,
                             num_levels=16)
    res["normalized_mean"], res["mean_normalized"], res["mean_random_normalized"]

Levels are named levels (`dense`, `sparse`, ... with their default start / object cells, see
`envs.gridworld.named_level`) or a fixed sample of a level distribution (`small`, `all`, ...;
`num_levels` levels drawn from `levels_key`, by default derived from `key`, so the same key gives
the same levels). Names may carry the `gridworld/` prefix. Each level trains `seeds` fresh agents
(common random numbers: every level and every call with the same key uses the same agent seeds)
for its own lifetime in agent updates, capped by `cfg.num_updates` (named levels have lifetimes
of 2500 / 25000 updates, so the cap is what applies on a CPU budget).

Scores, per level (as the ES fitness of `discovery.fitness.make_level_evaluate`):

    normalized = R / max(R_opt, 0.1)          (tabular levels; NaN for non-tabular ones)

with R the agent's final return (mean episode return over the last `cfg.final_window` of its
lifetime) and R_opt the exact optimum of one episode (expectimax DP, `envs.gridworld
.optimal_return`). The same is reported for a uniform-random policy (`random_return`,
`random_normalized`), so "clearly above random" can be checked directly.

Levels of different layouts (grid size, object slots, types, tabular or not) have different
observation shapes, so they are grouped by layout: one env and one compiled `train` per group,
vmapped over the group's levels and the seeds. Compiled functions are cached per (rule, train
config, layout), so evaluating several meta-parameters (e.g. before / after discovery) compiles
once; the random-policy returns and optima (which depend on the levels only) are cached too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discovery.inner import TrainConfig, make_train
from meta_objectives.base import UpdateRule

OPTIMUM_FLOOR = 0.1  # as the level fitness: R / max(R_opt, 0.1)
# Uniform-random policy: 32 envs for 4 episode lengths (at least 500, at most 2000 steps).
RANDOM_ENVS, RANDOM_MIN_STEPS = 32, 500
_TRAIN_CACHE: dict[Any, Any] = {}
_RANDOM_CACHE: dict[Any, Any] = {}
_BASELINE_CACHE: dict[Any, tuple[np.ndarray, np.ndarray]] = {}


def _strip(name: str) -> str:
    import envs

    try:
        return envs.short_name(name)
    except ValueError:  # a bare grid-world level name
        return name


def resolve_levels(spec: str | Sequence[str], key: jax.Array, num_levels: int = 8
                   ) -> list[tuple[str, Any, int, Any]]:
    """[(label, EnvParams, lifetime, Layout)] for named levels and/or distribution samples."""
    from envs.gridworld import DISTRIBUTIONS, NAMED_LEVELS, layout_of, named_level, sample_levels

    names = [spec] if isinstance(spec, str) else list(spec)
    if not names:
        raise ValueError("evaluate_on_levels: give at least one level or distribution")
    out = []
    for i, raw in enumerate(names):
        name = _strip(raw)
        layout = layout_of(name)  # validates the name
        if name in NAMED_LEVELS:
            level = named_level(name)
            out.append((name, level.params, int(level.lifetime), layout))
        elif name in DISTRIBUTIONS or name == "tabular":
            levels = sample_levels(jax.random.fold_in(key, i), name, num_levels)
            for j in range(num_levels):
                params = jax.tree.map(lambda x, j=j: x[j], levels.params)
                out.append((f"{name}/{j}", params, int(levels.lifetime[j]), layout))
        else:  # pragma: no cover - layout_of already refused it
            raise ValueError(f"unknown grid-world level '{raw}'")
    return out


def _shape_key(params: Any, tabular: bool) -> tuple[int, int, int, bool]:
    return (int(params.walls.shape[-1]), int(params.obj_types.shape[-1]),
            int(params.obj_rewards.shape[-1]), bool(tabular))


def group_by_layout(levels: list[tuple[str, Any, int, Any]]) -> dict[tuple, list[int]]:
    """{(G, N, T, tabular): indices into `levels`}: levels that share one env and one compile."""
    groups: dict[tuple, list[int]] = {}
    for idx, (_, params, _, layout) in enumerate(levels):
        groups.setdefault(_shape_key(params, layout.tabular), []).append(idx)
    return groups


def _key_bytes(key: jax.Array) -> bytes:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key).tobytes()


def _compiled(rule: UpdateRule, cfg: TrainConfig, shape: tuple, template: Any):
    """(env, jitted train over [levels] x [seeds], jitted random policy over [levels])."""
    from discovery.fitness import random_policy_return
    from envs.gridworld import GridWorld

    env = GridWorld.for_params(template, tabular=shape[3])
    key = (rule, cfg, shape)
    if key not in _TRAIN_CACHE:
        train = make_train(env, rule, cfg, template)
        per_seed = jax.vmap(train, in_axes=(None, None, 0, None))
        _TRAIN_CACHE[key] = jax.jit(jax.vmap(per_seed, in_axes=(None, 0, None, 0)))
    if shape not in _RANDOM_CACHE:
        _RANDOM_CACHE[shape] = jax.jit(
            jax.vmap(lambda p, k, steps: random_policy_return(env, p, k, RANDOM_ENVS, steps),
                     in_axes=(0, 0, None)), static_argnums=2)
    return env, _TRAIN_CACHE[key], _RANDOM_CACHE[shape]


def evaluate_on_levels(rule: UpdateRule, meta_params: Any, env_name_or_level_names:
                       str | Sequence[str], cfg: Any, key: jax.Array, seeds: int = 4, *,
                       num_levels: int = 8, levels_key: jax.Array | None = None
                       ) -> dict[str, Any]:
    """Train `seeds` fresh agents with `rule` on every level of a fixed set; see the module doc.

    `meta_params`: the rule's meta-parameters (None / {} for fixed rules such as A2C).
    `cfg`: a `TrainConfig` (or a `DiscoveryConfig`, whose `train` is used).
    Returns numpy arrays over levels L (and seeds S): `levels` [L] labels, `lifetime` [L]
    (effective, capped), `tabular` [L], `final_return` [L, S], `return_mean` [L], `optimum` [L],
    `normalized` [L, S], `normalized_mean` [L], `random_return` [L], `random_normalized` [L],
    `curve` [L, S, cfg.num_updates] (mean return of the episodes ended by each update, carried;
    flat past a level's lifetime),
    and floats `mean_normalized` / `mean_random_normalized` (over the tabular levels).
    """
    from envs.gridworld import optimal_return

    cfg = getattr(cfg, "train", cfg)
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"evaluate_on_levels: cfg must be a TrainConfig, got {type(cfg)}")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    meta_params = {} if meta_params is None else meta_params
    k_levels, k_train, k_random = jax.random.split(key, 3)
    levels = resolve_levels(env_name_or_level_names,
                            k_levels if levels_key is None else levels_key, num_levels)
    train_keys = jax.random.split(k_train, seeds)

    groups = group_by_layout(levels)
    # The random policy and the optimum depend on the levels only: cached across rules.
    names = tuple(_strip(n) for n in ((env_name_or_level_names,)
                                      if isinstance(env_name_or_level_names, str)
                                      else env_name_or_level_names))
    baseline_key = (names, num_levels, _key_bytes(k_levels if levels_key is None
                                                  else levels_key), _key_bytes(k_random))
    cached = _BASELINE_CACHE.get(baseline_key)

    n = len(levels)
    final = np.full((n, seeds), np.nan)
    curves = np.full((n, seeds, cfg.num_updates), np.nan)
    optimum = np.full(n, np.nan)
    random_ret = np.full(n, np.nan)
    lifetime = np.array([min(lt, cfg.num_updates) for _, _, lt, _ in levels])
    tabular = np.array([layout.tabular for *_, layout in levels])
    for shape, idxs in groups.items():
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *[levels[i][1] for i in idxs])
        _, train, random_fn = _compiled(rule, cfg, shape, levels[idxs[0]][1])
        res = train(meta_params, params, train_keys, jnp.asarray(lifetime[idxs], jnp.int32))
        final[idxs] = np.asarray(res.final_return, dtype=float)
        curves[idxs] = np.asarray(res.curve, dtype=float)
        if cached is not None:
            continue
        max_episode = int(np.max(np.asarray(params.max_steps_in_episode)))
        steps = min(max(RANDOM_MIN_STEPS, 4 * max_episode), 4 * RANDOM_MIN_STEPS)
        rkeys = jax.random.split(jax.random.fold_in(k_random, idxs[0]), len(idxs))
        random_ret[idxs] = np.asarray(random_fn(params, rkeys, steps), dtype=float)
        if shape[3]:  # horizon: the layouts' episode cap (static, so one compile per layout)
            horizon = max(levels[i][3].max_episode_steps for i in idxs)
            optimum[idxs] = np.asarray(optimal_return(params, horizon=horizon), dtype=float)
    if cached is None:
        _BASELINE_CACHE[baseline_key] = (random_ret.copy(), optimum.copy())
    else:
        random_ret, optimum = (x.copy() for x in cached)

    scale = np.where(tabular, np.maximum(optimum, OPTIMUM_FLOOR), np.nan)
    normalized = final / scale[:, None]
    random_norm = random_ret / scale
    tab = tabular & np.isfinite(scale)
    return {
        "levels": [label for label, *_ in levels], "lifetime": lifetime, "tabular": tabular,
        "seeds": seeds, "final_return": final, "return_mean": final.mean(axis=1),
        "curve": curves,
        "optimum": optimum, "normalized": normalized,
        "normalized_mean": normalized.mean(axis=1),
        "random_return": random_ret, "random_normalized": random_norm,
        "mean_normalized": float(np.mean(normalized[tab])) if tab.any() else float("nan"),
        "mean_random_normalized": (float(np.mean(random_norm[tab])) if tab.any()
                                   else float("nan")),
    }


def format_levels(res: dict[str, Any], label: str = "") -> str:
    """A plain-text table of an `evaluate_on_levels` result (one line per level)."""
    lines = [f"{label}  level  lifetime  return  optimum  normalised  random(norm)".strip()]
    for i, name in enumerate(res["levels"]):
        lines.append(f"{name:>14} {int(res['lifetime'][i]):5d} {res['return_mean'][i]:8.3f} "
                     f"{res['optimum'][i]:8.3f} {res['normalized_mean'][i]:8.3f} "
                     f"{res['random_normalized'][i]:8.3f}")
    lines.append(f"mean normalised {res['mean_normalized']:.3f} "
                 f"(random {res['mean_random_normalized']:.3f})")
    return "\n".join(lines)


__all__ = ["evaluate_on_levels", "format_levels", "group_by_layout", "resolve_levels",
           "OPTIMUM_FLOOR"]
