"""Looking inside a learned policy gradient: LPG / TA-LPG targets along an agent's trajectory.

    rule, meta_params, cfg = load_discovered("runs/my-lpg-run")     # meta_objectives.analysis
    env, env_params = envs.make("gridworld/dense")
    trace = trace_lifetime(rule, meta_params, env, env_params, cfg.train, jax.random.key(0))
    plot_trajectory(trace)                       # reward, pi(a|s), pi_hat, y_hat at n/N = 0, .5, 1
    fixed = targets_at_fractions(rule, meta_params, trace)   # one trajectory, several n/N
    plot_temporal_inputs(fixed)                  # identical curves for LPG, not for TA-LPG

`trace_lifetime` trains one agent with the rule (the trainer of `discovery.inner.make_train`)
and, at each requested point n/N of its lifetime, runs the current agent in one fresh episode
and evaluates the rule's targets on that trajectory exactly as the trainer would on a rollout.
Sign convention (GROOVE, see `meta_objectives.lpg`): the agent *minimises* `pi_hat * log pi`,
so a negative pi_hat means "make this action more likely", a positive one "less likely";
`y_hat` is the distribution the agent's 8-way prediction y is pulled towards.

Every plotting function returns a `matplotlib.figure.Figure` built without pyplot; in a notebook
`display(fig)` shows it, `fig.savefig(path)` writes it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from meta_objectives.base import MetaParams, Progress, Rollout, UpdateRule
from meta_objectives.lpg import LPG

DEFAULT_FRACTIONS = (0.0, 0.5, 1.0)


# ----------------------------------------------------------------------------- validation
def _check_rule(rule: Any) -> None:
    if not isinstance(rule, LPG):
        name = getattr(rule, "name", type(rule).__name__)
        raise TypeError(f"rule '{name}' has no pi_hat / y_hat targets (only learned policy "
                        "gradient rules have them: lpg, ta-lpg)")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if f.size == 0:
        raise ValueError("fractions: give at least one lifetime fraction n/N")
    if not np.all(np.isfinite(f)) or np.any(f < 0.0) or np.any(f > 1.0):
        raise ValueError(f"fractions must lie in [0, 1] (n/N), got {list(f)}")
    return f


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _agent_cell(env_state: Any) -> jax.Array | None:
    """The agent's cell in a (wrapped) grid-world state, None for other environments."""
    while env_state is not None:
        if hasattr(env_state, "pos") and hasattr(env_state, "obj_pos"):
            return env_state.pos
        env_state = getattr(env_state, "env_state", None)
    return None


def discounted_return_to_go(reward: np.ndarray, done: np.ndarray, gamma: float) -> np.ndarray:
    """sum_k gamma^k r_{t+k} up to the end of t's episode (or of the trajectory); [..., T]."""
    reward, done = np.asarray(reward, np.float64), np.asarray(done, bool)
    out = np.zeros_like(reward)
    running = np.zeros(reward.shape[:-1])
    for t in range(reward.shape[-1] - 1, -1, -1):
        running = reward[..., t] + gamma * np.where(done[..., t], 0.0, running)
        out[..., t] = running
    return out


# ----------------------------------------------------------------------------- targets
def _windowed_targets(rule: UpdateRule, meta_params: MetaParams, rollout: Rollout,
                      progress: Progress, window: int) -> dict[str, jax.Array]:
    """`rule.targets` on consecutive windows of `window` steps (the trainer's rollouts)."""
    steps = rollout.reward.shape[0]
    parts = [rule.targets(meta_params, jax.tree.map(lambda x, s=s: x[s:s + window], rollout),
                          progress) for s in range(0, steps, window)]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *parts)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _targets_over_progress(rule: UpdateRule, meta_params: MetaParams, rollout: Rollout,
                           steps: jax.Array, horizon: jax.Array, window: int
                           ) -> dict[str, jax.Array]:
    """Targets of one rollout at each update count in `steps` ([F, T, B, ...])."""
    return jax.vmap(lambda n: _windowed_targets(rule, meta_params, rollout,
                                                Progress(step=n, horizon=horizon), window))(steps)


