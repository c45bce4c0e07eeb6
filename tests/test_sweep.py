"""Sweeps: a sweep file expanded into named runs, launched locally and through submitit, its
status and report read back from the run directories, re-runs that redo only what is not
done, a run stopped by Slurm's signal resumed bit-identical, and bad sweep files refused before
anything launches.

One 4-run sweep (2 configurations x 2 seeds, tiny CartPole runs) is shared by the tests that
inspect it; every program compiles once per configuration (the session's compilation cache).
"""

import csv
import json
import re
import shutil
import signal
import threading
from pathlib import Path

import jax
import numpy as np
import pytest
from fault_runner import install

from discovery.checkpoint import load_meta_params
from discovery.cli import main
from discovery.sweep import SweepDir, SweepError, load_sweep

TINY = """\
name: tiny
preset: quickstart
set: {generations: 2, chunk: 1, es.population_size: 2, train.num_envs: 4,
      train.num_steps: 16, train.total_timesteps: 128, train.num_minibatches: 1,
      train.update_epochs: 2, center_seeds: 1, levels.fitness: raw}
grid:
  es.lr: [0.03, 0.1]
seeds: 2
resources: {gpus_per_node: 2, time: "00:30:00", partition: gpu}
"""
RUNS = ["c00-lr0.03-s0", "c00-lr0.03-s1", "c01-lr0.1-s0", "c01-lr0.1-s1"]


def _records(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def swept(spec, tmp_path_factory) -> SweepDir:
    """The sweep, run end to end with the local launcher."""
    out = tmp_path_factory.mktemp("sweeps")
    assert main(["sweep", str(spec), "--sweeps-dir", str(out)]) == 0
    return SweepDir(out / "tiny")


def test_a_sweep_file_expands_into_named_runs_with_a_manifest(spec, tmp_path, capsys):
    sweep = load_sweep(spec)
    assert [r.name for r in sweep.runs] == RUNS
    assert [(r.config, r.seed, r.overrides["es.lr"]) for r in sweep.runs] == [
        (0, 0, 0.03), (0, 1, 0.03), (1, 0, 0.1), (1, 1, 0.1)]
    assert sweep.configs[RUNS[3]].es.lr == 0.1 and sweep.configs[RUNS[3]].seed == 1
    # --dry-run prints the runs and the sbatch script, which matches the sweep file.
    assert main(["sweep", str(spec), "--sweeps-dir", str(tmp_path), "--dry-run",
                 "--launcher", "slurm", "--max-parallel", "3"]) == 0
    out = capsys.readouterr().out
    assert "c01-lr0.1-s1: es.lr=0.1 seed=1" in out
    for line in ("#SBATCH --array=0-3%3", "#SBATCH --gpus-per-node=2", "#SBATCH --time=30",
                 "#SBATCH --partition=gpu", "#SBATCH --nodes=1", "#SBATCH --signal=USR2@"):
        assert line in out
    assert not (tmp_path / "tiny").exists()  # a dry run writes nothing


def test_zip_and_random_axes_expand_reproducibly(tmp_path):
    path = tmp_path / "axes.yaml"
    path.write_text(TINY.replace("seeds: 2", """\
zip: {es.sigma: [0.1, 0.2], es.sigma_min: [0.01, 0.02]}
random: {count: 3, seed: 1, params: {train.lr: {loguniform: [1e-4, 1e-2]},
                                     train.num_envs: {choice: [4, 8]}}}
seeds: [5]"""))
    first, again = load_sweep(path), load_sweep(path)
    assert len(first.runs) == 2 * 2 * 3 and first.runs == again.runs
    assert first.axes == ("es.lr", "es.sigma", "es.sigma_min", "train.lr", "train.num_envs")
    for run in first.runs:
        o = run.overrides
        assert (o["es.sigma"], o["es.sigma_min"]) in ((0.1, 0.01), (0.2, 0.02))
        assert 1e-4 <= o["train.lr"] <= 1e-2 and o["train.num_envs"] in (4, 8)
        assert run.seed == 5 and first.configs[run.name].train.lr == o["train.lr"]
    assert len({r.overrides["train.lr"] for r in first.runs}) == 3


@pytest.mark.slow
def test_local_sweep_runs_every_run_and_status_reads_them_back(swept, capsys):
    assert (swept.path / "sweep.yaml").read_text() == TINY
    assert [r["run"] for r in swept.runs()] == RUNS
    assert main(["sweep", "status", str(swept.path)]) == 0
    out = capsys.readouterr().out
    for name in RUNS:
        assert re.search(rf"{name} +done +2/2", out)
    assert "0 pending, 0 running, 4 done, 0 failed" in out


@pytest.mark.slow
def test_report_gives_final_and_best_centre_fitness_per_configuration(swept, capsys):
    assert main(["sweep", "report", str(swept.path)]) == 0
    assert "| config | es.lr | runs |" in capsys.readouterr().out
    with (swept.path / "report" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["config"], r["es.lr"], r["runs"]) for r in rows] == [("0", "0.03", "2"),
                                                                    ("1", "0.1", "2")]
    for row, names in zip(rows, (RUNS[:2], RUNS[2:]), strict=True):
        finals = [json.loads((swept.run_path(n) / "result.json").read_text())
                  ["final_center_fitness"] for n in names]
        best = [max([*(r["center_fitness"] for r in _records(swept.run_path(n))), f])
                for n, f in zip(names, finals, strict=True)]
        assert float(row["final_mean"]) == pytest.approx(np.mean(finals))
        assert float(row["best_mean"]) == pytest.approx(np.mean(best))
        assert float(row["final_low"]) <= float(row["final_mean"]) <= float(row["final_high"])
    assert (swept.path / "report" / "curves.png").stat().st_size > 0
    assert (swept.path / "report" / "final_vs_es.lr.png").stat().st_size > 0


