"""A sweep on Slurm through submitit: one job array (`array_parallelism` tasks at once), each
task running `discovery.launch.run_task` (the `rldisco discover` code path).

Preemption and time limits: submitit asks Slurm for SIGUSR2 `signal_delay_s` before the end;
the run treats it like SIGTERM (it stops at the next safe point with a checkpoint, exit 75),
then the task hands the signal to submitit's own handler, which calls `SweepTask.checkpoint`
and requeues the job; the requeued task resumes the run from that checkpoint, bit-identical.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any


def _import_submitit():
    """submitit configures logging when imported (`logging.config.dictConfig`), which closes
    every handler this process already has; ask it not to, here only (its jobs still do)."""
    before = os.environ.get("SUBMITIT_LOG_LEVEL")
    os.environ["SUBMITIT_LOG_LEVEL"] = "NOCONFIG"
    try:
        import submitit
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("the Slurm launcher needs submitit: pip install "
                                  "'rldisco[cluster]'") from e
    finally:
        if before is None:
            del os.environ["SUBMITIT_LOG_LEVEL"]
        else:
            os.environ["SUBMITIT_LOG_LEVEL"] = before
    return submitit


submitit = _import_submitit()

from discovery.launch import STOPPED, run_task  # noqa: E402
from discovery.sweep import Resources, SweepDir  # noqa: E402

SIGNAL_DELAY_S = 120  # seconds between Slurm's SIGUSR2 and the end of the allocation


class SweepTask(submitit.helpers.Checkpointable):
    """One run of a sweep as a submitit job; requeued (same arguments) when preempted."""

    def __init__(self, sweep_dir: str, name: str):
        self.sweep_dir, self.name = sweep_dir, name

    def __call__(self) -> int:
        rc = run_task(self.sweep_dir, self.name)
        if rc == STOPPED:
            requeue = signal.getsignal(signal.SIGUSR2)  # submitit's, restored by the run
            if callable(requeue):
                requeue(signal.SIGUSR2, None)  # checkpoint() + requeue; exits this process
        if rc != 0:
            raise RuntimeError(f"run {self.name} ended with exit code {rc}")
        return rc


def slurm_parameters(resources: Resources, name: str, parallelism: int) -> dict[str, Any]:
    """submitit SlurmExecutor parameters of a sweep's resources: one task per node driving
    all of its GPUs (a multi-node run is one JAX process per node)."""
    params: dict[str, Any] = {
        "job_name": name, "time": resources.timeout_min, "nodes": resources.nodes,
        "ntasks_per_node": 1, "cpus_per_task": resources.cpus_per_task,
        "array_parallelism": parallelism, "signal_delay_s": SIGNAL_DELAY_S,
        "setup": list(resources.setup)}
    if resources.gpus_per_node:
        params["gpus_per_node"] = resources.gpus_per_node
    for key in ("partition", "account", "qos"):
        if getattr(resources, key):
            params[key] = getattr(resources, key)
    if resources.mem_gb:
        params["mem"] = f"{resources.mem_gb}GB"
    return params


def make_executor(sweep: SweepDir, resources: Resources, name: str, parallelism: int,
                  cluster: str = "slurm") -> submitit.Executor:
    """A submitit executor for the sweep: `slurm`, or `debug` / `local` (tests, laptops)."""
    folder = sweep.path / "slurm" / "%j"
    if cluster == "slurm":
        executor = submitit.SlurmExecutor(folder=folder)
        executor.update_parameters(**slurm_parameters(resources, name, parallelism))
        return executor
    if cluster == "debug":
        return submitit.DebugExecutor(folder=folder)
    if cluster == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=resources.timeout_min)
        return executor
    raise ValueError(f"cluster must be slurm, debug or local, got {cluster!r}")


def submit(sweep: SweepDir, names: list[str], resources: Resources, name: str,
           parallelism: int, cluster: str = "slurm") -> list[submitit.Job]:
    """Submit `names` as one job array; returns the jobs (one per run, in order)."""
    executor = make_executor(sweep, resources, name, parallelism, cluster)
    with executor.batch():
        jobs = [executor.submit(SweepTask(str(sweep.path), n)) for n in names]
    return jobs


class _ScriptOnly(submitit.SlurmExecutor):
    """A SlurmExecutor that only writes scripts (works where Slurm is not installed)."""

    @classmethod
    def affinity(cls) -> int:
        return 1


def submission_script(sweep: SweepDir, resources: Resources, name: str, count: int,
                      parallelism: int) -> str:
    """The sbatch script `submit` would send for an array of `count` runs (for --dry-run)."""
    executor = _ScriptOnly(folder=Path(sweep.path) / "slurm" / "%j")
    executor.update_parameters(**slurm_parameters(resources, name, parallelism))
    executor.parameters["map_count"] = count
    return executor._make_submission_file_text(executor._submitit_command_str, "dry-run")
