"""LPG's meta-gradient outer loop: the gradient through K agent updates, the agents' lifecycle,
and the outer loop run end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from discovery.config import apply_overrides, preset
from discovery.inner import make_train
from discovery.metagrad import MetaGradConfig, make_metagrad_step
from discovery.presets import TRAIN_PRESETS
from discovery.run import level_sampler, run_discovery, start_run
from meta_objectives import LPG

# K = 1: with more updates LPG's inputs of later updates (pi(a|s), y of a rollout that an
# updated agent collected) are data to the meta-gradient, as in LPG and GROOVE, so a finite
# difference would see a path the meta-gradient leaves out by design.
UNROLL = 1


@pytest.fixture(scope="module")
def tiny_problem():
    """One tabular agent on a 'debug' level, K = 2 updates of 8 envs x 6 steps, LPG (GRU 4)."""
    env, _ = envs.make("gridworld/debug")
    rule = LPG(hidden=4, embedding=(4, 1), net_init="random")
    cfg = TRAIN_PRESETS["gridworld-tabular"].replace(num_envs=8, num_steps=6,
                                                      total_timesteps=8 * 6 * 4, lr=1.0,
                                                      critic_lr=0.5)
    trainer = make_train(env, rule, cfg)
    mcfg = MetaGradConfig(num_agents=2, unroll=UNROLL, lr=1e-3, num_minibatches=1)
    sample = level_sampler(apply_overrides(preset("quickstart-lpg"),
                                           ["envs=[gridworld/debug]"]))
    init, step, agent_loss = make_metagrad_step(rule, trainer, mcfg, sample)
    return rule, init, step, agent_loss


def test_meta_gradient_equals_a_finite_difference(tiny_problem):
    """d(meta-loss)/d(eta) along a random direction equals the central difference of the
    meta-loss (meta-parameters in float64, the agent in float32, whose rounding limits the
    agreement to about 1e-3; the sampled trajectories stay fixed for a small step)."""
    rule, init, _, agent_loss = tiny_problem
    with jax.enable_x64(True):
        meta = jax.tree.map(lambda x: x.astype(jnp.float64), rule.init(jax.random.key(0)))
        state = init(meta, jax.random.key(1))
        agent = jax.tree.map(lambda x: x[0], state.agents)
        key = jax.random.key(2)
        loss = jax.jit(lambda m: agent_loss(m, agent, key)[0])
        grad = jax.jit(jax.grad(lambda m: agent_loss(m, agent, key)[0]))(meta)
        direction = jax.tree.map(lambda x: jax.random.normal(jax.random.key(3), x.shape,
                                                             jnp.float64), meta)
        analytic = sum(float(jnp.vdot(g, d)) for g, d in zip(jax.tree.leaves(grad),
                                                             jax.tree.leaves(direction),
                                                             strict=True))
        eps = 1e-3
        shifted = [jax.tree.map(lambda m, d, s=s: m + s * eps * d, meta, direction)
                   for s in (1.0, -1.0)]
        numeric = (float(loss(shifted[0])) - float(loss(shifted[1]))) / (2 * eps)
    assert abs(analytic) > 1e-6  # the meta-parameters do reach the loss
    assert analytic == pytest.approx(numeric, rel=1e-2)


def test_agents_are_replaced_at_the_end_of_their_lifetime(tiny_problem):
    rule, init, step, _ = tiny_problem
    state = init(rule.init(jax.random.key(0)), jax.random.key(1))
    lifetimes = np.asarray(state.agents.train.horizon)
    step = jax.jit(step)
    for g in range(int(lifetimes.max()) // UNROLL + 1):
        before = np.asarray(state.agents.updates)
        state, log = step(state, jax.random.key(10 + g))
        after = np.asarray(state.agents.updates)
        ended = before + UNROLL >= lifetimes
        assert np.all(after[ended] == 0) and np.all(after[~ended] == before[~ended] + UNROLL)
        assert int(log.resets) == int(ended.sum())
        lifetimes = np.asarray(state.agents.train.horizon)


@pytest.mark.slow
def test_quickstart_metagrad_raises_held_out_level_scores(tmp_path):
    from discovery.level_eval import evaluate_on_levels

    cfg = preset("quickstart-lpg-metagrad")
    run = start_run(cfg, tmp_path / "mg")
    result = run_discovery(cfg, run, progress=False, echo=lambda _: None)
    rule = cfg.rule.build()
    _, k_init, _, _ = jax.random.split(jax.random.key(cfg.seed), 4)  # as run_discovery
    key = jax.random.key(1234)
    before, after = (evaluate_on_levels(rule, m, cfg.envs[0], cfg.train, key, seeds=2,
                                        num_levels=32)
                     for m in (rule.init(k_init), result.meta_params))
    assert after["mean_normalized"] > before["mean_normalized"] + 0.1, (before, after)
    assert len(result.fitness) == cfg.generations
