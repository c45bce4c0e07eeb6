"""The run directory's files: a metrics line cut short by a kill is dropped with a warning,
any other damage is an error naming the file and line; malformed YAML names its line; a run
that did no work can be removed, one that did cannot."""

import pytest

from discovery.rundir import RunDir, RunDirError, read_yaml


@pytest.fixture
def run(tmp_path):
    return RunDir.create(tmp_path / "r", "discover", {"seed": 0})


def test_a_partial_last_metrics_line_is_dropped_with_a_warning(run):
    for g in range(3):
        run.log({"generation": g})
    with run.metrics_path.open("a") as f:
        f.write('{"generation": 3, "fitn')
    warnings = []
    assert [r["generation"] for r in run.metrics(warnings.append)] == [0, 1, 2]
    assert warnings == [f"{run.metrics_path}:4: dropped a partial last line (a write cut "
                        "short)"]
    assert run.truncate_metrics(lambda r: r["generation"] < 2, lambda _: None) == 1
    assert run.metrics_path.read_text().splitlines() == ['{"generation": 0}',
                                                         '{"generation": 1}']


def test_a_damaged_metrics_line_before_the_last_is_an_error_naming_file_and_line(run):
    run.metrics_path.write_text('{"generation": 0}\n{"generation": 1, oops}\n'
                                '{"generation": 2}\n')
    with pytest.raises(RunDirError, match=r"metrics.jsonl:2: not a JSON record"):
        run.metrics()


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("envs: [CartPole-v1]\nes:\n  lr: [0.1\n")
    with pytest.raises(RunDirError, match=r"c.yaml:4: not valid YAML"):
        read_yaml(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(RunDirError, match="expected a mapping"):
        read_yaml(path)


def test_the_config_is_replaced_whole(run):
    run.write_config({"kind": "discover", "seed": 1})
    assert run.read_config() == {"kind": "discover", "seed": 1}
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


def test_only_a_run_without_work_is_removed(tmp_path, run):
    worked = RunDir.create(tmp_path / "w", "discover", {"seed": 0})
    worked.log({"generation": 0})
    assert not worked.remove_if_empty() and worked.path.exists()
    assert run.remove_if_empty() and not run.path.exists()


def test_creating_over_an_existing_run_refuses(run):
    with pytest.raises(RunDirError, match="already exists; pass --resume"):
        RunDir.create(run.path, "discover", {"seed": 0})
