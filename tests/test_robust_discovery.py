"""Robust discovery (`levels.kind = iwocs`): a member's fitness is its agents' worst return over
a growing set of worst-case dynamics; a tiny `quickstart-robust` end to end, its set state
through SIGKILL and resume, and robust-eval comparing it with a nominally discovered rule.

One uninterrupted reference run in this process (a checkpoint every generation, so each
generation's set can be read back); the killed run is an `rldisco discover` subprocess sharing
the session's compilation cache.
"""

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from run_helpers import discover_keeping_every_checkpoint

from discovery.checkpoint import load_meta_params
from discovery.cli import main
from discovery.config import apply_overrides, preset
from environment_design import worst_case_return

# the train settings of tests/tiny_run.py, so robust-eval's programs are shared with its tests
CONFIG = ["--preset", "quickstart-robust", "es.population_size=4", "train.num_envs=4",
          "train.num_steps=16", "train.total_timesteps=256", "chunk=1", "checkpoint_every=1",
          "center_seeds=1", "levels.set_size=3", "levels.search_every=2",
          "levels.search_population=2", "levels.search_generations=2"]
GENERATIONS = 4
RUNNER = str(Path(__file__).with_name("fault_runner.py"))


def _records(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def _models(run: Path, step: int) -> dict:
    """The worst-case set stored at checkpoint `step` (after generation step - 1)."""
    with ocp.StandardCheckpointer() as checkpointer:
        carry = checkpointer.restore((run / "checkpoints" / str(step) / "es_state").resolve())
    levels = carry[1] if isinstance(carry, list | tuple) else carry["1"]
    return {k: np.asarray(v) for k, v in levels["set"].items()} | {
        "generation": int(levels["generation"])}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("robust")


@pytest.fixture(scope="module")
def reference(runs_dir):
    """The uninterrupted run, keeping every checkpoint."""
    assert discover_keeping_every_checkpoint(*CONFIG, f"generations={GENERATIONS}",
                                             "--runs-dir", str(runs_dir),
                                             "--name", "reference") == 0
    return runs_dir / "reference"


def test_worst_case_is_the_minimum_or_the_cvar_over_the_valid_models():
    returns = jnp.array([[5.0, 1.0, 3.0, 2.0, -9.0], [4.0, 4.0, 8.0, 0.0, -9.0]])
    valid = jnp.arange(5) < 4  # the last slot is not a model yet
    np.testing.assert_allclose(worst_case_return(returns, valid), [1.0, 0.0])
    # CVaR 0.5 of 4 models: the mean of the 2 lowest; 0.3: ceil(1.2) = 2 as well; 0.1: 1
    np.testing.assert_allclose(worst_case_return(returns, valid, 0.5), [1.5, 2.0])
    np.testing.assert_allclose(worst_case_return(returns, valid, 0.3), [1.5, 2.0])
    np.testing.assert_allclose(worst_case_return(returns, valid, 0.1), [1.0, 0.0])
    np.testing.assert_allclose(worst_case_return(returns, valid, 1.0), [2.75, 4.0])
    bad = returns.at[0, 2].set(jnp.nan)
    assert np.isnan(worst_case_return(bad, valid, 0.5)[0])  # a NaN model is never hidden
    assert not np.isnan(worst_case_return(returns.at[0, 4].set(jnp.nan), valid)[0])


@pytest.mark.parametrize("overrides,message", [
    (["levels.kind=iwocs"], "levels.space: kind 'iwocs' searches a named uncertainty set"),
    (["levels.kind=iwocs", "levels.space=pendulum-1d"],
     "levels.space pendulum-1d is a set over Pendulum-v1, not envs[0]=CartPole-v1"),
    (["levels.kind=iwocs", "levels.space=cartpole-1d", "center_seeds=0"],
     "center_seeds must be >= 1 with levels.kind iwocs"),
    (["levels.kind=iwocs", "levels.space=cartpole-1d", "levels.worst_case=max"],
     "levels.worst_case must be one of"),
    (["levels.kind=iwocs", "levels.space=cartpole-1d", "levels.search_population=1"],
     "levels.search_population must be >= 2"),
    (["levels.kind=iwocs", "levels.space=cartpole-1d", "levels.set_size=0"],
     "levels.set_size must be a positive integer"),
    (["levels.kind=plr", "levels.space=cartpole-1d"], "levels.space (cartpole-1d) is for kind"),
])
def test_bad_robust_configs_are_refused_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=None) as err:
        apply_overrides(preset("quickstart"), overrides)
    assert message in str(err.value)


