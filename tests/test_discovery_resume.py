"""Exact resume after SIGKILL and population sharding, against one uninterrupted reference run
(all runs are `rldisco discover` subprocesses sharing an XLA compilation cache)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from discovery.checkpoint import load_meta_params

TINY = ["es.population_size=4", "train.num_envs=4", "train.num_steps=16",
        "train.total_timesteps=192", "train.num_minibatches=2", "normalize_fitness=false",
        "chunk=1"]
GENERATIONS = 8


def _discover(runs_dir, name, *args, env=None, wait=True):
    """`rldisco discover` in a subprocess sharing an XLA compilation cache, so the identical
    program compiles once for the reference, the killed and the resumed process."""
    env = {**os.environ, **(env or {}), "JAX_COMPILATION_CACHE_DIR": str(runs_dir / "xla-cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    cmd = [sys.executable, "-m", "discovery.cli", "discover", "--runs-dir", str(runs_dir),
           *(["--name", name] if name else []), *args]
    log = open(runs_dir / f"{name or 'resume'}-{len(os.listdir(runs_dir))}.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if wait:
        assert proc.wait(timeout=600) == 0, Path(log.name).read_text()[-3000:]
    return proc


def _records(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def reference_run(runs_dir):
    """An uninterrupted tiny run (subprocess, single device)."""
    _discover(runs_dir, "reference", "--preset", "quickstart", *TINY,
              f"generations={GENERATIONS}")
    return runs_dir / "reference"


def test_sigkill_then_resume_is_bit_identical(runs_dir, reference_run):
    run_dir = runs_dir / "killed"
    proc = _discover(runs_dir, "killed", "--preset", "quickstart", *TINY,
                     f"generations={GENERATIONS}", wait=False)
    deadline = time.time() + 300
    try:
        while not (run_dir / "checkpoints" / "3").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    steps = sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps and steps[-1] < GENERATIONS  # really killed between checkpoints

    _discover(runs_dir, None, "--resume", str(run_dir))
    resumed, meta = load_meta_params(run_dir / "checkpoints")
    reference, _ = load_meta_params(reference_run / "checkpoints")
    assert meta["generation"] == GENERATIONS
    jax.tree.map(np.testing.assert_array_equal, resumed, reference)
    records = _records(run_dir)
    assert [r["generation"] for r in records] == list(range(GENERATIONS))  # no gaps/duplicates
    assert [r["fitness"] for r in records] == [r["fitness"] for r in _records(reference_run)]


def test_population_sharded_over_four_devices_equals_one_device(runs_dir, reference_run):
    _discover(runs_dir, "four", "--preset", "quickstart", *TINY, "generations=3",
              env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    four, one = _records(runs_dir / "four"), _records(reference_run)[:3]
    log = "".join(p.read_text() for p in runs_dir.glob("four-*.log"))
    assert "sharded over 4 cpu device(s)" in log
    np.testing.assert_allclose([r["fitness"] for r in four], [r["fitness"] for r in one],
                               rtol=1e-5, atol=1e-6)


