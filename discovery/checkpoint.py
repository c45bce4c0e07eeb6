"""Orbax checkpoints of a discovery run: ES state + current meta-parameters + generation.

The ES state holds the distribution (and optimiser state); with the run's base key and the
generation number it determines everything that follows, so a resumed run is bit-identical to
an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class Checkpointer:
    """Saves/restores `{es_state, meta_params}` + JSON metadata under `directory` (absolute)."""

    def __init__(self, directory: str | Path, max_to_keep: int = 3):
        directory = Path(directory).expanduser().resolve()  # orbax needs absolute paths
        self.manager = ocp.CheckpointManager(
            directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                                            create=True))

    def save(self, generation: int, es_state: Any, meta_params: Any, meta: dict) -> None:
        self.manager.save(generation, args=ocp.args.Composite(
            es_state=ocp.args.StandardSave(es_state),
            meta_params=ocp.args.StandardSave(meta_params),
            meta=ocp.args.JsonSave({"generation": generation, **meta})))
        self.manager.wait_until_finished()

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, es_state_template: Any, step: int | None = None) -> tuple[Any, Any, dict]:
        """(es_state, meta_params, meta) of `step` (default: the latest)."""
        step = self.latest() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.manager.directory}")
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, es_state_template)
        r = self.manager.restore(step, args=ocp.args.Composite(
            es_state=ocp.args.StandardRestore(target),
            meta_params=ocp.args.StandardRestore(),
            meta=ocp.args.JsonRestore()))
        return r.es_state, r.meta_params, r.meta

    def close(self) -> None:
        self.manager.close()


def load_meta_params(checkpoint_dir: str | Path, step: int | None = None) -> tuple[Any, dict]:
    """The meta-parameters (and metadata) of a run's latest checkpoint, as numpy pytrees."""
    manager = ocp.CheckpointManager(Path(checkpoint_dir).expanduser().resolve())
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {checkpoint_dir}")
    r = manager.restore(step, args=ocp.args.Composite(
        meta_params=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    manager.close()
    return jax.tree.map(np.asarray, r.meta_params), r.meta
