"""A minimal single-file PPO in the purejaxrl style, the speed reference of `scripts/bench.py`.

Everything in one jitted function (flax MLP actor-critic, `lax.scan` rollouts, GAE, epochs x
minibatches, annealed Adam), vmapped over seeds; episodes end on terminated OR truncated with no
bootstrap, exactly like the single-file baselines. Not used by the library.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from gymnax.wrappers import LogWrapper


class _MLPActorCritic(nn.Module):
    n_actions: int
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        act = nn.tanh if self.activation == "tanh" else nn.relu
        x = x.reshape(*x.shape[:-3], -1) if x.ndim >= 3 else x
        orth = nn.initializers.orthogonal
        a = act(nn.Dense(64, kernel_init=orth(np.sqrt(2)))(x))
        a = act(nn.Dense(64, kernel_init=orth(np.sqrt(2)))(a))
        logits = nn.Dense(self.n_actions, kernel_init=orth(0.01))(a)
        c = act(nn.Dense(64, kernel_init=orth(np.sqrt(2)))(x))
        c = act(nn.Dense(64, kernel_init=orth(np.sqrt(2)))(c))
        return logits, nn.Dense(1, kernel_init=orth(1.0))(c)[..., 0]


def make_reference_train(env, env_params, *, num_envs, num_steps, total_timesteps, epochs,
                         minibatches, lr, activation="tanh", gamma=0.99, lam=0.95, clip=0.2,
                         ent=0.01, vf=0.5, max_grad_norm=0.5):
    num_updates = total_timesteps // (num_envs * num_steps)
    batch = num_envs * num_steps
    env = LogWrapper(env)
    net = _MLPActorCritic(env.action_space(env_params).n, activation)

    def schedule(count):
        return lr * (1.0 - (count // (minibatches * epochs)) / num_updates)

    tx = optax.chain(optax.clip_by_global_norm(max_grad_norm),
                     optax.adam(learning_rate=schedule, eps=1e-5))

    def train(key):
        key, k_init, k_reset = jax.random.split(key, 3)
        obs_shape = env.observation_space(env_params).shape
        params = net.init(k_init, jnp.zeros(obs_shape))
        opt_state = tx.init(params)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_reset, num_envs), env_params)

        def update(carry, _):
            params, opt_state, env_state, obs, key = carry

            def step(carry, _):
                env_state, obs, key = carry
                key, k_act, k_env = jax.random.split(key, 3)
                logits, value = net.apply(params, obs)
                action = jax.random.categorical(k_act, logits)
                logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
                obs2, env_state, reward, term, trunc, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None))(jax.random.split(k_env, num_envs),
                                                       env_state, action, env_params)
                done = jnp.logical_or(term, trunc)
                return (env_state, obs2, key), (obs, action, reward, done, logp, value,
                                                info["returned_episode_returns"],
                                                info["returned_episode"])

            (env_state, last_obs, key), traj = jax.lax.scan(step, (env_state, obs, key), None,
                                                           num_steps)
            t_obs, t_act, t_rew, t_done, t_logp, t_val, ep_ret, ep_done = traj
            _, last_val = net.apply(params, last_obs)

            def gae_step(carry, x):
                adv, next_val = carry
                done, value, reward = x
                delta = reward + gamma * next_val * (1 - done) - value
                adv = delta + gamma * lam * (1 - done) * adv
                return (adv, value), adv

            _, adv = jax.lax.scan(gae_step, (jnp.zeros_like(last_val), last_val),
                                  (t_done, t_val, t_rew), reverse=True)
            targets = adv + t_val

            def loss_fn(params, mb):
                obs, act, logp_old, val_old, adv, tgt = mb
                logits, value = net.apply(params, obs)
                logp_all = jax.nn.log_softmax(logits)
                logp = jnp.take_along_axis(logp_all, act[:, None], 1)[:, 0]
                v_clip = val_old + jnp.clip(value - val_old, -clip, clip)
                v_loss = 0.5 * jnp.maximum((value - tgt) ** 2, (v_clip - tgt) ** 2).mean()
                ratio = jnp.exp(logp - logp_old)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv).mean()
                entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
                return pg + vf * v_loss - ent * entropy

            def epoch(carry, _):
                params, opt_state, key = carry
                key, k_perm = jax.random.split(key)
                data = jax.tree.map(lambda x: x.reshape(batch, *x.shape[2:]),
                                    (t_obs, t_act, t_logp, t_val, adv, targets))
                perm = jax.random.permutation(k_perm, batch)
                data = jax.tree.map(lambda x: x[perm].reshape(minibatches, -1, *x.shape[1:]),
                                    data)

                def mb_step(carry, mb):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, mb)
                    updates, opt_state = tx.update(grads, opt_state)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(mb_step, (params, opt_state), data)
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(epoch, (params, opt_state, key), None,
                                                       epochs)
            ret = (ep_ret * ep_done).sum() / jnp.maximum(ep_done.sum(), 1)
            return (params, opt_state, env_state, last_obs, key), ret

        _, returns = jax.lax.scan(update, (params, opt_state, env_state, obs, key), None,
                                  num_updates)
        return returns

    return train
