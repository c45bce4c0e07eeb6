"""The inner loop: train one agent with an UpdateRule, end to end in one jittable function.

`make_train(env, rule, cfg)` returns a `Trainer`, a small frozen object of pure functions whose
call is `train(meta_params, env_params, key, num_updates=None) -> TrainResult`. It is pure:
vmap it over seeds (keys), over a population (meta_params) or over levels (env_params, with
per-level `num_updates`), and jit the result. Updates past a level's own horizon are masked, so
levels with different lifetimes share one vmap and the rule sees n / N relative to its own
level. Its pieces (`init`, `advance`, `finish`, `collect`, `evaluate`, `forward`) serve callers
that run training in chunks (progress), trace it (analysis) or differentiate through it (the
meta-gradient outer loop).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from gymnax.environments import spaces

from discovery.networks import STYLES, ActorCritic, ObsStats
from discovery.validate import check_fields
from envs.prng import permutation
from envs.rollout import first_episode_return, max_episode_steps, reset_batch, unroll
from envs.wrappers import ClipAction, EpisodeStats
from meta_objectives.base import Progress, Rollout, UpdateRule

FITNESS_MEASURES = ("final_window", "final_policy")


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
    max_grad_norm: float | None = 0.5  # None: no gradient clipping (GROOVE's Adam agents)
    adam_eps: float = 1e-5
    optimizer: str = "adam"  # or "sgd" (GROOVE's tabular agents: plain SGD with a large lr)
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    conv: bool = False  # MinAtar-style conv torso
    # "purejaxrl": orthogonal init, one global-norm clip over all parameters. "groove": flax's
    # default init, bias-free linear agents, and the clip applied to actor and critic apart
    # (GROOVE trains them as two networks with two optimisers).
    agent_style: str = "purejaxrl"
    normalize_obs: bool = False  # running obs normalisation, kept in the agent (ObsStats)
    normalize_reward: bool = False  # purejaxrl's running discounted-return scaling (brax)
    # Bootstrap from the final observation on time-limit truncation. None: yes, unless the
    # env's observation carries time (`env.observes_time`, grid-worlds), where the time limit
    # is a true terminal.
    bootstrap_truncated: bool | None = None
    # How a run is scored: "final_window" (mean return of the training episodes that ended in
    # the last `final_window` of the horizon) or "final_policy" (fresh episodes of the final
    # agent, one per env, sampled actions). None: the rule's own (`rule.fitness_measure`).
    fitness_measure: str | None = None
    final_window: float = 0.1

    def __post_init__(self) -> None:
        check_fields(self, "TrainConfig")
        for name in ("num_envs", "num_steps", "total_timesteps", "update_epochs",
                     "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for n in ("lr", "max_grad_norm", "adam_eps", "critic_lr"):  # finite: check_fields
            value = getattr(self, n)
            if value is not None and not value > 0:
                raise ValueError(f"TrainConfig.{n} must be > 0, got {value!r}")
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
        if self.agent_style not in STYLES:
            raise ValueError(f"TrainConfig.agent_style must be one of {STYLES}, got "
                             f"{self.agent_style!r}")
        if self.fitness_measure is not None and self.fitness_measure not in FITNESS_MEASURES:
            raise ValueError(f"TrainConfig.fitness_measure must be one of {FITNESS_MEASURES} "
                             f"(or None for the rule's own), got {self.fitness_measure!r}")
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

    final_return: jax.Array  # the run's score, by the trainer's fitness measure
    curve: jax.Array  # [num_updates] mean return of episodes ended by each update (carried;
    #                   NaN until the first episode ends)
    episodes: jax.Array  # [num_updates] number of episodes ended in each update
    metrics: dict[str, jax.Array]  # [num_updates] per-update means of the rule's metrics
    agent_params: Any
    obs_stats: ObsStats  # the agent's observation normaliser (identity if not normalize_obs)


class RewardStats(NamedTuple):
    """purejaxrl's `NormalizeVecReward`: running variance of the discounted return, shared by
    the env batch; rewards are divided by its square root."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array
    discounted: jax.Array  # [B] running discounted return of each env

    @classmethod
    def init(cls, num_envs: int) -> RewardStats:
        return cls(jnp.float32(0.0), jnp.float32(1.0), jnp.float32(1e-4),
                   jnp.zeros(num_envs, jnp.float32))

    def normalize(self, reward: jax.Array, done: jax.Array, gamma: float
                  ) -> tuple[RewardStats, jax.Array]:
        """Scale a [T, B] reward array step by step (statistics updated before each step's
        scaling, as the wrapper does)."""

        def step(stats: RewardStats, x):
            r, d = x
            ret = stats.discounted * gamma * (1.0 - d) + r
            n = ret.shape[0]
            delta = ret.mean() - stats.mean
            total = stats.count + n
            mean = stats.mean + delta * n / total
            m2 = stats.var * stats.count + ret.var() * n + delta**2 * stats.count * n / total
            new = RewardStats(mean, m2 / total, total, ret)
            return new, r / jnp.sqrt(new.var + 1e-8)

        return jax.lax.scan(step, self, (reward, done.astype(jnp.float32)))


