"""environment_design.iwocs: CMA-ES worst-case search and the IWOCS worst-case set."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from environment_design.iwocs import WorstCaseSearch
from environment_design.robust import evaluate_grid
from environment_design.spaces import make_space

TARGET = np.asarray([1.37, 2.91, 8.3], np.float32)  # pendulum-3d: mass, length, gravity


def _bowl(uset):
    """A known return surface: lowest (100) at TARGET, quadratic around it, plus key noise
    that common random numbers make the same at every point."""
    scale = jnp.asarray(uset.high - uset.low)

    def score(params, key):
        v = jnp.stack([params.m, params.l, params.g])
        return (100.0 + 50.0 * jnp.sum(((v - TARGET) / scale) ** 2)
                + jax.random.normal(key))

    return score


def test_search_finds_the_analytic_worst_case_with_fewer_evaluations_than_the_grid():
    uset = make_space("pendulum-3d")
    score = _bowl(uset)
    search = WorstCaseSearch(uset.dim, population=8, generations=20)
    eval_key = jax.random.key(7)
    result = jax.jit(lambda k: search.run(score, uset, k, eval_key))(jax.random.key(1))
    grid = evaluate_grid(score, uset, 10, eval_key)
    assert int(result.evaluations) == 160 < len(grid.returns) == 1000
    error = np.abs((np.asarray(result.values) - TARGET) / (uset.high - uset.low))
    assert error.max() < 0.01, result.values
    assert float(result.score) <= float(grid.worst)  # at least as bad as the grid's worst
    trace = np.asarray(result.best_trace)
    assert np.all(np.diff(trace) <= 0) and trace[-1] == pytest.approx(float(result.score))


def test_search_finds_a_worst_case_on_the_boundary():
    """Return increasing in every parameter: the worst case is the cube's low corner
    (candidates outside the cube are scored at their projection)."""
    uset = make_space("cartpole-2d")
    search = WorstCaseSearch(uset.dim, population=6, generations=12)

    def score(params, key):
        return params.length + 10.0 * params.masspole

    result = jax.jit(lambda k: search.run(score, uset, k, k))(jax.random.key(0))
    assert search.evaluations == 72 < 10 ** uset.dim
    np.testing.assert_allclose(result.unit, [0.0, 0.0], atol=1e-3)


def test_search_settings_are_checked_by_name():
    with pytest.raises(ValueError, match="population"):
        WorstCaseSearch(2, population=1)
    with pytest.raises(ValueError, match="dim is 2, the set 'pendulum-1d' has 1"):
        WorstCaseSearch(2).run(lambda p, k: 0.0, make_space("pendulum-1d"),
                               jax.random.key(0), jax.random.key(0))


# ----------------------------------------------------------------------------- the set
def _set_with(returns):
    from environment_design.iwocs import WorstCaseSet

    source = WorstCaseSet(make_space("cartpole-2d"), capacity=5, lifetime=7)
    state = source.init(jax.random.key(0))
    for u in ([0.0, 0.0], [1.0, 1.0]):
        state = source.add(state, jnp.asarray(u))
    return source, source.reweight(state, jnp.asarray(returns, jnp.float32))


def test_worst_case_set_weights_the_worst_model_up_and_ignores_empty_slots():
    source, state = _set_with([100.0, 20.0, 60.0, 999.0, 999.0])
    w = np.asarray(source.weights(state))
    assert int(state["count"]) == 3 and w[3:].sum() == 0
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-6)
    assert w[1] > w[2] > w[0] >= source.uniform / 3 - 1e-6  # worst first, all kept
    _, levels = source.sample(state, jax.random.key(1), 4000)
    lengths = np.asarray(levels.params.length)
    models = np.asarray(jax.vmap(source.uset.values)(state["unit"][:3]))[:, 0]
    freq = np.asarray([(np.abs(lengths - m) < 1e-6).mean() for m in models])
    np.testing.assert_allclose(freq, w[:3], atol=0.03)
    np.testing.assert_array_equal(levels.lifetime[:3], [7, 7, 7])


def test_worst_case_set_starts_at_the_nominal_model_and_the_estimate_never_increases():
    source, state = _set_with([0.0] * 5)
    np.testing.assert_allclose(source.uset.values(state["unit"][0]), [0.5, 0.1], rtol=1e-6)
    estimates = []
    for set_worst in (50.0, 30.0, 40.0, 10.0):
        state = source.record(state, jnp.float32(set_worst), jnp.float32(set_worst + 1))
        estimates.append(float(state["estimate"]))
    assert estimates == [50.0, 30.0, 30.0, 10.0]
    np.testing.assert_array_equal(state["set_worst"][:4], [50.0, 30.0, 40.0, 10.0])


# ----------------------------------------------------------------------------- training
def _iwocs_args():
    """IWOCS on cartpole-2d, 3 iterations of 2 tiny PPO updates (shared with the subprocess
    that is killed)."""
    from discovery.inner import TrainConfig
    from discovery.iwocs_train import IwocsConfig
    from meta_objectives import make_rule

    cfg = TrainConfig(num_envs=8, num_steps=32, total_timesteps=8 * 32 * 6, update_epochs=1,
                      num_minibatches=2)
    icfg = IwocsConfig(iterations=3, population=4, generations=3, episodes=4, patience=3)
    return make_space("cartpole-2d"), make_rule("ppo"), cfg, icfg, jax.random.key(0)


_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_iwocs import _iwocs_args
from discovery.iwocs_train import train_iwocs

def kill(i, row):
    os.kill(os.getpid(), signal.SIGKILL)  # right after the first iteration's checkpoint

train_iwocs(*_iwocs_args(), checkpoint_dir={ckpt!r}, progress=False, on_iteration=kill)
"""


