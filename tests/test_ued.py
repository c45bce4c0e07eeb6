"""`rldisco train --levels plr`: one agent trained with a PLR curriculum over the grid-world
`small` level space (positive value loss scores, robust PLR), then reported on held-out levels.
A tiny run end to end through the CLI (rollouts of 100 steps: a level's score needs a
completed episode, and `small` episodes last up to 100 steps): the rows it logs, robust PLR's
rule (learn only from replayed batches), the buffer statistics, the saved agent and the
held-out report."""

import json

import numpy as np
import pytest

from discovery.cli import main

ARGS = ["train", "--env", "gridworld/small", "--rule", "a2c", "--levels", "plr", "--score",
        "pvl", "--robust", "--buffer-size", "16", "--min-fill", "0.25", "--num-envs", "4",
        "--num-steps", "100", "--total-timesteps", str(4 * 100 * 40)]


@pytest.fixture(scope="module")
def ued_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("ued")
    assert main([*ARGS, "--runs-dir", str(runs), "--name", "plr"]) == 0
    return runs / "plr"


def _rows(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_robust_plr_learns_only_from_replayed_batches(ued_run):
    rows = [r for r in _rows(ued_run) if "update" in r]
    assert [r["update"] for r in rows] == list(range(40))
    replayed = [r["replayed"] for r in rows]
    assert not replayed[0] and any(replayed) and not all(replayed), replayed
    assert [r["learned"] for r in rows] == replayed
    fill = [r["buffer"]["fill_ratio"] for r in rows]
    assert 0 < fill[0] <= 4 / 16 and fill == sorted(fill) and fill[-1] <= 1.0
    assert all(r["level_score"] is None or r["level_score"] >= 0 for r in rows)  # PVL >= 0
    assert rows[0]["level_score"] is not None


def test_held_out_report_and_saved_agent(ued_run):
    report = json.loads((ued_run / "eval" / "held_out.json").read_text())
    assert report["curriculum"] == "plr" and report["score"] == "pvl"
    assert len(report["levels"]) == len(report["return"]) == 32
    assert report["levels"][0] == "small/0" and np.isfinite(report["return"]).all()
    assert report["mean"] == pytest.approx(np.mean(report["return"]))
    assert (ued_run / "agent").is_dir() and (ued_run / "plots" / "learning_curve.png").is_file()


def test_a_curriculum_trains_one_agent(tmp_path, capsys):
    assert main([*ARGS, "--seeds", "2", "--runs-dir", str(tmp_path)]) == 2
    assert "--levels trains one agent" in capsys.readouterr().err
