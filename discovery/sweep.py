"""Sweep files: a base config, axes over override keys, seeds and resources per run, expanded
into named runs under one sweep directory, and the status of each run read back from its run
directory (so it works after the cluster has forgotten the jobs).

    name: lr-sigma                 # default: the file's stem
    preset: quickstart             # or  config: base.yaml  (relative to the sweep file)
    set: {generations: 50}         # overrides shared by every run
    grid: {es.lr: [0.01, 0.03]}    # the product of every grid axis ...
    zip: {es.sigma: [0.1, 0.2], es.sigma_min: [0.01, 0.02]}   # ... times one paired axis
    random: {count: 4, seed: 0, params: {train.lr: {loguniform: [1e-4, 1e-2]}}}
    seeds: [0, 1]                  # or a count (seeds 0..n-1); each sets `seed`
    resources: {gpus_per_node: 1, nodes: 1, time: "04:00:00", partition: gpu}
    evaluate: {envs: [Breakout-MinAtar], seeds: 16}   # optional, after discovery

Everything is validated before anything launches; an error names the key and the sweep file's
line. A sweep directory holds `sweep.yaml` (the file as given), `runs.csv` (the expanded table),
`configs/<run>.yaml`, `tasks/<run>.json` (what the last task of a run reported) and
`runs/<run>/` (ordinary discovery run directories).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from discovery.rundir import read_jsonl, write_atomic
from discovery.runlock import is_locked

TOP_KEYS = ("name", "preset", "config", "set", "grid", "zip", "random", "seeds", "resources",
            "evaluate")
DISTRIBUTIONS = ("uniform", "loguniform", "choice", "randint")
STATES = ("pending", "running", "done", "failed")


class SweepError(ValueError):
    """A sweep file or sweep directory that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Resources:
    """What one run asks the cluster for (Slurm via submitit)."""

    gpus_per_node: int = 0
    nodes: int = 1
    time: str = "01:00:00"  # HH:MM:SS, D-HH:MM:SS or minutes
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    cpus_per_task: int = 8
    mem_gb: int | None = None
    max_gpus_per_node: int = 8  # what one node of the partition has
    setup: tuple[str, ...] = ()  # shell lines run before each task (module load, venv)

    @property
    def timeout_min(self) -> int:
        return parse_minutes(self.time)

    @property
    def devices(self) -> int:
        """Accelerators one run spans (0: whatever the host has)."""
        return self.gpus_per_node * self.nodes


@dataclass(frozen=True)
class RunEntry:
    """One expanded run: its name, configuration index, seed and overrides."""

    name: str
    config: int
    seed: int
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A validated, expanded sweep file."""

    name: str
    path: Path
    text: str
    base: dict[str, Any]  # {"preset": name} or {"config": path}
    axes: tuple[str, ...]  # the keys that vary between configurations
    runs: tuple[RunEntry, ...]
    resources: Resources
    evaluate: dict[str, Any] | None = None
    configs: dict[str, Any] = field(default_factory=dict, compare=False)  # name -> config

    def table(self) -> str:
        """The expanded table as CSV (run, config, seed, one column per override key)."""
        keys = list(dict.fromkeys(k for r in self.runs for k in r.overrides))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run", "config", "seed", *keys])
        for r in self.runs:
            writer.writerow([r.name, r.config, r.seed,
                             *(json.dumps(r.overrides.get(k)) for k in keys)])
        return out.getvalue()


def parse_minutes(value: Any) -> int:
    """Minutes of a Slurm time: 90, "90", "04:00:00", "1-12:00:00" (ValueError otherwise)."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    else:
        m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{2}):(\d{2})|(\d+)", str(value).strip())
        if m is None:
            raise ValueError(f"not a time: {value!r} (HH:MM:SS, D-HH:MM:SS or minutes)")
        if m.group(5) is not None:
            minutes = int(m.group(5))
        else:
            d, h, mi, s = (int(g or 0) for g in m.groups()[:4])
            minutes = d * 1440 + h * 60 + mi + math.ceil(s / 60)
    if minutes <= 0:
        raise ValueError(f"time must be positive, got {value!r}")
    return minutes


