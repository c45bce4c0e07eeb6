"""Held-out evaluation (`rldisco evaluate`) of a tiny discovery run and its statistics, and the
analysis API + learned-objective notebook on the same run (one file, so one test worker makes
the tiny run once)."""

import csv
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from matplotlib.figure import Figure
from tiny_run import tiny_run_path

from discovery.cli import main
from discovery.evaluate import _train_config
from discovery.inspection import fitness_curve, load_discovered
from discovery.stats import bootstrap_ci, iqm, score_summary
from meta_objectives import DPO, LPO, TALPO
from meta_objectives.analysis import (
    DEFAULT_ADVANTAGES,
    DEFAULT_RATIOS,
    drift_difference,
    drift_heatmaps,
    drift_invariants,
    drift_values,
    reference_drift,
)


@pytest.fixture(scope="module")
def run_path():
    return tiny_run_path()


# ------------------------------------------------------------------ statistics (no training)
def test_iqm_trims_a_quarter_at_each_end():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([0.0, 0.0, 0.0, 100.0]) == pytest.approx(0.0)  # the outlier is trimmed
    assert iqm([2.0, 4.0]) == pytest.approx(3.0)  # fewer than 4 values: plain mean
    np.testing.assert_allclose(iqm(np.array([[1, 2, 3, 100], [4, 4, 4, 4.0]]), axis=-1),
                               [2.5, 4.0])
    x = np.random.default_rng(1).normal(size=37)
    stats = pytest.importorskip("scipy.stats")
    assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))


def test_bootstrap_ci_is_reproducible_and_sane():
    assert bootstrap_ci(np.full(10, 0.7)) == pytest.approx((0.7, 0.7))
    x = np.random.default_rng(0).normal(2.0, 1.0, size=400)
    lo, hi = bootstrap_ci(x)
    assert bootstrap_ci(x) == (lo, hi)  # fixed rng
    half = 1.96 * x.std() / np.sqrt(x.size)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * half, rel=0.15)
    # stratified: each stratum keeps its size, so a constant stratum adds no width
    lo2, hi2 = bootstrap_ci([x, np.full(400, 2.0)])
    assert hi2 - lo2 == pytest.approx((hi - lo) / 2, rel=0.15)
    s = score_summary([np.array([0.0, 1.0, np.nan, 2.0])])
    assert s["n"] == 3 and s["nonfinite"] == 1 and s["mean"] == pytest.approx(1.0)
    assert s["ci"][0] <= 1.0 <= s["ci"][1]


# ------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_evaluate_cli_writes_csv_summary_and_plots(run_path, capsys):
    # a horizon 4x the run's (256 -> 1024 steps): TA-LPO sees n/N relative to the new one
    assert main(["evaluate", str(run_path), "--envs", "CartPole-v1",
                 "--seeds", "2", "--total-timesteps", "1024"]) == 0
    out = capsys.readouterr().out
    assert "| env | rule |" in out and "**aggregate**" in out

    for env in ("CartPole-v1",):
        with (run_path / "eval" / f"{env}.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["rule", "seed", "final_return", "normalized"]
        assert [(r["rule"], r["seed"]) for r in rows] == [
            (rule, str(s)) for rule in ("discovered", "ppo", "dpo") for s in range(2)]
        ppo = np.array([float(r["normalized"]) for r in rows if r["rule"] == "ppo"])
        assert ppo.mean() == pytest.approx(1.0, abs=1e-6)  # PPO of this evaluation is 1
        assert (run_path / "plots" / f"eval_{env}.png").stat().st_size > 1000

    md = (run_path / "eval" / "summary.md").read_text()
    for env in ("CartPole-v1", "**aggregate**"):
        for rule in ("discovered", "ppo", "dpo"):
            assert f"| {env} | {rule} |" in md
    summary = json.loads((run_path / "eval" / "summary.json").read_text())
    assert summary["rule"] == "ta-lpo" and summary["seeds"] == 2
    cart = summary["envs"]["CartPole-v1"]
    assert cart["total_timesteps"] == 1024 and cart["num_updates"] == 16
    assert cart["train_config"] == "run"
    assert np.isfinite(cart["random"]) and len(cart["rules"]["discovered"]["normalized"]) == 2
    assert summary["aggregate"]["ppo"]["mean"] == pytest.approx(1.0, abs=1e-6)
    assert summary["aggregate"]["discovered"]["n"] == 2


def test_train_config_follows_the_env_family(run_path):
    from discovery.run import open_run

    cfg, _ = open_run(run_path)
    tcfg, source = _train_config(cfg, "Acrobot-v1", None)
    assert source == "run" and tcfg == cfg.train
    tcfg, source = _train_config(cfg, "SpaceInvaders-MinAtar", 2_000_000)
    assert source == "preset:minatar" and tcfg.num_envs == 64
    assert tcfg.total_timesteps == 2_000_000
    tcfg, source = _train_config(cfg, "gridworld/dense", None)  # GROOVE's tabular agents
    assert source == "preset:gridworld-tabular" and tcfg.optimizer == "sgd" and not tcfg.hidden
    assert (tcfg.lr, tcfg.critic_lr) == (40.0, 4.0)
    _, source = _train_config(cfg, "gridworld/rand_dense", None)  # MLP agents
    assert source == "preset:gridworld"
    with pytest.raises(ValueError, match="total_timesteps"):
        _train_config(cfg, "CartPole-v1", 10)


@pytest.mark.parametrize("args,message", [
    (["--envs", "CartPol-v1"], "Did you mean: CartPole-v1"),
    (["--envs", "CartPole-v1", "--baselines", "nope"], "Unknown rule 'nope'"),
    (["--envs", "CartPole-v1", "--total-timesteps", "10"], "total_timesteps"),
    (["--envs", "CartPole-v1", "--seeds", "0"], "seeds"),
])
def test_evaluate_rejects_bad_input(run_path, capsys, args, message):
    assert main(["evaluate", str(run_path), *args]) == 2
    err = capsys.readouterr().err
    assert "rldisco evaluate: error:" in err and message in err


def test_evaluate_missing_run_dir(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), "--envs", "CartPole-v1"]) == 2
    assert "no run directory" in capsys.readouterr().err


