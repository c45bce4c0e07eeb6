"""The run directory: the embedded store of one run.

    runs/<name>/config.yaml  metrics.jsonl  checkpoints/  eval/  plots/  run.lock
                 config_changes.jsonl (changes accepted on resume)  baselines.json

Creating into an existing run refuses (use resume); resuming checks that the directory really is
a run of the expected kind. Small files are replaced atomically (written aside, then renamed),
so a kill never leaves half a config; metrics.jsonl is append-only, and a last line cut short by
a kill is dropped with a warning when it is read.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from discovery.runlock import LOCK_FILE, RunLock

SUBDIRS = ("checkpoints", "eval", "plots")


class RunDirError(ValueError):
    """A run directory is missing, foreign, unreadable, unwritable, or already exists."""


def warn(message: str) -> None:
    """A one-line warning on stderr (the default for recoverable problems in run files)."""
    print(f"warning: {message}", file=sys.stderr)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path`; malformed YAML is a RunDirError naming the file and line."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RunDirError(f"{where}: not valid YAML ({problem})") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not a text file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a mapping of config fields, got "
                          f"{type(data).__name__}")
    return data


def check_writable(path: str | Path, purpose: str) -> None:
    """RunDirError unless a file can be created in directory `path` (checked by doing it)."""
    path = Path(path)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise RunDirError(f"{path} is not writable ({e.strerror}); {purpose}") from None


def check_creatable(path: str | Path, purpose: str) -> None:
    """RunDirError unless directory `path` exists and is writable or could be created (its
    nearest existing ancestor is a writable directory). Creates nothing."""
    path = Path(path).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise RunDirError(f"{existing} is not a directory; {purpose}")
    check_writable(existing, purpose)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` by `text` all at once (a kill leaves the old or the new file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """Paths and small-file I/O of one run directory (always absolute: orbax needs that)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()

    # -------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | Path, kind: str, config: dict[str, Any]) -> RunDir:
        """Make a new run directory of `kind` ("train", "discover", ...) with its config."""
        run = cls(path)
        exists = RunDirError(f"run directory {run.path} already exists; pass --resume to "
                             "continue it or choose another --name")
        if run.config_path.exists():
            raise exists  # (before locking: the run may be live)
        run.path.mkdir(parents=True, exist_ok=True)
        with RunLock(run.path):
            if not run.is_unused():
                raise exists
            for sub in SUBDIRS:
                (run.path / sub).mkdir(exist_ok=True)
            run.write_config({"kind": kind, **config})
        return run

    @classmethod
    def open(cls, path: str | Path, kind: str) -> RunDir:
        """Open an existing run of `kind`, refusing missing or foreign directories."""
        run = cls(path)
        if not run.path.is_dir():
            raise RunDirError(f"no run directory at {run.path}")
        if not run.config_path.is_file():
            raise RunDirError(f"{run.path} is not a run directory (no config.yaml)")
        try:
            found = run.read_config().get("kind")
        except PermissionError as e:
            raise RunDirError(f"{run.config_path} is not readable ({e.strerror})") from None
        if found != kind:
            raise RunDirError(f"{run.path} is a '{found}' run, not a '{kind}' run")
        return run

    # -------------------------------------------------------------- paths
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    # -------------------------------------------------------------- state
    def is_unused(self) -> bool:
        """True if the directory holds nothing of a run's work: no config, no results (at most
        the lock file and empty subdirectories)."""
        for entry in self.path.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if not (entry.name in SUBDIRS and entry.is_dir() and not any(entry.iterdir())):
                return False
        return True

    def remove_if_empty(self) -> bool:
        """Remove a run directory that holds only its config (a start that failed before any
        work), so that the same name can be used again. True if it was removed."""
        results = [p for p in self.path.iterdir()
                   if p.name not in (LOCK_FILE, self.config_path.name, *SUBDIRS)]
        if results or any(any((self.path / s).iterdir()) for s in SUBDIRS
                          if (self.path / s).is_dir()):
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    # -------------------------------------------------------------- files
    def write_config(self, config: dict[str, Any]) -> None:
        write_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        return read_yaml(self.config_path)

    def write_json(self, name: str, data: Any) -> Path:
        """Replace `<run>/<name>` by `data` as JSON, atomically (folders made as needed)."""
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=2))
        return path

    def append_json(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON line to `<run>/<name>`."""
        with (self.path / name).open("a") as f:
            f.write(json.dumps({k: _jsonable(v) for k, v in record.items()}) + "\n")

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (numbers made JSON-safe)."""
        self.append_json(self.metrics_path.name, record)

    def metrics(self, on_partial: Callable[[str], None] = warn) -> list[dict[str, Any]]:
        """The records of metrics.jsonl. A last line without its newline that is not JSON (a
        write cut short by a kill) is dropped and reported to `on_partial`; any other bad line
        is a RunDirError naming the file and line."""
        return read_jsonl(self.metrics_path, on_partial)

    def truncate_metrics(self, keep: Callable[[dict[str, Any]], bool],
                         on_partial: Callable[[str], None] = warn) -> int:
        """Keep only the records for which `keep(record)` holds (used on resume), rewriting the
        file atomically; returns how many were dropped."""
        records = self.metrics(on_partial)
        kept = [r for r in records if keep(r)]
        if self.metrics_path.exists():
            write_atomic(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
        return len(records) - len(kept)


def read_jsonl(path: Path, on_partial: Callable[[str], None] = warn) -> list[dict[str, Any]]:
    """Records of a JSON-lines file (see `RunDir.metrics` for how damage is handled)."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if number == len(lines):  # the last line, with no newline after it
                on_partial(f"{path}:{number}: dropped a partial last line (a write cut short)")
                continue
            raise RunDirError(f"{path}:{number}: not a JSON record ({e.msg})") from None
    return records


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class ReadOnlyRun(RunDir):
    """A run directory as a process that does not write it sees it (in a multi-host run,
    every process but 0): reads as usual, writes nothing."""

    def write_config(self, config: dict[str, Any]) -> None:
        pass

    def write_json(self, name: str, data: Any) -> Path:
        return self.path / name

    def append_json(self, name: str, record: dict[str, Any]) -> None:
        pass

    def log(self, record: dict[str, Any]) -> None:
        pass

    def truncate_metrics(self, keep: Callable[[dict[str, Any]], bool],
                         on_partial: Callable[[str], None] = warn) -> int:
        return 0
