"""Where a resumed discovery run starts: the newest intact checkpoint, a config check against
it, and metrics cut back to it.

Order matters and nothing is written before every check has passed: the config change is
judged on the checkpoint's stored config (refused changes leave the run untouched), damaged
checkpoints are set aside for an older one, and only then are metrics rows past the restored
generation dropped (rows logged before the first checkpoint included: with no checkpoint the
run restarts at generation 0 and keeps no rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from discovery.checkpoint import Checkpointer
from discovery.config_change import (
    CHANGES_FILE,
    change_record,
    check_config_change,
    config_diff,
)
from discovery.rundir import RunDir


def restore_for_resume(cfg: Any, run: RunDir, ckpt: Checkpointer, es_state: Any, *,
                       allow_config_change: bool = False,
                       echo: Callable[[str], None] = print) -> tuple[Any, int]:
    """(es_state, generations done) to continue `run` with config `cfg` (a DiscoveryConfig);
    `es_state` is the fresh state, the template of what is restored."""
    current = cfg.to_dict()
    on_disk = run.read_config()
    overridden = bool(config_diff({k: v for k, v in on_disk.items() if k != "kind"}, current))
    source = f"{run.config_path}{' with the overrides' if overridden else ''}"
    accepted: dict[str, tuple[Any, Any]] = {}

    def check(step: int, meta: dict) -> None:
        accepted.update(check_config_change(meta.get("config"), current, step=step,
                                            allow=allow_config_change, source=source))

    had_steps = bool(ckpt.steps())
    restored = ckpt.restore_intact(es_state, check=check, echo=echo)
    done = 0
    if restored is not None:
        es_state, done = restored.es_state, restored.step
    elif had_steps:
        echo("warning: no intact checkpoint left: starting over from generation 0")
    if overridden:
        run.write_config({"kind": on_disk.get("kind"), **current})
    if accepted:
        run.append_json(CHANGES_FILE, change_record(done, accepted))
        echo("config changes since checkpoint "
             f"{done}: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in accepted.items())
             + f" (recorded in {CHANGES_FILE})")
    dropped = run.truncate_metrics(lambda r: r.get("generation", -1) < done,
                                   on_partial=lambda m: echo(f"warning: {m}"))
    echo(f"resumed {run.name} at generation {done}/{cfg.generations}"
         + (f"; dropped {dropped} metrics row(s) logged after that point" if dropped else ""))
    return es_state, done
