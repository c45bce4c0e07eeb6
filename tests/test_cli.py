"""The command line: listing environments, training with a run directory, clear errors."""

import json

import pytest

from discovery.cli import main


def test_envs_lists_names_with_spaces(capsys):
    assert main(["envs", "--family", "CartPole"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "(4,)" in out and "Discrete(2)" in out


def test_train_writes_metrics_and_curve(tmp_path, capsys):
    args = ["train", "--env", "CartPole-v1", "--seeds", "2", "--total-timesteps", "8192",
            "--runs-dir", str(tmp_path), "--name", "r"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "16/16 (100%)" in out and "env-steps/s" in out
    run = tmp_path / "r"
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["final_return"] and len(records[-1]["final_return"]) == 2
    assert (run / "plots" / "learning_curve.png").stat().st_size > 1000
    assert (run / "config.yaml").exists()
    # a second start into the same run directory refuses
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["train", "--env", "CartPol-v1"], "Did you mean: CartPole-v1"),
    (["train", "--env", "CartPole-v1", "--rule", "nope"], "Unknown rule 'nope'"),
    (["train", "--env", "CartPole-v1", "--num-envs", "0"], "num_envs"),
])
def test_train_rejects_bad_input(tmp_path, capsys, args, message):
    assert main([*args, "--runs-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
