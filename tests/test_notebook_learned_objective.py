"""The analysis API (drift heatmaps, differences, invariants, fitness curve) and the
learned-objective notebook, executed on a tiny discovery run."""

from pathlib import Path

import jax
import numpy as np
import pytest
from matplotlib.figure import Figure
from tiny_run import tiny_run_path

from meta_objectives import DPO, LPO, TALPO
from meta_objectives.analysis import (
    DEFAULT_ADVANTAGES,
    DEFAULT_RATIOS,
    drift_difference,
    drift_heatmaps,
    drift_invariants,
    drift_values,
    fitness_curve,
    load_discovered,
    reference_drift,
)

ROOT = Path(__file__).resolve().parents[1]
RATIOS = np.linspace(0.5, 2.0, 31)
ADVANTAGES = np.linspace(-3.0, 3.0, 13)


def _image_shapes(fig):
    return [ax.images[0].get_array().shape for ax in fig.axes if ax.images]


def test_drift_values_and_heatmap_shapes():
    rule = TALPO(init_scale=1.5)
    mp = rule.init(jax.random.key(0))
    values = drift_values(rule, mp, (0.0, 0.5, 1.0), RATIOS, ADVANTAGES)
    assert values.shape == (3, 31, 13)
    assert not np.allclose(values[0], values[2])  # TA-LPO depends on n/N
    fig = drift_heatmaps(rule, mp, (0.0, 0.5, 1.0), RATIOS, ADVANTAGES)
    assert isinstance(fig, Figure)
    assert _image_shapes(fig) == [(13, 31)] * 3  # imshow of [A, r]: A on y, r on x
    fig = drift_difference(rule, mp, (0.0, 1.0), RATIOS, ADVANTAGES)
    assert _image_shapes(fig) == [(13, 31)] * 4  # 2 references x 2 fractions
    lpo = LPO()
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
    for rule in (DPO(), TALPO(init_scale=2.0), LPO(ppo_init=True)):
        inv = drift_invariants(rule, rule.init(jax.random.key(0)))
        assert inv["min_drift"] >= 0
        assert inv["max_drift_at_r1"] == 0 and inv["max_abs_grad_at_r1"] == 0
    with pytest.raises(ValueError, match="unknown reference"):
        reference_drift("trpo")


@pytest.fixture(scope="module")
def run_path():
    return tiny_run_path()


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