@pytest.mark.slow
def test_rerunning_redoes_only_runs_that_are_not_done(swept, spec, capsys):
    before = {n: (swept.run_path(n) / "metrics.jsonl").stat().st_mtime_ns for n in RUNS}
    assert main(["sweep", str(spec), "--sweeps-dir", str(swept.path.parent)]) == 0
    assert "4 of 4 run(s) done or running; launching 0" in capsys.readouterr().out

    redo = swept.run_path(RUNS[1])
    expected = _records(redo)
    shutil.rmtree(redo / "checkpoints" / "2")
    assert swept.status(RUNS[1])["state"] == "pending"
    # (--max-parallel > 1: the local launcher's processes, each logging to logs/<run>.log)
    assert main(["sweep", str(spec), "--sweeps-dir", str(swept.path.parent),
                 "--max-parallel", "2"]) == 0
    assert "3 of 4 run(s) done or running; launching 1" in capsys.readouterr().out
    assert f"resumed {RUNS[1]} at generation 1/2" in (swept.path / "logs" /
                                                      f"{RUNS[1]}.log").read_text()
    assert swept.status(RUNS[1])["state"] == "done"
    after = {n: (swept.run_path(n) / "metrics.jsonl").stat().st_mtime_ns for n in RUNS}
    assert [n for n in RUNS if before[n] != after[n]] == [RUNS[1]]
    assert [r["fitness"] for r in _records(redo)] == [r["fitness"] for r in expected]


@pytest.mark.slow
def test_slurm_signal_stops_a_task_with_a_checkpoint_and_the_requeued_array_ends_identical(
        swept, spec, tmp_path, monkeypatch, capsys):
    """SIGUSR2 (what submitit has Slurm send before preemption or the time limit) stops a task
    at a checkpoint and hands over to submitit's requeue; the tasks then run as one job array
    through submitit's debug executor (the stopped one resumes) and end bit-identical to the
    uninterrupted sweep."""
    import pdb

    from discovery.slurm import SweepTask, submit

    assert threading.current_thread() is threading.main_thread()
    sweep = SweepDir(tmp_path / "tiny")
    loaded = load_sweep(spec)
    sweep.create_or_check(loaded)
    requeued = []
    previous = signal.signal(signal.SIGUSR2, lambda s, f: requeued.append(s))
    try:
        install("usr2-in-chunk:2", monkeypatch.setattr)
        with pytest.raises(RuntimeError, match="exit code 75"):
            SweepTask(str(sweep.path), RUNS[0])()
        monkeypatch.undo()
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert requeued == [signal.SIGUSR2]
    assert "stopped by SIGUSR2: checkpoint 1 holds generation 1/2" in capsys.readouterr().err
    assert sweep.status(RUNS[0])["state"] == "pending"
    assert sweep.status(RUNS[0])["generation"] == 1
    assert sweep.read_task(RUNS[0])["state"] == "stopped"

    monkeypatch.setattr(pdb, "post_mortem", lambda *a: None)  # the debug executor's pdb
    jobs = submit(sweep, RUNS[:2], loaded.resources, "tiny", 2, cluster="debug")
    assert [job.result() for job in jobs] == [0, 0]
    for name in RUNS[:2]:
        assert sweep.status(name)["state"] == "done"
        assert _records(sweep.run_path(name))[-1]["fitness"] == \
            _records(swept.run_path(name))[-1]["fitness"]
        jax.tree.map(np.testing.assert_array_equal,
                     load_meta_params(sweep.run_path(name) / "checkpoints")[0],
                     load_meta_params(swept.run_path(name) / "checkpoints")[0])


@pytest.mark.parametrize("edit, message", [
    (("grid:", "gird:"), ":6: gird: unknown key"),
    (("es.lr: [0.03, 0.1]", "es.lr: []"), ":7: grid.es.lr: an axis needs a non-empty list"),
    (("es.lr: [0.03, 0.1]", "es.lrr: [0.03]"), ":7: grid.es.lrr: run c00-lrr0.03-s0: "
                                               "override 'es.lrr': unknown field 'lrr'"),
    (("gpus_per_node: 2", "gpus_per_node: 16"), ":9: resources.gpus_per_node: 16 GPUs "
                                                "cannot fit on a node of 8"),
    (("gpus_per_node: 2", "gpus_per_node: 4"), ":9: resources: run c00-lr0.03-s0: "
                                               "es.population_size (2) is not divisible by "
                                               "the 4 devices"),
    (('time: "00:30:00"', "time: soon"), ":9: resources.time: not a time: 'soon'"),
])
def test_bad_sweep_files_fail_before_anything_launches_naming_key_and_line(
        tmp_path, capsys, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace(*edit))
    with pytest.raises(SweepError, match=None) as e:
        load_sweep(path)
    assert message in str(e.value) and str(path) in str(e.value)
    assert main(["sweep", str(path), "--sweeps-dir", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
