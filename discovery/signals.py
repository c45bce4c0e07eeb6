"""Stop requests: SIGTERM (what Slurm and most schedulers send before preemption or the time
limit) and SIGINT (Ctrl-C) ask a long run to stop at a safe point instead of dying.

    with StopSignals(on_idle_stop=report_and_exit) as stop:   # main thread only
        stop.idle("checkpoint 4 holds generation 4/16")       # nothing unsaved from here on
        ...compile, compute baselines...
        stop.busy()                                           # rows or a checkpoint being written
        if not stop.wait(result):                             # wait for a chunk unless stopped
            ...abandon the chunk, checkpoint what is done...
        stop.raise_if_requested("checkpoint 5 holds ...")     # between chunks

A stop raises `Stopped`, which the command line turns into one line and a distinct exit code
(75 = EX_TEMPFAIL for SIGTERM: "resume me"; 130 for SIGINT).

Python runs signal handlers in the main thread between bytecodes, so a signal that arrives
while XLA compiles or a baseline trains would wait for that call to end. With `on_idle_stop`,
a watcher thread hears the signal at once (through the wakeup fd) and, if the run has declared
itself idle (nothing unsaved, no write in progress), calls `on_idle_stop(Stopped(...))` right
away (the command line prints and exits); otherwise the main thread stops at its next check.
A second SIGINT gives up at once (a plain KeyboardInterrupt).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

# SIGUSR2 is what submitit asks Slurm to send before a time limit or preemption: a SIGTERM.
EXIT_CODES = {signal.SIGTERM: 75, signal.SIGUSR2: 75, signal.SIGINT: 130}
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

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT),
                 on_idle_stop: Callable[[Stopped], None] | None = None):
        self.signals = signals
        self.on_idle_stop = on_idle_stop
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}
        self._guard = threading.RLock()  # the main thread's handler may run inside idle()
        self._idle: str | None = None  # what is saved, while nothing is unsaved
        self._pipe: tuple[int, int] | None = None
        self._wakeup_fd = -1

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._handle)
        if self.on_idle_stop is not None:
            self._pipe = os.pipe()
            os.set_blocking(self._pipe[1], False)
            self._wakeup_fd = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
            threading.Thread(target=self._watch, args=(self._pipe[0],), daemon=True,
                             name="rldisco-stop-watcher").start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pipe is not None:
            signal.set_wakeup_fd(self._wakeup_fd)
            os.close(self._pipe[1])  # ends the watcher (it reads end of file), which closes [0]
            self._pipe = None
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, whatever is half done
        self._record(signum)

    def _record(self, signum: int) -> None:
        with self._guard:
            if self.requested is None:
                self.requested = signum

    def _watch(self, fd: int) -> None:
        try:
            while data := os.read(fd, 1):
                if data[0] not in self.signals:
                    continue
                self._record(data[0])
                with self._guard:  # held while deciding, so the run cannot start a write
                    if self._idle is not None:
                        self.on_idle_stop(Stopped(self.requested,
                                                  f"stopped by {self.name}: {self._idle}"))
        finally:
            os.close(fd)

    def idle(self, saved: str) -> None:
        """From now on nothing is unsaved: `saved` says what the checkpoints hold."""
        with self._guard:
            self._idle = saved

    def busy(self) -> None:
        """Work or writes are in progress that a stop must not cut short."""
        with self._guard:
            self._idle = None

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
