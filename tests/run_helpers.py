"""Helpers shared by the end-to-end discovery tests: `from run_helpers import ...`."""

from __future__ import annotations

import functools

import pytest


def discover_keeping_every_checkpoint(*args: str) -> int:
    """`rldisco discover ARGS` in this process with every checkpoint kept (a run keeps its
    last 3), so a test can read back the state after each generation; returns the exit code."""
    import discovery.run as run_module
    from discovery.checkpoint import Checkpointer
    from discovery.cli import main

    patch = pytest.MonkeyPatch()
    patch.setattr(run_module, "Checkpointer", functools.partial(Checkpointer, max_to_keep=None))
    try:
        return main(["discover", *args])
    finally:
        patch.undo()
