"""Grid-world (LPG / GROOVE) dynamics, observations, level generators and the exact optimum."""

from __future__ import annotations

import itertools
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.gridworld import (
    DISTRIBUTIONS,
    NAMED_LEVELS,
    EnvParams,
    GridWorld,
    default_param_space,
    layout_of,
    level_from_ascii,
    make_gridworld,
    named_level,
    render_png,
    render_text,
    sample_levels,
)
from envs.registry import GRIDWORLD_LEVELS

UP, DOWN, LEFT, RIGHT, NOOP = range(5)


def _tiny(rows: tuple[str, ...], rewards=(0.7, -0.5), p_terminate=(0.3, 0.0),
          p_respawn=(0.0, 0.0), max_steps: int = 6) -> EnvParams:
    """A 3x3 level in the shared tiny layout (G=3, N=2, T=2) so jitted steps compile once."""
    return level_from_ascii(rows, rewards=list(rewards), p_terminate=list(p_terminate),
                            p_respawn=list(p_respawn), max_steps=max_steps, max_grid_size=3,
                            max_n_objs=2, max_n_obj_types=2)


TINY = ("@#.", "..0", "1..")


@pytest.fixture(scope="module")
def tiny_env() -> GridWorld:
    return GridWorld.for_params(_tiny(TINY), tabular=True)


@pytest.fixture(scope="module")
def tiny_step(tiny_env):
    return jax.jit(tiny_env.step_env)


@pytest.fixture(scope="module")
def tiny_reset(tiny_env):
    return jax.jit(tiny_env.reset_env)


def _pos(state) -> int:
    return int(state.pos)


# ----------------------------------------------------------------------------- dynamics
def test_walls_and_edges_block_moves(tiny_env, tiny_reset, tiny_step):
    params = _tiny(TINY)
    key = jax.random.PRNGKey(0)
    _, s = tiny_reset(key, params)
    assert _pos(s) == 0
    for blocked in (UP, LEFT, RIGHT, NOOP):  # edge, edge, wall at (0, 1), stay
        _, s2, r, term, _ = tiny_step(key, s, blocked, params)
        assert _pos(s2) == 0 and float(r) == 0.0 and not bool(term)
        assert int(s2.time) == 1
    _, s, _, _, _ = tiny_step(key, s, DOWN, params)
    assert _pos(s) == 3
    _, s, _, _, _ = tiny_step(key, s, DOWN, params)
    assert _pos(s) == 6  # collected the type-1 object here
    _, s2, _, _, _ = tiny_step(key, s, DOWN, params)
    assert _pos(s2) == 6  # bottom edge
    _, s2, _, _, _ = tiny_step(key, s, LEFT, params)
    assert _pos(s2) == 6  # left edge


def test_collect_pays_reward_and_terminates_with_its_probability(tiny_env, tiny_step):
    params = _tiny(("@0.", "...", "1.."), rewards=(0.7, -0.5), p_terminate=(0.3, 0.0))
    n = 4000
    keys = jax.random.split(jax.random.PRNGKey(1), n)
    _, s0 = tiny_env.reset_env(keys[0], params)
    step = jax.jit(jax.vmap(tiny_env.step_env, in_axes=(0, None, None, None)))
    _, s1, reward, term, _ = step(keys, s0, RIGHT, params)
    assert np.allclose(np.asarray(reward), 0.7)
    assert not np.any(np.asarray(s1.obj_exists)[:, 0])
    frac = float(np.mean(np.asarray(term)))
    assert abs(frac - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n), frac


def test_standing_still_collects_and_respawn_waits_one_step(tiny_env, tiny_step):
    # Tabular: the object respawns at its fixed cell (p_respawn = 1), under a waiting agent.
    params = _tiny(("@0.", "...", "1.."), p_terminate=(0.0, 0.0), p_respawn=(1.0, 0.0))
    key = jax.random.PRNGKey(2)
    _, s = tiny_env.reset_env(key, params)
    rewards = []
    for a in (RIGHT, NOOP, NOOP, NOOP, NOOP):
        key, k = jax.random.split(key)
        _, s, r, term, _ = tiny_step(k, s, a, params)
        rewards.append(float(r))
        assert not bool(term)
    assert np.allclose(rewards, [0.7, 0.0, 0.7, 0.0, 0.7])


