"""Stop requests: SIGTERM (what Slurm and most schedulers send before preemption or the time
limit) and SIGINT (Ctrl-C) ask a long run to stop at the next safe point instead of dying.

    with StopSignals() as stop:            # installs the handlers (main thread only)
        ...
        if not stop.wait(result):          # wait for a chunk, unless a stop is asked first
            ...abandon the chunk, checkpoint what is done...
        stop.raise_if_requested(...)       # between chunks

The handler only records the signal; the run decides what to save and raises `Stopped`, which
the command line turns into one line and a distinct exit code (75 = EX_TEMPFAIL for SIGTERM:
"resume me"; 130 for SIGINT). A second SIGINT while stopping gives up at once (a plain
KeyboardInterrupt). A signal that arrives while XLA compiles, or inside one jitted call, acts
when that call returns: Python runs handlers only between bytecodes.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

EXIT_CODES = {signal.SIGTERM: 75, signal.SIGINT: 130}
POLL_SECONDS = 0.01


class Stopped(Exception):
    """A run stopped on request, after saving what it had; `exit_code` says which signal."""

    def __init__(self, signum: int, message: str, abandoned_work: bool = False):
        super().__init__(message)
        self.signum = signum
        self.exit_code = EXIT_CODES.get(signum, 1)
        self.abandoned_work = abandoned_work  # a computation may still run in the background


class StopSignals:
    """Records SIGTERM/SIGINT while active; restores the previous handlers on exit.

    Outside the main thread (where Python cannot install handlers) it records nothing and the
    signals keep their previous behaviour.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)):
        self.signals = signals
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, whatever is half done
        if self.requested is None:
            self.requested = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.requested).name if self.requested is not None else ""

    def wait(self, tree: Any) -> bool:
        """Block until every array in `tree` is computed (True) or a stop is requested first
        (False: the caller abandons the computation)."""
        import jax

        leaves = [x for x in jax.tree.leaves(tree) if hasattr(x, "is_ready")]
        while not all(x.is_ready() for x in leaves):
            if self.requested is not None:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def raise_if_requested(self, message: str, abandoned_work: bool = False) -> None:
        """`Stopped(message)` if a stop was requested."""
        if self.requested is not None:
            raise Stopped(self.requested, f"stopped by {self.name}: {message}", abandoned_work)


class NoStop(StopSignals):
    """Never requests a stop (library calls that did not ask for signal handling)."""

    def __init__(self) -> None:
        super().__init__(signals=())

    def wait(self, tree: Any) -> bool:
        return True  # nothing can interrupt the wait: let the caller block
