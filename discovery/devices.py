"""Every CPU core as a JAX device, so that a population sharded over devices runs on all cores.

XLA:CPU runs one program on one device, and the small matrix products of a population of
agents keep it near one core (measured: 1.0 core for one CartPole agent, 1.5 for 64 vmapped).
Splitting the CPU into one JAX device per core and sharding the population over them (what
discovery already does over GPUs) gives each core its own part of the batch:

  RLDISCO_CPU_DEVICES=auto (default)   one device per core this process may use
  RLDISCO_CPU_DEVICES=N                N devices
`rldisco ... --cpu-devices N|auto` says the same. XLA_FLAGS with
--xla_force_host_platform_device_count, or JAX_NUM_CPU_DEVICES, wins over both. A discovery
run's generations and final score do not depend on the device count (README, "Scaling out").
"""

from __future__ import annotations

import os

ENV_VAR = "RLDISCO_CPU_DEVICES"


def usable_cores() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        return os.cpu_count() or 1


def cpu_device_count(setting: str | int | None = None) -> int:
    """How many CPU devices `setting` (default: $RLDISCO_CPU_DEVICES, else "auto") asks for."""
    if setting is None:
        setting = os.environ.get(ENV_VAR, "").strip() or "auto"
    text = str(setting).strip().lower()
    if text == "auto":
        return usable_cores()
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"--cpu-devices ({ENV_VAR}) must be a positive integer or 'auto', "
                         f"got {setting!r}")
    return count


def use_cpu_devices(setting: str | int | None = None) -> int | None:
    """Expose `cpu_device_count(setting)` CPU devices to JAX; returns the count set, or None
    where it was left alone: the user's XLA_FLAGS or JAX_NUM_CPU_DEVICES name a count, or JAX's
    backends have started already (the count is fixed then: call this first)."""
    count = cpu_device_count(setting)  # (a bad setting is an error even where it is unused)
    if ("xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
            or os.environ.get("JAX_NUM_CPU_DEVICES")):
        return None
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX refuses once its backends run
        return None
    return count
