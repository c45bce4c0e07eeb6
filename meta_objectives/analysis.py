"""Looking inside a learned objective: drift heatmaps, differences to PPO-clip / DPO, fitness.

    rule, meta_params, cfg = load_discovered("runs/my-run")
    drift_heatmaps(rule, meta_params)              # drift(r, A) at n/N = 0, 0.5, 1
    drift_invariants(rule, meta_params)            # min drift, drift and d/dr at r = 1
    drift_difference(rule, meta_params)            # minus PPO-clip's and DPO's drift
    fitness_curve("runs/my-run")                   # ES fitness per generation

Every plotting function returns a `matplotlib.figure.Figure` built without pyplot (safe under
the Agg backend, nothing left open); in a notebook `display(fig)` shows it, `fig.savefig(path)`
writes it. A mirror-learning drift must be >= 0 everywhere and zero and flat at r = 1; the
heatmaps mark r = 1 so both are visible at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from meta_objectives.base import MetaParams, Progress
from meta_objectives.lpo import DPO, MirrorLearningRule, drift_grid
from meta_objectives.ppo import ppo_clip_drift

DEFAULT_RATIOS = np.linspace(0.5, 1.5, 101)  # includes r = 1 (index 50)
DEFAULT_ADVANTAGES = np.linspace(-2.0, 2.0, 81)  # normalised advantages; includes A = 0
DEFAULT_FRACTIONS = (0.0, 0.5, 1.0)
REFERENCES = ("ppo", "dpo")


def drift_values(rule: MirrorLearningRule, meta_params: MetaParams,
                 fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 ratios: np.ndarray = DEFAULT_RATIOS,
                 advantages: np.ndarray = DEFAULT_ADVANTAGES,
                 horizon: int = 1000) -> np.ndarray:
    """The drift on the (r, A) grid at each n/N: array [len(fractions), len(ratios), len(A)]."""
    if not hasattr(rule, "drift"):
        raise TypeError(f"rule '{getattr(rule, 'name', rule)}' has no drift (only mirror-"
                        "learning rules such as lpo, ta-lpo, dpo have one)")
    return np.stack([np.asarray(drift_grid(rule, meta_params, ratios, advantages, f, horizon))
                     for f in fractions])


def drift_invariants(rule: MirrorLearningRule, meta_params: MetaParams,
                     fractions: Sequence[float] = DEFAULT_FRACTIONS,
                     ratios: np.ndarray = DEFAULT_RATIOS,
                     advantages: np.ndarray = DEFAULT_ADVANTAGES,
                     horizon: int = 1000) -> dict[str, float]:
    """The drift's invariants, measured on the grid: `min_drift` (must be >= 0),
    `max_drift_at_r1` and `max_abs_grad_at_r1` (|drift| and |d drift / dr| at r = 1 over all A
    and n/N; both must be 0)."""
    values = drift_values(rule, meta_params, fractions, ratios, advantages, horizon)
    a = jnp.asarray(advantages, jnp.float32)

    def drift(r, adv, frac):
        progress = Progress(step=jnp.asarray(frac * horizon), horizon=jnp.asarray(horizon))
        return rule.drift(meta_params, jnp.log(r), adv, progress)

    at_one = jax.vmap(drift, in_axes=(None, 0, None))
    grad_at_one = jax.vmap(jax.grad(drift), in_axes=(None, 0, None))
    one = jnp.float32(1.0)
    d1 = np.stack([np.asarray(at_one(one, a, f)) for f in fractions])
    g1 = np.stack([np.asarray(grad_at_one(one, a, f)) for f in fractions])
    return {"min_drift": float(np.min(values)), "max_drift_at_r1": float(np.max(np.abs(d1))),
            "max_abs_grad_at_r1": float(np.max(np.abs(g1)))}


def reference_drift(name: str, ratios: np.ndarray = DEFAULT_RATIOS,
                    advantages: np.ndarray = DEFAULT_ADVANTAGES,
                    clip_eps: float = 0.2) -> np.ndarray:
    """A fixed rule's drift on the grid [len(ratios), len(A)]: `ppo` (clip) or `dpo`."""
    if name == "ppo":
        r, a = np.meshgrid(np.asarray(ratios, np.float32), np.asarray(advantages, np.float32),
                           indexing="ij")
        return np.asarray(ppo_clip_drift(jnp.asarray(r), jnp.asarray(a), clip_eps))
    if name == "dpo":
        return np.asarray(drift_grid(DPO(), {}, ratios, advantages))
    raise ValueError(f"unknown reference drift '{name}' (known: {', '.join(REFERENCES)})")


