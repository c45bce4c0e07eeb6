"""Learning-curve and fitness plots (matplotlib, written to PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(curves: dict[str, np.ndarray], x: np.ndarray, path: str | Path, *,
                title: str = "", xlabel: str = "environment steps",
                ylabel: str = "episode return") -> Path:
    """Mean +- std across seeds of each named [seeds, points] array, against `x`."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ys in curves.items():
        ys = np.atleast_2d(np.asarray(ys, dtype=float))
        mean, std = ys.mean(axis=0), ys.std(axis=0)
        ax.plot(x, mean, label=f"{label} (n={ys.shape[0]})")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return _finish(fig, ax, path)


def plot_fitness(fitness: np.ndarray, path: str | Path, *, title: str = "",
                 ylabel: str = "normalised fitness (PPO = 1)",
                 center: np.ndarray | None = None) -> Path:
    """Population mean and best fitness per generation ([generations, population] input) and,
    if given, the fitness of the ES mean that sampled each generation ([generations])."""
    fitness = np.asarray(fitness, dtype=float)
    gens = np.arange(len(fitness))
    fig, ax = plt.subplots(figsize=(6, 4))
    if center is not None:
        ax.plot(gens, np.asarray(center, dtype=float), color="black", lw=2,
                label="ES mean (the discovered rule)")
    ax.plot(gens, np.nanmean(fitness, axis=1), label="population mean")
    ax.plot(gens, np.nanmax(fitness, axis=1), label="best member", alpha=0.7)
    ax.fill_between(gens, np.nanpercentile(fitness, 25, axis=1),
                    np.nanpercentile(fitness, 75, axis=1), alpha=0.2, label="IQR")
    ax.set(title=title, xlabel="generation", ylabel=ylabel)
    return _finish(fig, ax, path)


def _finish(fig, ax, path: str | Path) -> Path:
    """Grid, legend, tight layout; save to `path` (creating its folder) and close."""
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