class TrainState(NamedTuple):
    """The carry of the update loop (one agent)."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    obs_stats: ObsStats
    reward_stats: RewardStats
    last_return: jax.Array  # mean return of the latest update that ended an episode (NaN: none)
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
        obs_ndim=len(obs_shape), style=cfg.agent_style)


def wrap_env(env: Any, env_params: Any) -> Any:
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


def fitness_measure(rule: UpdateRule, cfg: TrainConfig) -> str:
    """The measure a run of `rule` under `cfg` is scored by (the config's, else the rule's)."""
    return cfg.fitness_measure or getattr(rule, "fitness_measure", "final_window")


def bootstraps_truncation(env: Any, cfg: TrainConfig) -> bool:
    """Whether truncated steps bootstrap (see `TrainConfig.bootstrap_truncated`)."""
    if cfg.bootstrap_truncated is not None:
        return cfg.bootstrap_truncated
    return not getattr(env, "observes_time", False)


CRITIC_MODULES = ("critic_torso", "value_out", "prediction_out")


def _is_critic(path: tuple) -> bool:
    return any(getattr(k, "key", None) in CRITIC_MODULES for k in path)


def clip_per_network(max_norm: float) -> optax.GradientTransformation:
    """Clip the actor's and the critic's gradients by their own global norms (GROOVE's agents
    are two networks with two optimisers, each clipped apart)."""

    def update(updates, state, params=None):
        critic = jax.tree_util.tree_map_with_path(lambda path, _: _is_critic(path), updates)
        pairs = list(zip(jax.tree.leaves(updates), jax.tree.leaves(critic), strict=True))

        def scale(side: bool) -> jax.Array:
            sq = [jnp.sum(jnp.square(u)) for u, c in pairs if c == side]
            norm = jnp.sqrt(sum(sq)) if sq else jnp.float32(0.0)
            return jnp.where(norm < max_norm, 1.0, max_norm / jnp.maximum(norm, 1e-12))

        s_actor, s_critic = scale(False), scale(True)
        updates = jax.tree.map(lambda u, c: u * jnp.where(c, s_critic, s_actor), updates,
                               critic)
        return updates, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """The agent's optimiser: clip -> adam/sgd (lr injected, so it can be annealed by name)
    -> the critic's lr ratio. Its state is a dict keyed by step name."""
    if cfg.optimizer == "adam":
        inner = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr, eps=cfg.adam_eps)
    else:
        inner = optax.inject_hyperparams(optax.sgd)(learning_rate=cfg.lr)
    steps = []
    if cfg.max_grad_norm is not None:
        clip = (clip_per_network(cfg.max_grad_norm) if cfg.agent_style == "groove"
                else optax.clip_by_global_norm(cfg.max_grad_norm))
        steps.append(("clip", clip))
    steps.append(("optimizer", inner))
    if cfg.critic_lr is not None and cfg.critic_lr != cfg.lr:
        # Scale the critic's updates by critic_lr / lr: exact for SGD and Adam alike, since
        # both updates are proportional to the lr (annealing keeps the ratio).
        mask = partial(jax.tree_util.tree_map_with_path, lambda path, _: _is_critic(path))
        steps.append(("critic_lr", optax.masked(optax.scale(cfg.critic_lr / cfg.lr), mask)))
    return optax.named_chain(*steps)


