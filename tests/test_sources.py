"""environment_design.sources: Fixed and Sampled level sources, generators and mutations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import envs
from environment_design import (
    Fixed,
    LevelSource,
    Sampled,
    gridworld_mutate,
    space_generator,
    space_mutate,
)
from envs.params import Box, Choice, Level, ParamSpace


@struct.dataclass
class Toy:
    x: jax.Array
    y: jax.Array
    k: jax.Array


SPACE = ParamSpace(Toy(jnp.float32(0.5), jnp.zeros(2, jnp.float32), jnp.float32(1.0)),
                   x=Box(0.0, 1.0), y=Box(1e-2, 10.0, log=True), k=Choice((1.0, 2.0, 4.0)))


def test_fixed_hands_out_its_levels_in_order_and_cycles():
    levels = Level(params=np.arange(3.0), lifetime=np.asarray([5, 6, 7], np.int32))
    source = Fixed(levels)
    assert isinstance(source, LevelSource)
    state = source.init(jax.random.key(0))
    state, sampled = jax.jit(source.sample, static_argnums=2)(state, jax.random.key(1), 5)
    np.testing.assert_array_equal(sampled.params, [0.0, 1.0, 2.0, 0.0, 1.0])
    np.testing.assert_array_equal(sampled.lifetime, [5, 6, 7, 5, 6])
    assert source.update(state, jax.random.key(2), sampled, np.zeros(5), {}) == state == {}


def test_fixed_repeats_a_single_unbatched_level():
    source = Fixed(Level(params={"g": np.float32(9.8)}, lifetime=np.int32(3)))
    _, sampled = source.sample(source.init(jax.random.key(0)), jax.random.key(1), 4)
    np.testing.assert_array_equal(sampled.params["g"], np.full(4, 9.8, np.float32))
    np.testing.assert_array_equal(sampled.lifetime, [3, 3, 3, 3])


@pytest.fixture(scope="module")
def drawn():
    """Levels from Sampled(SPACE, lifetime 40), large-step mutations of them, and whether each
    lies in SPACE; one jitted program, results as numpy. (ParamSpace operations act on a batch
    as on one level, so the mutation runs on the whole batch; ACCEL vmaps it, see test_plr.)"""
    source = Sampled(space_generator(SPACE, 40))
    mutate = space_mutate(SPACE, 2.0)

    def run(key):
        k_sample, k_mutate = jax.random.split(key)
        _, first = source.sample(source.init(key), k_sample, 64)
        children = mutate(k_mutate, first)
        inside = (SPACE.contains(first.params), SPACE.contains(children.params))
        return first, children, inside

    return source, jax.tree.map(np.asarray, jax.jit(run)(jax.random.key(0)))


def test_sampled_draws_levels_inside_the_space_with_the_given_lifetime(drawn):
    source, (first, _, (inside, _)) = drawn
    assert isinstance(source, LevelSource)
    assert inside.all()
    np.testing.assert_array_equal(first.lifetime, np.full(64, 40))
    assert np.unique(first.params.x).size == 64
    assert set(np.unique(first.params.k)) <= {1.0, 2.0, 4.0}
    assert source.update({}, jax.random.key(0), first, np.zeros(64), {}) == {}


def test_space_mutations_stay_inside_the_space_and_keep_the_lifetime(drawn):
    _, (first, children, (_, inside)) = drawn
    assert inside.all()
    assert set(np.unique(children.params.k)) <= {1.0, 2.0, 4.0}
    np.testing.assert_array_equal(children.lifetime, first.lifetime)
    assert not np.allclose(children.params.x, first.params.x)
    # Steps of twice the range reach the bounds, where the children are clipped.
    assert np.isclose(children.params.x, 0.0).any() and np.isclose(children.params.x, 1.0).any()


def test_generators_refuse_bad_arguments():
    with pytest.raises(ValueError, match="Unknown environment 'gridworld/nope'"):
        envs.family("gridworld/nope")
    assert envs.family("gridworld/dense").level_generator("dense") is None  # a named level
    with pytest.raises(ValueError, match="lifetime"):
        space_generator(SPACE, 0)
    with pytest.raises(ValueError, match="num_edits"):
        gridworld_mutate(0)


@pytest.fixture(scope="module")
def grid_levels():
    """32 levels of the 'small' grid-world distribution and their 8-edit mutations (numpy)."""
    parents = envs.family("gridworld/small").level_generator("small")(jax.random.key(0), 32)
    mutate = gridworld_mutate(8)  # one level at a time (lax.map): cheaper to compile than vmap
    children = jax.jit(lambda keys, levels: jax.lax.map(lambda a: mutate(*a), (keys, levels)))(
        jax.random.split(jax.random.key(1), 32), parents)
    return jax.tree.map(np.asarray, (parents, children))


def _valid(params) -> np.ndarray:
    """Per level: the start and every object slot on distinct wall-free cells of its own grid,
    and no wall outside that grid."""
    ok = []
    for i in range(params.grid_size.shape[0]):
        g, walls = int(params.grid_size[i]), params.walls[i]
        cells = [int(params.start_pos[i]), *params.obj_cells[i].tolist()]
        inside = all(0 <= c < g * g and not walls[c // g, c % g] for c in cells)
        ok.append(inside and len(set(cells)) == len(cells) and not walls[g:].any()
                  and not walls[:, g:].any())
    return np.asarray(ok)


def test_gridworld_mutations_keep_levels_valid_and_change_their_structure(grid_levels):
    parents, children = grid_levels
    assert _valid(parents.params).all()
    assert _valid(children.params).all()
    np.testing.assert_array_equal(children.lifetime, parents.lifetime)
    np.testing.assert_array_equal(children.params.grid_size, parents.params.grid_size)
    np.testing.assert_array_equal(children.params.obj_rewards, parents.params.obj_rewards)
    changed = lambda field: getattr(children.params, field) != getattr(parents.params, field)
    assert changed("walls").any() and changed("obj_cells").any() and changed("start_pos").any()
    assert changed("walls").reshape(32, -1).any(axis=1).mean() > 0.5
