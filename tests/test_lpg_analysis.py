"""LPG analysis: targets along a traced agent lifetime, the fixed-trajectory re-evaluation at
several n/N and the plots (the `learned_policy_gradient` notebook runs in
test_lpg_discovery.py, on that file's discovery run).

One TA-LPG trace on the `debug` grid-world distribution (4 updates, 12 steps: two target
windows of 8 + 4 steps) is shared through a module fixture, so `trace_lifetime` compiles once.
"""

from pathlib import Path

import jax
import numpy as np
import pytest
from matplotlib.figure import Figure

from discovery.inner import TrainConfig
from discovery.inspection import trace_lifetime
from envs.gridworld import make_gridworld
from meta_objectives import LPG, PPO, TALPG
from meta_objectives.base import Progress, Rollout
from meta_objectives.lpg_analysis import (
    discounted_return_to_go,
    plot_targets_vs_inputs,
    plot_temporal_inputs,
    plot_trajectory,
    targets_at_fractions,
)

ROOT = Path(__file__).resolve().parents[1]
CFG = TrainConfig(num_envs=4, num_steps=8, total_timesteps=4 * 8 * 4, update_epochs=1,
                  num_minibatches=1, lr=1e-2, anneal_lr=False, hidden=(), activation="relu")
FRACTIONS = (0.0, 0.5, 1.0)
STEPS = 12  # 1.5 rollouts of CFG.num_steps: target windows [0, 8) and [8, 12)
K = 8


@pytest.fixture(scope="module")
def traced():
    env, params = make_gridworld("debug")  # grids 3-4, episodes of 5-10 steps
    rule = TALPG(hidden=8, net_init="random")  # a zero network would give flat targets
    meta = rule.init(jax.random.key(0))
    trace = trace_lifetime(rule, meta, env, params, CFG, jax.random.key(1), at=FRACTIONS,
                           num_steps=STEPS)
    return {"env": env, "params": params, "rule": rule, "meta": meta, "trace": trace}


def _point(trace, i):
    return jax.tree.map(lambda x: x[i], trace["rollout"])


def test_trace_shapes_and_values(traced):
    tr, params = traced["trace"], traced["params"]
    np.testing.assert_allclose(tr["fractions"], FRACTIONS)
    np.testing.assert_array_equal(tr["updates"], [0, 2, 4])
    assert tr["horizon"] == CFG.num_updates == 4 and tr["window"] == CFG.num_steps
    for key in ("reward", "done", "terminated", "action", "pi", "pi_hat", "cell",
                "return_to_go"):
        assert tr[key].shape == (3, STEPS), key
    for key in ("y", "y_hat"):
        assert tr[key].shape == (3, STEPS, K), key
    assert tr["last_return"].shape == (3,)
    for key in ("reward", "pi", "pi_hat", "y", "y_hat"):
        assert np.isfinite(tr[key]).all(), key
    assert np.isnan(tr["last_return"][0])  # no update and no training episode yet at n = 0
    assert not np.isinf(tr["last_return"]).any()
    np.testing.assert_allclose(tr["y_hat"].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tr["y"].sum(-1), 1.0, atol=1e-5)
    assert ((tr["pi"] > 0) & (tr["pi"] <= 1)).all()
    assert ((tr["action"] >= 0) & (tr["action"] < 5)).all()
    g = int(params.grid_size)
    assert ((tr["cell"] >= 0) & (tr["cell"] < g * g)).all()
    assert tr["cell"][0, 0] == int(params.start_pos)  # every point starts a fresh episode
    assert tr["done"].any(axis=1).all()  # episodes of <= 10 steps end within 12 steps
    assert (tr["done"] >= tr["terminated"]).all()
    # The agent learns between the points (same env key, so only the policy differs).
    assert np.abs(tr["pi"][0] - tr["pi"][-1]).max() > 1e-6


def test_discounted_return_to_go_stops_at_episode_ends():
    reward = np.array([[1.0, 0.0, 2.0, 1.0, 0.0, 3.0]])
    done = np.array([[False, False, True, False, False, False]])
    np.testing.assert_allclose(discounted_return_to_go(reward, done, 0.5),
                               [[1.5, 1.0, 2.0, 1.75, 1.5, 3.0]])


def test_trace_rollout_is_built_like_the_trainer(traced):
    tr = traced["trace"]
    for i in range(3):
        ro = _point(tr, i)
        assert ro.obs.shape[:2] == (STEPS, 1)
        np.testing.assert_array_equal(ro.next_prediction[:-1], ro.prediction[1:])
        np.testing.assert_array_equal(tr["done"][i], (ro.terminated | ro.truncated)[:, 0])
        np.testing.assert_allclose(tr["pi"][i], np.exp(ro.log_prob[:, 0]), rtol=1e-6)