@functools.lru_cache(maxsize=16)
def _compiled_trace(env: Any, rule: UpdateRule, cfg: Any, num_steps: int, window: int):
    """Jitted `run(meta_params, env_params, key, horizon, points) -> per-point outputs`.

    Cached per (env, rule, train config, num_steps, window): the level (env_params), the key,
    the horizon and the lifetime points are traced, so new levels and points do not recompile.
    """
    from discovery.inner import make_train, wrap_env

    train = make_train(env, rule, cfg, env.default_params)
    reset = jax.vmap(wrap_env(env, env.default_params, cfg).reset, in_axes=(0, None))

    def collect(state: Any, env_params: Any, key: jax.Array) -> tuple[Rollout, jax.Array]:
        """From a fresh reset, `num_steps` steps in one env: the Rollout exactly as the trainer
        builds it (its own `collect`), and the agent's cell at every s_t (-1 if not a grid)."""
        k_reset, k_run = jax.random.split(key)
        obs, env_state = reset(jax.random.split(k_reset, 1), env_params)
        rollout, _, _, extras = train.collect(state.params, state.obs_stats, env_state, obs,
                                              env_params, k_run, num_steps, keep_states=True)
        cell = _agent_cell(extras["env_state"])
        return rollout, (jnp.full(rollout.reward.shape, -1, jnp.int32) if cell is None
                         else cell)

    def run(meta_params: Any, env_params: Any, key: jax.Array, horizon: jax.Array,
            points: jax.Array):
        k_train, k_roll = jax.random.split(key)
        state = train.init(meta_params, env_params, k_train, horizon)

        def to_point(carry, n):
            state, trained = carry  # updates applied so far

            def one_update(i, s):
                return train.advance(meta_params, env_params, s, i, 1)[0]

            state = jax.lax.fori_loop(trained, n, one_update, state)
            progress = Progress(step=n, horizon=state.horizon)
            rollout, cell = collect(state, env_params, k_roll)  # same key at every point
            targets = _windowed_targets(rule, meta_params, rollout, progress, window)
            return (state, n), (rollout, cell, targets, state.last_return)

        _, out = jax.lax.scan(to_point, (state, jnp.int32(0)), points)
        return out

    return jax.jit(run)


def trace_lifetime(rule: LPG, meta_params: MetaParams, env: Any, env_params: Any,
                   train_cfg: Any, key: jax.Array, *,
                   at: Sequence[float] = DEFAULT_FRACTIONS, num_steps: int | None = None,
                   num_updates: int | None = None, window: int | None = None
                   ) -> dict[str, Any]:
    """Train one agent with `rule` and trace its targets at lifetime points n/N in `at`.

    The agent trains for N = `num_updates` updates (default and maximum: `train_cfg`'s); at
    n = round(f * N) for each f in `at` (after n updates; f = 1 is the trained agent, one step
    past the last update's n/N = (N-1)/N) the current agent acts for `num_steps` steps
    (default: one rollout, `train_cfg.num_steps`) with sampled actions in one env, from a fresh
    reset and with the same environment key at every point. The rule's targets are computed
    with `Progress(n, N)` on consecutive windows of `window` steps (default
    `train_cfg.num_steps`: the rollouts the trainer would hand the rule; LPG's backward GRU sees
    the future only up to the end of its window, so a longer window gives other targets).

    Returns numpy arrays, F = len(at), T = num_steps, K = rule.prediction_size:
    `fractions` [F] (n/N as used), `updates` [F] (n), `horizon` (N), `window`,
    `reward`, `done`, `terminated`, `action`, `pi` (pi(a_t|s_t)), `pi_hat` [F, T],
    `y`, `y_hat` [F, T, K] (the agent's prediction probabilities and the targets),
    `return_to_go` [F, T] (discounted with the rule's gamma, cut at episode ends and at the
    trajectory's end), `last_return` [F] (the trainer's latest mean episode return), `cell`
    [F, T] (grid-worlds: the agent's cell `row * grid_size + col` at s_t; absent elsewhere),
    and `rollout`, the Rollout the rule saw (fields [F, T, 1, ...]) for `targets_at_fractions`.
    `at` must be non-decreasing (the agent only trains forwards).
    """
    _check_rule(rule)
    at = _check_fractions(at)
    if np.any(np.diff(at) < 0):
        raise ValueError(f"at: lifetime fractions must be non-decreasing, got {list(at)}")
    cfg = getattr(train_cfg, "train", train_cfg)
    num_steps = _positive_int("num_steps", cfg.num_steps if num_steps is None else num_steps)
    window = _positive_int("window", cfg.num_steps if window is None else window)
    horizon = _positive_int("num_updates",
                            cfg.num_updates if num_updates is None else num_updates)
    if horizon > cfg.num_updates:
        raise ValueError(f"num_updates ({horizon}) exceeds the train config's "
                         f"{cfg.num_updates} updates (the trainer caps lifetimes there)")
    points = np.rint(at * horizon).astype(np.int32)
    run = _compiled_trace(env, rule, cfg, num_steps, min(window, num_steps))
    rollout, cell, targets, last_return = jax.device_get(
        run(meta_params, env_params, key, jnp.int32(horizon), jnp.asarray(points)))
    rollout = jax.tree.map(np.asarray, rollout)
    sq = lambda x: np.asarray(x)[:, :, 0]  # noqa: E731 - drop the single env column
    y = np.asarray(jax.nn.softmax(rollout.prediction, axis=-1))
    trace = {
        "rule": rule.name, "fractions": points / horizon, "updates": points,
        "horizon": horizon, "window": min(window, num_steps),
        "reward": sq(rollout.reward), "done": sq(rollout.terminated | rollout.truncated),
        "terminated": sq(rollout.terminated), "action": sq(rollout.action),
        "pi": np.exp(sq(rollout.log_prob)), "y": sq(y),
        "pi_hat": sq(targets["pi_hat"]), "y_hat": sq(targets["y_hat"]),
        "last_return": np.asarray(last_return), "rollout": rollout,
    }
    trace["return_to_go"] = discounted_return_to_go(trace["reward"], trace["done"], rule.gamma)
    if np.all(sq(cell) >= 0):
        trace["cell"] = sq(cell)
    return trace