@pytest.mark.slow
def test_the_set_grows_by_the_searched_worst_case_and_fitness_is_the_worst_model(reference):
    rows = _records(reference)
    assert [r["generation"] for r in rows] == list(range(GENERATIONS))
    # generations 0 and 2 search (search_every=2) and each adds a model to the nominal one
    assert [r["iwocs"]["models"] for r in rows] == [2, 2, 3, 3]
    searched = [math.isfinite(r["iwocs"]["search_worst"]) for r in rows]
    assert searched == [True, False, True, False]
    estimates = [r["iwocs"]["estimate"] for r in rows]
    assert all(b <= a for a, b in zip(estimates, estimates[1:], strict=False))
    before = 1
    for g, row in enumerate(rows):
        models = _models(reference, g + 1)
        assert models["generation"] == g + 1
        count = int(models["count"])
        assert count == row["iwocs"]["models"]
        # the ES mean's fitness is its agents' minimum over the models it was scored on
        centre = models["returns"][:before]
        assert math.isclose(row["center_fitness"], float(centre.min()), rel_tol=1e-6)
        assert math.isclose(row["iwocs"]["nominal"], float(centre[0]), rel_tol=1e-6)
        if searched[g]:  # the point found is the model added
            uset_low, uset_high = np.array([0.125, 0.025]), np.array([2.0, 0.4])
            added = uset_low + models["unit"][count - 1] * (uset_high - uset_low)
            found = [row["iwocs"]["worst_length"], row["iwocs"]["worst_masspole"]]
            np.testing.assert_allclose(added, found, rtol=1e-5)
        before = count
    assert (reference / "plots" / "worst_case_set.png").is_file()
    result = json.loads((reference / "result.json").read_text())
    assert math.isfinite(result["final_center_fitness"])


@pytest.mark.slow
def test_a_robust_run_killed_between_checkpoints_resumes_bit_identical(runs_dir, reference):
    run = runs_dir / "killed"
    log = runs_dir / "killed.log"
    proc = subprocess.run([sys.executable, RUNNER, "kill-in-chunk:3", "discover", *CONFIG,
                           f"generations={GENERATIONS}", "--runs-dir", str(runs_dir),
                           "--name", "killed"], stdout=log.open("w"),
                          stderr=subprocess.STDOUT, env=dict(os.environ), timeout=600)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert main(["discover", "--resume", str(run),]) == 0
    assert _records(run) == _records(reference)
    kept = sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())
    assert kept[-1] == GENERATIONS
    for step in kept:
        jax.tree.map(np.testing.assert_array_equal, _models(run, step),
                     _models(reference, step))
    jax.tree.map(np.testing.assert_array_equal, load_meta_params(run / "checkpoints")[0],
                 load_meta_params(reference / "checkpoints")[0])


@pytest.mark.slow
def test_robust_eval_compares_the_robust_rule_with_a_nominal_one_and_ppo(reference):
    """A discovery run's rule, a compared run's rule and PPO, each trained afresh at every point
    of the grid (this run's inner loop, the same keys)."""
    from tiny_run import tiny_run_path

    from discovery.robust_eval import robust_eval_run

    nominal = tiny_run_path()
    summary = robust_eval_run(reference, "cartpole-1d", points=3, seeds=2,
                              compare=(nominal,), echo=lambda _: None)
    assert list(summary["rules"]) == ["discovered", nominal.name, "ppo"]
    for s in summary["rules"].values():
        assert s["points"] == 3 and s["agents"] == 2 and s["worst_case"] <= s["mean"]
    rows = list(csv.DictReader(open(summary["csv"])))
    assert len(rows) == 3
    assert {"discovered_0", f"{nominal.name}_1", "ppo_1", "ppo_mean"} <= set(rows[0])


@pytest.mark.slow
def test_evaluate_trains_the_compared_rules_like_the_run_own(reference):
    from tiny_run import tiny_run_path

    from discovery.evaluate import evaluate_run

    nominal = tiny_run_path()
    summary = evaluate_run(reference, envs=["CartPole-v1"], seeds=2, total_timesteps=1024,
                           baselines=("ppo",), compare=(nominal,), progress=False,
                           echo=lambda _: None)  # test_evaluate's programs
    assert summary["rules"] == ["discovered", nominal.name, "ppo"]
    rules = summary["envs"]["CartPole-v1"]["rules"]
    assert set(rules) == {"discovered", nominal.name, "ppo"}
    assert all(len(r["final_return"]) == 2 for r in rules.values())
    assert nominal.name in (reference / "eval" / "summary.md").read_text()
    with pytest.raises(ValueError, match="is taken"):
        evaluate_run(reference, envs=["CartPole-v1"], seeds=2, baselines=("ppo",),
                     compare=(nominal, nominal), progress=False, echo=lambda _: None)


def test_robust_presets_name_a_set_over_their_environment():
    from environment_design.spaces import spec

    for name, space in (("quickstart-robust", "cartpole-2d"), ("robust-lpo-hopper", "hopper-3d")):
        cfg = preset(name)
        assert cfg.levels.kind == "iwocs" and cfg.levels.space == space
        assert spec(space).env == cfg.envs[0]
        assert cfg.fitness_label == "minimum over the worst-case set of the final-policy return"
    cvar = apply_overrides(preset("quickstart-robust"), ["levels.worst_case=cvar"])
    assert cvar.fitness_label.startswith("CVaR 0.25 over the worst-case set")