# ------------------------------------------------------------------ analysis API and notebook
ROOT = Path(__file__).resolve().parents[1]
RATIOS = np.linspace(0.5, 2.0, 31)
ADVANTAGES = np.linspace(-3.0, 3.0, 13)


def _image_shapes(fig):
    return [ax.images[0].get_array().shape for ax in fig.axes if ax.images]


def test_drift_values_and_heatmap_shapes():
    rule = TALPO(net_init="random", init_scale=1.5)
    mp = rule.init(jax.random.key(0))
    values = drift_values(rule, mp, (0.0, 0.5, 1.0), RATIOS, ADVANTAGES)
    assert values.shape == (3, 31, 13)
    assert not np.allclose(values[0], values[2])  # TA-LPO depends on n/N
    fig = drift_heatmaps(rule, mp, (0.0, 0.5, 1.0), RATIOS, ADVANTAGES)
    assert isinstance(fig, Figure)
    assert _image_shapes(fig) == [(13, 31)] * 3  # imshow of [A, r]: A on y, r on x
    fig = drift_difference(rule, mp, (0.0, 1.0), RATIOS, ADVANTAGES)
    assert _image_shapes(fig) == [(13, 31)] * 4  # 2 references x 2 fractions
    lpo = LPO(net_init="random")
    lv = drift_values(lpo, lpo.init(jax.random.key(1)), (0.0, 1.0))
    assert lv.shape == (2, len(DEFAULT_RATIOS), len(DEFAULT_ADVANTAGES))
    np.testing.assert_array_equal(lv[0], lv[1])  # plain LPO ignores n/N


def test_fixed_drifts_are_nonnegative_and_vanish_at_one():
    dpo = drift_values(DPO(), {}, (0.0,), RATIOS, ADVANTAGES)[0]
    assert dpo.shape == (31, 13) and (dpo >= 0).all() and dpo.max() > 0
    np.testing.assert_allclose(dpo, reference_drift("dpo", RATIOS, ADVANTAGES))
    ppo = reference_drift("ppo", RATIOS, ADVANTAGES)
    assert (ppo >= 0).all()
    assert np.all(ppo[(RATIOS >= 0.8) & (RATIOS <= 1.2)] == 0)  # zero inside the clip range
    for rule in (DPO(), TALPO(net_init="random", init_scale=2.0), LPO(net_init="random")):
        inv = drift_invariants(rule, rule.init(jax.random.key(0)))
        assert inv["min_drift"] >= 0
        assert inv["max_drift_at_r1"] == 0 and inv["max_abs_grad_at_r1"] == 0
    with pytest.raises(ValueError, match="unknown reference"):
        reference_drift("trpo")


def test_load_discovered_and_fitness_curve(run_path):
    rule, mp, cfg = load_discovered(run_path)
    assert rule.name == "ta-lpo" and cfg.generations == 2
    assert mp["w1"].shape == (16, rule.hidden)
    fig = fitness_curve(run_path)
    lines = fig.axes[0].get_lines()
    assert len(lines[0].get_xdata()) == 2  # one point per generation


@pytest.mark.slow
def test_learned_objective_notebook_runs(run_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("RLDISCO_RUN", str(run_path))
    nb = nbformat.read(ROOT / "notebooks" / "learned_objective.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert str(run_path) in text and "rule ta-lpo" in text
    assert "must be 0" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # drift heatmaps, differences, fitness curve
