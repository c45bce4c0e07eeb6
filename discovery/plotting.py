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


def plot_levels(rows: list[dict], path: str | Path, *, title: str = "") -> Path:
    """The levels a run trained on, per generation, from its metrics rows: the sampled batch's
    mean level features (left) and, for a curriculum, the buffer's fill and mean score and the
    generations that replayed levels (right)."""
    gens = np.asarray([r["generation"] for r in rows])
    names = sorted({k for r in rows for k in r.get("levels", {})})
    buffer = [r.get("buffer") or {} for r in rows]
    fig, axes = plt.subplots(1, 2 if any(buffer) else 1, figsize=(11 if any(buffer) else 6, 4),
                             squeeze=False)
    ax = axes[0, 0]
    for name in names:
        values = np.asarray([r.get("levels", {}).get(name, np.nan) for r in rows], dtype=float)
        scale = np.nanmax(np.abs(values)) or 1.0
        ax.plot(gens, values / scale, label=f"{name} (/ {scale:.3g})")
    ax.set(title=f"{title}: levels trained on", xlabel="generation",
           ylabel="batch mean (scaled to max 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if any(buffer):
        ax = axes[0, 1]
        for key in ("fill_ratio", "score_mean", "score_max"):
            ax.plot(gens, [b.get(key, np.nan) for b in buffer], label=key)
        replayed = [bool(r.get("replayed")) for r in rows]
        ax.scatter(gens[replayed], np.zeros(sum(replayed)), marker="|", color="black",
                   label="replayed batch")
        ax.set(title="level buffer", xlabel="generation")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grid(values: np.ndarray, returns: np.ndarray, labels: tuple[str, ...],
              path: str | Path, *, title: str = "") -> Path:
    """Return over an uncertainty set's grid: a line for 1-D, a heatmap for 2-D, heatmaps of
    the first two dimensions at the lowest, middle and highest value of the third for 3-D
    (beyond: at the first, middle and last of the remaining points in grid order). `values`
    [P, d]: physical values of the full grid (last dimension fastest); `returns` [P] (or
    [P, agents]: their mean)."""
    values = np.asarray(values, dtype=float)
    returns = np.asarray(returns, dtype=float).reshape(len(values), -1).mean(axis=1)
    d = values.shape[1]
    axes = [np.unique(values[:, i]) for i in range(d)]
    cube = returns.reshape(*[len(a) for a in axes])
    if d == 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(axes[0], cube, marker="o")
        ax.axhline(cube.min(), color="red", lw=1, ls="--", label=f"worst {cube.min():.3g}")
        ax.set(title=title, xlabel=labels[0], ylabel="episode return")
        return _finish(fig, ax, path)
    if d == 2:
        slices = [(cube, "")]
    else:
        rest = cube.reshape(len(axes[0]), len(axes[1]), -1)
        k = rest.shape[-1]
        picks = sorted({0, (k - 1) // 2, k - 1})
        name = labels[2] if d == 3 else "others"
        slices = [(rest[..., j], f"{name} = {axes[2][np.unravel_index(j, cube.shape[2:])[0]]:.3g}"
                   if d == 3 else f"slice {j}") for j in picks]
    fig, axs = plt.subplots(1, len(slices), figsize=(4.2 * len(slices) + 1, 3.8), squeeze=False)
    lo, hi = np.nanmin(returns), np.nanmax(returns)
    for ax, (img, sub) in zip(axs[0], slices, strict=True):
        mesh = ax.pcolormesh(axes[1], axes[0], img, shading="nearest", vmin=lo, vmax=hi,
                             cmap="viridis")
        ax.set(xlabel=labels[1], ylabel=labels[0], title=sub)
    fig.colorbar(mesh, ax=axs[0].tolist(), label="episode return")
    fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_worst_case_set(rows: list[dict], path: str | Path, *, title: str = "") -> Path:
    """A robust (IWOCS) discovery run per generation, from its metrics rows: the ES mean's
    agents' return on the nominal model and their worst over the set (the centre fitness),
    the worst case each search found (points), and the set's size (right axis)."""
    gens = np.asarray([r["generation"] for r in rows])

    def series(key: str) -> np.ndarray:
        return np.asarray([_nan(r.get("iwocs", {}).get(key)) for r in rows], dtype=float)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(gens, series("nominal"), label="ES mean: nominal model")
    ax.plot(gens, series("set_worst"), color="black", lw=2, label="ES mean: worst over the set")
    found = series("search_worst")
    ax.plot(gens, found, "v", color="tab:red", label="search: worst case found (added)")
    ax.set(title=title, xlabel="generation", ylabel="final-policy return")
    right = ax.twinx()
    right.step(gens, series("models"), where="post", color="gray", alpha=0.5)
    right.set_ylabel("models in the set", color="gray")
    return _finish(fig, ax, path)


def _nan(value) -> float:
    return float("nan") if value is None else float(value)
