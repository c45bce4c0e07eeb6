"""LPG's own outer loop: meta-gradients through K agent updates (Oh et al. 2020; GROOVE).

A population of `num_agents` agents lives on sampled levels. Every meta-step each agent

1. takes K updates with the rule under the current meta-parameters eta (the trainer's own
   `advance`, differentiable in eta through the rule's targets and the agent's optimiser);
2. collects one more rollout with the updated agent and scores it with the policy-gradient
   objective `-mean(log pi_K(a|s) * A)`, A = GAE from a separate value critic, normalised over
   the agent's batch (the rollout is data: the gradient flows through pi_K's parameters);
3. adds LPG's regularisers of the K updates' targets (`rule.meta_regularizer`: -b0 H(pi)
   + b2 mean(pi_hat^2) - b1 H(y) + b3 mean(sum y_hat^2)).

The meta-gradient is the mean over agents of d(loss)/d(eta); Adam updates eta. The value
critic (the agent's critic architecture with a value head) is fitted on each evaluation rollout
after its advantages are taken (GROOVE meant to fit it too, but its update discarded the new
parameters, so its advantages came from a frozen random critic). The meta-critic treats every
episode end as terminal, which is exact on grid-worlds (time is observed). Agents whose
lifetime ends are replaced by fresh agents on freshly sampled levels; agents are processed in
`num_minibatches` sequential chunks to bound memory, as GROOVE's `mini_batch_vmap`.

`make_metagrad_loop` builds the loop behind `rldisco discover` with `outer=metagrad`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from discovery.inner import TrainConfig, Trainer, TrainState, make_optimizer
from discovery.networks import ActorCritic
from discovery.outer import OuterLoop
from discovery.validate import check_fields
from meta_objectives.base import UpdateRule, gae, normalize


@dataclass(frozen=True)
class MetaGradConfig:
    """Meta-gradient settings (defaults: GROOVE's meta-gradient LPG)."""

    num_agents: int = 512  # agents trained side by side (GROOVE's meta-batch)
    unroll: int = 5  # K: agent updates per meta-update
    lr: float = 1e-4  # Adam on the meta-parameters
    max_grad_norm: float | None = None  # GROOVE lists 0.5 but its Adam chain has no clip
    num_minibatches: int = 16  # agents are processed in this many sequential chunks

    def __post_init__(self) -> None:
        check_fields(self, "metagrad")
        for name in ("num_agents", "unroll", "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"metagrad.{name} must be a positive integer, got {value!r}")
        if self.num_agents % self.num_minibatches:
            raise ValueError(f"metagrad.num_minibatches ({self.num_minibatches}) must divide "
                             f"metagrad.num_agents ({self.num_agents})")
        for name in ("lr", "max_grad_norm"):
            value = getattr(self, name)
            if value is None and name == "max_grad_norm":
                continue
            if (not isinstance(value, int | float) or isinstance(value, bool)
                    or not 0 < value < float("inf")):
                raise ValueError(f"metagrad.{name} must be a finite number > 0, got {value!r}")

    def replace(self, **changes: Any) -> MetaGradConfig:
        return dataclasses.replace(self, **changes)


class Agent(NamedTuple):
    """One agent of the meta-batch (add a leading axis for the batch)."""

    train: TrainState  # the trainer's state (its `horizon` is the level's lifetime)
    env_params: Any  # the agent's level
    updates: jax.Array  # updates taken so far in this lifetime
    critic: Any  # the meta-critic's parameters
    critic_opt: Any


class MetaGradState(NamedTuple):
    """The outer loop's whole state (checkpointed as one pytree)."""

    meta_params: Any
    opt_state: Any
    agents: Agent


class MetaStepLog(NamedTuple):
    """Per meta-step outputs (leading axis = meta-steps in a chunk)."""

    meta_loss: jax.Array  # mean over agents of the regularised meta-loss
    pg_loss: jax.Array  # its policy-gradient part
    agent_return: jax.Array  # [num_agents] latest training-episode return (NaN: none yet)
    resets: jax.Array  # agents whose lifetime ended at this step
    grad_norm: jax.Array


def make_metagrad_step(rule: UpdateRule, trainer: Trainer, cfg: MetaGradConfig,
                       sample_levels: Callable[[jax.Array, int], tuple[Any, jax.Array]]):
    """`(init(meta_params, key) -> MetaGradState, step(state, key) -> (state, MetaStepLog),
    agent_loss(meta_params, agent, key) -> (loss, aux))`.

    `sample_levels(key, n) -> (env_params [n], lifetime [n])` draws levels for new agents.
    """
    tcfg: TrainConfig = trainer.config
    k_updates = cfg.unroll
    gamma = getattr(rule, "gamma", 0.99)
    critic_net: ActorCritic = trainer.network.clone(value_head=True, prediction_size=0)
    critic_tx = make_optimizer(tcfg.replace(lr=tcfg.critic_lr or tcfg.lr, critic_lr=None))
    meta_tx = optax.chain(
        *([optax.clip_by_global_norm(cfg.max_grad_norm)] if cfg.max_grad_norm else []),
        optax.adam(cfg.lr))
    regularizer = getattr(rule, "meta_regularizer", None)

    def critic_value(params, stats, obs):
        if tcfg.normalize_obs:
            obs = stats.normalize(obs)
        return critic_net.apply(params, obs, method=critic_net.value)

    def new_agent(meta_params, key, env_params, lifetime) -> Agent:
        k_train, k_critic = jax.random.split(key)
        train = trainer.init(meta_params, env_params, jax.random.key_data(k_train), lifetime)
        critic = critic_net.init(k_critic, train.obs)
        return Agent(train, env_params, jnp.int32(0), critic, critic_tx.init(critic))

    def new_agents(meta_params, key, n) -> Agent:
        k_levels, k_agents = jax.random.split(key)
        env_params, lifetime = sample_levels(k_levels, n)
        return jax.vmap(new_agent, in_axes=(None, 0, 0, 0))(
            meta_params, jax.random.split(k_agents, n), env_params, lifetime)

    def agent_loss(meta_params, agent: Agent, key):
        """The meta-loss of one agent after K updates under `meta_params`, and the agent
        (updated, its envs continued past the evaluation rollout, its critic fitted)."""
        train, log = trainer.advance(meta_params, agent.env_params, agent.train, agent.updates,
                                     k_updates)
        rollout, env_state, last_obs, _ = trainer.collect(
            train.params, train.obs_stats, train.env_state, train.obs, agent.env_params, key,
            tcfg.num_steps)
        rollout = jax.lax.stop_gradient(rollout)
        value = critic_value(agent.critic, train.obs_stats, rollout.obs)
        last_value = critic_value(agent.critic, train.obs_stats, last_obs)
        next_value = jnp.concatenate([value[1:], last_value[None]])
        rollout = rollout._replace(value=value,
                                   next_value=jnp.where(rollout.done, 0.0, next_value))
        advantage, target = jax.lax.stop_gradient(gae(rollout, gamma, 0.95))
        log_prob = trainer.forward(train.params, train.obs_stats,
                                   rollout.obs).policy.log_prob(rollout.action)
        pg_loss = -jnp.mean(log_prob * normalize(advantage))
        metrics = jax.tree.map(jnp.mean, log.metrics)
        reg = regularizer(metrics) if regularizer is not None else 0.0

        def critic_loss(params):
            return jnp.mean(jnp.square(target - critic_value(params, train.obs_stats,
                                                              rollout.obs)))

        grads = jax.grad(critic_loss)(agent.critic)
        updates, critic_opt = critic_tx.update(grads, agent.critic_opt, agent.critic)
        train = train._replace(env_state=env_state, obs=last_obs)
        agent = agent._replace(train=jax.lax.stop_gradient(train),
                               updates=agent.updates + k_updates,
                               critic=optax.apply_updates(agent.critic, updates),
                               critic_opt=critic_opt)
        return pg_loss + reg, (agent, pg_loss)

    grad_fn = jax.value_and_grad(agent_loss, has_aux=True)

    def init(meta_params, key) -> MetaGradState:
        return MetaGradState(meta_params, meta_tx.init(meta_params),
                             new_agents(meta_params, key, cfg.num_agents))

    def step(state: MetaGradState, key) -> tuple[MetaGradState, MetaStepLog]:
        k_eval, k_reset = jax.random.split(key)
        chunks = cfg.num_minibatches
        batch = jax.tree.map(lambda x: x.reshape(chunks, -1, *x.shape[1:]), state.agents)
        keys = jax.random.split(k_eval, cfg.num_agents).reshape(chunks, -1)

        def one_chunk(grad_sum, xs):
            agents, ks = xs
            (loss, (agents, pg)), grads = jax.vmap(grad_fn, in_axes=(None, 0, 0))(
                state.meta_params, agents, ks)
            grad_sum = jax.tree.map(lambda a, g: a + g.sum(0), grad_sum, grads)
            return grad_sum, (agents, loss, pg)

        zero = jax.tree.map(jnp.zeros_like, state.meta_params)
        grad_sum, (agents, loss, pg) = jax.lax.scan(one_chunk, zero, (batch, keys))
        grads = jax.tree.map(lambda g: g / cfg.num_agents, grad_sum)
        updates, opt_state = meta_tx.update(grads, state.opt_state, state.meta_params)
        meta_params = optax.apply_updates(state.meta_params, updates)
        agents = jax.tree.map(lambda x: x.reshape(cfg.num_agents, *x.shape[2:]), agents)
        log = MetaStepLog(meta_loss=loss.mean(), pg_loss=pg.mean(),
                          agent_return=agents.train.last_return,
                          resets=jnp.sum(agents.updates >= agents.train.horizon),
                          grad_norm=optax.global_norm(grads))
        ended = agents.updates >= agents.train.horizon
        fresh = new_agents(meta_params, k_reset, cfg.num_agents)
        agents = jax.tree.map(
            lambda new, old: jnp.where(ended.reshape(-1, *([1] * (old.ndim - 1))), new, old),
            fresh, agents)
        return MetaGradState(meta_params, opt_state, agents), log

    return init, step, agent_loss


def make_metagrad_loop(rule: UpdateRule, trainer: Trainer, cfg: MetaGradConfig,
                       sample_levels: Callable[[jax.Array, int], tuple[Any, jax.Array]],
                       template: Any, k_init: jax.Array, k_gen: jax.Array,
                       score_params: Callable[[Any, jax.Array], jax.Array] | None,
                       steps_per_step: int) -> OuterLoop:
    """The meta-gradient outer loop as `run_discovery` drives it (`discovery.outer`).

    Rows: the meta-loss and its policy-gradient part, the meta-gradient's norm, the agents'
    latest training returns (`fitness`: one per agent, NaN before an agent's first episode),
    how many agents reached the end of their lifetime. `score_params(meta_params, key)` scores
    meta-parameters on fresh levels (run at chunk ends and at the end of the run).
    """
    init, step, _ = make_metagrad_step(rule, trainer, cfg, sample_levels)

    def chunk(state, start, length):
        steps = start + jnp.arange(length)
        return jax.lax.scan(lambda s, g: step(s, jax.random.fold_in(k_gen, g)), state, steps)

    def records(start: int, log: MetaStepLog) -> list[dict[str, Any]]:
        rows = []
        for i in range(len(log.meta_loss)):
            ret = np.asarray(log.agent_return[i], dtype=float)
            seen = np.isfinite(ret)
            rows.append({
                "generation": start + i, "meta_loss": float(log.meta_loss[i]),
                "pg_loss": float(log.pg_loss[i]), "grad_norm": float(log.grad_norm[i]),
                "resets": int(log.resets[i]),
                "fitness_mean": float(np.mean(ret[seen])) if seen.any() else None,
                "fitness_best": float(np.max(ret[seen])) if seen.any() else None,
                "fitness_std": float(np.std(ret[seen])) if seen.any() else None,
                "nonfinite": int(np.sum(~seen)), "fitness": ret.tolist(),
                "center_fitness": None, "env_steps": (start + i + 1) * steps_per_step,
                "time": time.time()})
        return rows

    scorer = None if score_params is None else jax.jit(score_params)

    def score(meta_params: Any, g: int) -> float | None:
        if scorer is None:
            return None
        return float(scorer(meta_params, jax.random.fold_in(jax.random.fold_in(k_gen, g), 7)))

    return OuterLoop(init=lambda: init(template, k_init), chunk=jax.jit(chunk, static_argnums=2),
                     meta_params=lambda state: state.meta_params, records=records,
                     score=score, label="meta-step")