# ------------------------------------------------------------------------- parsing
def _lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """{dotted key: 1-based line} of every mapping key in a composed YAML document (axis keys
    such as `es.lr` stay one segment: `grid.es.lr`)."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = f"{prefix}{key.value}"
            out[name] = key.start_mark.line + 1
            out.update(_lines(value, f"{name}."))
    return out


class _Where:
    """Error messages that name the sweep file's line of a key."""

    def __init__(self, path: Path, lines: dict[str, int]):
        self.path, self.lines = path, lines

    def error(self, key: str, message: str) -> SweepError:
        line = self.lines.get(key)
        while line is None and "." in key:
            key = key.rsplit(".", 1)[0]
            line = self.lines.get(key)
        where = f"{self.path}:{line}" if line else str(self.path)
        return SweepError(f"{where}: {key}: {message}")


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and expand a sweep file: every run's config is built (so an unknown or
    bad override fails here) and the resources are checked against it."""
    path = Path(path).expanduser()
    try:
        text = path.read_text()
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except OSError as e:
        raise SweepError(f"{path}: cannot read the sweep file ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise SweepError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML") from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: a sweep file is a mapping with keys {list(TOP_KEYS)}")
    data = _numbers(data)
    where = _Where(path, _lines(node) if node is not None else {})
    for key in data:
        if key not in TOP_KEYS:
            raise where.error(str(key), f"unknown key (known: {', '.join(TOP_KEYS)})")
    base = _base(data, path, where)
    fixed = _mapping(data, "set", where)
    axes, points = _axes(data, where)
    seeds = _seeds(data.get("seeds", [0]), where)
    resources = _resources(data.get("resources") or {}, where)
    evaluate = _evaluate(data.get("evaluate"), where)
    name = str(data.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise where.error("name", f"{name!r}: use letters, digits, '.', '_' and '-'")

    from discovery.config import DiscoveryConfig, apply_overrides, preset

    if "preset" in base:
        try:
            base_cfg = preset(base["preset"])
        except ValueError as e:
            raise where.error("preset", str(e)) from None
    else:
        from discovery.rundir import read_yaml

        try:
            raw = read_yaml(base["config"])
            base_cfg = DiscoveryConfig.from_dict({k: v for k, v in raw.items() if k != "kind"})
        except (TypeError, ValueError) as e:
            raise where.error("config", f"{base['config']}: {e}") from None
    runs, configs = [], {}
    for c, point in enumerate(points):
        for seed in seeds:
            overrides = {**fixed, **point, "seed": seed}
            run = RunEntry(_run_name(c, point, seed), c, seed, overrides)
            try:
                cfg = apply_overrides(base_cfg, [f"{k}={json.dumps(v)}"
                                                 for k, v in overrides.items()])
            except (TypeError, ValueError) as e:
                key = next((k for k in overrides if f"'{k}'" in str(e) or
                            str(e).startswith(k)), None)
                section = ("set." if key in fixed else _axis_section(data, key)) if key else ""
                raise where.error(f"{section}{key}" if key else "set",
                                  f"run {run.name}: {e}") from None
            _check_fits(cfg, resources, run.name, where)
            runs.append(run)
            configs[run.name] = cfg
    return Sweep(name, path, text, base, axes, tuple(runs), resources, evaluate, configs)


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _numbers(value: Any) -> Any:
    """YAML 1.1 reads `1e-3` as a string; read it as the number it is meant to be."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str) and _EXPONENT.fullmatch(value):
        return float(value)
    return value


def _axis_section(data: dict, key: str) -> str:
    for section in ("grid", "zip"):
        if key in (data.get(section) or {}):
            return f"{section}."
    if key in ((data.get("random") or {}).get("params") or {}):
        return "random.params."
    return ""


def _base(data: dict, path: Path, where: _Where) -> dict[str, Any]:
    if ("preset" in data) == ("config" in data):
        raise where.error("preset" if "preset" in data else "name",
                          "give exactly one base: `preset:` or `config:`")
    if "preset" in data:
        return {"preset": str(data["preset"])}
    config = Path(str(data["config"])).expanduser()
    config = config if config.is_absolute() else path.parent / config
    if not config.is_file():
        raise where.error("config", f"no config file at {config}")
    return {"config": str(config.resolve())}


