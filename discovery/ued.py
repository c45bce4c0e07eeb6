"""Agent training with a curriculum over levels (unsupervised environment design, jaxued-style).

Every update the level source hands out one level per environment (new, replayed or, with
ACCEL, mutated ones), the environments reset to them, the agent collects a rollout (auto-reset
replays each environment's own level, since a level is an EnvParams value), the rollout scores
each level (positive value loss, MaxMC with the level's best return kept in the buffer, L1
value loss, or uniform random for domain randomisation), the source takes the scores, and the
agent learns from the rollout (robust PLR: only from replayed levels).

    ued = make_ued(env, rule, cfg, source, score="pvl")
    state = ued.init(key)
    state, log = jax.jit(ued.advance, static_argnums=2)(state, 0, cfg.num_updates)

Rules must compute `advantage` targets (actor-critic rules: PPO, A2C, LPO, ...), which the
scores are built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from discovery.inner import TrainConfig, Trainer, TrainState, make_train
from environment_design import (
    PLR,
    buffer_stats,
    l1_value_loss,
    max_mc,
    positive_value_loss,
    random_scores,
    train_on_last,
    update_max_return,
)
from envs.params import Level
from meta_objectives.base import Progress, UpdateRule

SCORES = ("pvl", "maxmc", "l1", "random")


class UEDState(NamedTuple):
    agent: TrainState  # the agent (its env state is re-made from the levels every update)
    levels: dict[str, Any]  # the level source's state


class UEDLog(NamedTuple):
    """Per-update outputs (leading axis = updates)."""

    episode_return: jax.Array  # mean return of the episodes that ended in the rollout (NaN: none)
    episodes: jax.Array
    score: jax.Array  # mean level score of the batch
    replayed: jax.Array  # whether the batch was replayed from the buffer
    learned: jax.Array  # whether the agent learned from it
    buffer: dict[str, jax.Array]  # buffer statistics (PLR / ACCEL; empty otherwise)
    metrics: dict[str, jax.Array]


@dataclass(frozen=True)
class UED:
    """`init(key) -> UEDState`; `advance(state, start, length) -> (state, UEDLog)`;
    `evaluate(state, levels, key) -> [L] mean fresh-episode return per level`."""

    init: Callable[[jax.Array], UEDState]
    advance: Callable[..., tuple[UEDState, UEDLog]]
    evaluate: Callable[..., jax.Array]
    trainer: Trainer


def make_ued(env: Any, rule: UpdateRule, cfg: TrainConfig, source: Any, score: str,
             features: Callable[[Level], dict[str, jax.Array]] | None = None) -> UED:
    """Build the curriculum trainer of `rule` on levels of `env` from `source`."""
    if score not in SCORES:
        raise ValueError(f"levels.score must be one of {SCORES} for agent training, got "
                         f"{score!r}")
    if score != "random" and not rule.needs_value:
        raise ValueError(f"levels.score '{score}' needs a value head; rule '{rule.name}' has "
                         "none (use score=random)")
    trainer = make_train(env, rule, cfg)
    n = cfg.num_envs
    is_buffer = isinstance(source, PLR)

    def reset(levels: Level, key: jax.Array):
        return jax.vmap(trainer.reset)(levels.params, jax.random.split(key, n))

    def init(key: jax.Array) -> UEDState:
        k_source, k_sample, k_agent = jax.random.split(key, 3)
        levels_state = source.init(k_source)
        levels_state, levels = source.sample(levels_state, k_sample, n)
        template = jax.tree.map(lambda x: x[0], levels.params)
        agent = trainer.init({}, template, k_agent, cfg.num_updates)
        return UEDState(agent, levels_state)

    def level_scores(rollout, targets, stored, key):
        dones = rollout.done
        if score == "pvl":
            return positive_value_loss(dones, targets["advantage"]), stored
        if score == "l1":
            return l1_value_loss(dones, targets["advantage"]), stored
        if score == "maxmc":
            best = update_max_return(stored["max_return"], dones, rollout.reward)
            return max_mc(dones, rollout.value, best), {**stored, "max_return": best}
        return random_scores(key, n), stored

    def update(state: UEDState, step: jax.Array) -> tuple[UEDState, UEDLog]:
        agent = state.agent
        k_sample, k_reset, k_roll, k_score, k_update, k_learn = jax.random.split(
            jax.random.fold_in(agent.key, step), 6)
        levels_state, levels = source.sample(state.levels, k_sample, n)
        obs, env_state = reset(levels, k_reset)
        rollout, _, last_obs, extras = trainer.collect(
            agent.params, agent.obs_stats, env_state, obs, levels.params, k_roll,
            cfg.num_steps, per_env_params=True)
        progress = Progress(step=step, horizon=jnp.asarray(cfg.num_updates, jnp.int32))
        targets = rule.targets({}, rollout, progress)
        stored = source.sampled_extras(levels_state, n) if is_buffer else {}
        scores, stored = level_scores(rollout, targets, stored, k_score)
        levels_state = source.update(levels_state, k_update, levels, scores, stored)
        learn = train_on_last(levels_state)
        params, opt_state, stats, metrics = trainer.learn({}, agent, rollout, targets,
                                                          progress, k_learn)
        learned = agent._replace(params=params, opt_state=opt_state, obs_stats=stats)
        agent = jax.tree.map(lambda a, b: jnp.where(learn, a, b), learned, agent)
        done, ret = extras["episode_done"], extras["episode_return"]
        episodes = jnp.sum(done)
        mean_return = jnp.where(episodes > 0, jnp.sum(ret) / jnp.maximum(episodes, 1),
                                jnp.nan)
        finite = jnp.isfinite(scores)
        replayed = (levels_state["last"]["kind"] == 1) if is_buffer else jnp.asarray(False)
        score_mean = jnp.where(finite.any(), jnp.sum(jnp.where(finite, scores, 0.0))
                               / jnp.maximum(finite.sum(), 1), jnp.nan)  # NaN: no episode ended
        log = UEDLog(mean_return, episodes, score_mean,
                     replayed, learn,
                     buffer_stats(levels_state, features) if is_buffer else {}, metrics)
        agent = agent._replace(last_return=jnp.where(episodes > 0, mean_return,
                                                     agent.last_return))
        return UEDState(agent, levels_state), log

    def advance(state: UEDState, start: jax.Array | int, length: int):
        steps = jnp.asarray(start, jnp.int32) + jnp.arange(length)
        return jax.lax.scan(update, state, steps)

    def evaluate(state: UEDState, levels: Level, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, jax.tree.leaves(levels.params)[0].shape[0])
        return jax.vmap(trainer.evaluate, in_axes=(None, None, 0, 0))(
            state.agent.params, state.agent.obs_stats, levels.params, keys)

    return UED(init, advance, evaluate, trainer)


def held_out_levels(env_name: str, key: jax.Array, num: int = 32) -> tuple[list[str], Level]:
    """Held-out levels to report an agent on: a fixed sample of the level distribution, or,
    for a ParamSpace, the nominal level plus a grid over the space (3 points per dimension,
    at most `num` of them). Returns (labels, Level [L])."""
    import envs

    family, short = envs.family(env_name), envs.short_name(env_name)
    generate = family.level_generator(short)
    if generate is not None:
        levels = generate(key, num)
        return [f"{short}/{i}" for i in range(num)], levels
    space = envs.default_param_space(env_name)
    _, nominal = envs.make(env_name)
    grid = space.grid(3)
    size = jax.tree.leaves(grid)[0].shape[0]
    pick = jnp.linspace(0, size - 1, min(num - 1, size)).round().astype(jnp.int32)
    grid = jax.tree.map(lambda x: x[pick], grid)
    params = jax.tree.map(lambda a, b: jnp.concatenate([jnp.asarray(a)[None], b]), nominal,
                          grid)
    n = int(pick.shape[0]) + 1
    labels = ["nominal"] + [
        ", ".join(f"{name}={float(jnp.ravel(getattr(grid, name)[i])[0]):.3g}"
                  for name in space.names) for i in range(n - 1)]
    return labels, Level(params, jnp.zeros(n, jnp.int32))


def train_on_levels(env_name: str, rule: UpdateRule, cfg: TrainConfig, levels_cfg: Any,
                    key: jax.Array, *, chunks: int = 20, label: str = "train",
                    on_chunk: Callable[[int, UEDLog], None] | None = None,
                    progress: bool = True) -> tuple[UEDState, UEDLog, UED]:
    """Train one agent on `env_name`'s levels with the curriculum of `levels_cfg` (a
    `LevelsConfig`: sampled = domain randomisation, plr, accel), in jitted chunks of updates
    with progress; returns the final state, the whole log and the `UED` (for evaluation)."""
    import math

    import envs
    from discovery.levels import level_features, make_level_source
    from discovery.logging import ProgressLine

    env, _ = envs.make(env_name)
    extras = {"max_return": -float("inf")} if levels_cfg.score == "maxmc" else None
    source = make_level_source(levels_cfg, env_name, cfg.num_updates, extras=extras)
    ued = make_ued(env, rule, cfg, source, levels_cfg.score, level_features(env_name))
    total = cfg.num_updates
    chunk = math.ceil(total / max(1, min(chunks, total)))
    state = ued.init(key)
    advance = jax.jit(ued.advance, static_argnums=2)
    bar = ProgressLine(label, total, unit="env-steps") if progress else None
    logs, done = [], 0
    while done < total:
        length = min(chunk, total - done)
        state, log = advance(state, jnp.int32(done), length)
        logs.append(log)
        done += length
        if on_chunk is not None:
            on_chunk(done, log)
        if bar is not None:
            fields = {"return": float(jnp.nanmean(log.episode_return)),
                      "level_score": float(jnp.nanmean(log.score))}
            if log.buffer:
                fields["fill"] = float(log.buffer["fill_ratio"][-1])
                fields["replayed"] = int(log.replayed.sum())
            bar.report(done, work=length * cfg.steps_per_update, **fields)
    return state, jax.tree.map(lambda *xs: jnp.concatenate(xs), *logs), ued
