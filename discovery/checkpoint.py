"""Orbax checkpoints of a discovery run: ES state + current meta-parameters + generation.

The ES state holds the distribution (and optimiser state); with the run's base key and the
generation number it determines everything that follows, so a resumed run is bit-identical to
an uninterrupted one. Each checkpoint's JSON metadata also holds the config it was made with,
so a resume can tell whether the config was changed since.

Damage: a step whose files cannot be read back (truncated data, empty metadata) is moved aside
to `checkpoints/corrupt-<step>` (kept for inspection, never deleted) and the newest intact step
is used instead. The temporary directory of a save cut short by a kill is removed by orbax when
the run is next opened for writing.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

CORRUPT_PREFIX = "corrupt-"


class CheckpointMismatch(ValueError):
    """A checkpoint is intact but does not fit the state it should restore (another config)."""


class Restored(NamedTuple):
    es_state: Any
    meta_params: Any
    meta: dict
    step: int


def _handlers() -> dict[str, Any]:
    return {"es_state": ocp.StandardCheckpointHandler(),
            "meta_params": ocp.StandardCheckpointHandler(),
            "meta": ocp.JsonCheckpointHandler()}


class Checkpointer:
    """Saves/restores `{es_state, meta_params}` + JSON metadata under `directory` (absolute)."""

    def __init__(self, directory: str | Path, max_to_keep: int = 3):
        self.directory = Path(directory).expanduser().resolve()  # orbax needs absolute paths
        self.manager = ocp.CheckpointManager(
            self.directory, item_handlers=_handlers(),
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                                 cleanup_tmp_directories=True))

    def save(self, generation: int, es_state: Any, meta_params: Any, meta: dict) -> None:
        """Write checkpoint `generation` and wait until it is on disk; a failure (a full disk)
        raises here, once, and orbax's own error logs from its writer threads are held back."""
        with quiet_orbax(logging.CRITICAL):
            self.manager.save(generation, args=ocp.args.Composite(
                es_state=ocp.args.StandardSave(es_state),
                meta_params=ocp.args.StandardSave(meta_params),
                meta=ocp.args.JsonSave({"generation": generation, **meta})))
            self.manager.wait_until_finished()

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        """Every finished step, newest first."""
        return sorted(self.manager.all_steps(), reverse=True)

    def read_meta(self, step: int) -> dict:
        """The JSON metadata of `step` (generation, rule, envs, config)."""
        with quiet_orbax():
            return self.manager.restore(step, args=ocp.args.Composite(
                meta=ocp.args.JsonRestore())).meta

    def restore(self, es_state_template: Any, step: int | None = None) -> tuple[Any, Any, dict]:
        """(es_state, meta_params, meta) of `step` (default: the latest)."""
        step = self.latest() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, es_state_template)
        with quiet_orbax():
            params_target = stored_target(self.manager, step, "meta_params")
            r = self.manager.restore(step, args=ocp.args.Composite(
                es_state=ocp.args.StandardRestore(target),
                meta_params=ocp.args.StandardRestore(params_target),
                meta=ocp.args.JsonRestore()))
        return r.es_state, r.meta_params, r.meta

    def stored_shapes(self, step: int) -> dict[str, tuple]:
        """{leaf path: (shape, dtype)} of the ES state stored at `step` (reads metadata only)."""
        with quiet_orbax():
            stored = self.manager.item_metadata(step)["es_state"]
        if stored is None:
            raise ValueError(f"checkpoint {step} has no ES state metadata")
        return _shapes(getattr(stored, "tree", stored))

    def restore_intact(self, es_state_template: Any,
                       check: Callable[[int, dict], None] | None = None,
                       echo: Callable[[str], None] = print) -> Restored | None:
        """The newest checkpoint that reads back whole, or None if there is none.

        Steps that fail to read are moved aside (`corrupt-<step>`) with a message to `echo`.
        `check(step, meta)` runs on the newest readable metadata before anything is restored;
        whatever it raises (e.g. a refused config change) propagates, and so does a
        CheckpointMismatch (the stored ES state has other shapes than the template): those
        are not damage, and nothing is moved.
        """
        wanted = _shapes(es_state_template)
        for step in self.steps():
            try:
                meta = self.read_meta(step)
                stored = self.stored_shapes(step)
            except Exception as e:  # any read failure means a damaged step
                self._set_aside(step, e, echo)
                continue
            if check is not None:
                check(step, meta)
            if stored != wanted:
                diff = sorted(set(stored.items()) ^ set(wanted.items()))[:2]
                raise CheckpointMismatch(
                    f"checkpoint {step} in {self.directory} holds an ES state of other shapes "
                    f"than this config makes ({'; '.join(f'{k} {v}' for k, v in diff)}): the "
                    "changed config cannot continue this run; start a new run instead")
            try:
                es_state, meta_params, meta = self.restore(es_state_template, step)
            except Exception as e:  # the data cannot be read back: damaged
                self._set_aside(step, e, echo)
                continue
            return Restored(es_state, meta_params, meta, step)
        return None

    def _set_aside(self, step: int, error: Exception, echo: Callable[[str], None]) -> None:
        source = self.directory / str(step)
        target = self.directory / f"{CORRUPT_PREFIX}{step}"
        n = 1
        while target.exists():
            n += 1
            target = self.directory / f"{CORRUPT_PREFIX}{step}.{n}"
        source.rename(target)
        self.manager.reload()
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else \
            type(error).__name__
        echo(f"warning: checkpoint {step} is damaged ({reason}); moved it to {target} and "
             "fell back to the previous one")

    def close(self) -> None:
        self.manager.close()