def set_learning_rate(opt_state: dict, lr: jax.Array) -> dict:
    """The optimiser state with its (injected) learning rate replaced."""
    inner = opt_state["optimizer"]
    hyper = {**inner.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)}
    new = opt_state.copy()  # keeps the chain's (ordered) dict type
    new["optimizer"] = inner._replace(hyperparams=hyper)
    return new


def make_collect(env: Any, net: ActorCritic, rule: UpdateRule, cfg: TrainConfig):
    """`collect(params, obs_stats, env_state, obs, env_params, key, num_steps, keep_states=False,
    per_env_params=False) -> (Rollout, env_state, last_obs, extras)`: the agent acts (sampled
    actions) for `num_steps` steps in the (wrapped, auto-resetting) envs of `env_state` / `obs`
    ([B, ...]), all on `env_params` or, with `per_env_params`, each on its own level.

    `extras` holds the per-step `episode_return` and `episode_done` ([T, B]) and, with
    `keep_states`, the env state at every s_t (`env_state`, leading axis T). `num_steps`,
    `keep_states` and `per_env_params` are static. Rewards are the env's (normalisation is the
    trainer's business).
    """
    forward = agent_forward(net, cfg)
    bootstrap = bootstraps_truncation(env, cfg)

    def collect(params: Any, stats: ObsStats, env_state: Any, obs: jax.Array, env_params: Any,
                key: jax.Array, num_steps: int, keep_states: bool = False,
                per_env_params: bool = False):
        def policy(obs, k):
            out = forward(params, stats, obs)
            action = out.policy.sample(k)
            value = out.value if out.value is not None else jnp.zeros(obs.shape[0])
            pred = (out.prediction if out.prediction is not None
                    else jnp.zeros((obs.shape[0], 0)))
            return action, {"log_prob": out.policy.log_prob(action), "value": value,
                            "prediction": pred}

        def keep(t):
            extras = {"episode_return": t.info["episode_return"],
                      "episode_done": t.info["episode_done"]}
            if keep_states:
                extras["env_state"] = t.state
            return (t.obs, t.action, t.reward.astype(jnp.float32), t.terminated, t.truncated,
                    t.extras, t.info["final_observation"], extras)

        env_state, last_obs, data = unroll(env, env_params, policy, env_state, obs, key,
                                           num_steps, keep, per_env_params)
        obs, action, reward, term, trunc, out, final_obs, extras = data
        value, pred = out["value"], out["prediction"]
        last = forward(params, stats, last_obs)
        last_value = last.value if last.value is not None else jnp.zeros_like(value[0])
        next_value = jnp.concatenate([value[1:], last_value[None]])
        if rule.needs_value:
            if bootstrap:  # (a critic pass over the final observations, where any is needed)
                next_value = jax.lax.cond(
                    jnp.any(trunc),
                    lambda v: jnp.where(trunc, forward(params, stats, final_obs, net.value), v),
                    lambda v: v, next_value)
            else:
                next_value = jnp.where(trunc, 0.0, next_value)
        last_pred = last.prediction if last.prediction is not None else pred[0]
        next_pred = jnp.concatenate([pred[1:], last_pred[None]])
        rollout = Rollout(obs, action, reward, term, trunc, out["log_prob"], value, next_value,
                          pred, next_pred)
        return rollout, env_state, last_obs, extras

    return collect