def test_truncation_is_not_termination(tiny_env):
    params = _tiny(TINY, max_steps=3)
    key = jax.random.PRNGKey(3)
    obs, s = tiny_env.reset(key, params)
    for t in range(1, 4):
        obs, s, _, term, trunc, info = tiny_env.step(key, s, NOOP, params)
        assert not bool(term)
        assert bool(trunc) == (t == 3)
    # Auto-reset: the returned obs is the reset obs, the final one carries the time feature.
    assert float(obs[-1]) == 0.0 and int(s.time) == 0
    assert np.isclose(float(info["final_observation"][-1]), 0.003)


def test_param_space_levels_step_under_vmap(tiny_env):
    params = _tiny(TINY)
    space = default_param_space(params)
    levels = space.sample(jax.random.PRNGKey(4), 8)
    assert bool(jnp.all(space.contains(levels)))
    mutated = space.mutate(jax.random.PRNGKey(5), jax.tree.map(lambda x: x[0], levels), 0.1)
    assert bool(space.contains(mutated))
    keys = jax.random.split(jax.random.PRNGKey(6), 8)
    _, s = jax.jit(jax.vmap(tiny_env.reset_env))(keys, levels)
    _, s, r, _, _ = jax.jit(jax.vmap(tiny_env.step_env))(keys, s, jnp.full(8, RIGHT), levels)
    assert r.shape == (8,) and bool(jnp.all(jnp.isfinite(r)))


# ----------------------------------------------------------------------------- non-tabular
def _crowded_level() -> EnvParams:
    # 5 objects but 4 walls in 3x3: only 5 free cells, so at most 4 objects beside the agent.
    p = level_from_ascii(("@0#", "1#2", "3#4"), rewards=[0.5, -0.5, 0.2, 0.1, 0.3],
                         p_terminate=[0.01] * 5, p_respawn=[0.5] * 5, max_steps=40,
                         max_grid_size=10, max_n_objs=5, max_n_obj_types=5)
    return p.replace(walls=p.walls.at[2, 2].set(True))


@pytest.fixture(scope="module")
def rand_all_rollout():
    """Random-action rollouts on rand_all levels of many sizes (plus a crowded one), vmapped."""
    env, _ = make_gridworld("rand_all")
    levels = sample_levels(jax.random.PRNGKey(7), "rand_all", 23).params
    levels = levels.replace(obj_p_respawn=jnp.full_like(levels.obj_p_respawn, 0.5),
                            obj_p_terminate=jnp.full_like(levels.obj_p_terminate, 0.02))
    crowded = jax.tree.map(lambda x: x[None], _crowded_level())
    levels = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), levels, crowded)
    n, steps = levels.grid_size.shape[0], 120

    def rollout(key, params):
        k0, k1 = jax.random.split(key)
        obs, s = env.reset(k0, params)

        def body(carry, k):
            s = carry
            ka, ks = jax.random.split(k)
            a = jax.random.randint(ka, (), 0, 5)
            obs, s, r, term, trunc, _ = env.step(ks, s, a, params)
            return s, (s, obs)

        _, (states, obs_seq) = jax.lax.scan(body, s, jax.random.split(k1, steps))
        return states, obs_seq

    states, obs = jax.jit(jax.vmap(rollout))(jax.random.split(jax.random.PRNGKey(8), n), levels)
    return env, levels, jax.device_get(states), jax.device_get(obs)


