"""The ES outer loop's schedules: learning rate and sigma decay with floors, as the OpenES of the
LPO papers (evosax 0.1.4) and GROOVE's TA-LPG run them."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from discovery.config import PRESETS
from discovery.es import ESConfig, lr_schedule, make_strategy, sigma_schedule


def closed_form(init, decay, floor, g):
    return max(init * decay**g, floor)


@pytest.mark.parametrize("cfg", [
    ESConfig(),  # LPO papers: 0.03 decayed by 0.99 to floors 1e-3 / 1e-2
    ESConfig(population_size=8, lr=1e-2, lr_decay=0.999, lr_min=1e-5, sigma=0.1,
             sigma_decay=1.0, sigma_min=0.1),  # GROOVE's TA-LPG
    ESConfig(population_size=8, lr=0.5, lr_decay=0.5, lr_min=0.01, sigma=0.4,
             sigma_decay=0.5, sigma_min=0.05),  # floors reached within a few generations
])
def test_schedules_follow_the_closed_form(cfg):
    lr, sigma = lr_schedule(cfg), sigma_schedule(cfg)
    for g in (0, 1, 2, 5, 10, 100, 1000, 5000):
        assert float(lr(g)) == pytest.approx(closed_form(cfg.lr, cfg.lr_decay, cfg.lr_min, g),
                                             rel=1e-4)
        assert float(sigma(g)) == pytest.approx(
            closed_form(cfg.sigma, cfg.sigma_decay, cfg.sigma_min, g), rel=1e-4)


def test_open_es_samples_generation_g_with_sigma_g_and_steps_with_lr_g():
    """Through evosax: generation g's population has std sigma_g about the mean (antithetic
    pairs), and update g is OpenES's gradient estimate stepped by Adam with lr_g, recomputed
    here from the closed form."""
    from evosax.core.fitness_shaping import centered_rank_fitness_shaping_fn

    cfg = ESConfig(population_size=4, lr=0.5, lr_decay=0.5, lr_min=0.05, sigma=0.4,
                   sigma_decay=0.5, sigma_min=0.06)
    template = jnp.zeros(3)
    es, params = make_strategy(cfg, template)
    state = es.init(jax.random.key(0), template, params)
    adam = optax.adam(lambda c: jnp.maximum(0.5 * 0.5 ** c, 0.05))
    mean = jnp.zeros(3)
    adam_state = adam.init(mean)
    for g in range(8):
        pop, state = es.ask(jax.random.key(100 + g), state, params)
        std = closed_form(0.4, 0.5, 0.06, g)
        assert float(state.std) == pytest.approx(std, rel=1e-6)
        np.testing.assert_allclose(pop[2:] - mean, -(pop[:2] - mean), rtol=1e-5, atol=1e-6)
        fitness = jnp.sin(3.0 * pop[:, 0]) + pop[:, 1]  # minimised by evosax
        state, _ = es.tell(jax.random.key(200 + g), pop, fitness, state, params)
        shaped = centered_rank_fitness_shaping_fn(pop, fitness, state, params)
        grad = shaped @ ((pop - mean) / std) / (4 * std)
        update, adam_state = adam.update(grad, adam_state, mean)
        mean = optax.apply_updates(mean, update)
        np.testing.assert_allclose(es.get_mean(state), mean, rtol=1e-5, atol=1e-6)


def test_presets_name_the_papers_schedules():
    lpo = PRESETS["ta-lpo-minatar"]().es
    assert (lpo.lr, lpo.lr_decay, lpo.lr_min, lpo.sigma, lpo.sigma_decay, lpo.sigma_min) == (
        0.03, 0.99, 1e-3, 0.03, 0.99, 1e-2)
    talpg = PRESETS["ta-lpg-gridworld"]().es
    assert (talpg.lr, talpg.lr_decay, talpg.lr_min, talpg.sigma, talpg.sigma_decay,
            talpg.sigma_min, talpg.population_size) == (1e-2, 0.999, 1e-5, 0.1, 1.0, 0.1, 1024)


@pytest.mark.parametrize("field,value", [("lr_min", 0.0), ("sigma_min", float("nan")),
                                         ("lr_decay", 1.5), ("lr_min", 0.5)])
def test_bad_schedule_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"es.{field}"):
        ESConfig(**{field: value})


def test_adam_step_with_constant_gradient_is_the_learning_rate():
    """The premise of the test above: optax Adam's step for a constant gradient is lr."""
    opt = optax.adam(lambda c: 0.1 * 0.5 ** c)
    state = opt.init(jnp.zeros(1))
    for g in range(4):
        upd, state = opt.update(jnp.ones(1), state)
        assert float(-upd[0]) == pytest.approx(0.1 * 0.5**g, rel=1e-4)
