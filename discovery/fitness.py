"""Fitness of a population: train fresh agents with each member's rule and score them.

On named environments the score is the final return normalised per environment,

    normalised = (R - R_random) / (R_ppo - R_random)

so PPO (with the same inner-loop settings and the rule's shared hyperparameters) scores 1 and a
uniform-random policy 0. The two baselines are computed once per run and stored in the run
directory; `check_baseline` refuses a pair where PPO is not clearly better than random (the
normaliser would then flip sign or blow up its noise), so the normaliser is always strictly
increasing in R. On sampled grid-world levels the score is R / max(R_opt, 0.1) with R_opt the
level's exact optimum (tabular levels), or R itself.

Every evaluation also scores the ES mean (`center`) with `center_seeds` runs, vmapped in the
same call as the population (one more member per seed) and with the same keys (common random
numbers): the population trains with seeds 0..S-1, the centre with seeds 0..C-1 (on levels, the
centre's run i uses pair i's level).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import envs
from discovery.inner import TrainConfig, fitness_measure, make_train
from environment_design import (
    PLR,
    SampleKind,
    WorstCaseSearch,
    WorstCaseSet,
    algorithmic_regret,
    buffer_stats,
    random_scores,
    worst_case_return,
)
from envs.params import Level
from envs.rollout import completed_episode_return, random_policy, reset_batch, unroll
from envs.wrappers import EpisodeStats
from meta_objectives import PPO
from meta_objectives.base import UpdateRule
from meta_objectives.ppo import PolicyObjectiveRule

OPTIMUM_FLOOR = 0.1  # level scores are R / max(R_opt, 0.1)
# PPO must beat random by this fraction of the larger |return| (and by MIN_SPAN at least).
MIN_RELATIVE_SPAN = 0.05
MIN_SPAN = 1e-3


class BaselineError(ValueError):
    """PPO is not clearly better than a random policy on a training environment."""


def random_policy_return(env: Any, env_params: Any, key: jax.Array, num_envs: int = 64,
                         max_steps: int = 2000) -> jax.Array:
    """Mean return of episodes that a uniform-random policy completes within `max_steps`."""
    wrapped = EpisodeStats(env)
    k_reset, k_run = jax.random.split(key)
    obs, state = reset_batch(wrapped, env_params, k_reset, num_envs)
    policy = random_policy(env.action_space(env_params))
    _, _, (returns, dones) = unroll(
        wrapped, env_params, policy, state, obs, k_run, max_steps,
        keep=lambda t: (t.info["episode_return"], t.info["episode_done"]))
    return completed_episode_return(returns, dones)


def reference_ppo(rule: UpdateRule) -> PPO:
    """PPO with the rule's shared actor-critic hyperparameters (gamma, lambda, entropy, value
    coefficients), so the normaliser differs from the rule in the objective alone."""
    if not isinstance(rule, PolicyObjectiveRule):
        return PPO()
    shared = {name: getattr(rule, name) for name in ("gamma", "gae_lambda", "ent_coef",
                                                      "vf_coef", "value_clip_eps",
                                                      "normalize_advantages")}
    clip = getattr(rule, "clip_eps", None)
    return PPO(**shared, **({"clip_eps": clip} if clip is not None else {}))


def check_baseline(env_name: str, baseline: dict) -> None:
    """Refuse a baseline pair where PPO is not clearly better than random (see module doc)."""
    r_ppo, r_rand = float(baseline["ppo"]), float(baseline["random"])
    need = max(MIN_SPAN, MIN_RELATIVE_SPAN * max(abs(r_ppo), abs(r_rand)))
    if not (math.isfinite(r_ppo) and math.isfinite(r_rand)) or r_ppo - r_rand < need:
        effect = ("would flip sign, so ES would minimise the return there" if r_ppo < r_rand
                  else "would divide by a span within noise and blow up that environment's "
                  "weight in the fitness")
        raise BaselineError(
            f"baselines: on {env_name} PPO's final return {r_ppo:.4g} is not clearly above a "
            f"uniform-random policy's {r_rand:.4g} (it must be at least {need:.3g} higher); "
            f"the normalised fitness (R - R_random) / (R_PPO - R_random) {effect}. Give the "
            f"inner loop a budget on which PPO learns {env_name} (train.total_timesteps, "
            "train.lr, ...), drop it from envs, or score raw returns (levels.fitness=raw)")


def compute_baselines(env_names: tuple[str, ...], cfg: TrainConfig, key: jax.Array,
                      seeds: int = 4, log: Callable[[str], None] = print,
                      reference: UpdateRule | None = None) -> dict[str, dict]:
    """{env: {"random": R_random, "ppo": R_ppo}} with PPO trained by the same inner loop.

    Raises `BaselineError` if PPO is not clearly better than random on an environment.
    """
    reference = PPO() if reference is None else reference
    out = {}
    for i, name in enumerate(env_names):
        env, params = envs.make(name)
        k_rand, k_ppo = jax.random.split(jax.random.fold_in(key, i))
        r_rand = float(jax.jit(random_policy_return, static_argnums=0)(env, params, k_rand))
        train = jax.jit(jax.vmap(make_train(env, reference, cfg), in_axes=(None, None, 0)))
        r_ppo = float(np.mean(train({}, params, jax.random.split(k_ppo, seeds)).final_return))
        out[name] = {"random": r_rand, "ppo": r_ppo}
        log(f"baseline {name}: random {r_rand:.4g}, PPO {r_ppo:.4g} ({seeds} seeds)")
        check_baseline(name, out[name])
    return out


def normalize_return(ret: jax.Array, baseline: dict) -> jax.Array:
    """(R - R_random) / (R_ppo - R_random); the span is positive (`check_baseline`)."""
    span = float(baseline["ppo"]) - float(baseline["random"])
    if not span > 0:
        raise BaselineError(f"normalize_return: R_ppo - R_random must be > 0, got {span}")
    return (ret - baseline["random"]) / span


def seed_keys(key: jax.Array, n: int) -> jax.Array:
    """Agent seed i trains with `fold_in(key, i)`, whatever the number of seeds."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))


