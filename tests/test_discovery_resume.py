"""Runs that survive anything, against one uninterrupted reference run: SIGKILL at every stage
of a run (baselines, compilation, between the first row and the first checkpoint, mid-row,
mid-checkpoint, mid-chunk, each kill during a resume), SIGTERM and SIGINT, a second process on
a live run, a damaged newest checkpoint; and population sharding.

Runs that are killed are `rldisco discover` subprocesses (faults injected by
tests/fault_runner.py); the others call the CLI in this process. All share the session's
compilation cache, so each program compiles once for all of them.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from fault_runner import install

from discovery.checkpoint import load_meta_params
from discovery.cli import main

pytestmark = pytest.mark.slow  # whole runs, killed and resumed in subprocesses

# The tiny quickstart with baselines (so there is a baseline stage to kill), a checkpoint
# every second generation (so rows exist that no checkpoint covers yet), and no scoring of the
# ES mean (it would double each generation's training and is not what is tested here).
CONFIG = ["--preset", "quickstart", "es.population_size=4", "train.num_envs=4",
          "train.num_steps=16", "train.total_timesteps=192", "train.num_minibatches=2",
          "baseline_seeds=1", "chunk=1", "checkpoint_every=2", "center_seeds=0"]
GENERATIONS = 6
RUNNER = str(Path(__file__).with_name("fault_runner.py"))


def _start(runs_dir: Path, tag: str, fault: str, *args: str, env: dict | None = None):
    log = runs_dir / f"{tag}.log"
    env = {**os.environ, **(env or {})}
    proc = subprocess.Popen([sys.executable, RUNNER, fault, "discover", *args],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    return proc, log


def _run(runs_dir: Path, tag: str, fault: str, *args: str, env: dict | None = None):
    proc, log = _start(runs_dir, tag, fault, *args, env=env)
    return proc.wait(timeout=600), log.read_text()


def _in_process(capsys, monkeypatch, fault: str, *args: str) -> tuple[int, str]:
    """The CLI in this process with `fault` installed (a signal fault: nothing dies here, as
    the CLI's handlers catch it, which needs the main thread)."""
    assert threading.current_thread() is threading.main_thread()
    install(fault, monkeypatch.setattr)
    rc = main(["discover", *args])
    monkeypatch.undo()
    out = capsys.readouterr()
    return rc, out.out + out.err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(log_dir: Path, tag: str, fault: str, *args: str) -> list[tuple[int, str]]:
    """Run `rldisco discover ARGS` as processes 0 and 1 of one run joined by `jax.distributed`
    (a localhost coordinator, one CPU device each); their (exit code, log)."""
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


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _steps(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def reference(runs_dir):
    """The uninterrupted run."""
    rc, log = _run(runs_dir, "reference", "none", "--runs-dir", str(runs_dir), "--name",
                   "reference", *CONFIG, f"generations={GENERATIONS}")
    assert rc == 0, log[-3000:]
    return runs_dir / "reference"


def test_a_run_killed_and_stopped_at_every_stage_ends_as_if_never_interrupted(
        runs_dir, reference, capsys, monkeypatch):
    run = runs_dir / "faulty"
    resume = ["--resume", str(run)]

    # SIGKILL during the baselines: only the config was written.
    rc, log = _run(runs_dir, "1-baselines", "kill-in-baselines", "--runs-dir", str(runs_dir),
                   "--name", "faulty", *CONFIG, f"generations={GENERATIONS}")
    assert rc == -signal.SIGKILL, log[-3000:]
    assert not (run / "baselines.json").exists() and not (run / "metrics.jsonl").exists()

    # SIGKILL while compiling: baselines stored, no generation done.
    rc, log = _run(runs_dir, "2-compile", "kill-in-compile", *resume)
    assert rc == -signal.SIGKILL, log[-3000:]
    assert (run / "baselines.json").exists() and not (run / "metrics.jsonl").exists()

    # A live run (row 0 written, row 1 half written, no checkpoint yet): a second process is
    # refused at once, naming the holder; the holder is SIGKILLed.
    live, log_path = _start(runs_dir, "3-live", "pause-in-row:1", *resume)
    deadline = time.time() + 300
    while "PAUSED" not in log_path.read_text():
        assert live.poll() is None, log_path.read_text()[-3000:]
        assert time.time() < deadline, "the run never reached row 1"
        time.sleep(0.05)
    t0 = time.perf_counter()
    second = subprocess.run([sys.executable, "-m", "discovery.cli", "discover", *resume],
                            capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - t0 < 5
    assert second.returncode == 2
    assert f"in use by pid {live.pid} on {socket.gethostname()} since " in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    live.kill()
    live.wait()
    text = (run / "metrics.jsonl").read_text()
    assert len(text.splitlines()) == 2 and not text.endswith("\n") and _steps(run) == []

    # SIGTERM with a chunk in flight (the resume right after the SIGKILL): the partial row is
    # dropped, rows without a checkpoint redone, the chunk abandoned, one line, exit 75.
    rc, log = _in_process(capsys, monkeypatch, "term-in-chunk:3", *resume)
    assert rc == 75, log[-3000:]
    assert "dropped a partial last line" in log and "Traceback" not in log
    assert log.strip().splitlines()[-1] == (
        "rldisco discover: stopped by SIGTERM: checkpoint 2 holds generation 2/6; the "
        f"generations in flight were abandoned; continue with: rldisco discover --resume {run}")
    assert _steps(run) == ["2"] and [r["generation"] for r in _records(run)] == [0, 1]

    # SIGKILL during a checkpoint write (orbax's temporary directory is left behind), in a
    # process that loaded its compiled programs from the cache instead of compiling them.
    rc, log = _run(runs_dir, "5-checkpoint", "kill-in-checkpoint:1", *resume,
                   env={"JAX_DEBUG_LOG_MODULES": "jax._src.compiler"})
    assert rc == -signal.SIGKILL, log[-3000:]
    assert any("tmp" in s for s in _steps(run)), _steps(run)
    assert re.search(r"Persistent compilation cache hit for 'jit_\w*chunk'", log)

    # Ctrl-C while compiling: nothing is unsaved, so the process stops at once (without
    # waiting for the compilation), saying what the checkpoints hold; exit 130.
    rc, log = _run(runs_dir, "6-sigint", "int-in-compile", *resume)
    assert rc == 130, log[-3000:]
    assert "Traceback" not in log and log.strip().splitlines()[-1] == (
        "rldisco discover: stopped by SIGINT: checkpoint 2 holds generation 2/6; continue "
        f"with: rldisco discover --resume {run}")
    assert _steps(run) == ["2"] and [r["generation"] for r in _records(run)] == [0, 1]

    # SIGKILL mid-chunk, after a checkpoint; then that newest checkpoint is damaged on disk.
    rc, log = _run(runs_dir, "7-chunk", "kill-in-chunk:3", *resume)
    assert rc == -signal.SIGKILL, log[-3000:]
    assert _steps(run) == ["2", "4"]
    for path in (run / "checkpoints" / "4" / "es_state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(path.read_bytes()[:10])

    # The last resume falls back to checkpoint 2 and keeps 4 aside.
    rc, log = _in_process(capsys, monkeypatch, "none", *resume)
    assert rc == 0, log[-3000:]
    assert "checkpoint 4 is damaged" in log and "corrupt-4" in log
    assert "dropped 2 metrics row(s)" in log
    assert _steps(run) == ["2", "4", "6", "corrupt-4"]

    expected = _records(reference)
    assert [r["generation"] for r in _records(run)] == list(range(GENERATIONS))
    assert [r["fitness"] for r in _records(run)] == [r["fitness"] for r in expected]
    resumed, meta = load_meta_params(run / "checkpoints")
    assert meta["generation"] == GENERATIONS
    jax.tree.map(np.testing.assert_array_equal, resumed,
                 load_meta_params(reference / "checkpoints")[0])
    assert f"done: {GENERATIONS} generations" in log


def test_four_devices_give_bit_identical_runs_and_checkpoints_open_on_one(
        runs_dir, reference, capsys, monkeypatch):
    """Four generations on four forced host devices (a resume with no checkpoint of a copy of
    the reference's config and baselines, so no baseline is recomputed) give the reference's
    fitness and meta-parameters bit for bit; their checkpoint then opens, evaluates and
    resumes to the end in this one-device process, still bit-identical."""
    assert jax.device_count() == 1
    run = runs_dir / "four"
    run.mkdir()
    for name in ("config.yaml", "baselines.json"):
        (run / name).write_text((reference / name).read_text())
    rc, log = _run(runs_dir, "four", "none", "--resume", str(run), "generations=4",
                   env={"XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                        "--xla_force_host_platform_device_count=4"})
    assert rc == 0, log[-3000:]
    assert "sharded over 4 cpu device(s)" in log
    expected = _records(reference)
    assert [r["fitness"] for r in _records(run)] == [r["fitness"] for r in expected[:4]]
    four, meta = load_meta_params(run / "checkpoints")
    assert meta["generation"] == 4
    jax.tree.map(np.testing.assert_array_equal, four,
                 load_meta_params(reference / "checkpoints", step=4)[0])

    assert main(["evaluate", str(run), "--envs", "CartPole-v1", "--seeds", "1",
                 "--baselines", "--total-timesteps", "192"]) == 0
    assert "| CartPole-v1 | discovered | 1 |" in capsys.readouterr().out

    rc, log = _in_process(capsys, monkeypatch, "none", "--resume", str(run),
                          f"generations={GENERATIONS}")
    assert rc == 0, log[-3000:]
    assert "sharded over 1 cpu device(s)" in log
    assert [r["fitness"] for r in _records(run)] == [r["fitness"] for r in expected]
    jax.tree.map(np.testing.assert_array_equal, load_meta_params(run / "checkpoints")[0],
                 load_meta_params(reference / "checkpoints")[0])


def test_two_processes_give_one_process_results_and_resume_after_both_are_killed(
        runs_dir, reference):
    """Multi-host on this CPU: a copy of the reference's config and baselines run by two
    processes (one device each) is SIGKILLed in both while generation 3 runs (after
    checkpoint 2), resumed by two new processes, and ends with the reference's per-member
    fitness and meta-parameters bit for bit."""
    run = runs_dir / "two"
    run.mkdir()
    for name in ("config.yaml", "baselines.json"):
        (run / name).write_text((reference / name).read_text())
    killed = _two_processes(runs_dir, "two-killed", "kill-in-chunk:3", "--resume", str(run),
                            "generations=4")
    assert all(rc != 0 for rc, _ in killed), [log[-2000:] for _, log in killed]
    assert "sharded over 2 cpu device(s)" in killed[0][1]
    assert _steps(run) == ["2"]

    resumed = _two_processes(runs_dir, "two-resumed", "none", "--resume", str(run),
                             "generations=4")
    assert [rc for rc, _ in resumed] == [0, 0], [log[-2000:] for _, log in resumed]
    assert "resumed two at generation 2/4" in resumed[0][1], resumed[0][1][-2000:]
    expected = _records(reference)[:4]
    assert [r["fitness"] for r in _records(run)] == [r["fitness"] for r in expected]
    assert any(len(set(r["fitness"])) > 1 for r in expected)  # the members do differ
    jax.tree.map(np.testing.assert_array_equal, load_meta_params(run / "checkpoints")[0],
                 load_meta_params(reference / "checkpoints", step=4)[0])
