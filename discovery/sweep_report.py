"""`rldisco sweep report`: final and best centre fitness per configuration (mean over seeds
and a bootstrap confidence interval), as a table, `report/summary.csv` and plots (centre
fitness curves per configuration, final fitness against each swept axis).

Read from the run directories only (metrics.jsonl, result.json); runs without rows are left
out and counted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from discovery.rundir import read_jsonl
from discovery.stats import mean_ci
from discovery.sweep import SweepDir


def run_fitness(run: Path) -> dict[str, Any] | None:
    """{curve [G], final, best} centre fitness of one run, or None without metrics rows.

    `final` is result.json's score of the final meta-parameters if the run wrote one, else
    the last row's centre fitness; `best` is the best of the curve and `final`."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return None
    rows = [r for r in read_jsonl(path, on_partial=lambda _: None) if "generation" in r]
    if not rows:
        return None
    curve = np.asarray([np.nan if r.get("center_fitness") is None else r["center_fitness"]
                        for r in rows], dtype=float)
    final = curve[-1]
    result = run / "result.json"
    if result.exists():
        final = float(json.loads(result.read_text()).get("final_center_fitness", final))
    finite = np.concatenate([curve, [final]])
    finite = finite[np.isfinite(finite)]
    return {"curve": curve, "final": float(final),
            "best": float(finite.max()) if len(finite) else float("nan")}


def summarize(sweep: SweepDir) -> tuple[list[dict[str, Any]], dict[int, list[np.ndarray]]]:
    """One row per configuration (its swept values, the number of runs with rows, final and
    best centre fitness mean / CI low / CI high) and each configuration's curves."""
    table = sweep.runs()
    axes = [k for k in table[0] if k not in ("run", "config", "seed")]
    varying = [k for k in axes if len({json.dumps(r[k]) for r in table}) > 1]
    rows, curves = [], {}
    for config in sorted({r["config"] for r in table}):
        members = [r for r in table if r["config"] == config]
        scores = [s for s in (run_fitness(sweep.run_path(r["run"])) for r in members)
                  if s is not None]
        curves[config] = [s["curve"] for s in scores]
        row: dict[str, Any] = {"config": config, **{k: members[0][k] for k in varying},
                               "runs": len(scores), "of": len(members)}
        for measure in ("final", "best"):
            mean, low, high = mean_ci([s[measure] for s in scores], seed=config)
            row.update({f"{measure}_mean": mean, f"{measure}_low": low,
                        f"{measure}_high": high})
        rows.append(row)
    return rows, curves


def write_report(sweep: SweepDir) -> tuple[str, Path]:
    """Write report/summary.csv and the plots; returns (markdown table, report directory)."""
    rows, curves = summarize(sweep)
    out = sweep.path / "report"
    out.mkdir(exist_ok=True)
    with (out / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    axes = [k for k in rows[0] if k not in ("config", "runs", "of") and
            not k.startswith(("final_", "best_"))]
    _plot(rows, curves, axes, out)
    return markdown(rows, axes), out


def markdown(rows: list[dict[str, Any]], axes: list[str]) -> str:
    head = ["config", *axes, "runs", "final (95% CI)", "best (95% CI)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["config"]), *(json.dumps(r[k]) for k in axes), f"{r['runs']}/{r['of']}",
                 _ci(r, "final"), _ci(r, "best")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ci(row: dict[str, Any], measure: str) -> str:
    mean, low, high = (row[f"{measure}_{k}"] for k in ("mean", "low", "high"))
    if not np.isfinite(mean):
        return "-"
    if not np.isfinite(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _plot(rows: list[dict[str, Any]], curves: dict[int, list[np.ndarray]], axes: list[str],
          out: Path) -> None:
    from discovery.plotting import plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for config, runs in curves.items():
        if not runs:
            continue
        width = max(len(c) for c in runs)
        stacked = np.stack([np.pad(c, (0, width - len(c)), constant_values=np.nan)
                            for c in runs])
        ax.plot(np.arange(width), np.nanmean(stacked, axis=0), label=f"config {config}")
    ax.set(xlabel="generation", ylabel="centre fitness (mean over seeds)",
           title="fitness per configuration")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    for axis in axes:
        fig, ax = plt.subplots(figsize=(5, 4))
        labels = [r[axis] for r in rows]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels)
        x = np.asarray(labels, dtype=float) if numeric else np.arange(len(rows))
        mean = np.asarray([r["final_mean"] for r in rows], dtype=float)
        err = np.abs(np.stack([mean - [r["final_low"] for r in rows],
                               np.asarray([r["final_high"] for r in rows]) - mean]))
        ax.errorbar(x, mean, yerr=np.nan_to_num(err), fmt="o", capsize=3)
        if not numeric:
            ax.set_xticks(x, [json.dumps(v) for v in labels], rotation=30)
        ax.set(xlabel=axis, ylabel="final centre fitness", title=f"final fitness vs {axis}")
        fig.tight_layout()
        fig.savefig(out / f"final_vs_{axis.replace('/', '_')}.png", dpi=100)
        plt.close(fig)