def _batch_sharding(mesh: Mesh | None):
    """Constrain the flat run axis to the mesh's `pop` axis (a no-op without a mesh)."""
    if mesh is None:
        return lambda tree: tree
    shard = NamedSharding(mesh, P("pop"))
    return lambda tree: jax.lax.with_sharding_constraint(tree, shard)


def _gather(mesh: Mesh | None):
    """Replicate per-run results on every device before any reduction over runs (seed means,
    the centre's mean, per-level means), so each reduction runs whole, in one order, whatever
    the number of devices (a no-op without a mesh)."""
    if mesh is None:
        return lambda tree: tree
    replicated = NamedSharding(mesh, P())
    return lambda tree: jax.lax.with_sharding_constraint(tree, replicated)


def _runs(population: Any | None, center: Any, seeds: int, center_seeds: int, devices: int):
    """Flatten (member, seed) and (centre, seed) runs into one batch, padded to a multiple of
    `devices` with extra centre copies: (meta_params [R], seed index [R], member index [R]
    (-1 for the centre), number of member runs). `population=None` scores the centre alone."""
    size = 0 if population is None else jax.tree.leaves(population)[0].shape[0]
    n_members = size * seeds
    padded = -(-(n_members + center_seeds) // devices) * devices
    extra = padded - n_members
    meta = jax.tree.map(lambda c: jnp.broadcast_to(c, (extra, *jnp.shape(c))), center)
    if population is not None:
        members = jax.tree.map(lambda x: jnp.repeat(x, seeds, axis=0), population)
        meta = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), members, meta)
    seed = jnp.concatenate([jnp.tile(jnp.arange(seeds), size),
                            jnp.arange(extra) % max(center_seeds, 1)])
    member = jnp.concatenate([jnp.repeat(jnp.arange(size), seeds), jnp.full(extra, -1)])
    return meta, seed, member, n_members


def _split(values: jax.Array, size: int, seeds: int, center_seeds: int, n_members: int):
    """Per-member means [P, ...] and the centre's mean over its seeds (NaN without a centre)."""
    per_member = values[:n_members].reshape(size, seeds, *values.shape[1:]).mean(axis=1)
    if center_seeds:
        center = values[n_members:n_members + center_seeds].mean(axis=0)
    else:
        center = jnp.full(values.shape[1:], jnp.nan, values.dtype)
    return per_member, center


@dataclass(frozen=True)
class Fitness:
    """A population's fitness in evosax's `Problem` shape, with level-source state:

    init(key) -> S
    eval(population, center, S, key) -> (fitness [P], center_fitness, S, info)

    `population=None` scores the centre alone. `S` is the level source's state (`{}` for fixed
    environments); the outer loop carries it through its scan and checkpoints it. `info` holds
    "normalized" / "returns" [P, E] and "center_normalized" / "center_returns" [E], and for
    level sources the batch's level features, replay flag and the buffer's statistics.
    """

    init: Callable[[jax.Array], dict]
    eval: Callable[..., tuple[jax.Array, jax.Array, dict, dict]]