def test_respawned_objects_avoid_walls_agent_and_each_other(rand_all_rollout):
    _, levels, states, _ = rand_all_rollout
    grid = np.asarray(levels.grid_size)
    walls = np.asarray(levels.walls)
    assert len(set(grid.tolist())) > 2  # levels of different sizes in one vmapped call
    spawns = 0
    for i in range(len(grid)):
        g = grid[i]
        ex, cells, pos = states.obj_exists[i], states.obj_pos[i], states.pos[i]
        spawns += int(np.sum(ex[1:] & ~ex[:-1]))
        for t in range(ex.shape[0]):
            occ = cells[t][ex[t]]
            assert np.all(occ < g * g)
            assert not np.any(walls[i][occ // g, occ % g]), (i, t)
            assert not np.any(occ == pos[t]), (i, t)
            assert len(set(occ.tolist())) == len(occ), (i, t)
            assert not walls[i][pos[t] // g, pos[t] % g] and pos[t] < g * g
    assert spawns > 50  # the check saw many respawns
    # The crowded level never shows more objects than free cells.
    assert np.max(np.sum(states.obj_exists[-1], axis=-1)) <= 4


def test_nontabular_observation_layout(rand_all_rollout):
    env, levels, states, obs = rand_all_rollout
    cells = env.max_grid_size**2
    assert obs.shape[-1] == cells * (env.max_n_obj_types + 1) + 1 == 601
    i, t = 0, 5
    o = obs[i, t]
    assert o[states.pos[i, t]] == 1.0 and o[:cells].sum() == 1.0
    types = np.asarray(levels.obj_types)[i]
    for k in range(env.max_n_obj_types):
        plane = o[cells * (k + 1): cells * (k + 2)]
        want = np.zeros(cells)
        sel = states.obj_exists[i, t] & (types == k)
        want[states.obj_pos[i, t][sel]] = 1.0
        assert np.array_equal(plane, want)
    assert np.isclose(o[-1], 0.001 * states.time[i, t])


# ----------------------------------------------------------------------------- batching
def test_vmap_reset_step_over_tabular_levels_of_different_sizes():
    env, _ = make_gridworld("all")
    levels = sample_levels(jax.random.PRNGKey(9), "all", 16).params
    assert len(set(np.asarray(levels.grid_size).tolist())) > 2
    keys = jax.random.split(jax.random.PRNGKey(10), 16)
    obs, s = jax.jit(jax.vmap(env.reset))(keys, levels)
    obs2, s2, r, term, trunc, _ = jax.jit(jax.vmap(env.step))(keys, s, jnp.full(16, DOWN),
                                                               levels)
    assert obs.shape == obs2.shape == (16, 100 * 32 + 1)
    assert np.allclose(np.asarray(obs[:, :-1].sum(-1)), 1.0)
    idx = np.argmax(np.asarray(obs[:, :-1]), -1)
    assert np.array_equal(idx % 100, np.asarray(levels.start_pos))
    assert np.array_equal(idx // 100, 2 ** np.asarray(levels.n_objs) - 1)
    assert np.all(np.asarray(s2.pos) < np.asarray(levels.grid_size) ** 2)


# ----------------------------------------------------------------------------- optimum
def _expectimax(p: EnvParams, horizon: int) -> float:
    """Independent brute force: recursion over actions and every respawn outcome."""
    g, walls, n = int(p.grid_size), np.asarray(p.walls), int(p.n_objs)
    types = np.asarray(p.obj_types)[:n]
    cells = np.asarray(p.obj_cells)[:n]
    rew = np.asarray(p.obj_rewards, np.float64)[types]
    p_term = np.asarray(p.obj_p_terminate, np.float64)[types]
    p_resp = np.asarray(p.obj_p_respawn, np.float64)[types]
    end = min(horizon, int(p.max_steps_in_episode))
    moves = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))

    @cache
    def value(t: int, r: int, c: int, exists: tuple[bool, ...]) -> float:
        if t >= end:
            return 0.0
        best = -np.inf
        for dr, dc in moves:
            nr, nc = r + dr, c + dc
            if not (0 <= nr < g and 0 <= nc < g) or walls[nr, nc]:
                nr, nc = r, c
            got = [exists[i] and cells[i] == nr * g + nc for i in range(n)]
            reward = sum(rew[i] for i in range(n) if got[i])
            stop = min(1.0, sum(p_term[i] for i in range(n) if got[i]))
            absent = [i for i in range(n) if not exists[i]]
            future = 0.0
            for draws in itertools.product((False, True), repeat=len(absent)):
                prob, nxt = 1.0, list(exists)
                for i, d in zip(absent, draws, strict=True):
                    prob *= p_resp[i] if d else 1.0 - p_resp[i]
                    nxt[i] = d
                nxt = tuple(x and not got[i] for i, x in enumerate(nxt))
                if prob > 0:
                    future += prob * value(t + 1, nr, nc, nxt)
            best = max(best, reward + (1.0 - stop) * future)
        return best

    start = int(p.start_pos)
    return value(0, start // g, start % g, (True,) * n)


def test_optimal_return_matches_expectimax_on_a_stochastic_level(tiny_env):
    params = _tiny(("@.0", ".#.", "1.."), rewards=(1.0, 0.5), p_terminate=(0.3, 0.0),
                   p_respawn=(0.4, 0.2), max_steps=7)
    assert np.isclose(float(tiny_env.optimal_return(params)), _expectimax(params, 7), rtol=1e-5)
    # A horizon shorter than the episode truncates the DP.
    assert np.isclose(float(tiny_env.optimal_return(params, horizon=4)),
                      _expectimax(params, 4), rtol=1e-5)


def test_optimal_return_vmapped_over_random_levels():
    env, _ = make_gridworld("debug")
    levels = sample_levels(jax.random.PRNGKey(11), "debug", 6).params
    got = np.asarray(env.optimal_return(levels))
    assert got.shape == (6,)
    want = [_expectimax(jax.tree.map(lambda x, i=i: x[i], levels), 10) for i in range(6)]
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)


def test_optimal_return_equals_best_action_sequence_on_a_deterministic_level(tiny_env):
    # p in {0, 1}: every action sequence has one outcome, so the optimum is the best sequence.
    h = 6
    params = _tiny(("@.0", "...", "1#."), rewards=(1.0, 0.4), p_terminate=(0.0, 1.0),
                   p_respawn=(1.0, 0.0), max_steps=h)
    seqs = jnp.asarray(list(itertools.product(range(5), repeat=h)), jnp.int32)

    def episode_return(actions):
        _, s = tiny_env.reset_env(jax.random.PRNGKey(0), params)

        def body(carry, a):
            s, total, alive = carry
            _, s, r, term, _ = tiny_env.step_env(jax.random.PRNGKey(1), s, a, params)
            return (s, total + alive * r, alive & ~term), None

        (_, total, _), _ = jax.lax.scan(body, (s, 0.0, jnp.asarray(True)), actions)
        return total

    best = float(jnp.max(jax.jit(jax.vmap(episode_return))(seqs)))
    assert np.isclose(float(tiny_env.optimal_return(params)), best, rtol=1e-6)
    assert np.isclose(best, _expectimax(params, h), rtol=1e-6)


def test_optimal_return_refuses_nontabular():
    env, params = make_gridworld("rand_tiny")
    with pytest.raises(NotImplementedError, match="tabular"):
        env.optimal_return(params)


# ----------------------------------------------------------------------------- levels
REFERENCE_OBS_LEN = {"dense": 1937, "sparse": 677, "long": 1937, "longer": 10369,
                     "longer_groove": 2593,
                     "long_dense": 1937, "rand_dense": 485, "rand_long": 364, "rand_small": 148,
                     "rand_sparse": 148, "rand_very_dense": 243, "rand_tiny": 19}


@pytest.mark.parametrize("name", list(REFERENCE_OBS_LEN))
def test_named_level_obs_length_and_spec(name):
    env, params = make_gridworld(name)
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    assert obs.shape == (REFERENCE_OBS_LEN[name],) == env.observation_space(params).shape
    spec = NAMED_LEVELS[name]
    assert int(params.grid_size) == spec.grid_size
    assert int(params.max_steps_in_episode) == spec.max_steps
    assert int(np.asarray(params.walls).sum()) == {"longer": 7, "longer_groove": 7,
                                                   "long_dense": 17,
                                                   "rand_small": 2}.get(name, 0)
    assert env.tabular == (not name.startswith("rand_"))
    lifetime = int(named_level(name).lifetime)
    assert lifetime == (250 if name == "rand_tiny" else 25000 if name.startswith("rand_")
                        else 2500)


def test_longer_is_the_lpg_papers_with_two_plus_five_objects():
    """The LPG paper's `longer` has 2 objects of type A and 5 of type B (GROOVE's variant, kept
    as `longer_groove`, has 2 + 3); its optimum is computable (128 existence masks)."""
    types = np.asarray(named_level("longer").params.obj_types)
    assert list(types) == [0, 0, 1, 1, 1, 1, 1]
    assert list(np.asarray(named_level("longer_groove").params.obj_types)) == [0, 0, 1, 1, 1]
    env, params = make_gridworld("longer")
    assert float(env.optimal_return(params, horizon=50)) > 0


def test_named_levels_sharing_an_obs_layout_share_shapes():
    shapes = {n: jax.tree.map(jnp.shape, named_level(n).params) for n in ("dense", "long",
                                                                          "long_dense")}
    assert shapes["dense"] == shapes["long"] == shapes["long_dense"]
    assert (jax.tree.map(jnp.shape, named_level("rand_small").params)
            == jax.tree.map(jnp.shape, named_level("rand_sparse").params))


@pytest.mark.parametrize("dist", ["all_vrandlife", "small", "rand_all", "tabular", "dense"])
def test_sampled_levels_are_valid(dist):
    n = 128
    levels = sample_levels(jax.random.PRNGKey(12), dist, n)
    p = jax.device_get(levels.params)
    big = p.walls.shape[-1]
    if dist in DISTRIBUTIONS:
        d = DISTRIBUTIONS[dist]
        assert np.all((p.grid_size >= d.grid_sizes[0]) & (p.grid_size <= d.grid_sizes[1]))
        assert np.all((p.n_objs >= d.n_objs[0]) & (p.n_objs <= d.n_objs[1]))
        lo, hi = d.max_steps
        assert np.all((p.max_steps_in_episode >= lo) & (p.max_steps_in_episode <= hi))
        assert np.all(p.obj_rewards[:, 0] >= 0) and np.all(np.abs(p.obj_rewards) <= 1)
        assert np.all((p.obj_p_terminate >= 1e-2) & (p.obj_p_terminate <= 1))
        assert np.all((p.obj_p_respawn >= 1e-3) & (p.obj_p_respawn <= 1e-1))
        assert np.array_equal(p.obj_types, np.tile(np.arange(p.obj_types.shape[-1]), (n, 1)))
    life = np.asarray(levels.lifetime)
    if dist == "all_vrandlife":
        assert life.min() >= 10 and life.max() <= 250 and len(set(life.tolist())) > 20
    for i in range(n):
        g = p.grid_size[i]
        walls = p.walls[i]
        assert not walls[g:, :].any() and not walls[:, g:].any()
        used = np.concatenate([[p.start_pos[i]], p.obj_cells[i][: p.n_objs[i]]])
        assert len(set(used.tolist())) == len(used)
        assert np.all(used < g * g) and not walls[used // g, used % g].any()
    if dist == "tabular":
        assert set(p.grid_size.tolist()) == {9, 11, 13} and big == 13
    if dist == "small":
        assert 0 < p.walls.sum() / n < 7


def test_registry_builds_every_gridworld_level():
    from envs.gridworld import DISTRIBUTIONS, NAMED_LEVELS

    assert set(GRIDWORLD_LEVELS) == {*NAMED_LEVELS, *DISTRIBUTIONS, "tabular"}
    for name in GRIDWORLD_LEVELS:
        env, params = envs.make(f"gridworld/{name}")
        assert isinstance(env, GridWorld)
        assert env.obs_size == REFERENCE_OBS_LEN.get(name, layout_of(name).obs_size())
        assert "obj_p_respawn" in envs.default_param_space(f"gridworld/{name}").names
    space = envs.default_param_space("gridworld/dense")
    assert space.contains(space.sample(jax.random.PRNGKey(0), 2)).shape == (2,)
    _, p = envs.make("gridworld/dense", max_steps_in_episode=100)
    assert int(p.max_steps_in_episode) == 100
    env, p = make_gridworld("dense", tabular=False)
    assert env.obs_size == 485 and not env.tabular and int(p.grid_size) == 11
    with pytest.raises(ValueError, match="Unknown grid-world"):
        make_gridworld("nope")


def test_render_text_and_png(tmp_path, tiny_env, tiny_reset):
    params = _tiny(TINY)
    text = render_text(params)
    assert text.splitlines()[1:4] == ["@#.", "..A", "b.."]
    _, s = tiny_reset(jax.random.PRNGKey(0), params)
    assert "@" in render_text(params, s)
    level = named_level("longer").params
    assert render_text(level).count("#") == 7
    out = render_png(level, None, tmp_path / "longer.png")
    assert out.exists() and out.stat().st_size > 1000
    with pytest.raises(ValueError, match="single"):
        render_text(sample_levels(jax.random.PRNGKey(0), "debug", 2).params)
