"""Looking inside a learned policy gradient: LPG / TA-LPG targets along an agent's trajectory.

    rule, meta_params, cfg = load_discovered("runs/my-lpg-run")     # discovery.inspect
    env, env_params = envs.make("gridworld/dense")
    trace = trace_lifetime(rule, meta_params, env, env_params, cfg.train, jax.random.key(0))
    plot_trajectory(trace)                       # reward, pi(a|s), pi_hat, y_hat at n/N = 0, .5, 1
    fixed = targets_at_fractions(rule, meta_params, trace)   # one trajectory, several n/N
    plot_temporal_inputs(fixed)                  # identical curves for LPG, not for TA-LPG

`discovery.inspect.trace_lifetime` trains one agent with the rule and, at each requested point
n/N of its lifetime, runs the current agent in one fresh episode and evaluates the rule's
targets on that trajectory exactly as the trainer would on a rollout; this module holds the
rule-side pieces (targets over windows and over n/N) and the plots.
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
def check_lpg_rule(rule: Any) -> None:
    if not isinstance(rule, LPG):
        name = getattr(rule, "name", type(rule).__name__)
        raise TypeError(f"rule '{name}' has no pi_hat / y_hat targets (only learned policy "
                        "gradient rules have them: lpg, ta-lpg)")


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if f.size == 0:
        raise ValueError("fractions: give at least one lifetime fraction n/N")
    if not np.all(np.isfinite(f)) or np.any(f < 0.0) or np.any(f > 1.0):
        raise ValueError(f"fractions must lie in [0, 1] (n/N), got {list(f)}")
    return f


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
def windowed_targets(rule: UpdateRule, meta_params: MetaParams, rollout: Rollout,
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
    return jax.vmap(lambda n: windowed_targets(rule, meta_params, rollout,
                                                Progress(step=n, horizon=horizon), window))(steps)


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
    check_lpg_rule(rule)
    fr = check_fractions(fractions)
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
    horizon = positive_int("horizon", horizon)
    steps = int(np.shape(rollout.reward)[0])
    window = positive_int("window", steps if window is None else window)
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


__all__ = ["DEFAULT_FRACTIONS", "check_fractions", "check_lpg_rule", "discounted_return_to_go",
           "plot_targets_vs_inputs", "plot_temporal_inputs", "plot_trajectory", "positive_int",
           "targets_at_fractions", "windowed_targets"]