def make_evaluate(rule: UpdateRule, env_names: tuple[str, ...], cfg: TrainConfig,
                  baselines: dict[str, dict], seeds_per_member: int = 1, center_seeds: int = 0,
                  mesh: Mesh | None = None) -> Fitness:
    """Fitness on fixed named environments (each with its own compiled trainer).

    Returns are normalised by `baselines` (`{env: {"random", "ppo"}}`; raw where an env has
    none). All members share the generation's training keys (common random numbers), which
    removes the agent-seed noise from the comparison between members; a centre scored alone
    with the same key gets the value it gets in the population's call.
    """
    devices = 1 if mesh is None else mesh.devices.size
    constrain, gather = _batch_sharding(mesh), _gather(mesh)
    tasks = []
    for name in env_names:
        env, params = envs.make(name)
        train = jax.vmap(make_train(env, rule, cfg), in_axes=(0, None, 0))
        tasks.append((name, params, train))

    def evaluate(population: Any | None, center: Any, state: dict, key: jax.Array):
        size = 0 if population is None else jax.tree.leaves(population)[0].shape[0]
        keys = seed_keys(key, max(seeds_per_member, center_seeds, 1))
        meta, seed, _, n_members = _runs(population, center, seeds_per_member, center_seeds,
                                         devices)
        meta, run_keys = constrain((meta, keys[seed]))
        returns, normalized, c_returns, c_normalized = [], [], [], []
        for name, params, train in tasks:
            ret = train(meta, params, run_keys).final_return
            norm = normalize_return(ret, baselines[name]) if name in baselines else ret
            ret, norm = gather((ret, norm))
            for values, member_out, center_out in ((ret, returns, c_returns),
                                                   (norm, normalized, c_normalized)):
                m, c = _split(values, size, seeds_per_member, center_seeds, n_members)
                member_out.append(m)
                center_out.append(c)
        normalized = jnp.stack(normalized, 1)
        c_normalized = jnp.stack(c_normalized)
        info = {"normalized": normalized, "returns": jnp.stack(returns, 1),
                "center_normalized": c_normalized, "center_returns": jnp.stack(c_returns)}
        return normalized.mean(axis=1), c_normalized.mean(), state, info

    return Fitness(init=lambda key: {}, eval=evaluate)


