"""A tiny discovery run (2 generations of TA-LPO on CartPole), made once per test process and
shared by the evaluation and notebook tests: `from tiny_run import tiny_run_path`."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

TINY_OVERRIDES = ["generations=2", "chunk=1", "es.population_size=4", "train.num_envs=4",
                  "train.num_steps=16", "train.total_timesteps=256", "levels.fitness=raw"]


@functools.cache
def tiny_run_path() -> Path:
    """Path of a finished tiny discovery run (removed when the process exits)."""
    from discovery.config import apply_overrides, preset
    from discovery.run import run_discovery, start_run

    cfg = apply_overrides(preset("quickstart"), TINY_OVERRIDES)
    root = Path(tempfile.mkdtemp(prefix="rldisco_tiny_run_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    run = start_run(cfg, root / "tiny")
    run_discovery(cfg, run, progress=False, echo=lambda _: None)
    return run.path