def targets_at_fractions(rule: LPG, meta_params: MetaParams, trajectory: dict[str, Any] | Rollout,
                         fractions: Sequence[float] = DEFAULT_FRACTIONS, *, point: int = -1,
                         horizon: int | None = None, window: int | None = None
                         ) -> dict[str, Any]:
    """The rule's targets for ONE fixed trajectory as if it were seen at each n/N in `fractions`.

    Shows temporal awareness: LPG gives identical targets at every n/N, TA-LPG (which also sees
    n/N and log N) need not. `trajectory` is a `trace_lifetime` result (its lifetime point
    `point`, default the last; its horizon and window unless given) or a `Rollout` [T, 1, ...]
    (then `horizon` is required; `window` defaults to T). Returns numpy arrays: `fractions`
    [F], `horizon`, `window`, the trajectory's `reward`, `done`, `pi`, `y` [T(, K)], and
    `pi_hat` [F, T], `y_hat` [F, T, K].
    """
    _check_rule(rule)
    fr = _check_fractions(fractions)
    if isinstance(trajectory, Rollout):
        rollout = trajectory
        if horizon is None:
            raise ValueError("targets_at_fractions: pass horizon= (the lifetime N) with a Rollout")
    elif isinstance(trajectory, dict) and "rollout" in trajectory:
        count = len(trajectory["fractions"])
        if not -count <= point < count:
            raise ValueError(f"point {point} out of range for a trace of {count} lifetime points")
        rollout = jax.tree.map(lambda x: x[point], trajectory["rollout"])
        horizon = trajectory["horizon"] if horizon is None else horizon
        window = trajectory["window"] if window is None else window
    else:
        raise TypeError("trajectory must be a trace_lifetime result or a Rollout, got "
                        f"{type(trajectory).__name__}")
    horizon = _positive_int("horizon", horizon)
    steps = int(np.shape(rollout.reward)[0])
    window = _positive_int("window", steps if window is None else window)
    rollout = jax.tree.map(jnp.asarray, rollout)
    steps_n = np.rint(fr * horizon).astype(np.int32)
    targets = _targets_over_progress(rule, meta_params, rollout, jnp.asarray(steps_n),
                                     jnp.int32(horizon), min(window, steps))
    pi_hat, y_hat = np.asarray(targets["pi_hat"])[:, :, 0], np.asarray(targets["y_hat"])[:, :, 0]
    done = np.asarray(rollout.terminated | rollout.truncated)[:, 0]
    return {"rule": rule.name, "fractions": steps_n / horizon, "horizon": horizon,
            "window": window, "reward": np.asarray(rollout.reward)[:, 0], "done": done,
            "pi": np.exp(np.asarray(rollout.log_prob))[:, 0],
            "y": np.asarray(jax.nn.softmax(rollout.prediction, axis=-1))[:, 0],
            "pi_hat": pi_hat, "y_hat": y_hat}


