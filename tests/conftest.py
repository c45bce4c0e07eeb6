"""Schedule the heaviest test files first; share one compilation cache per session.

CI runs the suite on two xdist workers that take whole files (`--dist loadfile`) in collection
order (`--no-loadscope-reorder`: xdist would otherwise order files by their number of tests,
which put the two heaviest files last), so a heavy file collected last runs alone at the end.
Sorting files by their cost (seconds on 2 CPU cores, measured with
RLDISCO_TEST_COMPILE_REPORT below; order matters, not the values) keeps both workers busy until
the end. Tests inside a file keep their order.
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


FILE_COST = {  # seconds per file, 2 xdist workers on 2 cores (RLDISCO_TEST_COMPILE_REPORT)
    "test_lpg_discovery.py": 294,
    "test_discovery.py": 283,
    "test_discovery_resume.py": 236,
    "test_learning.py": 234,
    "test_metagrad.py": 190,
    "test_trainer.py": 180,
    "test_manipulation.py": 165,
    "test_curriculum.py": 136,
    "test_iwocs.py": 117,
    "test_sweep.py": 103,
    "test_evaluate.py": 90,
    "test_spaces.py": 82,
    "test_robust.py": 80,
    "test_gridworld.py": 62,
    "test_manipulation_reference.py": 53,
    "test_fitness.py": 41,
    "test_lpg.py": 36,
    "test_lpo.py": 33,
    "test_brax_env.py": 32,
    "test_lpg_analysis.py": 30,
    "test_ued.py": 23,
    "test_envs_core.py": 15,
    "test_checkpoint.py": 15,
    "test_plr.py": 14,
    "test_rules.py": 11,
    "test_cli.py": 8,
}


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: -FILE_COST.get(item.path.name, 0))  # stable: file order kept


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

    import pytest

    _seconds = {"trace": 0.0, "lower": 0.0, "compile": 0.0}
    _EVENTS = {"/jax/core/compile/jaxpr_trace_duration": "trace",
               "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
               "/jax/core/compile/backend_compile_duration": "compile"}

    def _listen(name, secs, **_):
        if name in _EVENTS:
            _seconds[_EVENTS[name]] += secs

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        import jax.monitoring

        if not getattr(_listen, "registered", False):
            jax.monitoring.register_event_duration_secs_listener(_listen)
            _listen.registered = True
        before, t0 = dict(_seconds), time.perf_counter()
        yield
        row = {"test": item.nodeid, "wall": round(time.perf_counter() - t0, 2)}
        row.update({k: round(_seconds[k] - before[k], 2) for k in _seconds})
        with open(_COMPILE_REPORT, "a") as f:
            f.write(json.dumps(row) + "\n")
