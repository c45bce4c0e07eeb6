"""Fitness: the PPO/random normaliser and its refusal, and the ES mean scored with the
population (the centre)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discovery.config import apply_overrides, preset
from discovery.fitness import (
    BaselineError,
    check_baseline,
    make_evaluate,
    normalize_return,
    reference_ppo,
)
from discovery.inner import TrainConfig
from discovery.run import load_baselines, start_run
from meta_objectives import LPO, PPO, TALPO

TINY = TrainConfig(num_envs=4, num_steps=16, total_timesteps=4 * 16 * 3, update_epochs=1,
                   num_minibatches=2)


@pytest.mark.parametrize("ppo,random,why", [
    (20.0, 22.0, "flip sign"),  # PPO worse than random
    (-200.0, -200.0, "blow up"),  # MountainCar: neither reaches the goal
    (22.5, 22.0, "blow up"),  # within 5% of the larger |return|
    (float("nan"), 22.0, "blow up"),
])
def test_baseline_where_ppo_is_not_clearly_better_than_random_is_refused(ppo, random, why):
    with pytest.raises(BaselineError) as err:
        check_baseline("CartPole-v1", {"ppo": ppo, "random": random})
    message = str(err.value)
    assert "CartPole-v1" in message and why in message and "levels.fitness=raw" in message
    assert f"{random:.4g}" in message


def test_normaliser_is_strictly_increasing_and_maps_the_baselines():
    baseline = {"ppo": 500.0, "random": 22.0}
    check_baseline("CartPole-v1", baseline)
    returns = jnp.linspace(-100.0, 600.0, 71)
    norm = np.asarray(normalize_return(returns, baseline))
    assert np.all(np.diff(norm) > 0)
    np.testing.assert_allclose(normalize_return(jnp.array([22.0, 500.0]), baseline), [0.0, 1.0])
    with pytest.raises(BaselineError):
        normalize_return(returns, {"ppo": 22.0, "random": 500.0})


def test_stored_baselines_are_checked_on_resume(tmp_path):
    """A baselines.json written before the check (or edited) is refused, not used."""
    cfg = preset("quickstart")
    run = start_run(cfg, tmp_path / "r")
    (run.path / "baselines.json").write_text(json.dumps({"CartPole-v1": {"random": 22.0,
                                                                         "ppo": 21.0}}))
    with pytest.raises(BaselineError, match="CartPole-v1"):
        load_baselines(cfg, run, jax.random.key(0), echo=lambda _: None)


def test_reference_ppo_shares_the_rules_hyperparameters():
    rule = TALPO(ent_coef=0.0, gamma=0.98, vf_coef=0.25, clip_eps=0.3)
    ppo = reference_ppo(rule)
    assert (ppo.ent_coef, ppo.gamma, ppo.vf_coef, ppo.clip_eps) == (0.0, 0.98, 0.25, 0.3)
    assert reference_ppo(LPO()) == PPO()


@pytest.fixture(scope="module")
def evaluate_with_center():
    rule = TALPO()
    evaluate = make_evaluate(rule, ("CartPole-v1",), TINY, {"CartPole-v1": {"random": 20.0,
                                                                            "ppo": 60.0}},
                             seeds_per_member=2, center_seeds=3)
    population = jax.vmap(rule.init)(jax.random.split(jax.random.key(0), 4))
    center = rule.init(jax.random.key(1))
    return evaluate, population, center


def test_center_is_scored_in_the_populations_call_with_common_seeds(evaluate_with_center):
    """The centre's fitness in a generation equals scoring it alone with the same key; a member
    equal to the centre scores the centre's value on the seeds they share."""
    evaluate, population, center = evaluate_with_center
    population = jax.tree.map(lambda p, c: p.at[0].set(c), population, center)
    key = jax.random.key(5)
    fitness, center_fitness, _, info = jax.jit(evaluate.eval)(population, center, {}, key)
    _, alone, _, alone_info = jax.jit(lambda c, k: evaluate.eval(None, c, {}, k))(center, key)
    assert fitness.shape == (4,) and info["normalized"].shape == (4, 1)
    np.testing.assert_allclose(center_fitness, alone, rtol=1e-5)
    np.testing.assert_allclose(info["center_returns"], alone_info["center_returns"], rtol=1e-5)
    # member 0 == centre and seeds 0, 1 are shared: its mean equals the centre's on 2 seeds
    single = make_evaluate(TALPO(), ("CartPole-v1",), TINY,
                           {"CartPole-v1": {"random": 20.0, "ppo": 60.0}}, center_seeds=2,
                           seeds_per_member=2)
    _, two_seeds, _, _ = jax.jit(lambda c, k: single.eval(None, c, {}, k))(center, key)
    np.testing.assert_allclose(fitness[0], two_seeds, rtol=1e-5)


def test_center_seeds_zero_leaves_the_center_unscored():
    cfg = apply_overrides(preset("quickstart"), ["center_seeds=0"])
    assert cfg.center_seeds == 0
    with pytest.raises(ValueError, match="center_seeds"):
        apply_overrides(preset("quickstart"), ["center_seeds=-1"])
