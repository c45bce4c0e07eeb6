"""JAX's persistent compilation cache, on by default for long commands: a resumed, repeated or
evaluated run loads its compiled programs instead of compiling them again.

Where (first that applies):
  RLDISCO_COMPILE_CACHE=off (or 0/false/no/none)   no cache
  RLDISCO_COMPILE_CACHE=/some/path                 that directory
  JAX_COMPILATION_CACHE_DIR, or a cache dir already set in jax.config: left as it is
  $XDG_CACHE_HOME/rldisco/jax, else ~/.cache/rldisco/jax
`rldisco ... --no-compile-cache` is the same as RLDISCO_COMPILE_CACHE=off. Every program is
cached, however quickly it compiled (the small test-sized programs too).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "RLDISCO_COMPILE_CACHE"
OFF = ("off", "0", "false", "no", "none")  # (an empty setting means the default)


def cache_dir(setting: str | None = None) -> Path | None:
    """The cache directory that `setting` (default: $RLDISCO_COMPILE_CACHE) asks for, the user
    cache default if it says nothing, or None if it turns the cache off."""
    value = (os.environ.get(ENV_VAR, "") if setting is None else setting).strip()
    if value.lower() in OFF:
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "rldisco" / "jax"


def enable_compile_cache(setting: str | None = None) -> Path | None:
    """Point JAX's persistent compilation cache at `cache_dir(setting)` and cache every program;
    returns the directory in use (None: off). Without `setting` or RLDISCO_COMPILE_CACHE, a
    choice made earlier in the process stands (off stays off) and a directory the user gave jax
    (JAX_COMPILATION_CACHE_DIR or jax.config) is kept with jax's own settings. Call it before
    the first compilation.
    """
    import jax

    if setting is None:
        setting = os.environ.get(ENV_VAR, "").strip() or None
    if setting is None:
        if not jax.config.jax_enable_compilation_cache:
            return None
        if jax.config.jax_compilation_cache_dir:
            return Path(jax.config.jax_compilation_cache_dir)
    path = cache_dir(setting or "")
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache costs speed, never the run
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def quiet_cache_loads() -> None:
    """Hide XLA's C++ warning printed on every executable loaded from the cache ("Assume version
    compatibility. PjRt-IFRT does not track XLA executable versions"), unless the user set the
    C++ log level; must run before jax is first imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
