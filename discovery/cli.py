"""`rldisco`: the command line. Subcommands stay thin; the work lives in the library.

Exit codes: 0 done; 1 an unexpected failure (or a full disk); 2 bad input or a refused request
(a busy or changed run); 75 stopped by SIGTERM with a checkpoint (resume it); 130 stopped by
Ctrl-C. Errors are one line on stderr; `--debug` (or RLDISCO_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from discovery import errors


def _cmd_envs(args: argparse.Namespace) -> int:
    import envs

    if args.spaces:
        return _list_spaces(args.family)
    names = envs.registered_names()
    if args.family:
        names = [n for n in names if n.startswith(args.family)]
    print(f"{'name':34s} {'observation':>16s}  action")
    for name in names:
        try:
            env, params = envs.make(name)
            obs = env.observation_space(params).shape
            act = env.action_space(params)
            act_s = f"Discrete({act.n})" if hasattr(act, "n") else f"Box{tuple(act.shape)}"
            print(f"{name:34s} {str(tuple(obs)):>16s}  {act_s}")
        except Exception as e:  # a family whose optional pieces fail to load still lists
            print(f"{name:34s} {'unavailable':>16s}  ({type(e).__name__}: {e})")
    return 0


def _list_spaces(family: str | None) -> int:
    """`rldisco envs --spaces`: every named uncertainty set with its ranges (absolute values)."""
    from environment_design.spaces import SPECS

    print(f"{'set':22s} {'environment':26s} dimensions [low, high] (source)")
    for name, set_spec in SPECS.items():
        if family and not set_spec.env.startswith(family):
            continue
        dims = "; ".join(f"{d.label} [{d.low:g}, {d.high:g}]" for d in set_spec.dims)
        print(f"{name:22s} {set_spec.env:26s} {dims} ({set_spec.source})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from discovery.rundir import check_creatable

    if args.resume:
        return _resume_train(args)
    if not args.env:
        raise ValueError("--env is required (or --resume RUN_DIR)")
    check_creatable(args.runs_dir, "runs are written there (choose another --runs-dir)")
    _start_jax(args)
    import jax

    import envs
    from discovery.agent_store import save_agent
    from discovery.agents import train_agents
    from discovery.plotting import plot_curves
    from discovery.presets import train_preset, train_preset_for
    from discovery.rundir import RunDir
    from meta_objectives import make_rule

    preset = args.preset or train_preset_for(args.env)
    overrides = {k: v for k, v in {
        "total_timesteps": args.total_timesteps, "num_envs": args.num_envs,
        "num_steps": args.num_steps, "lr": args.lr}.items() if v is not None}
    cfg = train_preset(preset).replace(**overrides)  # validates before any compilation
    rule = make_rule(args.rule)
    levels_cfg = _levels_config(args)
    if args.levels == "iwocs":
        from discovery.iwocs_train import IwocsConfig

        IwocsConfig(iterations=args.iterations)  # fails here, naming the field
        if args.iterations > cfg.num_updates:
            raise ValueError(f"--iterations {args.iterations} exceeds the run's "
                             f"{cfg.num_updates} updates (raise --total-timesteps)")
    env, params = envs.make(args.env)
    name = args.name or f"{args.env.replace('/', '-')}-{args.rule}-{time.strftime('%Y%m%d-%H%M%S')}"
    run = RunDir.create(Path(args.runs_dir) / name, "train", {
        "env": args.env, "rule": args.rule, "seeds": args.seeds, "seed": args.seed,
        "preset": preset, "train": _asdict(cfg),
        **({"levels": _asdict(levels_cfg)} if levels_cfg is not None else {}),
        **({"levels_kind": "iwocs", "space": args.space, "iterations": args.iterations}
           if args.levels == "iwocs" else {})})
    print(f"run directory: {run.path}")
    if args.levels == "iwocs":
        return _train_iwocs(args, run, rule, cfg)
    if levels_cfg is not None:
        return _train_on_levels(args, run, rule, cfg, levels_cfg)

    def on_chunk(done, log):
        curve = np.asarray(log.curve[:, -1])
        run.log({"update": done, "env_steps": done * cfg.steps_per_update,
                 "return_mean": float(np.nanmean(curve)), "return_min": float(np.nanmin(curve)),
                 "return_max": float(np.nanmax(curve))})

    result = train_agents(env, params, rule, cfg, jax.random.key(args.seed), args.seeds,
                          label=f"{args.env} {args.rule}", on_chunk=on_chunk)
    final = np.asarray(result.final_return)
    run.log({"final_return_mean": float(final.mean()), "final_return": final.tolist()})
    save_agent(run.path / "agent", result.agent_params, result.obs_stats)
    x = (np.arange(cfg.num_updates) + 1) * cfg.steps_per_update
    png = plot_curves({args.rule: np.asarray(result.curve)}, x, run.plots / "learning_curve.png",
                      title=args.env)
    print(f"final return {final.mean():.2f} +- {final.std():.2f} over {args.seeds} seeds; "
          f"curve: {png}; agent: {run.path / 'agent'}")
    return 0


def _levels_config(args: argparse.Namespace):
    """The `--levels` curriculum of `rldisco train` (None: the env's own fixed level)."""
    from discovery.levels import LevelsConfig

    if args.space is not None and args.levels not in ("dr", "iwocs"):
        raise ValueError(f"--space is for --levels dr or iwocs, got --levels {args.levels}")
    if args.levels == "iwocs" and args.space is None:
        raise ValueError("--levels iwocs needs --space (an uncertainty set: rldisco envs "
                         "--spaces)")
    if args.space is not None:
        from environment_design.spaces import spec

        if spec(args.space).env != args.env:
            raise ValueError(f"--space {args.space} is a set over {spec(args.space).env}, "
                             f"not {args.env}")
    if args.levels in ("fixed", "iwocs"):
        if args.levels == "iwocs" and args.seeds != 1:
            raise ValueError("--levels iwocs trains one agent; use --seed for other runs")
        return None
    if args.seeds != 1:
        raise ValueError("--levels trains one agent (its curriculum adapts to it); use "
                         "--seed for other runs instead of --seeds")
    score = args.score or ("random" if args.levels == "dr" else "pvl")
    return LevelsConfig(kind="sampled" if args.levels == "dr" else args.levels, score=score,
                        buffer_size=args.buffer_size, robust=args.robust,
                        minimum_fill_ratio=args.min_fill, space=args.space)


def _resume_train(args: argparse.Namespace) -> int:
    """`rldisco train --resume RUN_DIR`: continue an IWOCS train run from its last
    checkpoint (one per iteration) with its stored config; it ends as an uninterrupted run."""
    from discovery.inner import TrainConfig
    from discovery.rundir import RunDir
    from discovery.runlock import RunLock
    from meta_objectives import make_rule

    given = [flag for flag, value in (("--env", args.env), ("--space", args.space),
                                      ("--name", args.name)) if value]
    if given:
        raise ValueError(f"--resume continues a run with its stored config; drop "
                         f"{', '.join(given)}")
    run = RunDir.open(Path(args.resume), "train")
    config = run.read_config()
    if config.get("levels_kind") != "iwocs":
        raise ValueError(f"{run.path}: only IWOCS train runs (--levels iwocs) checkpoint as "
                         "they go; train this one again")
    _start_jax(args)
    args.env, args.space = config["env"], config["space"]
    args.iterations, args.seed = int(config["iterations"]), int(config["seed"])
    cfg = TrainConfig(**config["train"])
    print(f"resuming {run.path}")
    with RunLock(run.path):
        return _train_iwocs(args, run, make_rule(config["rule"]), cfg)


def _train_iwocs(args, run, rule, cfg) -> int:
    """`rldisco train --levels iwocs --space NAME`: one agent trained on a growing set of
    worst-case models; metrics per iteration, a plot, the agent and the set. Continues from
    the run's last checkpoint if it has one (`--resume`)."""
    import jax

    from discovery.iwocs_train import IwocsConfig, save_iwocs_results, train_iwocs
    from environment_design.spaces import make_space

    uset = make_space(args.space)
    icfg = IwocsConfig(iterations=args.iterations)
    run.write_json("iwocs.json", {"space": args.space, **_asdict(icfg)})
    # rows past the last checkpoint are dropped now and computed again
    done = max((int(p.name) for p in run.checkpoints.glob("[0-9]*") if p.name.isdigit()),
               default=0)
    run.truncate_metrics(lambda r: r.get("iteration", 0) <= done)
    state, rows, _ = train_iwocs(uset, rule, cfg, icfg, jax.random.key(args.seed),
                                 checkpoint_dir=run.checkpoints,
                                 on_iteration=lambda i, row: run.log(row))
    if [r.get("iteration") for r in run.metrics()] != [r["iteration"] for r in rows]:
        # a kill between a checkpoint and its metrics row: the checkpoint holds every row
        run.truncate_metrics(lambda r: False)
        for row in rows:
            run.log(row)
    png = save_iwocs_results(run, uset, state, rows, title=f"{args.env} IWOCS on {args.space}")
    last = rows[-1]

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    print(f"IWOCS: {len(rows)} iterations, {last['models']} models; worst-case estimate "
          f"{fmt(last['estimate'])}, last search worst {fmt(last['search_worst'])}; plot {png}; "
          f"agent: {run.path / 'agent'} (rldisco robust-eval {run.path} --space {args.space})")
    return 0


def _train_on_levels(args, run, rule, cfg, levels_cfg) -> int:
    """`rldisco train --levels ...`: one agent with a level curriculum (UED), then a report on
    held-out levels."""
    import jax

    from discovery.agent_store import save_agent
    from discovery.plotting import plot_curves
    from discovery.ued import held_out_levels, train_on_levels

    key = jax.random.key(args.seed)
    k_train, k_eval, k_levels = jax.random.split(key, 3)

    def on_chunk(done, log):
        for i in range(len(log.score)):
            row = {"update": done - len(log.score) + i,
                   "return": _nan_none(log.episode_return[i]),
                   "level_score": _nan_none(log.score[i]), "replayed": bool(log.replayed[i]),
                   "learned": bool(log.learned[i])}
            if log.buffer:
                row["buffer"] = {k: _nan_none(v[i]) for k, v in log.buffer.items()}
            run.log(row)

    state, log, ued = train_on_levels(args.env, rule, cfg, levels_cfg, k_train,
                                      label=f"{args.env} {args.rule} ({args.levels})",
                                      on_chunk=on_chunk)
    save_agent(run.path / "agent", state.agent.params, state.agent.obs_stats)
    if args.levels in ("plr", "accel") and not np.any(np.asarray(log.replayed)):
        scored = np.isfinite(np.asarray(log.score, dtype=float)).mean()
        print(f"warning: no level was replayed: the buffer never reached --min-fill "
              f"{args.min_fill} (only {100 * scored:.0f}% of the level batches got a finite "
              f"score). Scores need finished episodes: make rollouts (--num-steps "
              f"{cfg.num_steps}) longer than the levels' episodes, or train longer.",
              file=sys.stderr)
    labels, levels = held_out_levels(args.env, k_levels)
    returns = np.asarray(jax.jit(ued.evaluate)(state, levels, k_eval), dtype=float)
    report = {"levels": labels, "return": returns.tolist(), "mean": float(returns.mean()),
              "worst": float(returns.min()), "curriculum": args.levels,
              "score": levels_cfg.score}
    run.write_json("eval/held_out.json", report)
    x = (np.arange(cfg.num_updates) + 1) * cfg.steps_per_update
    plot_curves({f"{args.rule} ({args.levels})": np.asarray(log.episode_return)[None]}, x,
                run.plots / "learning_curve.png", title=args.env)
    print(f"held-out levels ({len(labels)}): mean return {report['mean']:.2f}, worst "
          f"{report['worst']:.2f} ({labels[int(returns.argmin())]}); "
          f"{run.path / 'eval' / 'held_out.json'}; agent: {run.path / 'agent'}")
    return 0


def _nan_none(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _cmd_discover(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as held:  # the run's lock, released when the command ends
        return _discover(args, held)


def _discover(args: argparse.Namespace, held: contextlib.ExitStack) -> int:
    from discovery.distributed import process_id_hint
    from discovery.rundir import RunDir, check_creatable, check_writable, read_yaml
    from discovery.runlock import RunLock

    # Everything that can refuse without jax comes first, so a busy or unwritable run is
    # refused at once (before the seconds that loading jax takes). In a multi-host run only
    # process 0 holds the lock and writes.
    writer = process_id_hint(args.process_id) == 0
    if args.resume:
        if args.preset or args.config:
            raise ValueError("--resume continues a run with its stored config; drop "
                             "--preset/--config (key=value overrides are checked against "
                             "the run's checkpoint)")
        path = Path(args.resume).expanduser()
        RunDir.open(path, "discover")  # a run of the right kind with a readable config
        if writer:
            check_writable(path, "resuming writes metrics and checkpoints into the run")
            held.enter_context(RunLock(path))
    else:
        if writer:
            check_creatable(args.runs_dir, "runs are written there (choose another "
                                           "--runs-dir)")
        base_dict = read_yaml(args.config) if args.config else None
    from discovery.distributed import barrier, initialize, is_main

    distributed = initialize(args.coordinator, args.num_processes, args.process_id)
    _start_jax(args, distributed)
    from discovery.config import DiscoveryConfig, apply_overrides, preset
    from discovery.logging import Trackers
    from discovery.run import open_run, run_discovery, start_run
    from discovery.signals import Stopped, StopSignals

    if args.resume:
        cfg, run = open_run(path)
        cfg = apply_overrides(cfg, args.overrides) if args.overrides else cfg
    else:
        if base_dict is not None:
            try:
                base = DiscoveryConfig.from_dict({k: v for k, v in base_dict.items()
                                                  if k != "kind"})
            except (TypeError, ValueError) as e:
                raise ValueError(f"{args.config}: {e}") from None
        else:
            base = preset(args.preset or "quickstart")
        cfg = apply_overrides(base, args.overrides)
        if distributed and not args.name and "SLURM_JOB_ID" not in os.environ:
            raise ValueError("a multi-host run needs --name (every process opens the same run)")
        stamp = (f"job{os.environ['SLURM_JOB_ID']}" if distributed and not args.name
                 else time.strftime('%Y%m%d-%H%M%S'))
        name = args.name or f"{args.preset or 'run'}-{stamp}"
        if is_main():
            run = start_run(cfg, Path(args.runs_dir) / name)
            held.enter_context(RunLock(run.path))
        barrier("rldisco-run-created")
        if not is_main():
            run = RunDir.open(Path(args.runs_dir) / name, "discover")
    print(f"run directory: {run.path}")
    args.run_path = run.path  # for error messages
    trackers = None
    try:
        if is_main():
            trackers = Trackers(str(run.path), tensorboard=args.tensorboard,
                                wandb_project=args.wandb_project, config=cfg.to_dict())
        on_idle_stop = _stop_now(args.command) if args.standalone else None
        with StopSignals(on_idle_stop=on_idle_stop) as stop:
            result = run_discovery(cfg, run, resume=bool(args.resume), trackers=trackers,
                                   allow_config_change=args.allow_config_change, stop=stop)
    except Exception as e:
        if not args.resume and not isinstance(e, Stopped) and is_main():
            run.remove_if_empty()  # a start that failed before any work leaves nothing behind
        raise
    finally:
        if trackers is not None:
            trackers.close()
    last = result.fitness[-1]
    print(f"done: {len(result.fitness)} generations; last mean fitness {np.nanmean(last):.3f} "
          f"({cfg.fitness_label}); checkpoints in {run.checkpoints}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from discovery.rundir import RunDirError, check_writable

    path = Path(args.run).expanduser()
    if not path.is_dir():
        raise RunDirError(f"no run directory at {path.resolve()}")
    check_writable(path, "evaluation writes eval/ and plots/ into the run")
    _start_jax(args)
    from discovery.evaluate import evaluate_run

    evaluate_run(args.run, envs=args.envs, seeds=args.seeds,
                 total_timesteps=args.total_timesteps, baselines=tuple(args.baselines),
                 seed=args.seed, compare=tuple(args.compare))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    """`rldisco sweep SPEC.yaml`, `rldisco sweep status DIR`, `rldisco sweep report DIR`."""
    from discovery.sweep import SweepDir, status_table

    action, rest = (args.target[0], args.target[1:]) if args.target[0] in (
        "status", "report") else ("launch", args.target)
    if len(rest) != 1:
        raise ValueError("usage: rldisco sweep SPEC.yaml | rldisco sweep status DIR | "
                         "rldisco sweep report DIR")
    if action == "status":
        sweep = SweepDir(rest[0])
        print(status_table([sweep.status(r["run"]) for r in sweep.runs()]))
        return 0
    if action == "report":
        from discovery.sweep_report import write_report

        table, out = write_report(SweepDir(rest[0]))
        print(table)
        print(f"report: {out / 'summary.csv'}, plots in {out}")
        return 0
    return _launch_sweep(args, rest[0])


def _launch_sweep(args: argparse.Namespace, spec_path: str) -> int:
    from discovery.launch import launch_local, runs_to_launch
    from discovery.sweep import SweepDir, load_sweep

    if args.max_parallel < 1:
        raise ValueError(f"--max-parallel must be >= 1, got {args.max_parallel}")
    spec = load_sweep(spec_path)  # everything is validated before anything launches
    sweep = SweepDir(Path(args.sweeps_dir) / spec.name)
    existing = sweep.exists()
    names = [r.name for r in spec.runs]
    if args.dry_run:
        print(f"sweep {spec.name}: {len(names)} run(s) in {sweep.path}")
        for r in spec.runs:
            swept = {k: v for k, v in r.overrides.items() if k in (*spec.axes, "seed")}
            print(f"  {r.name}: " + " ".join(f"{k}={v}" for k, v in swept.items()))
        if args.launcher == "slurm":
            from discovery.slurm import submission_script

            print(submission_script(sweep, spec.resources, spec.name, len(names),
                                    args.max_parallel))
        return 0
    sweep.create_or_check(spec)
    todo = runs_to_launch(sweep) if existing else names
    print(f"sweep {spec.name}: {len(names) - len(todo)} of {len(names)} run(s) done or "
          f"running; launching {len(todo)} ({args.launcher}) in {sweep.path}")
    if not todo:
        return 0
    if args.launcher == "slurm":
        from discovery.slurm import submit

        jobs = submit(sweep, todo, spec.resources, spec.name, args.max_parallel)
        print(f"submitted job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} task(s)); "
              f"follow it with: rldisco sweep status {sweep.path}")
        return 0
    codes = launch_local(sweep, todo, args.max_parallel)
    failed = [n for n, rc in codes.items() if rc != 0]
    if failed:
        print(f"{len(failed)} run(s) did not finish: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_robust_eval(args: argparse.Namespace) -> int:
    from environment_design.spaces import spec

    spec(args.space)  # an unknown set fails before jax loads, listing the known ones
    _start_jax(args)
    from discovery.robust_eval import robust_eval_run

    robust_eval_run(args.run, args.space, points=args.grid, seeds=args.seeds,
                    episodes=args.episodes, seed=args.seed, compare=tuple(args.compare))
    return 0


def _cmd_worst_case(args: argparse.Namespace) -> int:
    from environment_design.spaces import spec

    spec(args.space)
    _start_jax(args)
    from discovery.robust_eval import worst_case_run

    worst_case_run(args.run, args.space, points=args.grid, population=args.population,
                   generations=args.generations, seeds=args.seeds, episodes=args.episodes,
                   seed=args.seed)
    return 0


def _stop_now(command: str):
    """What a stop with nothing unsaved does (from the signal watcher): say so and exit."""

    def stop_now(stopped: Exception) -> None:
        print(f"rldisco {command}: {stopped}", file=sys.stderr)
        errors.exit_now(stopped.exit_code)

    return stop_now


def _start_jax(args: argparse.Namespace, distributed: bool = False) -> None:
    """Before JAX starts: the persistent compilation cache, and one CPU device per core (on
    one host; a multi-host run gets them only when --cpu-devices asks)."""
    from discovery.compile_cache import enable_compile_cache
    from discovery.devices import use_cpu_devices

    if not distributed or args.cpu_devices is not None:
        use_cpu_devices(args.cpu_devices)
    enable_compile_cache("off" if args.no_compile_cache else None)


def _asdict(cfg) -> dict:
    import dataclasses

    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(cfg).items()}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks (also RLDISCO_DEBUG=1)")
    compiling = argparse.ArgumentParser(add_help=False)
    compiling.add_argument("--no-compile-cache", action="store_true",
                           help="do not use the persistent compilation cache "
                                "(RLDISCO_COMPILE_CACHE=off; default ~/.cache/rldisco/jax)")
    compiling.add_argument("--cpu-devices", metavar="N|auto", default=None,
                           help="CPU devices to shard populations over (RLDISCO_CPU_DEVICES; "
                                "default auto: one per core)")
    parser = argparse.ArgumentParser(prog="rldisco", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("envs", help="list every registered environment with its spaces",
                       parents=[common])
    p.add_argument("--family", help="only names starting with this (e.g. brax/)")
    p.add_argument("--spaces", action="store_true",
                   help="list the named uncertainty sets (robust-eval, worst-case, iwocs)")
    p.set_defaults(func=_cmd_envs)

    p = sub.add_parser("train", help="train agents with a fixed rule on one environment",
                       parents=[common, compiling])
    p.add_argument("--env", help="the environment (required unless --resume)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a killed IWOCS train run (--levels iwocs) bit-identically")
    p.add_argument("--rule", default="ppo")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", help="inner-loop preset (default: by environment family)")
    p.add_argument("--total-timesteps", type=int)
    p.add_argument("--num-envs", type=int)
    p.add_argument("--num-steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--levels", choices=("fixed", "dr", "plr", "accel", "iwocs"),
                   default="fixed",
                   help="train on the env's own level (fixed), on levels drawn from its level "
                        "distribution or ParamSpace (dr; or from --space), with a curriculum "
                        "(plr, accel), or on a growing worst-case set of --space (iwocs)")
    p.add_argument("--space", help="an uncertainty set (rldisco envs --spaces) for --levels "
                                   "dr or iwocs")
    p.add_argument("--iterations", type=int, default=8,
                   help="IWOCS iterations (the budget is split evenly over them)")
    p.add_argument("--score", choices=("pvl", "maxmc", "l1", "random"),
                   help="how a curriculum scores levels (default: pvl; dr: random)")
    p.add_argument("--buffer-size", type=int, default=4000, help="PLR / ACCEL level buffer")
    p.add_argument("--min-fill", type=float, default=0.5,
                   help="buffer fill ratio before levels are replayed")
    p.add_argument("--robust", action="store_true",
                   help="robust PLR: learn only from replayed levels")
    p.add_argument("--name", help="run name (default: env-rule-timestamp)")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("discover", help="meta-learn an update rule with ES (or --resume one)",
                       parents=[common, compiling])
    p.add_argument("--preset", help="named configuration (default: quickstart)")
    p.add_argument("--config", help="a YAML config (as written to a run's config.yaml)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed or stopped run")
    p.add_argument("--allow-config-change", action="store_true",
                   help="on --resume, continue with config changes that alter results "
                        "(recorded in the run's config_changes.jsonl)")
    p.add_argument("--name", help="run name (default: preset-timestamp)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    p.add_argument("--wandb-project", help="also log to this W&B project")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="multi-host: process 0's address (default: detected inside srun)")
    p.add_argument("--num-processes", type=int, help="multi-host: number of processes")
    p.add_argument("--process-id", type=int, help="multi-host: this process's index")
    p.add_argument("overrides", nargs="*", help="key=value, e.g. es.population_size=32")
    p.set_defaults(func=_cmd_discover)

    p = sub.add_parser("evaluate", help="train fresh agents with a discovered rule on "
                                        "held-out environments, against PPO and DPO",
                       parents=[common, compiling])
    p.add_argument("run", help="a discovery run directory")
    p.add_argument("--envs", nargs="+", required=True)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--total-timesteps", type=int,
                   help="training horizon (default: the run's); others test temporal awareness")
    p.add_argument("--baselines", nargs="*", default=["ppo", "dpo"])
    p.add_argument("--compare", nargs="+", default=[], metavar="RUN",
                   help="other discovery runs whose rules are trained the same way (e.g. a "
                        "nominally discovered rule next to a robustly discovered one)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("sweep", help="launch a sweep file (local or Slurm), or show a "
                                     "sweep's status / report",
                       parents=[common, compiling])
    p.add_argument("target", nargs="+", metavar="SPEC.yaml | status DIR | report DIR")
    p.add_argument("--launcher", choices=("local", "slurm"), default="local")
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs (and the Slurm submission script) without launching")
    p.add_argument("--max-parallel", type=int, default=1,
                   help="runs at once (local: processes; slurm: the array's parallelism)")
    p.add_argument("--sweeps-dir", default="sweeps", help="where sweep directories go")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("robust-eval", help="worst-case and mean return of a run over an "
                                           "uncertainty set's grid (rldisco envs --spaces)",
                       parents=[common, compiling])
    p.add_argument("run", help="a train run (its saved agents) or a discovery run (fresh "
                               "agents trained at every point, against PPO)")
    p.add_argument("--space", required=True, help="a named uncertainty set")
    p.add_argument("--grid", type=int, default=10,
                   help="points per dimension, both bounds included (RRLS: 10)")
    p.add_argument("--seeds", type=int, help="agents: a train run's first N saved ones "
                                             "(default all); a discovery run's per point (4)")
    p.add_argument("--episodes", type=int, default=16,
                   help="evaluation episodes per agent and point (train runs)")
    p.add_argument("--compare", nargs="+", default=[], metavar="RUN",
                   help="discovery runs whose rules are trained at every point too (e.g. a "
                        "nominally discovered rule next to a robustly discovered one)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_robust_eval)

    p = sub.add_parser("worst-case", help="CMA-ES search for a train run's worst-case "
                                          "dynamics in an uncertainty set, next to the grid's",
                       parents=[common, compiling])
    p.add_argument("run", help="a train run (its saved agents)")
    p.add_argument("--space", required=True, help="a named uncertainty set")
    p.add_argument("--grid", type=int, default=10, help="points per dimension of the grid")
    p.add_argument("--population", type=int, default=8, help="CMA-ES population")
    p.add_argument("--generations", type=int, default=12, help="CMA-ES generations")
    p.add_argument("--seeds", type=int, help="the run's first N saved agents (default all)")
    p.add_argument("--episodes", type=int, default=16,
                   help="evaluation episodes per agent and candidate")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_worst_case)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    args.standalone = argv is None  # the process is ours: a stop may exit it at once
    debug = getattr(args, "debug", False) or os.environ.get("RLDISCO_DEBUG", "") not in ("", "0")
    if not debug:
        from discovery.compile_cache import quiet_cache_loads

        quiet_cache_loads()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"rldisco {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        stopped = errors.as_stopped(e)
        if stopped is not None:  # SIGTERM / SIGINT: saved and stopped, not an error
            print(f"rldisco {args.command}: {e}", file=sys.stderr)
            if stopped.abandoned_work and args.standalone:
                errors.exit_now(stopped.exit_code)  # don't wait for the abandoned computation
            return stopped.exit_code
        if debug:
            raise
        code, line = errors.describe(e, getattr(args, "run_path", None))
        print(f"rldisco {args.command}: error: {line}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
