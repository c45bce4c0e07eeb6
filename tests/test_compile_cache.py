"""Where the persistent compilation cache lives and how it is turned off. (That a second
process loads the programs a first one compiled is shown by the resume tests.)"""

import subprocess
import sys
from pathlib import Path

from discovery.compile_cache import cache_dir


def test_the_cache_lives_in_the_user_cache_dir_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("RLDISCO_COMPILE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "rldisco" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "rldisco" / "jax"
    monkeypatch.setenv("RLDISCO_COMPILE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    for off in ("off", "OFF", "0", "false", "none"):
        monkeypatch.setenv("RLDISCO_COMPILE_CACHE", off)
        assert cache_dir() is None
    assert cache_dir("~/x") == Path.home() / "x"


def test_enabling_sets_jax_up_and_off_stays_off(tmp_path):
    path = str(tmp_path / "c")
    script = f"""
import os, pathlib, jax
from discovery.compile_cache import enable_compile_cache
os.environ.pop("RLDISCO_COMPILE_CACHE", None)
assert enable_compile_cache({path!r}) == pathlib.Path({path!r})
assert jax.config.jax_compilation_cache_dir == {path!r}
assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
assert enable_compile_cache() is not None  # a later call keeps the choice
assert enable_compile_cache("off") is None and not jax.config.jax_enable_compilation_cache
assert enable_compile_cache() is None  # off stays off
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
