"""The run directory: the embedded store of one run.

    runs/<name>/config.yaml  metrics.jsonl  checkpoints/  eval/  plots/

Creating into an existing run refuses (use resume); resuming checks that the directory really is
a run of the expected kind.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml


class RunDirError(ValueError):
    """A run directory is missing, foreign, or already exists."""


class RunDir:
    """Paths and small-file I/O of one run directory (always absolute: orbax needs that)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()

    # -------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | Path, kind: str, config: dict[str, Any]) -> RunDir:
        """Make a new run directory of `kind` ("train", "discover", ...) with its config."""
        run = cls(path)
        if run.path.exists() and any(run.path.iterdir()):
            raise RunDirError(f"run directory {run.path} already exists; pass --resume to "
                              "continue it or choose another --name")
        for sub in ("checkpoints", "eval", "plots"):
            (run.path / sub).mkdir(parents=True, exist_ok=True)
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
        found = run.read_config().get("kind")
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

    # -------------------------------------------------------------- files
    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text()) or {}

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (numbers made JSON-safe)."""
        with self.metrics_path.open("a") as f:
            f.write(json.dumps({k: _jsonable(v) for k, v in record.items()}) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line]

    def truncate_metrics(self, keep: Any) -> None:
        """Drop records for which `keep(record)` is false (used on resume)."""
        kept = [r for r in self.metrics() if keep(r)]
        self.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
