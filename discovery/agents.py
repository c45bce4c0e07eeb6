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

from discovery.inner import TrainConfig, TrainResult, UpdateLog, make_train
from discovery.logging import ProgressLine
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
    finish = jax.jit(jax.vmap(train.finish))

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
    return finish(state, full)


def rollout_policy(env: Any, env_params: Any, train_fn: Any, result: TrainResult,
                   key: jax.Array, num_envs: int, num_steps: int,
                   deterministic: bool = True) -> dict[str, jax.Array]:
    """Run a trained agent (`result` of one `train` call) for `num_steps` in `num_envs` envs.

    Returns the mean return of completed episodes and, where the env reports
    `info["success"]`, the fraction of envs that succeeded at any step of their first episode.
    Jittable; `train_fn` is the function `make_train` returned (for its network and config).
    """
    from discovery.inner import wrap_env

    wrapped = wrap_env(env, env_params, train_fn.config)
    k_reset, k_run = jax.random.split(key)
    obs, state = jax.vmap(wrapped.reset, in_axes=(0, None))(
        jax.random.split(k_reset, num_envs), env_params)

    def step(carry, k):
        obs, state, succeeded, first_done = carry
        k_act, k_env = jax.random.split(k)
        policy = train_fn.forward(result.agent_params, result.obs_stats, obs).policy
        action = policy.mode() if deterministic else policy.sample(k_act)
        obs, state, _, _, _, info = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_env, num_envs), state, action, env_params)
        success = info.get("success", jnp.zeros(num_envs)) > 0
        succeeded = succeeded | (success & ~first_done)
        first_done = first_done | info["episode_done"]
        return (obs, state, succeeded, first_done), (info["episode_return"],
                                                     info["episode_done"])

    init = (obs, state, jnp.zeros(num_envs, bool), jnp.zeros(num_envs, bool))
    (_, _, succeeded, _), (returns, dones) = jax.lax.scan(step, init,
                                                          jax.random.split(k_run, num_steps))
    return {"return": jnp.sum(returns) / jnp.maximum(jnp.sum(dones), 1),
            "episodes": jnp.sum(dones), "success_rate": jnp.mean(succeeded)}
