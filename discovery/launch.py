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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from discovery.signals import EXIT_CODES
from discovery.sweep import SweepDir

STOPPED = 75  # the exit code of a run stopped with a checkpoint (resume it)


def discover_argv(sweep: SweepDir, name: str) -> list[str]:
    """`rldisco discover` arguments of a task: resume the run if its directory exists."""
    run = sweep.run_path(name)
    if (run / "config.yaml").exists():
        return ["discover", "--resume", str(run)]
    return ["discover", "--config", str(sweep.config_path(name)), "--runs-dir",
            str(sweep.runs_dir), "--name", name]


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
    sweep.report_task(name, "running")
    rc = main(discover_argv(sweep, name))
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