def _heatmap(fig: Figure, ax: Any, values: np.ndarray, ratios: np.ndarray,
             advantages: np.ndarray, title: str, **imshow: Any) -> None:
    """One [R, A] grid as an image with r on x, A on y, and r = 1 marked."""
    extent = (float(ratios[0]), float(ratios[-1]), float(advantages[0]),
              float(advantages[-1]))
    im = ax.imshow(np.asarray(values).T, origin="lower", extent=extent, aspect="auto",
                   **imshow)
    ax.axvline(1.0, color="white", lw=0.8, ls="--")
    ax.set(title=title, xlabel="ratio r = pi / pi_old", ylabel="advantage A")
    fig.colorbar(im, ax=ax, shrink=0.85)


def drift_heatmaps(rule: MirrorLearningRule, meta_params: MetaParams,
                   fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   ratios: np.ndarray = DEFAULT_RATIOS,
                   advantages: np.ndarray = DEFAULT_ADVANTAGES, *, horizon: int = 1000,
                   fig: Figure | None = None) -> Figure:
    """Heatmaps of drift(r, A) at each training progress n/N in `fractions` (one colour
    scale shared by all panels). A rule without temporal awareness shows identical panels."""
    values = drift_values(rule, meta_params, fractions, ratios, advantages, horizon)
    fig = fig or Figure(figsize=(4.2 * len(fractions), 3.6), layout="constrained")
    axes = fig.subplots(1, len(fractions), squeeze=False)[0]
    finite = values[np.isfinite(values)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    for ax, f, v in zip(axes, fractions, values, strict=True):
        _heatmap(fig, ax, v, ratios, advantages, f"{rule.name} drift, n/N = {f:g}",
                 cmap="viridis", vmin=0.0, vmax=vmax)
    return fig


def drift_difference(rule: MirrorLearningRule, meta_params: MetaParams,
                     fractions: Sequence[float] = DEFAULT_FRACTIONS,
                     ratios: np.ndarray = DEFAULT_RATIOS,
                     advantages: np.ndarray = DEFAULT_ADVANTAGES, *,
                     references: Sequence[str] = REFERENCES, horizon: int = 1000,
                     fig: Figure | None = None) -> Figure:
    """Heatmaps of drift - reference drift (rows: PPO-clip, DPO; columns: n/N), red where the
    learned rule penalises a ratio more than the reference, blue where less."""
    values = drift_values(rule, meta_params, fractions, ratios, advantages, horizon)
    clip_eps = float(getattr(rule, "clip_eps", 0.2))
    diffs = np.stack([values - reference_drift(name, ratios, advantages, clip_eps)[None]
                      for name in references])  # [refs, fractions, R, A]
    finite = np.abs(diffs[np.isfinite(diffs)])
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    fig = fig or Figure(figsize=(4.2 * len(fractions), 3.4 * len(references)),
                        layout="constrained")
    axes = fig.subplots(len(references), len(fractions), squeeze=False)
    for i, name in enumerate(references):
        label = "PPO-clip" if name == "ppo" else name.upper()
        for j, f in enumerate(fractions):
            _heatmap(fig, axes[i, j], diffs[i, j], ratios, advantages,
                     f"{rule.name} - {label}, n/N = {f:g}", cmap="RdBu_r", norm=norm)
    return fig
