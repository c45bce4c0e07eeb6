"""Fitness of a population: train fresh agents with each member's rule on every training
environment and score the final return, normalised per environment.

    normalised = (R - R_random) / (R_ppo - R_random)

so PPO (with the same inner-loop settings) scores 1 and a uniform-random policy 0. The two
baselines are computed once per run and stored in the run directory. Environments may have
different observation and action shapes: each gets its own compiled `train`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

import envs
from discovery.inner import TrainConfig, make_train
from meta_objectives import PPO
from meta_objectives.base import UpdateRule


def random_policy_return(env: Any, env_params: Any, key: jax.Array, num_envs: int = 64,
                         max_steps: int = 2000) -> jax.Array:
    """Mean return of episodes that a uniform-random policy completes within `max_steps`."""
    from envs.wrappers import EpisodeStats

    wrapped = EpisodeStats(env)
    space = env.action_space(env_params)
    k_reset, k_run = jax.random.split(key)
    _, state = jax.vmap(wrapped.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs),
                                                          env_params)

    def step(carry, k):
        state, total, count = carry
        k_act, k_env = jax.random.split(k)
        keys = jax.random.split(k_act, num_envs)
        if isinstance(space, spaces.Discrete):
            action = jax.vmap(lambda kk: jax.random.randint(kk, (), 0, space.n))(keys)
        else:
            action = jax.vmap(lambda kk: jax.random.uniform(kk, space.shape, minval=space.low,
                                                            maxval=space.high))(keys)
        _, state, _, _, _, info = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_env, num_envs), state, action, env_params)
        return (state, total + info["episode_return"].sum(),
                count + info["episode_done"].sum()), None

    (_, total, count), _ = jax.lax.scan(step, (state, 0.0, 0),
                                        jax.random.split(k_run, max_steps))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), 0.0)


def compute_baselines(env_names: tuple[str, ...], cfg: TrainConfig, key: jax.Array,
                      seeds: int = 4, log: Callable[[str], None] = print) -> dict[str, dict]:
    """{env: {"random": R_random, "ppo": R_ppo}} with PPO trained by the same inner loop."""
    out = {}
    for i, name in enumerate(env_names):
        env, params = envs.make(name)
        k_rand, k_ppo = jax.random.split(jax.random.fold_in(key, i))
        r_rand = float(jax.jit(random_policy_return, static_argnums=0)(env, params, k_rand))
        train = jax.jit(jax.vmap(make_train(env, PPO(), cfg), in_axes=(None, None, 0)))
        r_ppo = float(np.mean(train({}, params, jax.random.split(k_ppo, seeds)).final_return))
        out[name] = {"random": r_rand, "ppo": r_ppo}
        log(f"baseline {name}: random {r_rand:.4g}, PPO {r_ppo:.4g} ({seeds} seeds)")
    return out


def normalize_return(ret: jax.Array, baseline: dict) -> jax.Array:
    span = baseline["ppo"] - baseline["random"]
    span = span if abs(span) > 1e-6 else 1.0
    return (ret - baseline["random"]) / span


def make_evaluate(rule: UpdateRule, env_names: tuple[str, ...], cfg: TrainConfig,
                  baselines: dict[str, dict], seeds_per_member: int = 1) -> Callable:
    """`evaluate(population, key) -> (fitness [P], {"normalized": [P, E], "returns": [P, E]})`.

    All members share the generation's training key (common random numbers), which removes
    the agent-seed noise from the comparison between members.
    """
    tasks = []
    for name in env_names:
        env, params = envs.make(name)
        train = make_train(env, rule, cfg)
        # population x seeds
        per_seed = jax.vmap(train, in_axes=(None, None, 0))
        tasks.append((name, params, jax.vmap(per_seed, in_axes=(0, None, None))))

    def evaluate(population: Any, key: jax.Array):
        keys = jax.random.split(key, seeds_per_member)
        returns, normalized = [], []
        for name, params, train_pop in tasks:
            ret = train_pop(population, params, keys).final_return.mean(axis=1)
            returns.append(ret)
            normalized.append(normalize_return(ret, baselines[name]))
        returns, normalized = jnp.stack(returns, 1), jnp.stack(normalized, 1)
        return normalized.mean(axis=1), {"normalized": normalized, "returns": returns}

    return evaluate


def make_level_evaluate(rule: UpdateRule, env_name: str, cfg: TrainConfig,
                        antithetic: bool, seeds_per_member: int = 1) -> Callable:
    """Fitness on freshly sampled grid-world levels (LPG / GROOVE meta-training).

    Every generation draws levels from the distribution named by `env_name`
    ("gridworld/<distribution>"), each with its own agent lifetime N (the trainer masks updates
    past it, capped at `cfg.num_updates`). With antithetic sampling the two members of a pair
    train on the same level. Scores are final returns divided by the level's exact optimum
    (tabular levels; at least 0.1), or raw returns for non-tabular levels.
    """
    from envs.gridworld import layout_of, optimal_return, sample_levels

    distribution = env_name.split("/", 1)[1]
    env, _ = envs.make(env_name)
    layout = layout_of(distribution)
    train = jax.vmap(make_train(env, rule, cfg), in_axes=(None, None, 0, None))  # seeds
    train_pop = jax.vmap(train, in_axes=(0, 0, None, 0))  # members x their levels

    def evaluate(population: Any, key: jax.Array):
        size = jax.tree.leaves(population)[0].shape[0]
        k_levels, k_train = jax.random.split(key)
        levels = sample_levels(k_levels, distribution, size // 2 if antithetic else size)
        if antithetic:  # evosax pairs member i with member i + P/2
            levels = jax.tree.map(lambda x: jnp.concatenate([x, x]), levels)
        keys = jax.random.split(k_train, seeds_per_member)
        ret = train_pop(population, levels.params, keys, levels.lifetime).final_return.mean(1)
        if layout.tabular:
            best = optimal_return(levels.params, horizon=layout.max_episode_steps)
            normalized = ret / jnp.maximum(best, 0.1)
        else:
            normalized = ret
        return normalized, {"normalized": normalized[:, None], "returns": ret[:, None],
                            "lifetime": levels.lifetime}

    return evaluate