# ----------------------------------------------------------------------------- plots
def _mark_episodes(ax: Any, done: np.ndarray, window: int | None = None) -> None:
    """Dashed lines after every episode end, dotted ones at rollout-window boundaries."""
    for t in np.flatnonzero(done):
        ax.axvline(t + 0.5, color="0.3", ls="--", lw=0.8)
    if window and window < len(done):
        for t in range(window, len(done), window):
            ax.axvline(t - 0.5, color="tab:purple", ls=":", lw=0.8, alpha=0.6)


def _symmetric_limit(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) * 1.1 if finite.size and finite.max() > 0 else 1.0


def plot_trajectory(trace: dict[str, Any], fig: Figure | None = None) -> Figure:
    """One column per lifetime point of a `trace_lifetime` result, four rows on a shared time
    axis: reward, pi(a_t|s_t), pi_hat (green < 0: reinforced, red > 0: discouraged; dotted: its
    mean over the trajectory, since a constant offset is only a baseline) and y_hat as an image
    (bins x time) with the agent's expected y bin overlaid. Dashed lines mark episode ends,
    dotted ones the rollout windows the targets were computed on. 4F + 1 axes (one shared
    colour bar for y_hat)."""
    fractions = np.asarray(trace["fractions"])
    count, steps = np.shape(trace["pi_hat"])
    bins = np.shape(trace["y_hat"])[-1]
    fig = fig or Figure(figsize=(4.2 * count + 1.0, 8.0), layout="constrained")
    axes = fig.subplots(4, count, squeeze=False, sharex=True, sharey="row")
    t = np.arange(steps)
    lim = _symmetric_limit(np.asarray(trace["pi_hat"]))
    vmax = float(np.nanmax(trace["y_hat"])) if np.isfinite(trace["y_hat"]).any() else 1.0
    expected_y = np.sum(np.asarray(trace["y"]) * np.arange(bins), axis=-1)
    image = None
    for j in range(count):
        reward_ax, pi_ax, hat_ax, y_ax = axes[:, j]
        done = np.asarray(trace["done"][j])
        reward_ax.bar(t, trace["reward"][j], color="tab:blue", width=0.8)
        reward_ax.set_title(f"{trace.get('rule', '')} n/N = {fractions[j]:.2g} "
                            f"(update {int(trace['updates'][j])}/{trace['horizon']})")
        pi_ax.plot(t, trace["pi"][j], marker="o", ms=3, color="tab:orange")
        pi_ax.set_ylim(0.0, 1.05)
        hat = np.asarray(trace["pi_hat"][j])
        hat_ax.bar(t, hat, color=np.where(hat < 0, "tab:green", "tab:red"), width=0.8)
        hat_ax.axhline(0.0, color="0.5", lw=0.6)
        hat_ax.axhline(float(np.mean(hat)), color="black", ls=":", lw=1.0, label="mean")
        hat_ax.set_ylim(-lim, lim)
        image = y_ax.imshow(np.asarray(trace["y_hat"][j]).T, origin="lower", aspect="auto",
                            cmap="viridis", vmin=0.0, vmax=vmax,
                            extent=(-0.5, steps - 0.5, -0.5, bins - 0.5), interpolation="nearest")
        y_ax.plot(t, expected_y[j], color="white", lw=1.2, label="agent E[y bin]")
        y_ax.set_xlabel("step t")
        for ax in (reward_ax, pi_ax, hat_ax, y_ax):
            _mark_episodes(ax, done, trace.get("window"))
        if j == 0:
            reward_ax.set_ylabel("reward r_t")
            pi_ax.set_ylabel("pi(a_t | s_t)")
            hat_ax.set_ylabel("pi_hat (< 0: do more)")
            hat_ax.legend(loc="lower right", fontsize=7)
            y_ax.set_ylabel("y_hat bin")
            y_ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(image, ax=axes[3, :].tolist(), shrink=0.9, label="y_hat probability")
    return fig


