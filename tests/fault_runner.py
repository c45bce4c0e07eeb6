"""`rldisco` with one fault injected at a named point, for the fault-injection tests:

    python tests/fault_runner.py FAULT discover --resume runs/x

FAULT is one of (N counts calls within this process, from 1):
  none                   no fault
  kill-in-baselines      SIGKILL while the PPO / random baselines are computed
  kill-in-compile        SIGKILL as the first chunk is traced and compiled
  int-in-compile         SIGINT as the first chunk is traced and compiled
  pause-in-row:G         write half of generation G's metrics row, print PAUSED, wait to be killed
  kill-in-checkpoint:N   SIGKILL while the N-th checkpoint is being written (after orbax started)
  kill-in-chunk:N        SIGKILL while the N-th chunk is computed
  term-in-chunk:N        SIGTERM while the N-th chunk is computed
  usr2-in-chunk:N        SIGUSR2 (Slurm's warning through submitit) while the N-th chunk runs
  int-in-chunk:N         SIGINT while the N-th chunk is computed

The faults patch the library from outside, so the product carries no fault hooks. Tests that
stay in their own process use `install(fault, monkeypatch.setattr)` for the signal faults.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from discovery.compile_cache import quiet_cache_loads


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _nth(n: int):
    """A counter: `hit()` is True on the n-th call."""
    calls = [0]

    def hit() -> bool:
        calls[0] += 1
        return calls[0] == n

    return hit


def install(fault: str, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Patch the library so that `fault` happens (`patch(owner, name, value)` sets attributes)."""
    name, _, arg = fault.partition(":")
    if name == "none":
        return
    import discovery.signals as signals  # (imports no jax: a multi-host run starts after)

    if name in ("kill-in-chunk", "term-in-chunk", "int-in-chunk", "usr2-in-chunk"):
        hit, real_wait = _nth(int(arg)), signals.StopSignals.wait

        def wait(self, tree):
            if not hit():
                return real_wait(self, tree)
            if name == "kill-in-chunk":
                _die()
            os.kill(os.getpid(), {"term-in-chunk": signal.SIGTERM,
                                  "usr2-in-chunk": signal.SIGUSR2}.get(name, signal.SIGINT))
            return False  # what `wait` answers when a stop arrives with the chunk in flight

        patch(signals.StopSignals, "wait", wait)
        return
    import discovery.checkpoint as checkpoint
    import discovery.run as run
    import discovery.rundir as rundir

    if name == "kill-in-baselines":
        patch(run, "compute_baselines", lambda *args, **kwargs: _die())
    elif name in ("kill-in-compile", "int-in-compile"):
        real_build = run.build_loop

        def build_loop(*args, **kwargs):  # the chunk's first call traces and compiles it
            loop = real_build(*args, **kwargs)

            def chunk(*a, **k):
                if name == "kill-in-compile":
                    _die()
                os.kill(os.getpid(), signal.SIGINT)
                return loop.chunk(*a, **k)
            return dataclasses.replace(loop, chunk=chunk)

        patch(run, "build_loop", build_loop)
    elif name == "pause-in-row":
        real_log, target = rundir.RunDir.log, int(arg)

        def log(self, record):
            if record.get("generation") != target:
                return real_log(self, record)
            line = rundir.json.dumps(record)
            with self.metrics_path.open("a") as f:
                f.write(line[: len(line) // 2])
            print("PAUSED", flush=True)
            while True:
                time.sleep(1)

        patch(rundir.RunDir, "log", log)
    elif name == "kill-in-checkpoint":
        hit, real_save = _nth(int(arg)), checkpoint.Checkpointer.save

        def save(self, generation, es_state, meta_params, meta):
            if not hit():
                return real_save(self, generation, es_state, meta_params, meta)
            ocp = checkpoint.ocp
            self.manager.save(generation, args=ocp.args.Composite(
                es_state=ocp.args.StandardSave(es_state),
                meta_params=ocp.args.StandardSave(meta_params),
                meta=ocp.args.JsonSave({"generation": generation, **meta})))
            _die()

        patch(checkpoint.Checkpointer, "save", save)
    else:
        raise SystemExit(f"unknown fault {fault!r}")


if __name__ == "__main__":
    quiet_cache_loads()
    install(sys.argv[1])
    from discovery.cli import main

    sys.argv = ["rldisco", *sys.argv[2:]]
    sys.exit(main())
