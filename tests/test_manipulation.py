"""The Meta-World-style manipulation suite: experts solve every task, physics sanity, observation
layout, benchmarks and rendering."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import manipulation as mw
from envs.manipulation.physics import EnvState
from envs.manipulation.tasks import TASK_SPECS

NUM_STEPS = 500
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def all_variants():
    """All 16 tasks x 50 variants (seed 0) as one batched EnvParams."""
    ids = np.repeat(np.arange(len(mw.TASKS)), mw.NUM_VARIANTS).astype(np.int32)
    vecs = np.concatenate([mw.sample_variants(t, mw.NUM_VARIANTS, 0) for t in mw.TASKS])
    params = jax.vmap(mw.make_params)(ids, vecs, np.zeros_like(ids))
    return mw.ManipulationEnv(), params


@pytest.fixture(scope="module")
def rollout_stats(all_variants):
    """One jitted scan over 500 steps of a vmapped step over the 800 task-variants, compiled once
    and run for the expert and for a uniform random policy."""
    env, params = all_variants
    n = params.task_id.shape[0]

    @jax.jit
    def run(key: jax.Array, random: jax.Array):
        obs, state = jax.vmap(env.reset)(jax.random.split(key, n), params)

        def body(carry, k):
            obs, state = carry
            k_act, k_step = jax.random.split(k)
            expert = jax.vmap(mw.expert_action)(obs, params.task_id)
            noise = jax.random.uniform(k_act, (n, 4), minval=-1.0, maxval=1.0)
            action = jnp.where(random, noise, expert)
            obs, state, reward, term, trunc, info = jax.vmap(env.step)(
                jax.random.split(k_step, n), state, action, params)
            out = (info["success"], reward, state.joint, term, trunc)
            return (obs, state), out

        _, (succ, reward, joint, term, trunc) = jax.lax.scan(
            body, (obs, state), jax.random.split(key, NUM_STEPS))
        return {"success": succ.max(0), "reward_min": reward.min(0), "reward_max": reward.max(0),
                "joint_min": joint.min(0), "joint_max": joint.max(0),
                "terminated": term.any(0), "truncated_at": jnp.argmax(trunc, axis=0),
                "truncated_any": trunc.any(0)}

    stats = {}
    for label, random in (("expert", False), ("random", True)):
        out = run(jax.random.key(0 if label == "expert" else 1), jnp.asarray(random))
        stats[label] = jax.tree.map(np.asarray, out)
    return stats


def _per_task(x: np.ndarray) -> dict[str, float]:
    rates = x.reshape(len(mw.TASKS), mw.NUM_VARIANTS).mean(1)
    return dict(zip(mw.TASKS, rates.tolist(), strict=True))


# ------------------------------------------------------------------------ solvability
def test_expert_solves_every_task_and_random_does_not(rollout_stats):
    expert = _per_task(rollout_stats["expert"]["success"])
    random = _per_task(rollout_stats["random"]["success"])
    print("\nexpert vs random success rate per task (50 variants, success at any step):")
    for t in mw.TASKS:
        print(f"  {t:22s} expert {expert[t]:.2f}  random {random[t]:.2f}")
    failing = {t: r for t, r in expert.items() if r < 0.95}
    assert not failing, f"expert success below 95%: {failing}"
    assert np.mean(list(random.values())) < 0.1
    assert all(random[t] <= 0.5 * expert[t] for t in mw.TASKS), random


def test_rewards_in_range_and_ten_at_success(rollout_stats):
    for label in ("expert", "random"):
        s = rollout_stats[label]
        assert s["reward_min"].min() >= 0.0 and s["reward_max"].max() <= 10.0
    solved = rollout_stats["expert"]["success"] > 0
    np.testing.assert_allclose(rollout_stats["expert"]["reward_max"][solved], 10.0)


def test_fixtures_respect_joint_limits(rollout_stats):
    lo = np.repeat([s.fixture.limits[0] for s in TASK_SPECS], mw.NUM_VARIANTS)
    hi = np.repeat([s.fixture.limits[1] for s in TASK_SPECS], mw.NUM_VARIANTS)
    for label in ("expert", "random"):
        s = rollout_stats[label]
        assert np.all(s["joint_min"] >= lo - 1e-5) and np.all(s["joint_max"] <= hi + 1e-5)


def test_never_terminates_and_truncates_at_500(rollout_stats):
    s = rollout_stats["random"]
    assert not s["terminated"].any()
    assert s["truncated_any"].all() and np.all(s["truncated_at"] == NUM_STEPS - 1)


# ------------------------------------------------------------------------ observation / action
def test_observation_layout_after_reset(all_variants):
    env, params = all_variants
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 800), params)
    obs = np.asarray(obs)
    assert obs.shape == (800, 39) and env.observation_space(params).shape == (39,)
    np.testing.assert_allclose(obs[:, 0:3], np.asarray(state.hand))
    np.testing.assert_allclose(obs[:, 3], 1.0)
    np.testing.assert_allclose(np.linalg.norm(obs[:, 7:11], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(obs[:, 11:18], 0.0)
    np.testing.assert_allclose(obs[:, 18:36], obs[:, 0:18])
    np.testing.assert_allclose(obs[:, 36:39], np.asarray(state.goal))
    # object tasks show the object, fixture tasks the handle
    has_obj = np.repeat([s.obj_kind != 0 for s in TASK_SPECS], 50)
    np.testing.assert_allclose(obs[has_obj, 4:7], np.asarray(state.obj_pos)[has_obj])
    assert env.action_space(params).shape == (4,)


def test_action_moves_hand_by_a_centimetre_per_unit_and_clips():
    params, state = _start("reach")
    obs0 = ENV.observation(state, params)
    actions = jnp.zeros((SHORT, 4)).at[0].set(jnp.array([0.5, -0.3, 0.2, 0.0]))
    actions = actions.at[1].set(jnp.array([7.0, 0.0, -3.0, 0.0]))  # clipped to [-1, 1]
    actions = actions.at[2:].set(jnp.array([1.0, 1.0, 1.0, 1.0]))  # into the workspace limit
    _, (obs, _) = _run(params, state, actions)
    obs = np.asarray(obs)
    np.testing.assert_allclose(obs[0, 0:3] - obs0[0:3], [0.005, -0.003, 0.002], atol=1e-6)
    np.testing.assert_allclose(obs[0, 18:36], obs0[0:18])  # previous frame
    np.testing.assert_allclose(obs[1, 0:3] - obs[0, 0:3], [0.01, 0.0, -0.01], atol=1e-6)
    np.testing.assert_allclose(obs[1:, 18:36], obs[:-1, 0:18])
    assert obs[:, 2].max() <= 0.5 + 1e-6 and obs[:, 1].max() <= 1.0 + 1e-6  # workspace
    np.testing.assert_allclose(obs[-1, 2], 0.5)
    closing = obs[1:7, 3]
    assert obs[-1, 3] < 0.05 and np.all(np.diff(closing[closing > 0]) < 0)  # opening drops


def test_mt_onehot_and_ml_hidden_goal():
    mt = mw.benchmark("MT10")
    obs, _ = jax.vmap(mt.env.reset)(jax.random.split(jax.random.key(0), 500), mt.params)
    obs = np.asarray(obs)
    assert obs.shape == (500, 49) and mt.env.observation_space(mt.params).shape == (49,)
    np.testing.assert_allclose(obs[:, 39:], np.repeat(np.eye(10), 50, axis=0))
    assert np.abs(obs[:, 36:39]).sum(1).min() > 0
    ml = mw.benchmark("ML10", split="test")
    obs, _ = jax.vmap(ml.env.reset)(jax.random.split(jax.random.key(0), 250), ml.params)
    assert obs.shape == (250, 39)
    np.testing.assert_allclose(np.asarray(obs)[:, 36:39], 0.0)


# ------------------------------------------------------------------------ physics sanity
ENV = mw.ManipulationEnv()  # one env object: the task is in params, so helpers compile once
SHORT = 40


@jax.jit
def _run(params, state, actions):
    """Apply `actions` (SHORT x 4) from `state`; returns (final state, (obs, states))."""
    def body(s, a):
        o, s, *_ = ENV.step(jax.random.key(0), s, a, params)
        return s, (o, s)

    return jax.lax.scan(body, state, actions)


@jax.jit
def _run_expert(params, state):
    """SHORT + 20 expert steps from `state`; returns (final state, states)."""
    def body(s, _):
        o = ENV.observation(s, params)
        _, s, *_ = ENV.step(jax.random.key(0), s, mw.expert_action(o, params.task_id), params)
        return s, s

    return jax.lax.scan(body, state, None, length=SHORT + 20)


def _start(task):
    params = mw.make_task(task)[1]
    return params, ENV.reset(jax.random.key(0), params)[1]


def test_untouched_object_does_not_move():
    params, state = _start("push")
    actions = jnp.tile(jnp.array([0.3, -0.5, 0.4, 1.0]), (SHORT, 1))  # moves away, closes
    _, (obs, _) = _run(params, state, actions)
    np.testing.assert_allclose(np.asarray(obs[:, 4:7]),
                               np.broadcast_to(state.obj_pos, (SHORT, 3)))


def test_released_object_falls_back_to_the_table():
    params, state = _start("pick-place")
    lifted = state.replace(obj_pos=state.obj_pos.at[2].set(0.25))
    _, (obs, _) = _run(params, lifted, jnp.zeros((SHORT, 4)))
    z = np.asarray(obs[:, 6])
    assert np.all(np.diff(z) <= 1e-7) and z[5] < 0.25
    np.testing.assert_allclose(z[-1], 0.02, atol=1e-6)


def test_grasped_object_follows_the_hand_and_drops_when_released():
    params, state = _start("pick-place")
    state, states = _run_expert(params, state)
    assert bool(state.obj_grasped)
    move = jnp.tile(jnp.array([0.6, -0.4, 0.8, 1.0]), (SHORT, 1)).at[15:].set(
        jnp.array([0.0, 0.0, 0.0, -1.0]))  # carry for 15 steps, then open
    _, (obs, traj) = _run(params, state, move)
    carried = jax.tree.map(lambda x: x[14], traj)
    np.testing.assert_allclose(np.asarray(carried.obj_pos - state.obj_pos),
                               np.asarray(carried.hand - state.hand), atol=1e-5)
    assert float(carried.obj_pos[2]) > 0.1
    assert not bool(traj.obj_grasped[-1])
    np.testing.assert_allclose(float(traj.obj_pos[-1, 2]), 0.02, atol=1e-6)


def test_drawer_pushed_past_its_limit_stays_at_the_limit():
    params, state = _start("drawer-close")
    state, _ = _run_expert(params, state)  # grasps the handle
    assert bool(state.fixture_grasped)
    _, (_, states) = _run(params, state, jnp.tile(jnp.array([0.0, 1.0, 0.0, 1.0]), (SHORT, 1)))
    joints = np.asarray(states.joint)
    assert joints.min() >= 0.0 and joints[-1] == 0.0


def test_deterministic_given_the_key():
    params, state = _start("sweep")
    actions = jax.random.uniform(jax.random.key(3), (SHORT, 4), minval=-1, maxval=1)
    a = _run(params, state, actions)[1][0]
    b = _run(params, state, actions)[1][0]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ------------------------------------------------------------------------ benchmarks / registry
def test_benchmark_splits_match_metaworld():
    assert mw.benchmark("MT10").tasks == mw.MT10
    assert set(mw.benchmark("ML10", split="train").tasks) == {
        "reach", "push", "pick-place", "door-open", "drawer-close", "button-press-topdown",
        "peg-insert-side", "window-open", "sweep", "basketball"}
    assert set(mw.benchmark("ML10", split="test").tasks) == {
        "drawer-open", "door-close", "shelf-place", "sweep-into", "lever-pull"}
    assert mw.benchmark("ML10").num_variants == 500
    assert mw.benchmark("ML10", split="test").num_variants == 250
    with pytest.raises(ValueError, match="needs a task"):
        mw.benchmark("ML1")
    with pytest.raises(ValueError, match="Unknown benchmark"):
        mw.benchmark("MT99")


def test_variants_distinct_deterministic_and_ml1_split_disjoint():
    for task in mw.TASKS:
        vecs = mw.sample_variants(task, 50, seed=0)
        assert len({v.tobytes() for v in vecs}) == 50
        np.testing.assert_array_equal(vecs, mw.sample_variants(task, 50, seed=0))
        assert not np.array_equal(vecs, mw.sample_variants(task, 50, seed=1))
        spec = TASK_SPECS[mw.TASK_INDEX[task]]
        assert np.all(vecs >= np.asarray(spec.rand_low) - 1e-6)
        assert np.all(vecs <= np.asarray(spec.rand_high) + 1e-6)
    train = mw.benchmark("ML1", split="train", task="pick-place", seed=3)
    test = mw.benchmark("ML1", split="test", task="pick-place", seed=3)
    train_set = {v.tobytes() for v in np.asarray(train.params.rand_vec)}
    test_set = {v.tobytes() for v in np.asarray(test.params.rand_vec)}
    assert len(train_set) == len(test_set) == 50 and not train_set & test_set
    again = mw.benchmark("ML1", split="train", task="pick-place", seed=3)
    np.testing.assert_array_equal(train.params.rand_vec, again.params.rand_vec)


def test_whole_benchmark_is_one_vmapped_step():
    bench = mw.benchmark("ML10", split="train", seed=0)
    n = bench.num_variants
    keys = jax.random.split(jax.random.key(0), n)
    obs, state = jax.vmap(bench.env.reset)(keys, bench.params)
    actions = jnp.zeros((n, 4))
    obs, state, reward, term, trunc, info = jax.jit(jax.vmap(bench.env.step))(
        keys, state, actions, bench.params)
    assert obs.shape == (n, 39) and reward.shape == (n,) and info["success"].dtype == jnp.float32


def test_registry_and_param_space():
    assert "metaworld/lever-pull" in envs.registered_names()
    env, params = envs.make("metaworld/door-open")
    assert env.name == "metaworld/door-open"
    space = envs.default_param_space("metaworld/door-open")
    levels = space.sample(jax.random.key(0), 8)
    assert bool(space.contains(levels).all())
    obs, _ = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 8), levels)
    assert obs.shape == (8, 39)
    with pytest.raises(ValueError, match="Unknown manipulation task"):
        mw.make_task("fly")


def test_render_state_and_trajectory(tmp_path):
    from envs.manipulation.render import render_state, render_trajectory

    params, state = _start("drawer-open")
    _, states = _run_expert(params, state)
    render_state(state, tmp_path / "s.png")
    render_trajectory(states, tmp_path / "t.png", tmp_path / "t.gif", gif_frames=4)
    for name in ("s.png", "t.png", "t.gif"):
        assert (tmp_path / name).stat().st_size > 1000
    assert isinstance(states, EnvState)


@pytest.mark.slow
def test_manipulation_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = ROOT / "notebooks" / "manipulation_suite.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []))
    assert "expert success" in text and "files" in text