@pytest.fixture(scope="module")
def iwocs_runs(tmp_path_factory):
    """IWOCS straight through, and in a process SIGKILLed after its first iteration (its
    checkpoint directory is all that survives) then resumed here."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from discovery.iwocs_train import train_iwocs

    root = tmp_path_factory.mktemp("iwocs")
    straight = train_iwocs(*_iwocs_args(), checkpoint_dir=root / "a", progress=False)
    code = _KILLED_RUN.format(tests=str(Path(__file__).parent), ckpt=str(root / "b"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=os.environ.copy(), cwd=Path(__file__).parent.parent)
    assert proc.returncode == -9, proc.stderr[-2000:]
    resumed = train_iwocs(*_iwocs_args(), checkpoint_dir=root / "b", progress=False)
    return straight, resumed


@pytest.mark.slow
def test_iwocs_set_grows_and_its_worst_case_estimate_never_increases(iwocs_runs):
    (state, rows, _), _ = iwocs_runs
    assert [r["models"] for r in rows] == [2, 3, 4]
    estimates = [r["estimate"] for r in rows]
    assert all(b <= a for a, b in zip(estimates, estimates[1:], strict=False))
    assert all(r["estimate"] <= r["set_worst"] for r in rows)
    assert int(state.levels["iteration"]) == 3


@pytest.mark.slow
def test_iwocs_killed_by_sigkill_resumes_bit_identically(iwocs_runs):
    (state_a, rows_a, _), (state_b, rows_b, _) = iwocs_runs
    assert rows_a == rows_b
    from discovery.iwocs_train import to_saveable

    leaves_a, leaves_b = (jax.tree.leaves(to_saveable(s)) for s in (state_a, state_b))
    for a, b in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_rldisco_train_levels_iwocs_and_dr_over_a_set_end_to_end(tmp_path, capsys,
                                                                 monkeypatch):
    import json

    from discovery.cli import main

    common = ["train", "--env", "CartPole-v1", "--total-timesteps", "4096", "--num-envs", "8",
              "--num-steps", "32", "--runs-dir", str(tmp_path)]
    assert main([*common, "--levels", "iwocs", "--space", "cartpole-1d", "--iterations", "2",
                 "--name", "iw"]) == 0
    run = tmp_path / "iw"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2] and rows[-1]["models"] == 3
    assert (run / "plots" / "iwocs.png").is_file()
    saved = json.loads((run / "eval" / "iwocs_set.json").read_text())
    assert saved["labels"] == ["pole half-length"]
    assert [r["iteration"] for r in saved["iterations"]] == [1, 2]
    assert len(saved["models"]) == len(saved["returns"]) == 3  # the first model + 1 per iteration
    assert "IWOCS: 2 iterations, 3 models" in capsys.readouterr().out
    assert main(["robust-eval", str(run), "--space", "cartpole-1d", "--grid", "4",
                 "--episodes", "2"]) == 0
    assert "worst case" in capsys.readouterr().out

    # killed after its first iteration's checkpoint (and before its metrics row), resumed:
    # it ends as the uninterrupted run did
    import discovery.iwocs_train as iwocs_train

    real = iwocs_train.train_iwocs

    def killed(*a, **kw):
        kw["on_iteration"] = None
        real(*a, **kw, stop_after=1)
        raise KeyboardInterrupt

    monkeypatch.setattr(iwocs_train, "train_iwocs", killed)
    assert main([*common, "--levels", "iwocs", "--space", "cartpole-1d", "--iterations", "2",
                 "--name", "iw2"]) == 130
    monkeypatch.undo()
    assert not (tmp_path / "iw2" / "metrics.jsonl").exists()
    assert main(["train", "--resume", str(tmp_path / "iw2")]) == 0
    resumed = [json.loads(line) for line in
               (tmp_path / "iw2" / "metrics.jsonl").read_text().splitlines()]
    assert resumed == rows
    assert json.loads((tmp_path / "iw2" / "eval" / "iwocs_set.json").read_text()) == saved
    assert main(["train", "--resume", str(tmp_path / "iw2"), "--env", "CartPole-v1"]) == 2
    assert "drop --env" in capsys.readouterr().err
    assert main([*common, "--levels", "dr", "--space", "cartpole-1d", "--name", "dr"]) == 0
    assert main([*common, "--levels", "iwocs", "--space", "pendulum-1d", "--name", "x"]) == 2
    assert "pendulum-1d is a set over Pendulum-v1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before the run directory is made
