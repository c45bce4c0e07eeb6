"""The inner loop: train one agent with an UpdateRule, end to end in one jittable function.

`make_train(env, rule, cfg)` returns `train(meta_params, env_params, key, num_updates=None)`.
It is pure: vmap it over seeds (keys), over a population (meta_params) or over levels
(env_params, with per-level `num_updates`), and jit the result. Updates past a level's own
horizon are masked, so levels with different lifetimes share one vmap and the rule sees
n / N relative to its own level.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from gymnax.environments import spaces

from discovery.networks import ActorCritic, ObsStats
from discovery.validate import check_fields
from envs.wrappers import ClipAction, EpisodeStats
from meta_objectives.base import Progress, Rollout, UpdateRule


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the inner loop (the rule's own ones live in the rule).

    Defaults are purejaxrl's CartPole-v1 PPO configuration.
    """

    num_envs: int = 4
    num_steps: int = 128
    total_timesteps: int = 500_000
    update_epochs: int = 4
    num_minibatches: int = 4
    lr: float = 2.5e-4
    critic_lr: float | None = None  # the critic side's lr (torso, value and y heads); None: lr
    anneal_lr: bool = True
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    optimizer: str = "adam"  # or "sgd" (GROOVE's tabular agents: plain SGD with a large lr)
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    conv: bool = False  # MinAtar-style conv torso
    normalize_obs: bool = False  # running obs normalisation, kept in the agent (ObsStats)
    bootstrap_truncated: bool = True  # bootstrap from the final obs on time-limit truncation
    final_window: float = 0.1  # fraction of the horizon the final return is averaged over

    def __post_init__(self) -> None:
        check_fields(self, "TrainConfig")
        for name in ("num_envs", "num_steps", "total_timesteps", "update_epochs",
                     "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        positive = ("lr", "max_grad_norm", "adam_eps", "critic_lr")
        bad = [n for n in positive if getattr(self, n) is not None and getattr(self, n) <= 0]
        if bad:
            raise ValueError(f"TrainConfig.{bad[0]} must be > 0, got {getattr(self, bad[0])}")
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(f"TrainConfig.num_minibatches ({self.num_minibatches}) must divide "
                             f"num_envs * num_steps ({self.num_envs * self.num_steps})")
        if self.total_timesteps < self.num_envs * self.num_steps:
            raise ValueError("TrainConfig.total_timesteps must be at least num_envs * num_steps "
                             f"({self.num_envs * self.num_steps}), got {self.total_timesteps}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"TrainConfig.optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.activation not in ("tanh", "relu", "gelu"):
            raise ValueError(f"TrainConfig.activation must be tanh, relu or gelu, got "
                             f"{self.activation!r}")
        if not 0.0 < self.final_window <= 1.0:
            raise ValueError(f"TrainConfig.final_window must be in (0, 1], got "
                             f"{self.final_window}")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"TrainConfig.hidden sizes must be positive, got {list(self.hidden)}")

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // (self.num_envs * self.num_steps)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.num_steps

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


class TrainResult(NamedTuple):
    """What one training run returns (add leading axes for every vmap)."""

    final_return: jax.Array  # mean episode return over the last `final_window` of the horizon
    curve: jax.Array  # [num_updates] mean return of episodes ended in each update (carried)
    episodes: jax.Array  # [num_updates] number of episodes ended in each update
    metrics: dict[str, jax.Array]  # [num_updates] per-update means of the rule's metrics
    agent_params: Any
    obs_stats: ObsStats  # the agent's observation normaliser (identity if not normalize_obs)


class TrainState(NamedTuple):
    """The carry of the update loop (one agent)."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    obs_stats: ObsStats
    last_return: jax.Array  # mean return of the latest update that ended an episode
    horizon: jax.Array  # N, this run's number of updates
    key: jax.Array


class UpdateLog(NamedTuple):
    """Per-update outputs of `advance` (leading axis = updates)."""

    curve: jax.Array
    episodes: jax.Array
    return_sum: jax.Array
    metrics: dict[str, jax.Array]


def make_network(env: Any, env_params: Any, rule: UpdateRule, cfg: TrainConfig) -> ActorCritic:
    """The agent network a rule needs for an environment."""
    action_space = env.action_space(env_params)
    obs_shape = env.observation_space(env_params).shape
    continuous = not isinstance(action_space, spaces.Discrete)
    return ActorCritic(
        action_dim=int(action_space.shape[0]) if continuous else int(action_space.n),
        continuous=continuous, hidden=cfg.hidden, activation=cfg.activation, conv=cfg.conv,
        value_head=rule.needs_value, prediction_size=rule.prediction_size,
        obs_ndim=len(obs_shape))


def wrap_env(env: Any, env_params: Any, cfg: TrainConfig) -> Any:
    """Episode statistics always; action clipping for continuous actions."""
    if not isinstance(env.action_space(env_params), spaces.Discrete):
        env = ClipAction(env)
    return EpisodeStats(env)


def agent_forward(net: ActorCritic, cfg: TrainConfig):
    """`forward(params, obs_stats, obs, method=None)`: the agent with its obs normaliser."""

    def forward(params, stats: ObsStats, obs, method=None):
        if cfg.normalize_obs:
            obs = stats.normalize(obs)
        return net.apply(params, obs) if method is None else net.apply(params, obs,
                                                                         method=method)

    return forward


CRITIC_MODULES = ("critic_torso", "value_out", "prediction_out")


def _is_critic(path: tuple) -> bool:
    return any(getattr(k, "key", None) in CRITIC_MODULES for k in path)


def _critic_scale(cfg: TrainConfig) -> tuple[optax.GradientTransformation, ...]:
    """Scale the critic's updates by critic_lr / lr (exact for SGD and Adam alike, since both
    updates are proportional to the lr; annealing keeps the ratio)."""
    if cfg.critic_lr is None or cfg.critic_lr == cfg.lr:
        return ()
    mask = partial(jax.tree_util.tree_map_with_path, lambda path, _: _is_critic(path))
    return (optax.masked(optax.scale(cfg.critic_lr / cfg.lr), mask),)


def make_collect(env: Any, net: ActorCritic, rule: UpdateRule, cfg: TrainConfig):
    """`collect(params, obs_stats, env_state, obs, env_params, key, num_steps, keep_states=False)
    -> (Rollout, env_state, last_obs, extras)`: the agent acts (sampled actions) for `num_steps`
    steps in the (wrapped, auto-resetting) envs of `env_state` / `obs` ([B, ...]).

    `extras` holds the per-step `episode_return` and `episode_done` ([T, B]) and, with
    `keep_states`, the env state at every s_t (`env_state`, leading axis T). `num_steps` and
    `keep_states` are static.
    """
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    forward = agent_forward(net, cfg)

    def collect(params: Any, stats: ObsStats, env_state: Any, obs: jax.Array, env_params: Any,
                key: jax.Array, num_steps: int, keep_states: bool = False):
        num_envs = obs.shape[0]

        def rollout_step(carry, k):
            env_state, obs = carry
            k_act, k_env = jax.random.split(k)
            out = forward(params, stats, obs)
            action = out.policy.sample(k_act)
            next_obs, next_state, reward, term, trunc, info = step(
                jax.random.split(k_env, num_envs), env_state, action, env_params)
            value = out.value if out.value is not None else jnp.zeros_like(reward)
            pred = (out.prediction if out.prediction is not None
                    else jnp.zeros(reward.shape + (0,)))
            data = (obs, action, reward.astype(jnp.float32), term, trunc,
                    out.policy.log_prob(action), value, pred, info["final_observation"],
                    {"episode_return": info["episode_return"],
                     "episode_done": info["episode_done"],
                     **({"env_state": env_state} if keep_states else {})})
            return (next_state, next_obs), data

        (env_state, last_obs), data = jax.lax.scan(
            rollout_step, (env_state, obs), jax.random.split(key, num_steps))
        obs, action, reward, term, trunc, logp, value, pred, final_obs, extras = data
        last = forward(params, stats, last_obs)
        last_value = last.value if last.value is not None else jnp.zeros_like(value[0])
        next_value = jnp.concatenate([value[1:], last_value[None]])
        if rule.needs_value:
            if cfg.bootstrap_truncated:
                final_value = forward(params, stats, final_obs, net.value)
                next_value = jnp.where(trunc, final_value, next_value)
            else:
                next_value = jnp.where(trunc, 0.0, next_value)
        last_pred = last.prediction if last.prediction is not None else pred[0]
        next_pred = jnp.concatenate([pred[1:], last_pred[None]])
        rollout = Rollout(obs, action, reward, term, trunc, logp, value, next_value, pred,
                          next_pred)
        return rollout, env_state, last_obs, extras

    return collect


def make_train(env: Any, rule: UpdateRule, cfg: TrainConfig, env_params: Any = None):
    """Build `train(meta_params, env_params, key, num_updates=None) -> TrainResult`.

    `env_params` here is only a template for the spaces (default: `env.default_params`).
    `num_updates` (a traced int <= cfg.num_updates) sets this run's horizon N.
    The returned function also carries its pieces: `train.init`, `train.advance` (a chunk of
    updates) and `train.finish`, for callers that show progress between chunks, and
    `train.collect` (one rollout of the agent, see `make_collect`).
    """
    template = env.default_params if env_params is None else env_params
    net = make_network(env, template, rule, cfg)
    env = wrap_env(env, template, cfg)
    max_updates = cfg.num_updates
    batch_size = cfg.steps_per_update
    minibatch_size = batch_size // cfg.num_minibatches
    inner = (optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr, eps=cfg.adam_eps)
             if cfg.optimizer == "adam" else optax.inject_hyperparams(optax.sgd)(cfg.lr))
    tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), inner,
                     *_critic_scale(cfg))  # inner stays at index 1 (lr annealing below)
    reset = jax.vmap(env.reset, in_axes=(0, None))
    forward = agent_forward(net, cfg)
    rollout_fn = make_collect(env, net, rule, cfg)

    def collect(state: TrainState, env_params: Any, k: jax.Array):
        return rollout_fn(state.params, state.obs_stats, state.env_state, state.obs, env_params,
                          k, cfg.num_steps)

    def init(meta_params: Any, env_params: Any, key: jax.Array,
             num_updates: jax.Array | int | None = None) -> TrainState:
        """A fresh agent and environment; `num_updates` sets this run's horizon N."""
        horizon = jnp.asarray(max_updates if num_updates is None else num_updates, jnp.int32)
        horizon = jnp.clip(horizon, 1, max_updates)
        k_init, k_reset, k_loop = jax.random.split(key, 3)
        obs, env_state = reset(jax.random.split(k_reset, cfg.num_envs), env_params)
        params = net.init(k_init, obs)
        stats = ObsStats.init(obs.shape[1:]).update(obs)
        return TrainState(params, tx.init(params), env_state, obs, stats, jnp.float32(0.0),
                          horizon,
                          k_loop)

    def update(meta_params: Any, env_params: Any, state: TrainState, n: jax.Array):
        progress = Progress(step=n, horizon=state.horizon)
        k_roll, k_perm = jax.random.split(jax.random.fold_in(state.key, n))
        rollout, env_state, last_obs, extras = collect(state, env_params, k_roll)
        ep_ret, ep_done = extras["episode_return"], extras["episode_done"]
        targets = rule.targets(meta_params, rollout, progress)
        stats = state.obs_stats.update(rollout.obs) if cfg.normalize_obs else state.obs_stats
        batch = {**rollout._asdict(), **targets}
        batch = jax.tree.map(lambda x: x.reshape(batch_size, *x.shape[2:]), batch)

        def loss_fn(params, mb):
            return rule.loss(meta_params, forward(params, stats, mb["obs"]), mb, progress)

        def minibatch_step(carry, mb):
            params, opt_state = carry
            (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        def epoch(carry, k):
            perm = jax.random.permutation(k, batch_size)
            mbs = jax.tree.map(lambda x: x[perm].reshape(cfg.num_minibatches, minibatch_size,
                                                         *x.shape[1:]), batch)
            return jax.lax.scan(minibatch_step, carry, mbs)

        opt_state = state.opt_state
        if cfg.anneal_lr:
            lr = cfg.lr * (1.0 - n / state.horizon)
            opt_state[1].hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, opt_state), jax.random.split(k_perm, cfg.update_epochs))

        episodes = jnp.sum(ep_done)
        mean_return = jnp.sum(ep_ret) / jnp.maximum(episodes, 1)
        last_return = jnp.where(episodes > 0, mean_return, state.last_return)
        new = state._replace(params=params, opt_state=opt_state, env_state=env_state,
                             obs=last_obs, obs_stats=stats, last_return=last_return)
        active = n < state.horizon
        new = jax.tree.map(lambda a, b: jnp.where(active, a, b), new, state)
        metrics = jax.tree.map(jnp.mean, metrics)
        return new, UpdateLog(new.last_return, jnp.where(active, episodes, 0),
                              jnp.sum(ep_ret) * active, metrics)

    def advance(meta_params: Any, env_params: Any, state: TrainState, start: jax.Array | int,
                length: int) -> tuple[TrainState, UpdateLog]:
        """Run updates start .. start+length-1 (`length` is static: chunk for progress)."""
        steps = jnp.asarray(start, jnp.int32) + jnp.arange(length)
        return jax.lax.scan(partial(update, meta_params, env_params), state, steps)

    def finish(state: TrainState, log: UpdateLog) -> TrainResult:
        """Summarise a whole run's update log ([max_updates] arrays)."""
        steps = jnp.arange(max_updates)
        window = jnp.maximum(jnp.ceil(cfg.final_window * state.horizon), 1)
        in_window = (steps >= state.horizon - window) & (steps < state.horizon)
        count = jnp.sum(log.episodes * in_window)
        final_return = jnp.where(count > 0, jnp.sum(log.return_sum * in_window)
                                 / jnp.maximum(count, 1), log.curve[state.horizon - 1])
        return TrainResult(final_return, log.curve, log.episodes, log.metrics, state.params,
                           state.obs_stats)

    def train(meta_params: Any, env_params: Any, key: jax.Array,
              num_updates: jax.Array | int | None = None) -> TrainResult:
        state = init(meta_params, env_params, key, num_updates)
        state, log = advance(meta_params, env_params, state, 0, max_updates)
        return finish(state, log)

    # The pieces of `train`, for callers that run it in chunks (progress display).
    train.init, train.advance, train.finish = init, advance, finish
    train.network, train.config, train.forward = net, cfg, forward
    train.collect = rollout_fn  # (params, obs_stats, env_state, obs, env_params, key, steps)
    return train
