"""Agent networks: the dense layers' custom backward pass (`_dense_matmul`) gives autodiff's
gradients, and `plain_autodiff` networks take forward-mode autodiff with the same parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discovery.networks import NARROW, ActorCritic


def _loss(net, params, obs):
    out = net.apply(params, obs)
    return (jnp.sum(out.policy.logits ** 2) + jnp.sum(jnp.tanh(out.value))
            + (jnp.sum(out.prediction ** 3) if out.prediction is not None else 0.0))


CASES = {  # name: (network fields, observation shape with batch axes)
    "cartpole": (dict(action_dim=2), (16, 4)),
    "time-major batch": (dict(action_dim=3, activation="relu"), (5, 3, 7)),
    "one observation": (dict(action_dim=2), (4,)),
    "wide heads": (dict(action_dim=NARROW + 1, prediction_size=12), (8, 6)),
    "linear": (dict(action_dim=4, hidden=(), style="groove"), (8, 10)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_equal_plain_autodiff(case):
    fields, obs_shape = CASES[case]
    net = ActorCritic(**fields)
    obs = jax.random.normal(jax.random.key(0), obs_shape)
    params = net.init(jax.random.key(1), obs)
    plain = net.clone(plain_autodiff=True)
    np.testing.assert_array_equal(np.asarray(net.apply(params, obs).policy.logits),
                                  np.asarray(plain.apply(params, obs).policy.logits))
    for argnum in (0, 1):  # parameters and observations
        ours = jax.jit(jax.grad(lambda p, o: _loss(net, p, o), argnum))(params, obs)
        ref = jax.jit(jax.grad(lambda p, o: _loss(plain, p, o), argnum))(params, obs)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6)
    # second order, as the meta-gradient outer loop differentiates through inner updates
    few = obs[..., :1, :] if obs.ndim > 1 else obs  # one observation per batch row: small
    hess = jax.hessian(lambda o: _loss(net, params, o))(few)
    hess_ref = jax.hessian(lambda o: _loss(plain, params, o))(few)
    np.testing.assert_allclose(np.asarray(hess), np.asarray(hess_ref), rtol=2e-4, atol=1e-5)


def test_forward_mode_needs_plain_autodiff():
    net = ActorCritic(action_dim=2)
    obs = jax.random.normal(jax.random.key(0), (3, 4))
    params = net.init(jax.random.key(1), obs)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda o: _loss(net, params, o), (obs,), (obs,))
    plain = net.clone(plain_autodiff=True)
    _, tangent = jax.jvp(lambda o: _loss(plain, params, o), (obs,), (obs,))
    grad = jax.grad(lambda o: _loss(net, params, o))(obs)
    np.testing.assert_allclose(float(tangent), float(jnp.sum(grad * obs)), rtol=1e-5)