def make_level_evaluate(rule: UpdateRule, env_name: str, cfg: TrainConfig, source: Any,
                        antithetic: bool, seeds_per_member: int = 1, center_seeds: int = 0,
                        mesh: Mesh | None = None, normalize: bool = True,
                        reference: UpdateRule | None = None,
                        features: Callable[[Level], dict[str, jax.Array]] | None = None
                        ) -> Fitness:
    """Fitness on levels drawn from a level source (sampled levels, PLR, ACCEL).

    Every generation the source hands out one level per antithetic pair (both members train on
    it; GROOVE) or per member, each with its own agent lifetime N (the trainer masks updates
    past it); the centre's run i trains on level i. With `normalize`, returns are divided by
    the level's exact optimum where the env family has one (tabular grid-worlds; at least 0.1).

    With a curriculum (PLR / ACCEL), each level is scored by GROOVE's algorithmic regret: the
    `reference` rule's return on the level (A2C for LPG, PPO for LPO; trained once, when the
    level is new, and kept in the buffer: replays reuse it) minus the mean return of the
    members that trained on it. Without a `reference`, levels are scored uniformly at random.
    """
    env, _ = envs.make(env_name)
    optimum = envs.family(env_name).optimum(env) if normalize else None
    devices = 1 if mesh is None else mesh.devices.size
    constrain, gather = _batch_sharding(mesh), _gather(mesh)
    train = jax.vmap(make_train(env, rule, cfg), in_axes=(0, 0, 0, 0))
    curriculum = isinstance(source, PLR)
    ref_train = None
    if curriculum and reference is not None:
        ref_cfg = cfg.replace(fitness_measure=fitness_measure(rule, cfg))
        ref_train = jax.vmap(make_train(env, reference, ref_cfg), in_axes=(None, 0, 0, 0))

    def score(ret: jax.Array, params: Any) -> jax.Array:
        if optimum is None:
            return ret
        return ret / jnp.maximum(optimum(params), OPTIMUM_FLOOR)

    def level_scores(state, levels, learned, key):
        """GROOVE's regret (or random scores) of the batch and the reference returns."""
        k_ref, k_random = jax.random.split(key)
        n = learned.shape[0]
        if ref_train is None:
            return random_scores(k_random, n), {}
        stored = source.sampled_extras(state, n)["reference_return"]

        def fresh(_):
            ret = ref_train({}, levels.params, seed_keys(k_ref, n), levels.lifetime)
            return score(ret.final_return, levels.params)

        replayed = state["last"]["kind"] == SampleKind.REPLAY
        ref = jax.lax.cond(replayed, lambda _: stored, fresh, None)
        return algorithmic_regret(ref, learned), {"reference_return": ref}

    def evaluate(population: Any | None, center: Any, state: dict, key: jax.Array):
        size = 0 if population is None else jax.tree.leaves(population)[0].shape[0]
        n_levels = (size // 2 if antithetic else size) or max(center_seeds, 1)
        k_sample, k_train, k_score, k_update = jax.random.split(key, 4)
        if population is None:  # the centre alone: fresh levels, the buffer left untouched
            levels = source.generator(k_sample, n_levels) if curriculum else \
                source.sample(state, k_sample, n_levels)[1]
        else:
            state, levels = source.sample(state, k_sample, n_levels)
        member_level = jnp.arange(size) % n_levels  # evosax pairs member i with i + P/2
        keys = seed_keys(k_train, max(seeds_per_member, center_seeds, 1))
        meta, seed, member, n_members = _runs(population, center, seeds_per_member,
                                              center_seeds, devices)
        centre_level = jnp.arange(member.shape[0] - n_members) % n_levels
        level = jnp.concatenate([member_level[member[:n_members]], centre_level])
        params = jax.tree.map(lambda x: x[level], levels.params)
        meta, params, run_keys, lifetime = constrain((meta, params, keys[seed],
                                                      levels.lifetime[level]))
        ret = train(meta, params, run_keys, lifetime).final_return
        ret, norm = gather((ret, score(ret, params)))
        m_ret, c_ret = _split(ret, size, seeds_per_member, center_seeds, n_members)
        m_norm, c_norm = _split(norm, size, seeds_per_member, center_seeds, n_members)
        info = {"normalized": m_norm[:, None], "returns": m_ret[:, None],
                "center_normalized": c_norm[None], "center_returns": c_ret[None],
                "lifetime": levels.lifetime[member_level]}
        if features is not None:
            info["levels"] = jax.tree.map(jnp.mean, features(levels))
        if population is not None and curriculum:
            learned = jax.ops.segment_sum(m_norm, member_level, n_levels) / jnp.maximum(
                jax.ops.segment_sum(jnp.ones(size), member_level, n_levels), 1)
            scores, extras = level_scores(state, levels, learned, k_score)
            state = source.update(state, k_update, levels, scores, extras)
            info["replayed"] = state["last"]["kind"] == SampleKind.REPLAY
            info["level_score"] = jnp.mean(scores)
            info["buffer"] = buffer_stats(state, features)
        return m_norm, c_norm, state, info

    return Fitness(init=source.init, eval=evaluate)


def make_robust_evaluate(rule: UpdateRule, env_name: str, cfg: TrainConfig, levels: Any,
                         seeds_per_member: int = 1, center_seeds: int = 1,
                         mesh: Mesh | None = None) -> Fitness:
    """Robust fitness: IWOCS's growing worst-case set of dynamics inside the outer loop.

    `levels` is a `LevelsConfig` of kind iwocs. The state holds the set (the nominal model
    first; `environment_design.WorstCaseSet`) and the generation count. Every generation each
    agent trains on models drawn from the set, one per environment, the worst models weighted
    up by the ES mean's last returns on them (agent seed i draws the same models for every
    member: common random numbers); then its final policy plays fresh episodes on every model
    of the set (the same episodes for every agent), and a member's fitness is the worst case
    over the models of its agents' mean return: the minimum, or the CVaR of `cvar_alpha`.
    Every `search_every` generations (from the first), CMA-ES searches the uncertainty set for
    the worst case of the ES mean's first agent and adds it to the set. Fitness is the raw
    return (the set has no normaliser); `center_seeds` must be >= 1 (the search needs the ES
    mean's agent). `info` adds the members' mean return on every model ("model_returns",
    [P, K]; slots past the set's size are not models yet: "valid_models" [K]) and the
    per-generation "iwocs" metrics.
    """
    from environment_design.spaces import make_space

    if center_seeds < 1:
        raise ValueError("levels.kind iwocs needs center_seeds >= 1: the worst-case search "
                         "runs against the ES mean's agents")
    uset = make_space(levels.space)
    if uset.spec.env != env_name:
        raise ValueError(f"levels.space {levels.space} is a set over {uset.spec.env}, not "
                         f"{env_name}")
    env, _ = envs.make(env_name)
    worst_set = WorstCaseSet(uset, levels.set_size, cfg.num_updates)
    search = WorstCaseSearch(uset.dim, levels.search_population, levels.search_generations)
    alpha = levels.cvar_alpha if levels.worst_case == "cvar" else None
    devices = 1 if mesh is None else mesh.devices.size
    constrain, gather = _batch_sharding(mesh), _gather(mesh)
    train = jax.vmap(make_train(env, rule, cfg, per_env_params=True).train, in_axes=(0, 0, 0))
    plain = make_train(env, rule, cfg)
    on_models = jax.vmap(jax.vmap(plain.evaluate, in_axes=(None, None, 0, 0)),
                         in_axes=(0, 0, None, None))  # [R agents, K models]

    def init(key: jax.Array) -> dict:
        return {"set": worst_set.init(key), "generation": jnp.int32(0)}

    def evaluate(population: Any | None, center: Any, state: dict, key: jax.Array):
        size = 0 if population is None else jax.tree.leaves(population)[0].shape[0]
        k_models, k_train, k_eval, k_search, k_search_eval = jax.random.split(key, 5)
        models_state = state["set"]
        n_seeds = max(seeds_per_member, center_seeds, 1)
        draw = lambda k: worst_set.sample(models_state, k, cfg.num_envs)[1].params  # noqa: E731
        seed_models = jax.vmap(draw)(seed_keys(k_models, n_seeds))
        meta, seed, _, n_members = _runs(population, center, seeds_per_member, center_seeds,
                                         devices)
        params = jax.tree.map(lambda x: x[seed], seed_models)
        meta, params, run_keys = constrain((meta, params, seed_keys(k_train, n_seeds)[seed]))
        result = train(meta, params, run_keys)
        models = worst_set.models(models_state)
        model_keys = jax.random.split(k_eval, worst_set.capacity)
        returns = gather(on_models(result.agent_params, result.obs_stats, models, model_keys))
        m_ret, c_ret = _split(returns, size, seeds_per_member, center_seeds, n_members)
        valid = jnp.arange(worst_set.capacity) < models_state["count"]
        m_fit = worst_case_return(m_ret, valid, alpha)
        c_fit = worst_case_return(c_ret, valid, alpha)
        info = {"normalized": m_fit[:, None], "returns": m_fit[:, None],
                "center_normalized": c_fit[None], "center_returns": c_fit[None],
                "model_returns": m_ret, "valid_models": valid}
        if population is None:
            return m_fit, c_fit, state, info

        models_state = worst_set.reweight(models_state, c_ret)
        agent = gather(jax.tree.map(lambda x: x[n_members],
                                    (result.agent_params, result.obs_stats)))
        set_worst = worst_case_return(c_ret, valid)

        def search_and_add(s):
            found = search.run(lambda p, k: plain.evaluate(*agent, p, k), uset, k_search,
                               k_search_eval)
            s = worst_set.add(s, found.unit)
            s = worst_set.record(s, jnp.minimum(set_worst, found.score), found.score)
            return s, found.score, found.values

        def keep(s):
            return s, jnp.float32(jnp.nan), jnp.full((uset.dim,), jnp.nan, jnp.float32)

        searching = state["generation"] % levels.search_every == 0
        models_state, found, point = jax.lax.cond(searching, search_and_add, keep,
                                                  models_state)
        info["iwocs"] = {"models": models_state["count"].astype(jnp.float32),
                         "set_worst": set_worst, "search_worst": found,
                         "estimate": models_state["estimate"], "nominal": c_ret[0],
                         **{f"worst_{d.target.replace(':', '_')}": point[i]
                            for i, d in enumerate(uset.spec.dims)}}
        return m_fit, c_fit, {"set": models_state, "generation": state["generation"] + 1}, info

    return Fitness(init=init, eval=evaluate)
