"""environment_design.scores: level scores on a hand-computed rollout and against jaxued's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from environment_design import (
    algorithmic_regret,
    l1_value_loss,
    max_episode_return,
    max_mc,
    positive_value_loss,
    random_scores,
    update_max_return,
)

# jaxued 0.0.1 calls `jax.tree_map`, which jax 0.9 removed; `jax.tree.map` is the same function.
if not hasattr(jax, "tree_map"):
    jax.tree_map = jax.tree.map
from jaxued import utils as jaxued_utils  # noqa: E402

# A rollout of T = 5 steps in B = 3 environments (time-major). Environment 0 finishes episodes
# at t = 1 and t = 4 (episodes {0, 1} and {2, 3, 4}); environment 1 at t = 2 (steps 3-4 belong
# to an unfinished episode and are ignored); environment 2 never finishes one.
DONES = jnp.asarray([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]], bool)
ADVANTAGES = jnp.asarray([[1.0, 2.0, 1.0], [-2.0, 2.0, 1.0], [3.0, -4.0, 1.0],
                          [0.0, 5.0, 1.0], [-1.0, 5.0, 1.0]])
VALUES = jnp.asarray([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [2.0, -1.0, 0.0],
                      [0.5, 9.0, 0.0], [1.5, 9.0, 0.0]])
REWARDS = jnp.asarray([[1.0, -1.0, 1.0], [2.0, -2.0, 1.0], [-1.0, -0.5, 1.0],
                       [0.0, 10.0, 1.0], [0.5, 10.0, 1.0]])


@pytest.fixture(scope="module")
def hand():
    """Every score of the hand-made rollout, computed in one jitted program."""

    def scores():
        return {
            "pvl": positive_value_loss(DONES, ADVANTAGES),
            "l1": l1_value_loss(DONES, ADVANTAGES, incomplete_value=0.0),
            "max_mc": max_mc(DONES, VALUES, jnp.asarray([2.0, 1.0, 5.0])),
            "max_return": max_episode_return(DONES, REWARDS),
            "updated": update_max_return(jnp.asarray([4.0, -5.0, 1.0]), DONES, REWARDS),
            "fresh": update_max_return(jnp.full(3, -jnp.inf), DONES, REWARDS),
        }

    return jax.jit(scores)()


def test_positive_value_loss_averages_each_finished_episode_over_time_by_hand(hand):
    # env 0: episodes (1 + 0) / 2 and (3 + 0 + 0) / 3; env 1: (2 + 2 + 0) / 3.
    np.testing.assert_allclose(hand["pvl"], [(0.5 + 1.0) / 2, 4.0 / 3.0, -np.inf], rtol=1e-6)


def test_l1_value_loss_averages_the_absolute_advantage_by_hand(hand):
    # env 0: (1 + 2) / 2 and (3 + 0 + 1) / 3; env 1: (2 + 2 + 4) / 3; env 2 unfinished: 0.
    np.testing.assert_allclose(hand["l1"], [(1.5 + 4.0 / 3.0) / 2, 8.0 / 3.0, 0.0], rtol=1e-6)


def test_max_mc_averages_the_gap_to_the_best_return_by_hand(hand):
    # env 0 (best 2): (2 + 1) / 2 and (0 + 1.5 + 0.5) / 3; env 1 (best 1): (0 + 1 + 2) / 3.
    np.testing.assert_allclose(hand["max_mc"], [(1.5 + 2.0 / 3.0) / 2, 1.0, -np.inf],
                               rtol=1e-6)


def test_best_return_bookkeeping_keeps_negative_returns_and_the_stored_best(hand):
    # env 0: returns 3 and -0.5; env 1: -3.5 (the unfinished 10 + 10 does not count).
    np.testing.assert_allclose(hand["max_return"], [3.0, -3.5, -np.inf])
    np.testing.assert_allclose(hand["updated"], [4.0, -3.5, 1.0])  # stored 4, -5, 1
    np.testing.assert_allclose(hand["fresh"], [3.0, -3.5, -np.inf])  # a new level: -inf


def test_algorithmic_regret_is_positive_where_the_reference_algorithm_does_better():
    regret = algorithmic_regret(jnp.asarray([10.0, 5.0]), jnp.asarray([4.0, 7.0]))
    np.testing.assert_allclose(regret, [6.0, -2.0])


def test_random_scores_are_uniform_draws_in_the_unit_interval():
    scores = np.asarray(random_scores(jax.random.key(0), 256))
    assert scores.shape == (256,)
    assert scores.min() >= 0.0 and scores.max() < 1.0
    assert 0.4 < scores.mean() < 0.6


@pytest.fixture(scope="module")
def versus_jaxued():
    """My scores and jaxued's on a random rollout (T = 24, B = 6, episodes ending with
    probability 0.25 a step, the last environment never finishing one), one jitted program."""
    rng = np.random.default_rng(7)
    dones = rng.random((24, 6)) < 0.25
    dones[:, -1] = False
    advantages, values, rewards = (jnp.asarray(rng.normal(size=(24, 6)), jnp.float32)
                                   for _ in range(3))
    max_returns = jnp.asarray(rng.normal(size=6) + 2.0, jnp.float32)

    def both(dones):
        return {
            "pvl": (positive_value_loss(dones, advantages),
                    jaxued_utils.positive_value_loss(dones, advantages)),
            "max_mc": (max_mc(dones, values, max_returns),
                       jaxued_utils.max_mc(dones, values, max_returns)),
            "max_return": (max_episode_return(dones, rewards),
                           jaxued_utils.compute_max_returns(dones, rewards)),
        }

    return jax.jit(both)(jnp.asarray(dones))


def test_positive_value_loss_matches_jaxued(versus_jaxued):
    ours, theirs = versus_jaxued["pvl"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert np.isneginf(ours[-1]) and np.isfinite(ours[:-1]).all()


def test_max_mc_matches_jaxued(versus_jaxued):
    ours, theirs = versus_jaxued["max_mc"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_max_episode_return_is_jaxueds_without_its_floor_at_zero(versus_jaxued):
    ours, theirs = versus_jaxued["max_return"]
    np.testing.assert_allclose(np.maximum(ours, 0.0), theirs, rtol=1e-5)
    assert (np.asarray(ours[:-1]) < 0).any()  # the case jaxued floors
