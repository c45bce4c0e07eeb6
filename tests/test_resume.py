"""Where a resume starts, on a run whose checkpoint is written here without training: a config
change that alters results is refused with nothing touched, an allowed one is recorded, and
metrics are cut back to the checkpoint."""

import jax
import pytest

from discovery.checkpoint import Checkpointer
from discovery.cli import main
from discovery.config import apply_overrides, preset
from discovery.config_change import CHANGES_FILE
from discovery.es import make_strategy
from discovery.resume import restore_for_resume
from discovery.run import start_run

CONFIG = ["es.population_size=4", "generations=8"]


@pytest.fixture
def run(tmp_path):
    """A run with rows 0..5 and a checkpoint at generation 4 holding its config."""
    cfg = apply_overrides(preset("quickstart"), CONFIG)
    run = start_run(cfg, tmp_path / "r")
    for g in range(6):
        run.log({"generation": g, "fitness": [0.0] * 4})
    ckpt = Checkpointer(run.checkpoints)
    state = _fresh_state(cfg)
    ckpt.save(4, state, {"mean": state.mean}, {"config": cfg.to_dict()})
    ckpt.close()
    return run


def _fresh_state(cfg):
    k_init, k_es = jax.random.split(jax.random.key(cfg.seed), 4)[1:3]
    template = cfg.rule.build().init(k_init)
    es, params = make_strategy(cfg.es, template)
    return es.init(k_es, template, params)


def _files(run):
    return {p.relative_to(run.path): p.read_bytes() for p in run.path.rglob("*")
            if p.is_file() and p.name != "run.lock"}


def test_a_resume_that_changes_results_is_refused_and_touches_nothing(run, capsys):
    before = _files(run)
    assert main(["discover", "--resume", str(run.path), "es.sigma=0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "with the overrides differs from checkpoint 4 in es.sigma (0.1 " \
                               "-> 0.2), which changes results" in err[0]
    run.config_path.write_text(run.config_path.read_text().replace("sigma: 0.1",
                                                                   "sigma: 0.3"))
    before = _files(run)
    assert main(["discover", "--resume", str(run.path)]) == 2
    assert "config.yaml differs from checkpoint 4 in es.sigma" in capsys.readouterr().err
    assert _files(run) == before


def test_an_allowed_change_is_recorded_and_metrics_are_cut_back(run):
    cfg = apply_overrides(preset("quickstart"), [*CONFIG, "es.sigma=0.2", "generations=12"])
    messages = []
    ckpt = Checkpointer(run.checkpoints)
    _, done = restore_for_resume(cfg, run, ckpt, _fresh_state(cfg), allow_config_change=True,
                                 echo=messages.append)
    ckpt.close()
    assert done == 4 and [r["generation"] for r in run.metrics()] == [0, 1, 2, 3]
    record = [line for line in (run.path / CHANGES_FILE).read_text().splitlines()]
    assert len(record) == 1 and '"es.sigma": [0.1, 0.2]' in record[0]
    assert '"generations": [8, 12]' in record[0]
    assert run.read_config()["es"]["sigma"] == 0.2  # the run now holds the config it uses
    assert any("dropped 2 metrics row(s)" in m for m in messages)


def test_rows_logged_before_the_first_checkpoint_are_dropped(tmp_path):
    cfg = apply_overrides(preset("quickstart"), CONFIG)
    run = start_run(cfg, tmp_path / "fresh")
    for g in range(4):
        run.log({"generation": g})
    ckpt = Checkpointer(run.checkpoints)
    _, done = restore_for_resume(cfg, run, ckpt, _fresh_state(cfg), echo=lambda _: None)
    ckpt.close()
    assert done == 0 and run.metrics() == []
