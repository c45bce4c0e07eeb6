"""Multi-host runs on this CPU: two `rldisco discover` processes joined by `jax.distributed`
(a localhost coordinator, one CPU device each) give the same per-member fitness and
meta-parameters as one process, and resume after both are killed.
"""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from discovery.checkpoint import load_meta_params
from discovery.cli import main

CONFIG = ["--preset", "quickstart", "es.population_size=4", "train.num_envs=4",
          "train.num_steps=16", "train.total_timesteps=256", "train.num_minibatches=1",
          "train.update_epochs=2", "center_seeds=2", "levels.fitness=raw", "generations=3",
          "chunk=1"]
RUNNER = str(Path(__file__).with_name("fault_runner.py"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(log_dir: Path, tag: str, fault: str, *args: str) -> list[tuple[int, str]]:
    """Run `rldisco discover ARGS` as processes 0 and 1 of one run; their (exit code, log)."""
    port = _free_port()
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                      "--xla_force_host_platform_device_count=1"}
    procs = []
    for i in range(2):
        log = log_dir / f"{tag}-{i}.log"
        procs.append((subprocess.Popen(
            [sys.executable, RUNNER, fault, "discover", *args, "--coordinator",
             f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)],
            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env), log))
    out = []
    for proc, log in procs:
        try:
            rc = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        out.append((rc, log.read_text()))
    return out


def _records(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_give_one_process_results_and_resume_after_both_are_killed(tmp_path):
    assert jax.device_count() == 1
    assert main(["discover", *CONFIG, "--runs-dir", str(tmp_path), "--name", "one"]) == 0
    one, two = tmp_path / "one", tmp_path / "two"

    # Both processes are SIGKILLed while the third generation runs (after checkpoint 2).
    killed = _two_processes(tmp_path, "killed", "kill-in-chunk:3", "--runs-dir",
                            str(tmp_path), "--name", "two", *CONFIG)
    assert all(rc != 0 for rc, _ in killed), [log[-2000:] for _, log in killed]
    assert "sharded over 2 cpu device(s)" in killed[0][1]
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["1", "2"]

    resumed = _two_processes(tmp_path, "resumed", "none", "--resume", str(two))
    assert [rc for rc, _ in resumed] == [0, 0], [log[-2000:] for _, log in resumed]
    assert "resumed two at generation 2/3" in resumed[0][1]
    expected = _records(one)
    assert [r["fitness"] for r in _records(two)] == [r["fitness"] for r in expected]
    assert [r["center_fitness"] for r in _records(two)] == \
        [r["center_fitness"] for r in expected]
    assert any(len(set(r["fitness"])) > 1 for r in expected)  # the members do differ
    jax.tree.map(np.testing.assert_array_equal, load_meta_params(two / "checkpoints")[0],
                 load_meta_params(one / "checkpoints")[0])
