"""environment_design.plr: the level buffer against jaxued's `LevelSampler` on the same inputs,
and PLR / robust PLR / ACCEL as level sources."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from environment_design import (
    ACCEL,
    PLR,
    LevelBuffer,
    LevelSource,
    SampleKind,
    buffer_stats,
    space_generator,
    space_mutate,
    train_on_last,
)
from envs.params import Box, Level, ParamSpace

# jaxued 0.0.1 calls `jax.tree_map`, which jax 0.9 removed; `jax.tree.map` is the same function.
if not hasattr(jax, "tree_map"):
    jax.tree_map = jax.tree.map
from jaxued.level_sampler import LevelSampler  # noqa: E402

CAPACITY = 4
EXTRAS = {"max_return": -jnp.inf}


def level(i: float) -> Level:
    """A small distinct level per value of i (numpy leaves)."""
    return Level(params=np.asarray([i, -2.0 * i], np.float32), lifetime=np.int32(10 + int(i)))


def stack(levels: list[Level]) -> Level:
    return jax.tree.map(lambda *xs: np.stack(xs), *levels)


def assert_same_buffer(mine: dict, theirs: dict) -> None:
    for name in ("scores", "timestamps", "size", "episode_count"):
        np.testing.assert_array_equal(np.asarray(mine[name]), np.asarray(theirs[name]),
                                      err_msg=name)
    for a, b in zip(jax.tree.leaves(mine["levels"]), jax.tree.leaves(theirs["levels"]),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="levels")
    for name, column in mine["levels_extra"].items():
        np.testing.assert_array_equal(np.asarray(column),
                                      np.asarray(theirs["levels_extra"][name]), err_msg=name)


def handmade_buffer(buffer: LevelBuffer, scores: list[float], timestamps: list[int],
                    episode_count: int) -> dict:
    """A buffer (numpy arrays) whose first len(scores) slots hold the given scores and
    timestamps."""
    size = len(scores)
    pad = buffer.capacity - size
    return {"levels": stack([level(i) for i in range(buffer.capacity)]),
            "scores": np.asarray(scores + [-np.inf] * pad, np.float32),
            "timestamps": np.asarray(timestamps + [0] * pad, np.int32),
            "size": np.int32(size), "episode_count": np.int32(episode_count),
            "levels_extra": {}}


# ----------------------------------------------------------------------------- weights
def test_rank_weights_follow_the_power_of_the_inverse_rank_by_hand():
    buffer = LevelBuffer(4, temperature=1.0, staleness_coeff=0.5)
    state = handmade_buffer(buffer, [3.0, 1.0, 2.0], [0, 2, 4], episode_count=4)
    score_w = np.array([1.0, 1.0 / 3.0, 0.5, 0.0]) / (11.0 / 6.0)
    staleness_w = np.array([4.0, 2.0, 0.0, 0.0]) / 6.0
    np.testing.assert_allclose(buffer.score_weights(state), score_w, rtol=1e-6)
    np.testing.assert_allclose(buffer.staleness_weights(state), staleness_w, rtol=1e-6)
    np.testing.assert_allclose(buffer.weights(state), 0.5 * score_w + 0.5 * staleness_w,
                               rtol=1e-6)


@pytest.mark.parametrize("temperature", [0.1, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("staleness_coeff", [0.0, 0.3, 1.0])
def test_rank_weights_with_staleness_match_jaxued(temperature, staleness_coeff):
    kwargs = dict(staleness_coeff=staleness_coeff, minimum_fill_ratio=0.5)
    mine = LevelBuffer(8, temperature=temperature, **kwargs)
    theirs = LevelSampler(8, prioritization="rank",
                          prioritization_params={"temperature": temperature}, **kwargs)
    cases = [  # partly filled with a tie, full, and all levels equally fresh
        handmade_buffer(mine, [0.3, 1.2, 0.3, -0.5, 2.0, 0.7], [3, 9, 1, 12, 5, 12], 12),
        handmade_buffer(mine, [0.1, 0.4, 0.2, 0.9, 0.9, 0.05, 0.6, 0.3],
                        [1, 2, 3, 4, 5, 6, 7, 8], 8),
        handmade_buffer(mine, [0.5, 0.1, 0.8], [7, 7, 7], 7),
    ]
    for state in cases:
        np.testing.assert_allclose(mine.weights(state), theirs.level_weights(state),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_topk_weights_match_jaxued(k, monkeypatch):
    # jaxued calls `jax.nn.softmax(x, where=int_mask, initial=0)`; jax 0.9 dropped `initial`
    # (it only shifted the masked maximum, which cancels) and wants a boolean `where`.
    softmax = jax.nn.softmax
    monkeypatch.setattr(jax.nn, "softmax", lambda x, axis=-1, where=None, initial=None:
                        softmax(x, axis, where=jnp.asarray(where).astype(bool)))
    mine = LevelBuffer(8, prioritization="topk", top_k=k, staleness_coeff=0.3)
    theirs = LevelSampler(8, prioritization="topk", prioritization_params={"k": k},
                          staleness_coeff=0.3)
    state = handmade_buffer(mine, [0.3, 1.2, 0.3, -0.5, 2.0, 0.7], [3, 9, 1, 12, 5, 12], 12)
    w = mine.weights(state)
    np.testing.assert_allclose(w, theirs.level_weights(state), rtol=1e-6, atol=1e-9)
    in_top = np.asarray(mine.score_weights(state)) > 0
    assert in_top.sum() == min(k, 6)
    assert in_top[4] and not in_top[6:].any()  # the best score (slot 4) always; empty never


# ----------------------------------------------------------------------------- insertion
# Fill 4 slots; into the full buffer, 0.1 is refused and 0.8 replaces slot 3 (the lowest
# *weight*: slot 1 has the lowest score but is staler); then level 1 comes again with 0.7.
SEQUENCE = [(0, 0.5), (1, 0.2), (2, 0.9), (3, 0.4), (4, 0.1), (5, 0.8), (1, 0.7)]
REPLAYS = 6
UPDATE_SLOTS = [3, 0, 3, 2]
UPDATE_SCORES = [1.5, -0.2, 2.5, 0.0]


@pytest.fixture(scope="module")
def scenario():
    """The same scenario through my buffer and jaxued's (duplicate check on), in one jitted
    program: insert SEQUENCE, replay REPLAYS levels, then update UPDATE_SLOTS.

    Returns {"mine": ..., "jaxued": ...}, each a dict of the buffer after every stage and the
    slots each stage returned.
    """
    mine = LevelBuffer(CAPACITY, extras=EXTRAS)
    theirs = LevelSampler(CAPACITY, replay_prob=0.5, staleness_coeff=0.3, minimum_fill_ratio=0.5,
                          prioritization_params={"temperature": 0.3}, duplicate_check=True)
    levels = stack([level(i) for i, _ in SEQUENCE])
    scores = jnp.asarray([s for _, s in SEQUENCE], jnp.float32)
    slots = jnp.asarray(UPDATE_SLOTS, jnp.int32)
    new_scores = jnp.asarray(UPDATE_SCORES, jnp.float32)

    def run(key):
        empty = mine.init(level(0))
        inserted, inserted_slots = mine.insert_batch(empty, levels, scores,
                                                     {"max_return": 10.0 * scores})
        replayed, replayed_slots, replayed_levels = mine.sample(inserted, key, REPLAYS)
        updated = mine.update_batch(inserted, slots, new_scores,
                                    {"max_return": 3.0 * new_scores})
        ref_inserted, ref_inserted_slots = theirs.insert_batch(empty, levels, scores,
                                                               {"max_return": 10.0 * scores})
        ref_replayed, (ref_replayed_slots, ref_replayed_levels) = theirs.sample_replay_levels(
            ref_inserted, key, REPLAYS)
        ref_updated = theirs.update_batch(ref_inserted, slots, new_scores,
                                          {"max_return": 3.0 * new_scores})
        return ({"inserted": inserted, "inserted_slots": inserted_slots, "replayed": replayed,
                 "replayed_slots": replayed_slots, "replayed_levels": replayed_levels,
                 "updated": updated},
                {"inserted": ref_inserted, "inserted_slots": ref_inserted_slots,
                 "replayed": ref_replayed, "replayed_slots": ref_replayed_slots,
                 "replayed_levels": ref_replayed_levels, "updated": ref_updated})

    ours, reference = jax.jit(run)(jax.random.key(3))
    return {"buffer": mine, "mine": ours, "jaxued": reference}


def test_insertion_order_replacement_and_duplicates_match_jaxued(scenario):
    mine, ref = scenario["mine"], scenario["jaxued"]
    np.testing.assert_array_equal(mine["inserted_slots"], ref["inserted_slots"])
    assert_same_buffer(mine["inserted"], ref["inserted"])
    state = mine["inserted"]
    assert list(np.asarray(mine["inserted_slots"])) == [0, 1, 2, 3, -1, 3, 1]
    assert int(state["episode_count"]) == len(SEQUENCE)  # refused attempts count too
    # The repeat of level 1 rescored its slot instead of taking a new one.
    assert int(state["size"]) == CAPACITY
    assert float(state["scores"][1]) == pytest.approx(0.7)
    assert float(state["levels_extra"]["max_return"][1]) == pytest.approx(7.0)


def test_replay_sampling_matches_jaxued(scenario):
    mine, ref = scenario["mine"], scenario["jaxued"]
    np.testing.assert_array_equal(mine["replayed_slots"], ref["replayed_slots"])
    assert_same_buffer(mine["replayed"], ref["replayed"])
    np.testing.assert_array_equal(mine["replayed_levels"].params,
                                  ref["replayed_levels"].params)
    assert int(mine["replayed"]["episode_count"]) == len(SEQUENCE) + REPLAYS
    stamped = np.asarray(mine["replayed"]["timestamps"])[np.asarray(mine["replayed_slots"])]
    assert stamped.max() == len(SEQUENCE) + REPLAYS  # each draw stamps its slot


def test_batch_update_matches_jaxued_and_the_last_repeat_wins(scenario):
    mine, ref = scenario["mine"], scenario["jaxued"]
    assert_same_buffer(mine["updated"], ref["updated"])
    state = mine["updated"]
    assert float(state["scores"][3]) == 2.5
    assert float(state["levels_extra"]["max_return"][3]) == pytest.approx(7.5)
    np.testing.assert_array_equal(state["timestamps"], mine["inserted"]["timestamps"])


def test_replay_decision_waits_for_the_minimum_fill_ratio_like_jaxued():
    mine = LevelBuffer(CAPACITY, replay_prob=0.6, minimum_fill_ratio=0.5)
    theirs = LevelSampler(CAPACITY, replay_prob=0.6, minimum_fill_ratio=0.5)
    keys = jax.random.split(jax.random.key(0), 64)
    sizes = jnp.arange(CAPACITY + 1, dtype=jnp.int32)

    def decisions(size):
        state = {**mine.init(level(0)), "size": size}
        return (jax.vmap(mine.replay_decision, in_axes=(None, 0))(state, keys),
                jax.vmap(theirs.sample_replay_decision, in_axes=(None, 0))(state, keys))

    decide, ref = jax.jit(jax.vmap(decisions))(sizes)
    np.testing.assert_array_equal(decide, ref)
    assert list(np.asarray(decide.any(axis=1))) == [False, False, True, True, True]


def test_buffer_refuses_extras_it_does_not_keep():
    with pytest.raises(ValueError, match="reference_return"):
        LevelBuffer(CAPACITY, extras=EXTRAS).insert({}, level(1), 1.0,
                                                    {"reference_return": 2.0})


def test_buffer_stats_summarise_the_filled_slots(scenario):
    state = scenario["mine"]["inserted"]  # scores 0.5, 0.7, 0.9, 0.8; episode_count 7
    stats = buffer_stats({"buffer": state}, lambda lv: {"lifetime": lv.lifetime})
    staleness = 7 - np.asarray(state["timestamps"])
    assert float(stats["fill_ratio"]) == 1.0
    assert float(stats["score_mean"]) == pytest.approx(0.725)
    assert float(stats["score_max"]) == pytest.approx(0.9)
    assert float(stats["staleness_mean"]) == pytest.approx(staleness.mean())
    assert float(stats["mean_lifetime"]) == pytest.approx((10 + 11 + 12 + 15) / 4)
    empty = buffer_stats({"buffer": LevelBuffer(CAPACITY).init(level(0))})
    assert float(empty["fill_ratio"]) == 0.0 and np.isnan(float(empty["score_mean"]))


# ----------------------------------------------------------------------------- sources
@struct.dataclass
class Toy:
    x: jax.Array
    y: jax.Array


SPACE = ParamSpace(Toy(jnp.float32(0.5), jnp.zeros(2, jnp.float32)),
                   x=Box(0.0, 1.0), y=Box(-1.0, 1.0))
N = 2  # levels a batch: two batches fill the 4 slots
ROUNDS = 6


def trace(source):
    """A function of a key: `init`, then ROUNDS sample/update rounds in a `lax.scan`.

    Round i scores its levels `x + i` (later levels score higher) and stores that score as
    max_return. Returns the initial and final states and, stacked over rounds, the state after
    `sample`, the levels and the state after `update`.
    """

    def round_(state, inputs):
        key, i = inputs
        k_sample, k_update = jax.random.split(key)
        sampled, levels = source.sample(state, k_sample, N)
        scores = levels.params.x + i
        updated = source.update(sampled, k_update, levels, scores, {"max_return": scores})
        return updated, (sampled, levels, updated)

    def run(key):
        k_init, k_rounds = jax.random.split(key)
        init = source.init(k_init)
        final, (sampled, levels, updated) = jax.lax.scan(
            round_, init, (jax.random.split(k_rounds, ROUNDS), jnp.arange(ROUNDS, dtype=float)))
        return {"init": init, "final": final, "sampled": sampled, "levels": levels,
                "updated": updated}

    return run


def at(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def kinds(run) -> list[int]:
    return [int(k) for k in run["sampled"]["last"]["kind"]]


@pytest.fixture(scope="module")
def runs():
    """Traces of robust PLR and of (non-robust) ACCEL, both replaying whenever their buffer is
    full, in one jitted program (cheaper to compile than two)."""
    sources = {
        "robust_plr": PLR(space_generator(SPACE, 7), robust=True, buffer=LevelBuffer(
            CAPACITY, replay_prob=1.0, minimum_fill_ratio=1.0, extras=EXTRAS)),
        "accel": ACCEL(space_generator(SPACE, 7), space_mutate(SPACE, 0.5), buffer=LevelBuffer(
            CAPACITY, replay_prob=1.0, minimum_fill_ratio=1.0, extras=EXTRAS)),
    }
    traced = jax.jit(lambda key: {name: trace(source)(key) for name, source in sources.items()})
    # Results as numpy (cheap to index), but the initial state as returned, to check its type.
    return {name: {**jax.tree.map(np.asarray, run), "init": run["init"],
                   "source": sources[name]}
            for name, run in traced(jax.random.key(0)).items()}


@pytest.fixture(scope="module")
def robust_plr(runs):
    return runs["robust_plr"]


@pytest.fixture(scope="module")
def accel(runs):
    return runs["accel"]


def test_sources_keep_a_fixed_shape_array_state_through_a_jitted_scan(robust_plr, accel):
    for run in (robust_plr, accel):
        assert isinstance(run["source"], LevelSource)
        leaves = jax.tree.leaves(run["init"])
        assert all(isinstance(x, jax.Array) for x in leaves)
        assert [(x.shape, x.dtype) for x in leaves] == [
            (x.shape, x.dtype) for x in jax.tree.leaves(run["final"])]
    with pytest.raises(ValueError, match="capacity"):
        robust_plr["source"].sample(robust_plr["init"], jax.random.key(1), CAPACITY + 1)


def test_plr_update_inserts_new_levels_and_rescores_replayed_slots(robust_plr):
    # New levels until the buffer is full, then (replay_prob 1) replays; PLR never mutates.
    assert kinds(robust_plr) == [SampleKind.NEW] * 2 + [SampleKind.REPLAY] * (ROUNDS - 2)
    levels, updated = robust_plr["levels"], robust_plr["updated"]
    after_new = at(updated, 1)["buffer"]
    assert list(np.asarray(updated["buffer"]["size"][:2])) == [2, 4]
    np.testing.assert_array_equal(after_new["levels"].params.x, np.ravel(levels.params.x[:2]))
    slots = np.asarray(robust_plr["sampled"]["last"]["slots"][2])
    assert (slots[:N] >= 0).all() and (slots[N:] == -1).all()
    np.testing.assert_array_equal(levels.params.x[2], after_new["levels"].params.x[slots[:N]])
    # Replay keeps levels and size and writes the new scores (x + 2) into the replayed slots.
    after_replay = at(updated, 2)["buffer"]
    assert int(after_replay["size"]) == 4
    np.testing.assert_array_equal(after_replay["levels"].params.x, after_new["levels"].params.x)
    np.testing.assert_allclose(after_replay["scores"][slots[:N]], levels.params.x[2] + 2.0)
    assert int(robust_plr["sampled"]["buffer"]["episode_count"][2]) == 4 + N


def test_robust_plr_trains_only_on_replayed_levels(robust_plr, accel):
    train = [bool(t) for t in robust_plr["sampled"]["last"]["train"]]
    assert train == [k == SampleKind.REPLAY for k in kinds(robust_plr)]
    assert train[:3] == [False, False, True]
    assert bool(train_on_last(at(robust_plr["sampled"], 2)))
    assert bool(np.all(accel["sampled"]["last"]["train"]))  # not robust: always
    assert bool(train_on_last({}))  # sources without the notion always train


def test_sampled_extras_are_stored_for_replays_and_fresh_for_new_levels(robust_plr):
    source = robust_plr["source"]
    new, replay = at(robust_plr["sampled"], 0), at(robust_plr["sampled"], 2)
    assert np.isneginf(source.sampled_extras(new, N)["max_return"]).all()
    slots = np.asarray(replay["last"]["slots"][:N])
    stored = at(robust_plr["updated"], 1)["buffer"]["levels_extra"]["max_return"]
    np.testing.assert_array_equal(source.sampled_extras(replay, N)["max_return"], stored[slots])
    assert np.isfinite(stored).all()


def test_accel_mutates_the_levels_it_just_replayed_and_inserts_the_children(accel):
    assert kinds(accel) == [SampleKind.NEW, SampleKind.NEW] + [SampleKind.REPLAY,
                                                               SampleKind.MUTATION] * 2
    parents, children = at(accel["levels"], 2), at(accel["levels"], 3)
    assert bool(jnp.all(SPACE.contains(accel["levels"].params)))
    assert not np.allclose(children.params.y, parents.params.y)
    np.testing.assert_array_equal(children.lifetime, parents.lifetime)
    # Inserted like new levels: scored x + 3, above any stored score (<= x + 2), the first
    # child replaces the lowest-weight slot.
    after = at(accel["updated"], 3)["buffer"]
    inserted = np.isin(np.asarray(after["levels"].params.x), np.asarray(children.params.x))
    assert inserted.sum() >= 1
    np.testing.assert_allclose(after["scores"][inserted],
                               after["levels"].params.x[inserted] + 3.0)
    episodes = accel["updated"]["buffer"]["episode_count"]
    assert int(episodes[3]) == int(episodes[2]) + N  # each insertion attempt counts one
