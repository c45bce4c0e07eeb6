"""Multi-host runs: one JAX process per host, `jax.distributed` joining them into one global
mesh (the population axis sharded over every device of every host).

    rldisco discover ... --coordinator host0:1234 --num-processes 2 --process-id 0   # explicit
    srun rldisco discover ...                                                        # detected

Process 0 writes metrics, plots, trackers and the run's small files; every process writes its
part of each orbax checkpoint (orbax's multi-host protocol) and takes part in every step. A run
resumes with the same number of processes.
"""

from __future__ import annotations

import os


def under_srun() -> bool:
    """Whether this process is one task of a multi-task `srun` step (Slurm)."""
    return int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_STEP_ID" in os.environ


def process_id_hint(process_id: int | None) -> int:
    """This process's index before JAX starts (explicit, else Slurm's task rank, else 0)."""
    if process_id is not None:
        return process_id
    return int(os.environ.get("SLURM_PROCID", "0")) if under_srun() else 0


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Join the processes of a multi-host run (explicit coordinator, or detected inside
    `srun`); returns whether JAX now runs distributed. Call before any JAX computation."""
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise ValueError("--coordinator, --num-processes and --process-id go together")
    import jax

    if coordinator is not None:
        if not 0 <= process_id < num_processes:
            raise ValueError(f"--process-id must be in [0, {num_processes}), got {process_id}")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # (CPU hosts)
        jax.distributed.initialize(coordinator, num_processes, process_id)
        return True
    if under_srun():
        jax.distributed.initialize()  # reads the coordinator and ranks from Slurm
        return True
    return False


def is_main() -> bool:
    """Whether this process writes the run's files (process 0; always, on one host)."""
    import jax

    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches `name` (a no-op on one host)."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
