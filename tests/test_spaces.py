"""environment_design.spaces: named uncertainty sets map absolute values onto EnvParams and act."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from environment_design.spaces import make_space, space_names, spec
from envs.rollout import reset_batch, unroll


def test_unknown_set_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known sets: .*hopper-3d.*cartpole-1d"):
        spec("hopper-9d")


# RRLS's bounds (SuReLI/RRLS, rrls/envs/*.py: the ONE_DIM / TWO_DIM / THREE_DIM tables), which
# take M2TD3's: {set: [(low, high) per dimension]}
RRLS_BOUNDS = {
    "hopper-1d": [(0.1, 3.0)], "hopper-2d": [(0.1, 3.0), (0.1, 3.0)],
    "hopper-3d": [(0.1, 3.0), (0.1, 3.0), (0.1, 4.0)],
    "walker2d-1d": [(0.1, 4.0)], "walker2d-2d": [(0.1, 4.0), (0.1, 5.0)],
    "walker2d-3d": [(0.1, 4.0), (0.1, 5.0), (0.1, 6.0)],
    "halfcheetah-1d": [(0.1, 3.0)], "halfcheetah-2d": [(0.1, 4.0), (0.1, 7.0)],
    "halfcheetah-3d": [(0.1, 4.0), (0.1, 7.0), (0.1, 3.0)],
    "ant-1d": [(0.1, 3.0)], "ant-2d": [(0.1, 3.0), (0.01, 3.0)],
    "ant-3d": [(0.1, 3.0), (0.01, 3.0), (0.01, 3.0)],
    "inverted-pendulum-1d": [(1.0, 31.0)], "inverted-pendulum-2d": [(1.0, 31.0), (1.0, 11.0)],
}


def test_brax_sets_have_rrls_published_ranges():
    assert {name: [(d.low, d.high) for d in spec(name).dims] for name in RRLS_BOUNDS} == \
        RRLS_BOUNDS
    assert [d.label for d in spec("hopper-3d").dims] == [
        "world friction", "torso mass", "thigh mass"]
    assert {"cartpole-4d", "pendulum-3d"} <= set(space_names())


def test_unit_grid_includes_both_bounds_last_dimension_fastest():
    uset = make_space("pendulum-2d")
    grid = uset.unit_grid(10)
    assert grid.shape == (100, 2)
    np.testing.assert_allclose(np.unique(grid[:, 0]), np.linspace(0, 1, 10), atol=1e-7)
    np.testing.assert_allclose(grid[1], [0.0, 1 / 9], rtol=1e-6)
    values = np.asarray(uset.values(grid))
    np.testing.assert_allclose(values.min(0), uset.low)
    np.testing.assert_allclose(values.max(0), uset.high)


def test_values_round_trip_and_cartpole_derived_fields_follow():
    uset = make_space("cartpole-4d")
    values = jnp.asarray([1.5, 0.3, 2.0, 20.0])
    params = uset.params(values)
    np.testing.assert_allclose(uset.read(params), values, rtol=1e-6)
    np.testing.assert_allclose(params.total_mass, 2.3, rtol=1e-6)
    np.testing.assert_allclose(params.polemass_length, 0.45, rtol=1e-6)
    np.testing.assert_allclose(uset.nominal, [0.5, 0.1, 1.0, 10.0])


def _one_at_a_time(uset) -> np.ndarray:
    """[2d, d] unit points: the centre with each dimension moved to its low, then its high."""
    points = np.full((2 * uset.dim, uset.dim), 0.5, np.float32)
    for i in range(uset.dim):
        points[2 * i, i], points[2 * i + 1, i] = 0.0, 1.0
    return points


def _trajectories(uset, steps: int, num_envs: int = 2) -> np.ndarray:
    """Observations [points, T, B, ...] of a fixed action sequence in each one-at-a-time
    point of `uset`: one jitted call, vmapped over the points (same keys everywhere)."""
    env = uset.env
    space = env.action_space(uset.base)

    def policy(obs, key):
        if hasattr(space, "n"):
            action = jax.random.randint(key, (obs.shape[0],), 0, space.n)
        else:
            action = jax.random.uniform(key, (obs.shape[0], *space.shape), minval=-1.0,
                                        maxval=1.0)
        return action, {}

    def run(u, key):
        params = uset.from_unit(u)
        k_reset, k_run = jax.random.split(key)
        obs, state = reset_batch(env, params, k_reset, num_envs)
        _, _, kept = unroll(env, params, policy, state, obs, k_run, steps,
                            keep=lambda t: t.obs)
        return kept

    run = jax.jit(jax.vmap(run, in_axes=(0, None)))
    return np.asarray(run(jnp.asarray(_one_at_a_time(uset)), jax.random.key(0)))


@pytest.mark.parametrize("name", ["cartpole-4d", "pendulum-3d"])
def test_every_classic_dimension_changes_the_trajectory(name):
    uset = make_space(name)
    obs = _trajectories(uset, steps=20)
    for i, label in enumerate(uset.labels):
        assert not np.allclose(obs[2 * i], obs[2 * i + 1]), f"{name}: {label} does nothing"


BRAX_SETS = ["hopper-3d", "walker2d-3d", "halfcheetah-3d", "ant-3d", "inverted-pendulum-2d"]


@pytest.mark.parametrize("name", BRAX_SETS)
def test_every_brax_dimension_reaches_the_simulated_system(name):
    """Each dimension's low and high values land, as absolute values, in the System that the
    env's default backend simulates (friction on the floor geom, a mass on its own link and
    nowhere else), for every point in one jitted vmapped call. (Stepping every brax model costs
    minutes of compilation on CPU: the slow test below steps the hopper, where friction only
    acts through contacts.)"""
    from envs.brax import physical_system

    uset = make_space(name)
    points = jnp.asarray(_one_at_a_time(uset))
    values = jax.vmap(uset.values)(points)
    system = jax.jit(jax.vmap(lambda v: physical_system(uset.env.base_sys, uset.params(v),
                                                        uset.env.backend)))(values)
    friction = np.asarray(system.geom_friction)[:, :, 0]
    mass = np.asarray(system.body_mass)
    nominal = np.asarray(uset.env.base_sys.body_mass)
    for i, dim in enumerate(uset.spec.dims):
        lo, hi = 2 * i, 2 * i + 1
        if dim.target == "friction":
            np.testing.assert_allclose(friction[[lo, hi], 0], [dim.low, dim.high], rtol=1e-5)
        else:
            changed = np.flatnonzero(~np.isclose(mass[lo], mass[hi]))
            assert len(changed) == 1, (dim.label, changed)
            np.testing.assert_allclose(sorted(mass[[lo, hi], changed[0]]), [dim.low, dim.high],
                                       rtol=1e-5)
            assert not np.isclose(nominal[changed[0]], 0.0)
    np.testing.assert_allclose(uset.read(uset.params(values[0])), values[0], rtol=1e-5)


@pytest.mark.slow
def test_brax_dimensions_change_the_trajectory():
    """hopper-3d on the default backend: friction (which acts only through contacts) and both
    masses change what the simulator does; 60 steps, so that the hopper (dropped from above
    the floor) touches it. (That every set's values land in the System it simulates is the
    test above; stepping each brax model would cost a minute of compilation apiece.)"""
    name = "hopper-3d"
    uset = make_space(name)
    obs = _trajectories(uset, steps=60, num_envs=1)
    for i, label in enumerate(uset.labels):
        assert not np.allclose(obs[2 * i], obs[2 * i + 1]), f"{name}: {label} does nothing"


def test_rldisco_envs_lists_the_named_sets(capsys):
    from discovery.cli import main

    assert main(["envs", "--spaces", "--family", "brax/hopper"]) == 0
    out = capsys.readouterr().out
    assert "hopper-3d" in out and "thigh mass [0.1, 4]" in out and "cartpole" not in out