@dataclass(frozen=True)
class Trainer:
    """The pure functions of one inner loop (see `make_train`); calling it trains.

    train(meta_params, env_params, key, num_updates=None) -> TrainResult
    init(meta_params, env_params, key, num_updates=None) -> TrainState
    advance(meta_params, env_params, state, start, length) -> (TrainState, UpdateLog)
    finish(env_params, state, log) -> TrainResult         (log: [cfg.num_updates] arrays)
    collect(params, obs_stats, env_state, obs, env_params, key, num_steps, keep_states=False,
            per_env_params=False) -> (Rollout, env_state, last_obs, extras)
    learn(meta_params, state, rollout, targets, progress, key)
        -> (params, opt_state, obs_stats, metrics)        (one update's epochs x minibatches)
    evaluate(params, obs_stats, env_params, key) -> mean first-episode return of fresh envs
    forward(params, obs_stats, obs, method=None) -> AgentOutput
    reset(env_params, key) -> (obs, env_state) of one fresh (wrapped) environment
    """

    train: Callable[..., TrainResult]
    init: Callable[..., TrainState]
    advance: Callable[..., tuple[TrainState, UpdateLog]]
    finish: Callable[..., TrainResult]
    collect: Callable[..., Any]
    learn: Callable[..., Any]
    evaluate: Callable[..., jax.Array]
    forward: Callable[..., Any]
    reset: Callable[..., Any]
    network: ActorCritic
    config: TrainConfig
    measure: str  # the fitness measure `finish` reports as `final_return`

    def __call__(self, meta_params: Any, env_params: Any, key: jax.Array,
                 num_updates: jax.Array | int | None = None) -> TrainResult:
        return self.train(meta_params, env_params, key, num_updates)