def plot_temporal_inputs(fixed: dict[str, Any], fig: Figure | None = None) -> Figure:
    """A `targets_at_fractions` result: one fixed trajectory's reward, then its pi_hat and the
    expected y_hat bin as seen at each n/N (one line per n/N). LPG draws the same line for every
    n/N; TA-LPG's lines separate where the rule changes with training progress. 3 axes."""
    fractions = np.asarray(fixed["fractions"])
    steps = np.shape(fixed["pi_hat"])[1]
    bins = np.shape(fixed["y_hat"])[-1]
    t = np.arange(steps)
    fig = fig or Figure(figsize=(8.0, 6.5), layout="constrained")
    reward_ax, hat_ax, y_ax = fig.subplots(3, 1, sharex=True)
    reward_ax.bar(t, fixed["reward"], color="tab:blue", width=0.8)
    reward_ax.set_ylabel("reward r_t")
    spread = float(np.max(np.ptp(fixed["pi_hat"], axis=0))) if len(fractions) > 1 else 0.0
    reward_ax.set_title(f"{fixed.get('rule', '')}: one trajectory seen at n/N = "
                        f"{', '.join(f'{f:.2g}' for f in fractions)} (N = {fixed['horizon']}); "
                        f"max pi_hat spread {spread:.3g}")
    colours = [(0.1 + 0.8 * i / max(len(fractions) - 1, 1), 0.3, 0.9 - 0.8 * i /
                max(len(fractions) - 1, 1)) for i in range(len(fractions))]
    expected = np.sum(np.asarray(fixed["y_hat"]) * np.arange(bins), axis=-1)
    for i, f in enumerate(fractions):
        hat_ax.plot(t, fixed["pi_hat"][i], marker="o", ms=3, color=colours[i],
                    label=f"n/N = {f:.2g}")
        y_ax.plot(t, expected[i], marker="o", ms=3, color=colours[i], label=f"n/N = {f:.2g}")
    y_ax.plot(t, np.sum(np.asarray(fixed["y"]) * np.arange(bins), axis=-1), color="0.4",
              ls="--", lw=1.0, label="agent E[y bin]")
    hat_ax.axhline(0.0, color="0.5", lw=0.6)
    hat_ax.set_ylabel("pi_hat (< 0: do more)")
    y_ax.set(ylabel="E[y_hat bin]", xlabel="step t", ylim=(-0.2, bins - 0.8))
    hat_ax.legend(fontsize=7)
    y_ax.legend(fontsize=7)
    for ax in (reward_ax, hat_ax, y_ax):
        _mark_episodes(ax, np.asarray(fixed["done"]), fixed.get("window"))
    return fig


def plot_targets_vs_inputs(trace: dict[str, Any], fig: Figure | None = None) -> Figure:
    """pi_hat against the discounted return to go and against pi(a|s), over all traced steps,
    coloured by n/N: does the rule reinforce (pi_hat lower) steps that lead to reward? 3 axes
    (two panels and a colour bar)."""
    fig = fig or Figure(figsize=(9.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    fractions = np.asarray(trace["fractions"])
    colours = np.repeat(fractions, np.shape(trace["pi_hat"])[1])
    norm = Normalize(vmin=0.0, vmax=1.0)
    hat = np.ravel(trace["pi_hat"])
    points = None
    for ax, key, label in ((axes[0], "return_to_go", "discounted return to go"),
                           (axes[1], "pi", "pi(a_t | s_t)")):
        points = ax.scatter(np.ravel(trace[key]), hat, c=colours, cmap="viridis", norm=norm,
                            s=10, alpha=0.7)
        ax.axhline(0.0, color="0.5", lw=0.6)
        ax.set_xlabel(label)
    axes[0].set_ylabel("pi_hat (< 0: do more)")
    axes[0].set_title(f"{trace.get('rule', '')}: pi_hat of every traced step")
    fig.colorbar(points, ax=axes.tolist(), label="n/N")
    return fig


__all__ = ["DEFAULT_FRACTIONS", "discounted_return_to_go", "plot_targets_vs_inputs",
           "plot_temporal_inputs", "plot_trajectory", "targets_at_fractions", "trace_lifetime"]
