"""Trained agents on disk: parameters and observation statistics, saved with orbax.

    save_agent(run.path / "agent", params, obs_stats)
    params, obs_stats = load_agent(run.path / "agent")

Arrays come back as numpy on the host (any device count), leading seed axes included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from discovery.networks import ObsStats


def save_agent(path: str | Path, params: Any, obs_stats: ObsStats) -> Path:
    """Write `params` and `obs_stats` to the directory `path` (replaced if it exists)."""
    path = Path(path).expanduser().resolve()  # orbax needs absolute paths
    tree = {"params": jax.device_get(params), "obs_stats": jax.device_get(obs_stats._asdict())}
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(path, tree, force=True)
    return path


def load_agent(path: str | Path) -> tuple[Any, ObsStats]:
    """(params, obs_stats) saved by `save_agent`, as numpy arrays."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"no saved agent at {path} (run `rldisco train` first)")
    with ocp.StandardCheckpointer() as ckpt:
        tree = ckpt.restore(path)
    tree = jax.tree.map(np.asarray, tree)
    return tree["params"], ObsStats(**tree["obs_stats"])