def test_trace_targets_are_the_rules_targets(traced):
    """pi_hat / y_hat equal `rule.targets` on the same rollout, per trainer-sized window."""
    tr, rule, meta = traced["trace"], traced["rule"], traced["meta"]
    for i in range(3):
        progress = Progress(step=np.int32(tr["updates"][i]), horizon=np.int32(tr["horizon"]))
        ro = _point(tr, i)
        for lo, hi in ((0, 8), (8, STEPS)):
            want = rule.targets(meta, jax.tree.map(lambda x, lo=lo, hi=hi: x[lo:hi], ro),
                                progress)
            np.testing.assert_allclose(tr["pi_hat"][i, lo:hi], np.asarray(want["pi_hat"])[:, 0],
                                       rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(tr["y_hat"][i, lo:hi], np.asarray(want["y_hat"])[:, 0],
                                       rtol=1e-5, atol=1e-6)


def test_fixed_trajectory_depends_on_n_over_N_only_for_ta_lpg(traced):
    tr, rule, meta = traced["trace"], traced["rule"], traced["meta"]
    fixed = targets_at_fractions(rule, meta, tr, (0.0, 0.25, 1.0))
    assert fixed["pi_hat"].shape == (3, STEPS) and fixed["y_hat"].shape == (3, STEPS, K)
    np.testing.assert_allclose(fixed["fractions"], [0.0, 0.25, 1.0])
    assert np.abs(fixed["pi_hat"][0] - fixed["pi_hat"][-1]).max() > 1e-4  # TA-LPG sees n/N
    np.testing.assert_allclose(fixed["pi_hat"][-1], tr["pi_hat"][-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fixed["y_hat"].sum(-1), 1.0, atol=1e-5)
    # Plain LPG (same input widths except n/N, log N) gives the same targets at every n/N, also
    # for a bare Rollout (whole trajectory as one window).
    lpg = LPG(hidden=8, net_init="random")
    lmeta = lpg.init(jax.random.key(2))
    same = targets_at_fractions(lpg, lmeta, tr, (0.0, 0.5, 1.0), point=0)
    np.testing.assert_array_equal(same["pi_hat"][0], same["pi_hat"][1])
    np.testing.assert_array_equal(same["pi_hat"][0], same["pi_hat"][2])
    np.testing.assert_array_equal(same["y_hat"][0], same["y_hat"][2])
    bare = targets_at_fractions(lpg, lmeta, _point(tr, 0), (0.0, 1.0), horizon=10)
    assert bare["window"] == STEPS
    np.testing.assert_array_equal(bare["pi_hat"][0], bare["pi_hat"][1])
    np.testing.assert_allclose(bare["pi_hat"][0, 8:], same["pi_hat"][0, 8:], rtol=1e-5)


def test_plots_return_figures(traced):
    tr, rule, meta = traced["trace"], traced["rule"], traced["meta"]
    fig = plot_trajectory(tr)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3 + 1  # 4 rows x 3 points + the y_hat colour bar
    images = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert images == [(K, STEPS)] * 3  # y_hat as bins x time
    fixed = targets_at_fractions(rule, meta, tr)
    fig = plot_temporal_inputs(fixed)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert len(fig.axes[1].get_lines()) >= 3  # one pi_hat line per n/N
    fig = plot_targets_vs_inputs(tr)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # 2 scatter plots + colour bar


def test_bad_inputs_are_rejected(traced):
    env, params, tr = traced["env"], traced["params"], traced["trace"]
    rule, meta = traced["rule"], traced["meta"]
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="'ppo'"):
        trace_lifetime(PPO(), {}, env, params, CFG, key)
    with pytest.raises(TypeError, match="'ppo'"):
        targets_at_fractions(PPO(), {}, tr)
    for bad in ((-0.1,), (0.5, 1.5), (float("nan"),), ()):
        with pytest.raises(ValueError, match="fraction"):
            trace_lifetime(rule, meta, env, params, CFG, key, at=bad)
        with pytest.raises(ValueError, match="fraction"):
            targets_at_fractions(rule, meta, tr, bad)
    with pytest.raises(ValueError, match="non-decreasing"):
        trace_lifetime(rule, meta, env, params, CFG, key, at=(1.0, 0.0))
    with pytest.raises(ValueError, match="num_updates"):
        trace_lifetime(rule, meta, env, params, CFG, key, num_updates=CFG.num_updates + 1)
    with pytest.raises(ValueError, match="num_steps"):
        trace_lifetime(rule, meta, env, params, CFG, key, num_steps=0)
    with pytest.raises(ValueError, match="horizon"):
        targets_at_fractions(rule, meta, _point(tr, 0))
    with pytest.raises(ValueError, match="point"):
        targets_at_fractions(rule, meta, tr, point=3)
    with pytest.raises(TypeError, match="trajectory"):
        targets_at_fractions(rule, meta, {"reward": tr["reward"]})
    assert isinstance(_point(tr, 0), Rollout)
