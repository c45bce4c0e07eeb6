"""One JAX device per CPU core (discovery.devices) and the population mesh over them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from discovery.cli import main
from discovery.devices import cpu_device_count, usable_cores


def test_device_count_settings():
    assert cpu_device_count("auto") == usable_cores() >= 1
    assert cpu_device_count("3") == 3
    assert cpu_device_count(2) == 2
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="--cpu-devices"):
            cpu_device_count(bad)


def test_cli_rejects_a_bad_device_count(capsys):
    assert main(["discover", "--preset", "quickstart", "--cpu-devices", "0"]) != 0
    assert "--cpu-devices" in capsys.readouterr().err


SCRIPT = """
from discovery.devices import use_cpu_devices
print(use_cpu_devices("3"))
import jax
from discovery.es import population_mesh
print(jax.device_count(), population_mesh(6).devices.size, population_mesh(4).devices.size,
      population_mesh(5).devices.size)
print(use_cpu_devices("2"))
"""


def _run(env: dict) -> list[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split("\n")


def test_cpu_devices_and_the_population_mesh_over_them():
    env = {k: v for k, v in os.environ.items() if k != "RLDISCO_CPU_DEVICES"}
    env["XLA_FLAGS"] = re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                              env.get("XLA_FLAGS", ""))
    set_count, sizes, late = _run(env)[:3]
    # 3 devices; a population takes as many as divide it; once JAX runs, the count is fixed
    assert (set_count, sizes, late) == ("3", "3 3 2 1", "None")


def test_the_users_xla_flag_wins():
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                      "--xla_force_host_platform_device_count=1"}
    assert _run(env)[:2] == ["None", "1 1 1 1"]