def _mapping(data: dict, key: str, where: _Where) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _axes(data: dict, where: _Where) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The swept keys and one override dict per configuration (grid x zip x random)."""
    grid = _mapping(data, "grid", where)
    factors: list[list[dict[str, Any]]] = []
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise where.error(f"grid.{key}", "an axis needs a non-empty list of values")
        factors.append([{key: v} for v in values])
    zipped = _mapping(data, "zip", where)
    if zipped:
        lengths = set()
        for key, values in zipped.items():
            if not isinstance(values, list) or not values:
                raise where.error(f"zip.{key}", "an axis needs a non-empty list of values")
            lengths.add(len(values))
        if len(lengths) != 1:
            raise where.error("zip", f"paired axes need lists of one length, got "
                                     f"{ {k: len(v) for k, v in zipped.items()} }")
        factors.append([dict(zip(zipped, vals, strict=True))
                        for vals in zip(*zipped.values(), strict=True)])
    random = _mapping(data, "random", where)
    if random:
        factors.append(_random_points(random, where))
    axes = (*grid, *zipped, *(random.get("params") or {}))
    overlap = [k for k in set(axes) if axes.count(k) > 1]
    if overlap:
        raise where.error(_axis_section(data, overlap[0]) + overlap[0],
                          "swept on more than one axis")
    points = [dict(itertools.chain.from_iterable(d.items() for d in combo))
              for combo in itertools.product(*factors)]
    return tuple(axes), points


def _random_points(random: dict, where: _Where) -> list[dict[str, Any]]:
    unknown = set(random) - {"count", "seed", "params"}
    if unknown:
        raise where.error(f"random.{sorted(unknown)[0]}", "unknown key (known: count, seed, "
                                                          "params)")
    count = random.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise where.error("random.count", f"must be a positive integer, got {count!r}")
    params = random.get("params")
    if not isinstance(params, dict) or not params:
        raise where.error("random.params", "give at least one key with a distribution")
    rng = np.random.default_rng(random.get("seed", 0))
    columns = {}
    for key, spec in params.items():
        name = f"random.params.{key}"
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
            raise where.error(name, f"expected one of {{{', '.join(DISTRIBUTIONS)}: ...}}")
        kind, args = next(iter(spec.items()))
        if not isinstance(args, list) or not args:
            raise where.error(name, f"{kind} needs a non-empty list")
        if kind == "choice":
            columns[key] = [args[i] for i in rng.integers(len(args), size=count)]
            continue
        if len(args) != 2 or not all(isinstance(a, int | float) for a in args) \
                or not args[0] < args[1] or (kind == "loguniform" and args[0] <= 0):
            raise where.error(name, f"{kind} needs [low, high] with low < high"
                              + (" and low > 0" if kind == "loguniform" else ""))
        lo, hi = args
        if kind == "uniform":
            columns[key] = rng.uniform(lo, hi, count).tolist()
        elif kind == "loguniform":
            columns[key] = np.exp(rng.uniform(np.log(lo), np.log(hi), count)).tolist()
        else:
            columns[key] = rng.integers(int(lo), int(hi), count, endpoint=True).tolist()
    return [{k: v[i] for k, v in columns.items()} for i in range(count)]


def _seeds(value: Any, where: _Where) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise where.error("seeds", f"a count of seeds must be >= 1, got {value}")
        return list(range(value))
    if not isinstance(value, list) or not value or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise where.error("seeds", f"expected a count or a non-empty list of integers, got "
                                   f"{value!r}")
    if len(set(value)) != len(value):
        raise where.error("seeds", f"repeated seeds in {value}")
    return list(value)


def _resources(value: Any, where: _Where) -> Resources:
    if not isinstance(value, dict):
        raise where.error("resources", "expected a mapping")
    known = Resources.__dataclass_fields__
    for key in value:
        if key not in known:
            raise where.error(f"resources.{key}", f"unknown key (known: {', '.join(known)})")
    for key in ("gpus_per_node", "nodes", "cpus_per_task", "mem_gb", "max_gpus_per_node"):
        v = value.get(key)
        low = 0 if key == "gpus_per_node" else 1
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
            raise where.error(f"resources.{key}", f"must be an integer >= {low}, got {v!r}")
    setup = value.get("setup", ())
    if isinstance(setup, str):
        setup = [setup]
    if not isinstance(setup, list | tuple) or not all(isinstance(s, str) for s in setup):
        raise where.error("resources.setup", "expected a list of shell lines")
    res = Resources(**{**value, "setup": tuple(setup)})
    try:
        res.timeout_min  # noqa: B018 (parses the time)
    except ValueError as e:
        raise where.error("resources.time", str(e)) from None
    if res.gpus_per_node > res.max_gpus_per_node:
        raise where.error("resources.gpus_per_node",
                          f"{res.gpus_per_node} GPUs cannot fit on a node of "
                          f"{res.max_gpus_per_node} (resources.max_gpus_per_node)")
    if res.nodes > 1 and res.gpus_per_node == 0:
        raise where.error("resources.nodes", "a multi-node run needs gpus_per_node >= 1 "
                                             "(one JAX process per node drives its GPUs)")
    return res


def _evaluate(value: Any, where: _Where) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value.get("envs"):
        raise where.error("evaluate", "expected {envs: [...], seeds: N, total_timesteps: T}")
    unknown = set(value) - {"envs", "seeds", "total_timesteps", "baselines"}
    if unknown:
        raise where.error(f"evaluate.{sorted(unknown)[0]}", "unknown key (known: envs, seeds, "
                                                            "total_timesteps, baselines)")
    envs = value["envs"] if isinstance(value["envs"], list) else [value["envs"]]
    return {**value, "envs": [str(e) for e in envs]}


def _check_fits(cfg: Any, res: Resources, run: str, where: _Where) -> None:
    """A population the run's devices can shard (ES) is checked before launch."""
    if res.devices and cfg.outer == "es" and cfg.es.population_size % res.devices:
        raise where.error("resources", f"run {run}: es.population_size "
                          f"({cfg.es.population_size}) is not divisible by the "
                          f"{res.devices} devices it asks for (nodes x gpus_per_node)")


