"""Functional wrappers over gymnax-style environments (auto-reset is gymnax's own `step`).

Each wrapper keeps whatever it needs in the env state, so wrapped envs stay pure and vmappable.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces


class Wrapper:
    """Base wrapper: forwards every attribute it does not define to the wrapped env."""

    def __init__(self, env: Any):
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    @property
    def unwrapped(self) -> Any:
        return getattr(self._env, "unwrapped", self._env)


@struct.dataclass
class EpisodeStatsState:
    env_state: Any
    episode_return: jax.Array
    episode_length: jax.Array


class EpisodeStats(Wrapper):
    """Tracks the running episode return and length; on every episode end it reports them.

    Adds `info["episode_return"]`, `info["episode_length"]` (of the episode that just ended,
    0 elsewhere) and `info["episode_done"]`.
    """

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, EpisodeStatsState]:
        obs, state = self._env.reset(key, params)
        return obs, EpisodeStatsState(state, jnp.float32(0.0), jnp.int32(0))

    def step(self, key, state: EpisodeStatsState, action, params):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params)
        done = jnp.logical_or(terminated, truncated)
        ret = state.episode_return + reward.astype(jnp.float32)
        length = state.episode_length + 1
        info = {**info, "episode_return": jnp.where(done, ret, 0.0),
                "episode_length": jnp.where(done, length, 0), "episode_done": done}
        new = EpisodeStatsState(env_state, jnp.where(done, 0.0, ret), jnp.where(done, 0, length))
        return obs, new, reward, terminated, truncated, info


@struct.dataclass
class NormalizeState:
    env_state: Any
    mean: jax.Array
    var: jax.Array
    count: jax.Array


class NormalizeObservation(Wrapper):
    """Normalises observations with running mean/variance kept in the env state.

    The statistics live in each env copy's state (under vmap each env keeps its own), and are
    updated with every observation, including `info["final_observation"]` which is normalised
    with the same statistics.
    """

    def __init__(self, env: Any, clip: float = 10.0, eps: float = 1e-8):
        super().__init__(env)
        self.clip, self.eps = clip, eps

    def _norm(self, obs, state: NormalizeState):
        return jnp.clip((obs - state.mean) / jnp.sqrt(state.var + self.eps), -self.clip,
                        self.clip)

    @staticmethod
    def _update(state: NormalizeState, obs) -> NormalizeState:
        count = state.count + 1.0
        delta = obs - state.mean
        mean = state.mean + delta / count
        var = state.var + (delta * (obs - mean) - state.var) / count
        return state.replace(mean=mean, var=var, count=count)

    def reset(self, key, params):
        obs, env_state = self._env.reset(key, params)
        state = NormalizeState(env_state, jnp.zeros_like(obs), jnp.ones_like(obs),
                               jnp.float32(1e-4))
        state = self._update(state, obs)
        return self._norm(obs, state), state

    def step(self, key, state: NormalizeState, action, params):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params)
        state = self._update(state.replace(env_state=env_state), obs)
        if "final_observation" in info:
            info = {**info, "final_observation": self._norm(info["final_observation"], state)}
        return self._norm(obs, state), state, reward, terminated, truncated, info


class ClipAction(Wrapper):
    """Clips continuous actions into the action space's bounds before stepping."""

    def step(self, key, state, action, params):
        space = self._env.action_space(params)
        return self._env.step(key, state, jnp.clip(action, space.low, space.high), params)


class FlattenObservation(Wrapper):
    """Flattens observations (and `info["final_observation"]`) to vectors."""

    def observation_space(self, params):
        space = self._env.observation_space(params)
        size = int(jnp.prod(jnp.asarray(space.shape)))
        return spaces.Box(jnp.ravel(jnp.broadcast_to(space.low, space.shape)),
                          jnp.ravel(jnp.broadcast_to(space.high, space.shape)), (size,),
                          space.dtype)

    def reset(self, key, params):
        obs, state = self._env.reset(key, params)
        return jnp.ravel(obs), state

    def step(self, key, state, action, params):
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action,
                                                                         params)
        if "final_observation" in info:
            info = {**info, "final_observation": jnp.ravel(info["final_observation"])}
        return jnp.ravel(obs), state, reward, terminated, truncated, info
