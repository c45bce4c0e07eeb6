"""Train fresh agents with a rule on one environment, several seeds in one vmapped call.

Used by `rldisco train` and by held-out evaluation. Runs the jitted `train` in chunks so that a
long run shows progress; each chunk is the same compiled function (no recompilation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discovery.inner import TrainConfig, Trainer, TrainResult, UpdateLog, make_train, wrap_env
from discovery.logging import ProgressLine
from envs.rollout import reset_batch, unroll
from meta_objectives.base import UpdateRule


def train_agents(env: Any, env_params: Any, rule: UpdateRule, cfg: TrainConfig,
                 key: jax.Array, seeds: int, meta_params: Any = None, *,
                 chunks: int = 20, label: str = "train",
                 on_chunk: Callable[[int, UpdateLog], None] | None = None,
                 progress: bool = True) -> TrainResult:
    """Train `seeds` agents (vmapped) and return their stacked TrainResult.

    `on_chunk(updates_done, log_so_far)` is called on the host after each chunk.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    meta_params = {} if meta_params is None else meta_params
    train = make_train(env, rule, cfg, env_params)
    total = cfg.num_updates
    chunk = math.ceil(total / max(1, min(chunks, total)))
    n_chunks = math.ceil(total / chunk)  # updates past `total` are masked no-ops

    keys = jax.random.split(key, seeds)
    init = jax.jit(jax.vmap(train.init, in_axes=(None, None, 0)))
    advance = jax.jit(jax.vmap(lambda s, start: train.advance(meta_params, env_params, s, start,
                                                              chunk), in_axes=(0, None)))
    finish = jax.jit(jax.vmap(train.finish, in_axes=(None, 0, 0)))

    state = init(meta_params, env_params, keys)
    bar = ProgressLine(label, total, unit="env-steps") if progress else None
    logs: list[UpdateLog] = []
    for c in range(n_chunks):
        state, log = advance(state, jnp.int32(c * chunk))
        logs.append(log)
        done = min((c + 1) * chunk, total)
        if bar is not None:
            curve = np.asarray(log.curve[:, -1])
            bar.report(done, work=chunk * cfg.steps_per_update * seeds,
                       **{"return": float(curve.mean())})
        if on_chunk is not None:
            on_chunk(done, jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1), *logs))
    full = jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1)[:, :total], *logs)
    return finish(env_params, state, full)


def rollout_policy(env: Any, env_params: Any, trainer: Trainer, result: TrainResult,
                   key: jax.Array, num_envs: int, num_steps: int,
                   deterministic: bool = True) -> dict[str, jax.Array]:
    """Run a trained agent (`result` of one `trainer` call) for `num_steps` in `num_envs` envs.

    Returns the mean return of completed episodes and, where the env reports
    `info["success"]`, the fraction of envs that succeeded at any step of their first episode.
    Jittable.
    """
    wrapped = wrap_env(env, env_params)
    k_reset, k_run = jax.random.split(key)
    obs, state = reset_batch(wrapped, env_params, k_reset, num_envs)

    def policy(obs, k):
        out = trainer.forward(result.agent_params, result.obs_stats, obs).policy
        return (out.mode() if deterministic else out.sample(k)), {}

    def keep(t):
        success = t.info.get("success", jnp.zeros(num_envs)) > 0
        return success, t.info["episode_return"], t.info["episode_done"]

    _, _, (success, returns, dones) = unroll(wrapped, env_params, policy, state, obs, k_run,
                                             num_steps, keep)
    first = (jnp.cumsum(dones, axis=0) - dones) == 0  # steps of each env's first episode
    return {"return": jnp.sum(returns) / jnp.maximum(jnp.sum(dones), 1),
            "episodes": jnp.sum(dones), "success_rate": jnp.mean(jnp.any(success & first, 0))}
