"""What a resume may change in a run's config, and the record of what it did change.

A checkpoint stores the config it was made with. On resume the run's config.yaml (or an
override) is compared with it, field by field:

- `generations` and `checkpoint_every` are safe: they only say how far to go and how often
  to save (`generations` may not go below the checkpoint's generation).
- every other field can change results (ES, inner loop, rule, environments, seeds, and even
  `chunk`, which changes how generations are grouped into compiled programs and so may change
  the last bits of floating-point results). A resume refuses such a change unless asked
  explicitly (`--allow-config-change` / `allow_config_change=True`).

Every change a resume goes on with, safe or allowed, is appended to the run's
`config_changes.jsonl` (time, generation, field: [old, new]).
"""

from __future__ import annotations

import json
import time
from typing import Any

SAFE_FIELDS = ("generations", "checkpoint_every")
CHANGES_FILE = "config_changes.jsonl"


class ConfigChangeError(ValueError):
    """A resume would continue a run with a config that changes its results."""


def config_diff(old: dict[str, Any], new: dict[str, Any],
                prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """{dotted field: (old, new)} for every field that differs (compared as JSON values)."""
    old, new = _as_json(old), _as_json(new)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changes.update(config_diff(a, b, prefix=f"{name}."))
        elif a != b:
            changes[name] = (a, b)
    return changes


def check_config_change(stored: dict[str, Any] | None, current: dict[str, Any], *, step: int,
                        allow: bool, source: str) -> dict[str, tuple[Any, Any]]:
    """The changes from the checkpoint's config `stored` to `current` that a resume at
    generation `step` may go on with; ConfigChangeError for any it may not.

    `source` names where `current` came from (for the message), e.g. the config.yaml path.
    """
    if stored is None:  # a checkpoint from before configs were stored: nothing to compare
        return {}
    changes = config_diff(stored, current)
    generations = changes.get("generations", (None, None))[1]
    if generations is not None and generations < step:
        raise ConfigChangeError(f"{source}: generations={generations} is below the "
                                f"checkpoint's generation {step}")
    unsafe = {k: v for k, v in changes.items() if k not in SAFE_FIELDS}
    if unsafe and not allow:
        listed = ", ".join(f"{k} ({_short(a)} -> {_short(b)})" for k, (a, b) in unsafe.items())
        raise ConfigChangeError(
            f"{source} differs from checkpoint {step} in {listed}, which changes results; "
            "restore the old value(s), or pass --allow-config-change to continue with the "
            "new ones (recorded in the run)")
    return changes


def change_record(step: int, changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """One line of config_changes.jsonl."""
    return {"time": time.time(), "generation": step,
            "changes": {k: [a, b] for k, (a, b) in changes.items()},
            "results_may_differ": sorted(k for k in changes if k not in SAFE_FIELDS)}


def _as_json(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
