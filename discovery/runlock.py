"""One writer per run directory: an exclusive `flock` on `<run>/run.lock`.

The lock belongs to the open file, so the operating system drops it when the process dies,
however it dies: a SIGKILLed or preempted run never leaves a stale lock behind, and its resume
can start at once. The holder writes who it is (host, pid, since when, command) into the file,
so a refused process can say who holds the run. Only this module imports nothing heavy, so the
command line can refuse a busy run before it loads jax.

Locks are re-entrant within a process (`flock` would otherwise refuse a second open of the same
file by the same process): the CLI takes the lock early and `run_discovery` takes it again.
On network file systems `flock` is as good as the file system's lock support (NFSv4 maps it to
byte-range locks, visible across hosts).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOCK_FILE = "run.lock"

_held: dict[Path, list[int]] = {}  # lock path -> [fd, depth], for re-entrant acquisition


class RunLockedError(ValueError):
    """Another live process holds the run directory."""


class RunLock:
    """`with RunLock(run_path): ...` holds the run's lock (or raises RunLockedError at once)."""

    def __init__(self, run_path: str | Path):
        self.path = Path(run_path).expanduser().resolve() / LOCK_FILE

    def acquire(self) -> RunLock:
        """Take the lock without waiting; RunLockedError names the holder if it is taken."""
        if self.path in _held:
            _held[self.path][1] += 1
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{self.path.parent} is in use by {describe_holder(self.path)}; "
                                 "wait for that process to end (or stop it) before resuming "
                                 "this run") from None
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(_holder_info()) + "\n").encode())
        os.fsync(fd)
        _held[self.path] = [fd, 1]
        return self

    def release(self) -> None:
        entry = _held.get(self.path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.path]
            fcntl.flock(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])

    @property
    def held(self) -> bool:
        return self.path in _held

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def is_locked(run_path: str | Path) -> bool:
    """Whether a live process (this one included) holds the run's lock; probes without taking
    it for long and without writing the lock file."""
    path = Path(run_path).expanduser().resolve() / LOCK_FILE
    if path in _held:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # (closing drops a lock taken here)
    return False


def describe_holder(lock_path: Path) -> str:
    """`pid 123 on host-a since 2025-01-01 12:00:00 (rldisco discover ...)`, as far as known."""
    for _ in range(20):  # the holder truncates, then writes: wait out that short window
        try:
            info = json.loads(lock_path.read_text())
            break
        except (OSError, ValueError):
            time.sleep(0.01)
    else:
        return "another process (no holder information in the lock file)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return (f"pid {info.get('pid')} on {info.get('host')} since {since} "
            f"({info.get('command', '?')})")


def _holder_info() -> dict[str, Any]:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
            "command": command[:300]}