def make_train(env: Any, rule: UpdateRule, cfg: TrainConfig, env_params: Any = None,
               per_env_params: bool = False) -> Trainer:
    """Build the `Trainer` of `rule` on `env` under `cfg`.

    `env_params` here is only a template for the spaces and the episode cap (default:
    `env.default_params`). `num_updates` (a traced int <= cfg.num_updates) sets a run's
    horizon N. With `per_env_params`, the `env_params` that `train`, `init`, `advance`,
    `finish` and `evaluate` take carry a leading axis of `cfg.num_envs`: each environment of
    the run has its own level (auto-reset replays it), e.g. models drawn from a worst-case set.
    """
    template = env.default_params if env_params is None else env_params
    net = make_network(env, template, rule, cfg)
    eval_steps = max_episode_steps(env, template)
    measure = fitness_measure(rule, cfg)
    env = wrap_env(env, template)
    max_updates = cfg.num_updates
    batch_size = cfg.steps_per_update
    minibatch_size = batch_size // cfg.num_minibatches
    tx = make_optimizer(cfg)
    forward = agent_forward(net, cfg)
    rollout_fn = make_collect(env, net, rule, cfg)
    gamma = getattr(rule, "gamma", 0.99)

    def init(meta_params: Any, env_params: Any, key: jax.Array,
             num_updates: jax.Array | int | None = None) -> TrainState:
        """A fresh agent and environment; `num_updates` sets this run's horizon N."""
        horizon = jnp.asarray(max_updates if num_updates is None else num_updates, jnp.int32)
        horizon = jnp.clip(horizon, 1, max_updates)
        k_init, k_reset, k_loop = jax.random.split(key, 3)
        obs, env_state = reset_batch(env, env_params, k_reset, cfg.num_envs, per_env_params)
        params = net.init(k_init, obs)
        stats = ObsStats.init(obs.shape[1:]).update(obs)
        return TrainState(params, tx.init(params), env_state, obs, stats,
                          RewardStats.init(cfg.num_envs), jnp.float32(jnp.nan), horizon, k_loop)

    def learn(meta_params: Any, state: TrainState, rollout: Rollout,
              targets: dict[str, jax.Array], progress: Progress, key: jax.Array):
        """The rule's epochs x minibatches on one rollout (and its targets) at `progress`:
        `(params, opt_state, obs_stats, metrics)` (lr annealed by n/N; the observation
        statistics the rollout acted with are used, then updated with its observations)."""
        batch = {**rollout._asdict(), **targets}
        batch = jax.tree.map(lambda x: x.reshape(batch_size, *x.shape[2:]), batch)
        stats = state.obs_stats  # the statistics the rollout acted with (ratio 1 at lr 0)

        def loss_fn(params, mb):
            return rule.loss(meta_params, forward(params, stats, mb["obs"]), mb, progress)

        def minibatch_step(carry, mb):
            params, opt_state = carry
            (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        def epoch(carry, k):
            # jax.random.permutation's shuffle; each minibatch gathered where it is used (one
            # pass over the data, not a shuffled copy of the batch sliced again per minibatch)
            perm = permutation(k, batch_size).reshape(cfg.num_minibatches, minibatch_size)
            return jax.lax.scan(
                lambda c, i: minibatch_step(c, jax.tree.map(lambda x: x[i], batch)), carry, perm)

        opt_state = state.opt_state
        if cfg.anneal_lr:
            opt_state = set_learning_rate(opt_state,
                                          cfg.lr * (1.0 - progress.step / progress.horizon))
        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, opt_state), jax.random.split(key, cfg.update_epochs))
        if cfg.normalize_obs:
            stats = stats.update(rollout.obs)
        return params, opt_state, stats, jax.tree.map(jnp.mean, metrics)

    def update(meta_params: Any, env_params: Any, state: TrainState, n: jax.Array):
        progress = Progress(step=n, horizon=state.horizon)
        k_roll, k_learn = jax.random.split(jax.random.fold_in(state.key, n))
        rollout, env_state, last_obs, extras = rollout_fn(
            state.params, state.obs_stats, state.env_state, state.obs, env_params, k_roll,
            cfg.num_steps, per_env_params=per_env_params)
        ep_ret, ep_done = extras["episode_return"], extras["episode_done"]
        reward_stats = state.reward_stats
        if cfg.normalize_reward:
            reward_stats, scaled = reward_stats.normalize(rollout.reward, rollout.done, gamma)
            rollout = rollout._replace(reward=scaled)
        targets = rule.targets(meta_params, rollout, progress)
        params, opt_state, stats, metrics = learn(meta_params, state, rollout, targets,
                                                  progress, k_learn)
        episodes = jnp.sum(ep_done)
        mean_return = jnp.sum(ep_ret) / jnp.maximum(episodes, 1)
        last_return = jnp.where(episodes > 0, mean_return, state.last_return)
        new = state._replace(params=params, opt_state=opt_state, env_state=env_state,
                             obs=last_obs, obs_stats=stats, reward_stats=reward_stats,
                             last_return=last_return)
        active = n < state.horizon
        new = jax.tree.map(lambda a, b: jnp.where(active, a, b), new, state)
        return new, UpdateLog(new.last_return, jnp.where(active, episodes, 0),
                              jnp.sum(ep_ret) * active, metrics)

    def advance(meta_params: Any, env_params: Any, state: TrainState, start: jax.Array | int,
                length: int) -> tuple[TrainState, UpdateLog]:
        """Run updates start .. start+length-1 (`length` is static: chunk for progress)."""
        steps = jnp.asarray(start, jnp.int32) + jnp.arange(length)
        return jax.lax.scan(partial(update, meta_params, env_params), state, steps)

    def evaluate(params: Any, stats: ObsStats, env_params: Any, key: jax.Array) -> jax.Array:
        """Mean return of one fresh episode in each of `num_envs` envs (sampled actions)."""
        k_reset, k_run = jax.random.split(key)
        obs, env_state = reset_batch(env, env_params, k_reset, cfg.num_envs, per_env_params)

        def policy(obs, k):
            return forward(params, stats, obs).policy.sample(k), {}

        _, _, (reward, done) = unroll(env, env_params, policy, env_state, obs, k_run,
                                      eval_steps, keep=lambda t: (t.reward, t.done),
                                      per_env_params=per_env_params)
        returns, _ = first_episode_return(reward.astype(jnp.float32), done)
        return returns.mean()

    def finish(env_params: Any, state: TrainState, log: UpdateLog) -> TrainResult:
        """Score a whole run from its update log ([max_updates] arrays) and final agent."""
        if measure == "final_policy":
            key = jax.random.fold_in(state.key, max_updates)
            final_return = evaluate(state.params, state.obs_stats, env_params, key)
        else:
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
        return finish(env_params, state, log)

    return Trainer(train=train, init=init, advance=advance, finish=finish, collect=rollout_fn,
                   learn=learn, evaluate=evaluate, forward=forward,
                   reset=lambda env_params, key: env.reset(key, env_params), network=net,
                   config=cfg, measure=measure)
