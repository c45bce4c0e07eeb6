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
        log = UEDLog(mean_return, episodes,
                     jnp.sum(jnp.where(finite, scores, 0.0)) / jnp.maximum(finite.sum(), 1),
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
