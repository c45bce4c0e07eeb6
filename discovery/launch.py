"""Running a sweep's runs: one task = `rldisco discover` on one run (a new run from its config,
or a resume of what is there), then `rldisco evaluate` where the sweep asks for it.

The local launcher runs tasks one after another in this process, or `max_parallel` processes
at once (`python -m discovery.launch SWEEP_DIR RUN`); Slurm runs the same task through submitit
(`discovery.slurm`). A task reports what it did to `tasks/<run>.json`; `status` reads it with
the run directory.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from discovery.distributed import process_id_hint
from discovery.rundir import RunDir
from discovery.signals import EXIT_CODES
from discovery.sweep import SweepDir

STOPPED = 75  # the exit code of a run stopped with a checkpoint (resume it)


def discover_argv(sweep: SweepDir, name: str, wait_s: float = 600.0) -> list[str]:
    """`rldisco discover --resume RUN` for a task, the run directory made first if new (a
    resume without a checkpoint starts at generation 0). Process 0 makes it; in a multi-host
    task the other processes wait for it, so that every process opens the same run the same
    way. Nothing here starts JAX (a multi-host run initialises it first)."""
    run = sweep.run_path(name)
    if process_id_hint(None) == 0:
        if not (run / "config.yaml").exists():
            config = yaml.safe_load(sweep.config_path(name).read_text())
            RunDir.create(run, "discover", config)
    else:
        deadline = time.monotonic() + wait_s
        while not (run / "config.yaml").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"process 0 did not create {run} within {wait_s:.0f} s")
            time.sleep(0.5)
    return ["discover", "--resume", str(run)]


def evaluate_argv(sweep: SweepDir, name: str) -> list[str] | None:
    """`rldisco evaluate` arguments of a task, or None when the sweep does not evaluate."""
    spec = sweep.sweep_file().get("evaluate")
    if not spec:
        return None
    argv = ["evaluate", str(sweep.run_path(name)), "--envs", *spec["envs"]]
    if "seeds" in spec:
        argv += ["--seeds", str(spec["seeds"])]
    if "total_timesteps" in spec:
        argv += ["--total-timesteps", str(spec["total_timesteps"])]
    if "baselines" in spec:
        argv += ["--baselines", *spec["baselines"]]
    return argv


def run_task(sweep_dir: str | Path, name: str) -> int:
    """One run of a sweep through the command line's own code path; returns its exit code
    (0 done, 75 stopped with a checkpoint, anything else failed)."""
    from discovery.cli import main

    sweep = SweepDir(sweep_dir)
    writer = process_id_hint(None) == 0
    if writer:
        sweep.report_task(name, "running")
    rc = main(discover_argv(sweep, name))
    if not writer:
        return rc
    if rc == 0 and (argv := evaluate_argv(sweep, name)) is not None:
        rc = main(argv)
    if rc == 0:
        sweep.report_task(name, "done")
    elif rc in EXIT_CODES.values():
        sweep.report_task(name, "stopped", exit_code=rc)
    else:
        sweep.report_task(name, "failed", exit_code=rc,
                          error=f"exit code {rc}; see the task's log")
    return rc


def runs_to_launch(sweep: SweepDir) -> list[str]:
    """Runs that are neither done nor held by a live process."""
    return [r["run"] for r in map(sweep.status, (row["run"] for row in sweep.runs()))
            if r["state"] in ("pending", "failed")]


def launch_local(sweep: SweepDir, names: list[str], max_parallel: int = 1,
                 echo: Callable[[str], None] = print) -> dict[str, int]:
    """Run `names` here: in this process one after another, or `max_parallel` processes at
    once (logs in `logs/<run>.log`). Returns {run: exit code}."""
    if max_parallel <= 1:
        codes = {}
        for i, name in enumerate(names):
            echo(f"[{i + 1}/{len(names)}] {name}")
            codes[name] = run_task(sweep.path, name)
        return codes
    logs = sweep.path / "logs"
    logs.mkdir(exist_ok=True)

    def one(name: str) -> int:
        with (logs / f"{name}.log").open("a") as log:
            rc = subprocess.call([sys.executable, "-m", "discovery.launch", str(sweep.path),
                                  name], stdout=log, stderr=subprocess.STDOUT)
        echo(f"{name}: exit code {rc}")
        return rc

    with ThreadPoolExecutor(max_parallel) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


if __name__ == "__main__":
    sys.exit(run_task(sys.argv[1], sys.argv[2]))
