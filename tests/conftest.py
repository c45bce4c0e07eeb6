"""Test-session settings: XLA at -O1, one compilation cache per session, and an optional
per-test report of JAX trace/lower/compile seconds.

CI runs the suite on two xdist workers that take whole files (`--dist loadfile`); xdist hands
out files with the most tests first, which interleaves the few heavy end-to-end files with
many small compile-bound ones. (Heaviest-first by measured cost, `--no-loadscope-reorder`,
took 1,482 s in one clean-clone `.ci/run`; xdist's order 1,312 s and 1,535 s in two others:
no better, within this machine's run-to-run spread.)
"""

from __future__ import annotations

import os
import shutil
import tempfile

# Tests run tiny programs, so XLA's compile time dominates their cost: LLVM at -O1 compiles
# them about a quarter faster than the default -O2/-O3, and the few longer learning runs are
# no slower (measured: brax inverted pendulum 72 -> 49 s, A2C on `dense` 71 -> 56 s; -O0
# compiles faster still but runs the grid-world learning test 2.5x slower). Set before jax is
# imported; xdist workers and the subprocesses tests start inherit it.
SPEED_FLAGS = "--xla_backend_optimization_level=1"
if SPEED_FLAGS not in os.environ.get("XLA_FLAGS", ""):  # xdist workers already inherit it
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SPEED_FLAGS}".strip()
# One CPU device per process unless a test asks for more: the two xdist workers already use
# both cores, and the expected results of the end-to-end runs are one-device runs.
os.environ.setdefault("RLDISCO_CPU_DEVICES", "1")


def pytest_configure(config):
    """One JAX compilation cache per test session, shared by the xdist workers (they inherit the
    controller's environment) and by the subprocesses tests start, never the user's own; on
    from the start, so a program that several tests build (often as new jitted functions with
    the same code) compiles once."""
    if "RLDISCO_COMPILE_CACHE" not in os.environ:
        path = tempfile.mkdtemp(prefix="rldisco-test-jax-cache-")
        os.environ["RLDISCO_COMPILE_CACHE"] = path
        config.add_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))
    from discovery.compile_cache import enable_compile_cache, quiet_cache_loads

    quiet_cache_loads()
    enable_compile_cache()


# `RLDISCO_TEST_COMPILE_REPORT=FILE pytest ...` appends, per test, the seconds it spent tracing
# and compiling JAX programs next to its wall time (a JSON line each): where the suite's
# minutes go, without a profiler.
_COMPILE_REPORT = os.environ.get("RLDISCO_TEST_COMPILE_REPORT")
if _COMPILE_REPORT:
    import json
    import time

    import jax.monitoring  # (importing jax does not start a backend: XLA_FLAGS above still apply)
    import pytest

    _seconds = {"trace": 0.0, "lower": 0.0, "compile": 0.0}
    _EVENTS = {"/jax/core/compile/jaxpr_trace_duration": "trace",
               "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
               "/jax/core/compile/backend_compile_duration": "compile"}

    def _listen(name, secs, **_):
        if name in _EVENTS:
            _seconds[_EVENTS[name]] += secs

    jax.monitoring.register_event_duration_secs_listener(_listen)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        before, t0 = dict(_seconds), time.perf_counter()
        yield
        row = {"test": item.nodeid, "wall": round(time.perf_counter() - t0, 2)}
        row.update({k: round(_seconds[k] - before[k], 2) for k in _seconds})
        with open(_COMPILE_REPORT, "a") as f:
            f.write(json.dumps(row) + "\n")
