"""How the command line reports a failure: one line and an exit code, never a traceback
(unless asked for with --debug). Errors that libraries wrap (orbax and tensorstore wrap the
OSError of a full disk) are recognised through their cause chain and their message."""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path

from discovery.signals import Stopped

BAD_INPUT = 2
FAILURE = 1
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
BAD_PATHS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
             PermissionError)  # a path given that cannot be used: bad input
DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded")


def as_stopped(error: BaseException) -> Stopped | None:
    return error if isinstance(error, Stopped) else None


def describe(error: BaseException, run_path: Path | None = None) -> tuple[int, str]:
    """(exit code, one line) for `error`; `run_path` (if a run was opened) for resume hints."""
    os_error = _in_chain(error, OSError)
    if _disk_full(error, os_error):
        path = os_error.filename if os_error and os_error.filename else _quoted_path(error)
        where = f" writing {path}" if path else ""
        hint = (f": free space, then continue with: rldisco discover --resume {run_path}"
                if run_path else ": free space and retry")
        return FAILURE, (f"no space left on the device{where}; nothing before the last "
                         f"checkpoint was lost{hint}")
    if os_error is not None:
        name = os_error.filename or ""
        code = BAD_INPUT if isinstance(os_error, BAD_PATHS) or os_error.errno == errno.EROFS \
            else FAILURE
        return code, f"{name}: {os_error.strerror or first_line(os_error)}" if name else \
            first_line(os_error)
    if isinstance(error, ValueError):
        return BAD_INPUT, first_line(error)
    return FAILURE, (f"{type(error).__name__}: {first_line(error)} (run with --debug for the "
                     "traceback)")


def first_line(error: BaseException) -> str:
    lines = [x for x in str(error).strip().splitlines() if x.strip()]
    return lines[0].strip() if lines else type(error).__name__


def exit_now(code: int) -> None:
    """Leave at once (after flushing output), without waiting for background computations."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _chain(error: BaseException | None) -> list[BaseException]:
    """`error` and the exceptions it was raised from (explicitly or while handling)."""
    chain: list[BaseException] = []
    while error is not None and all(error is not e for e in chain):
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return chain


def _in_chain(error: BaseException, kind: type) -> BaseException | None:
    return next((e for e in _chain(error) if isinstance(e, kind)), None)


def _quoted_path(error: BaseException) -> str | None:
    """The first quoted absolute path in the messages of `error`'s chain (tensorstore names the
    file it failed to write only in its message)."""
    for e in _chain(error):
        match = re.search(r'"(/[^"]+)"', str(e))
        if match:
            return match.group(1)
    return None


def _disk_full(error: BaseException, os_error: OSError | None) -> bool:
    if os_error is not None and os_error.errno in DISK_FULL:
        return True
    return any(t in str(e) for e in _chain(error) for t in DISK_FULL_TEXT)