def _run_name(config: int, point: dict[str, Any], seed: int) -> str:
    """`c00-lr0.03-sigma0.1-s0`: the configuration index, short axis values, the seed."""
    parts = []
    for key, value in point.items():
        short = key.rsplit(".", 1)[-1]
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "", f"{short}{text}"))
    slug = "-".join(parts)[:60]
    return f"c{config:02d}{'-' + slug if slug else ''}-s{seed}"


# ---------------------------------------------------------------------- directories
class SweepDir:
    """A sweep directory: manifest, per-run configs, task reports and the runs."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    def run_path(self, name: str) -> Path:
        return self.runs_dir / name

    def config_path(self, name: str) -> Path:
        return self.path / "configs" / f"{name}.yaml"

    def task_path(self, name: str) -> Path:
        return self.path / "tasks" / f"{name}.json"

    def exists(self) -> bool:
        return (self.path / "runs.csv").is_file()

    def create_or_check(self, sweep: Sweep) -> None:
        """Write the manifest of a new sweep directory, or check that an existing one holds
        the same expanded runs (a changed sweep file needs a new directory)."""
        table = sweep.table()
        if self.exists():
            if (self.path / "runs.csv").read_text() != table:
                raise SweepError(f"{self.path} holds another expansion of the sweep (its "
                                 "runs.csv differs): give the changed sweep another name or "
                                 "directory")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path / "sweep.yaml", sweep.text)
            write_atomic(self.path / "runs.csv", table)
        for name, cfg in sweep.configs.items():
            path = self.config_path(name)
            path.parent.mkdir(exist_ok=True)
            write_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        self.task_path("x").parent.mkdir(exist_ok=True)
        self.runs_dir.mkdir(exist_ok=True)

    def runs(self) -> list[dict[str, Any]]:
        """The expanded table: [{run, config, seed, <override key>: value}]."""
        path = self.path / "runs.csv"
        if not path.is_file():
            raise SweepError(f"no sweep directory at {self.path} (no runs.csv)")
        with path.open() as f:
            rows = list(csv.DictReader(f))
        return [{k: (v if k == "run" else json.loads(v)) for k, v in row.items()}
                for row in rows]

    def sweep_file(self) -> dict[str, Any]:
        return yaml.safe_load((self.path / "sweep.yaml").read_text()) or {}

    def report_task(self, name: str, state: str, **extra: Any) -> None:
        """What a task did last (running, done, failed), for `status`."""
        import socket

        write_atomic(self.task_path(name), json.dumps(
            {"state": state, "host": socket.gethostname(), "time": time.time(), **extra}))

    def read_task(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(self.task_path(name).read_text())
        except (OSError, ValueError):
            return {}

    def status(self, name: str) -> dict[str, Any]:
        """{run, state, generation, generations, error} of one run, from its directory."""
        cfg = yaml.safe_load(self.config_path(name).read_text())
        total = int(cfg["generations"])
        run = self.run_path(name)
        rows = read_jsonl(run / "metrics.jsonl", on_partial=lambda _: None) \
            if (run / "metrics.jsonl").exists() else []
        reached = max((int(r["generation"]) + 1 for r in rows if "generation" in r),
                      default=0)
        task = self.read_task(name)
        out = {"run": name, "generation": reached, "generations": total, "error": None}
        if run_is_done(run, total, self.evaluates()):
            state = "done"
        elif is_locked(run):
            state = "running"
        elif task.get("state") == "failed":
            state = "failed"
            out["error"] = task.get("error")
        else:
            state = "pending"
        out["state"] = state
        return out

    def evaluates(self) -> bool:
        return bool(self.sweep_file().get("evaluate"))

    def remove(self) -> None:
        shutil.rmtree(self.path)


def final_checkpoint(run: Path, generations: int) -> Path:
    return run / "checkpoints" / str(generations)


def run_is_done(run: Path, generations: int, evaluated: bool = False) -> bool:
    """A run is done when its final checkpoint is on disk (and its evaluation, if asked)."""
    ckpt = final_checkpoint(run, generations)
    if not ckpt.is_dir() or not any(ckpt.iterdir()):
        return False
    return not evaluated or (run / "eval" / "summary.json").is_file()


def status_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of `SweepDir.status` rows and a count per state."""
    width = max([len(r["run"]) for r in rows] + [3])
    lines = [f"{'run':{width}s}  {'state':8s}  generation"]
    for r in rows:
        line = f"{r['run']:{width}s}  {r['state']:8s}  {r['generation']}/{r['generations']}"
        if r.get("error"):
            line += f"  ({r['error']})"
        lines.append(line)
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)
