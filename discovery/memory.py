"""Does one generation fit in memory? A lower bound, computed from shapes before compiling.

A population of 1e8 or 1e12 environment steps per agent would otherwise trace, compile and only
then fail in XLA's allocator (tens of terabytes requested). The bound counts what a generation
must hold at once for every member and seed: the agent's training state (parameters, optimiser
state, environment states), one rollout, and the per-update log that `train` returns, plus the
population of meta-parameters. Shapes come from `jax.eval_shape` (tracing, no compilation).
Real use is higher (activations, gradients, XLA buffers), so a refusal is certain to be right;
`RLDISCO_MEMORY_CHECK=off` skips the check.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

ENV_SWITCH = "RLDISCO_MEMORY_CHECK"
FLOAT_BYTES = 4
ROLLOUT_SCALARS = 8  # action, reward, terminated, truncated, log-prob, value, next value, done
LOG_SCALARS = 4  # curve, episodes, return sum, at least one rule metric


def tree_bytes(tree: Any) -> int:
    """Bytes of the arrays (or ShapeDtypeStructs) in `tree`."""
    return sum(math.prod(x.shape) * _itemsize(x.dtype) for x in jax.tree.leaves(tree))


def _itemsize(dtype: Any) -> int:
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return 8  # a threefry key: two uint32
    return np.dtype(dtype).itemsize


def generation_bytes(cfg: Any) -> dict[str, int]:
    """Lower bounds, in bytes, of what one generation of `cfg` (a DiscoveryConfig) holds:
    {"agents": ..., "population": ...}."""
    import envs
    from discovery.inner import make_train

    rule = cfg.rule.build()
    t = cfg.train
    made = [envs.make(name) for name in cfg.envs]
    trains = [make_train(env, rule, t) for env, _ in made]

    def shapes() -> tuple[Any, list[Any]]:  # traced only: no array is made, nothing compiles
        key = jax.random.key(0)
        meta = rule.init(key)
        return meta, [train.init(meta, params, key)
                      for train, (_, params) in zip(trains, made, strict=True)]

    meta, states = jax.eval_shape(shapes)
    agents = 0
    for (env, params), state in zip(made, states, strict=True):
        obs = math.prod(env.observation_space(params).shape) * FLOAT_BYTES
        rollout = t.num_envs * t.num_steps * (2 * obs + ROLLOUT_SCALARS * FLOAT_BYTES)
        log = t.num_updates * LOG_SCALARS * FLOAT_BYTES
        agents += tree_bytes(state) + rollout + log
    if getattr(cfg, "outer", "es") == "metagrad":  # agents live across meta-steps
        return {"agents": cfg.metagrad.num_agents * agents, "population": tree_bytes(meta)}
    members = cfg.es.population_size * cfg.seeds_per_member + getattr(cfg, "center_seeds", 0)
    return {"agents": members * agents, "population": 2 * cfg.es.population_size
            * tree_bytes(meta)}


def available_bytes() -> tuple[int, str]:
    """(bytes, what they are): accelerator memory summed over local devices, or host RAM."""
    devices = jax.local_devices()
    if devices[0].platform != "cpu":
        stats = [d.memory_stats() or {} for d in devices]
        limits = [s.get("bytes_limit") for s in stats]
        if all(limits):
            return int(sum(limits)), f"{len(devices)} {devices[0].platform} device(s)"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cgroup = Path("/sys/fs/cgroup/memory.max")
    try:
        limit = cgroup.read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total, "host memory"


def check_fits(cfg: Any) -> None:
    """ValueError if one generation of `cfg` cannot fit in this machine's memory."""
    if os.environ.get(ENV_SWITCH, "").lower() in ("off", "0", "false", "no"):
        return
    try:
        need = generation_bytes(cfg)
    except (TypeError, ValueError) as e:
        raise ValueError(f"rule.options / train: the rule or agent cannot be built: "
                         f"{str(e).splitlines()[0]}") from None
    have, where = available_bytes()
    total = sum(need.values())
    if total > have:
        raise ValueError(
            f"one generation needs at least {format_bytes(total)} (agents "
            f"{format_bytes(need['agents'])}, population {format_bytes(need['population'])}), "
            f"more than the {format_bytes(have)} of {where}: reduce es.population_size, "
            f"seeds_per_member, train.num_envs or train.total_timesteps "
            f"({ENV_SWITCH}=off skips this check)")


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PB"