def load_meta_params(checkpoint_dir: str | Path, step: int | None = None) -> tuple[Any, dict]:
    """The meta-parameters (and metadata) of a run's newest readable checkpoint (or of `step`),
    as numpy pytrees. Damaged steps are skipped with a warning and left in place (this is a
    read-only path: evaluation may run on a run it does not own)."""
    directory = Path(checkpoint_dir).expanduser().resolve()
    options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0)
    with quiet_orbax():  # (orbax warns that a read-only manager's directory is read-only)
        manager = ocp.CheckpointManager(directory, item_handlers=_handlers(), options=options)
    try:
        steps = sorted(manager.all_steps(), reverse=True) if step is None else [step]
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {checkpoint_dir}")
        for s in steps:
            try:
                with quiet_orbax():
                    r = manager.restore(s, args=ocp.args.Composite(
                        meta_params=ocp.args.StandardRestore(
                            stored_target(manager, s, "meta_params")),
                        meta=ocp.args.JsonRestore()))
                return jax.tree.map(np.asarray, r.meta_params), r.meta
            except Exception as e:  # a damaged step: try the one before
                if step is not None:
                    raise
                print(f"warning: checkpoint {s} in {directory} is damaged "
                      f"({str(e).strip()[:160] or type(e).__name__}); using an older one",
                      file=sys.stderr)
        raise FileNotFoundError(f"no readable checkpoint in {checkpoint_dir}")
    finally:
        manager.close()


def stored_target(manager: ocp.CheckpointManager, step: int, item: str) -> Any:
    """The restore target of `item` at `step`: its stored shapes and dtypes, replicated over
    this process's devices (not the devices that wrote it), so a checkpoint written on any
    number of devices or hosts opens on any other."""
    stored = manager.item_metadata(step)[item]
    if stored is None:
        raise ValueError(f"checkpoint {step} has no {item} metadata")
    sharding = NamedSharding(Mesh(np.asarray(jax.devices()), ("pop",)), P())
    return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(tuple(leaf.shape), leaf.dtype,
                                                          sharding=sharding),
                        getattr(stored, "tree", stored))


@contextlib.contextmanager
def quiet_orbax(level: int = logging.ERROR) -> Iterator[None]:
    """Keep orbax/tensorstore's own failure chatter (absl logs below `level`, tracebacks of
    abandoned coroutines) off the terminal while an operation may fail; the caller reports the
    failure."""
    absl = logging.getLogger("absl")
    previous, hook = absl.level, sys.unraisablehook
    absl.setLevel(level)
    sys.unraisablehook = lambda _: None
    try:
        yield
    except BaseException:
        gc.collect()  # the failed operation's abandoned coroutines die while still silenced
        raise
    finally:
        absl.setLevel(previous)
        sys.unraisablehook = hook


def _shapes(tree: Any) -> dict[str, tuple]:
    """{'mean': ((7,), 'float32'), 'opt_state/0/mu': ...} for the array leaves of `tree`."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(_key(k) for k in path): (tuple(leaf.shape), str(np.dtype(leaf.dtype)))
            for path, leaf in flat if hasattr(leaf, "shape")}


def _key(k: Any) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)
