"""Progress display for long commands, and optional TensorBoard / W&B sinks."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console


class ProgressLine:
    """One line per report: `[label] 12/50 (24%) | fitness 0.41 | 1.2e5 steps/s | ETA 3m10s`.

    Rich-coloured on a terminal, plain text in logs (CI, Slurm), so every long command shows
    where it is without a live-redraw that log files cannot hold.
    """

    def __init__(self, label: str, total: int, unit: str = "steps", console: Console | None = None):
        self.label, self.total, self.unit = label, total, unit
        self.console = console or Console(file=sys.stdout, highlight=False)
        self.start = time.perf_counter()
        self.work = 0.0
        self._t0_done: int | None = None

    def report(self, done: int, work: float = 0.0, **fields: Any) -> None:
        """`done` of `total` finished; `work` units (e.g. env steps) done since the last call."""
        now = time.perf_counter()
        if self._t0_done is None:  # the first report includes compilation: time from here
            self._t0_done, self._t0, self.work = done, now, 0.0
        else:
            self.work += work
        elapsed = now - self._t0
        parts = [f"[bold]{self.label}[/bold] {done}/{self.total} ({100 * done / self.total:.0f}%)"]
        parts += [f"{k} {_fmt(v)}" for k, v in fields.items()]
        if elapsed > 0 and self.work > 0:
            parts.append(f"{self.work / elapsed:.3g} {self.unit}/s")
        if done > self._t0_done and elapsed > 0:
            eta = elapsed / (done - self._t0_done) * (self.total - done)
            parts.append(f"ETA {_duration(eta)}")
        parts.append(f"elapsed {_duration(now - self.start)}")
        self.console.print(" | ".join(parts), soft_wrap=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Trackers:
    """Optional TensorBoard (tensorboardX) and Weights & Biases sinks, both opt-in extras."""

    def __init__(self, logdir: str, tensorboard: bool = False, wandb_project: str | None = None,
                 config: dict[str, Any] | None = None):
        self._tb = self._wandb = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as e:  # pragma: no cover - depends on the extra
                raise RuntimeError("TensorBoard logging needs the 'tracking' extra: "
                                   "pip install -e '.[tracking]'") from e
            self._tb = SummaryWriter(logdir)
        if wandb_project:
            try:
                import wandb
            except ImportError as e:  # pragma: no cover
                raise RuntimeError("W&B logging needs the 'tracking' extra: "
                                   "pip install -e '.[tracking]'") from e
            self._wandb = wandb.init(project=wandb_project, config=config, dir=logdir)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        if self._tb is not None:
            for k, v in scalars.items():
                if isinstance(v, int | float):
                    self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
