"""Statistics of evaluation results: interquartile mean, percentile-bootstrap confidence
intervals (plain and stratified, as rliable computes them) and the per-rule score summary that
`evaluate`, `robust-eval` and sweep reports print. numpy only; every interval uses a fixed
generator, so a report is reproducible."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

N_RESAMPLES = 2000
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (trims floor(n/4) values at each end,
    like `scipy.stats.trim_mean(x, 0.25)` and rliable)."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = x.shape[axis]
    if n == 0:
        return np.mean(x, axis=axis)  # NaN, like np.mean of nothing
    k = int(np.floor(0.25 * n))
    return np.mean(np.take(x, np.arange(k, n - k), axis=axis), axis=axis)


def bootstrap_ci(samples: np.ndarray | Sequence[np.ndarray],
                 statistic: Callable[..., np.ndarray] = np.mean, *,
                 n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of `statistic(x, axis=-1)`.

    `samples` is one 1-D array, or a sequence of 1-D arrays (strata, e.g. one per environment)
    that are resampled independently and pooled (a stratified bootstrap, as in rliable).
    Uses a fixed `numpy.random.default_rng(seed)`, so the interval is reproducible.
    """
    if isinstance(samples, list | tuple) and samples and np.ndim(samples[0]) >= 1:
        strata = [np.asarray(s, dtype=float).ravel() for s in samples]
    else:
        strata = [np.asarray(samples, dtype=float).ravel()]
    strata = [s for s in strata if s.size]
    if not strata:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    resampled = np.concatenate(
        [s[rng.integers(0, s.size, size=(n_resamples, s.size))] for s in strata], axis=1)
    stats = statistic(resampled, axis=-1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(stats, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def score_summary(strata: Sequence[np.ndarray]) -> dict[str, Any]:
    """{n, mean, iqm, ci} of normalised scores (non-finite ones dropped and counted)."""
    strata = [np.asarray(s, dtype=float).ravel() for s in strata]
    finite = [s[np.isfinite(s)] for s in strata]
    pooled = np.concatenate(finite) if finite else np.zeros(0)
    dropped = int(sum(s.size for s in strata) - pooled.size)
    if pooled.size == 0:
        return {"n": 0, "nonfinite": dropped, "mean": None, "iqm": None, "ci": [None, None]}
    lo, hi = bootstrap_ci(finite, np.mean)
    return {"n": int(pooled.size), "nonfinite": dropped, "mean": float(pooled.mean()),
            "iqm": float(iqm(pooled)), "ci": [lo, hi]}


def mean_ci(values: Sequence[float], seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(mean, low, high) of the finite `values`: the mean and its percentile-bootstrap CI
    (a NaN interval below 2 values)."""
    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if not len(x):
        return (float("nan"),) * 3
    if len(x) < 2:
        return float(x.mean()), float("nan"), float("nan")
    lo, hi = bootstrap_ci(x, np.mean, seed=seed)
    return float(x.mean()), lo, hi
