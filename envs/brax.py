"""Brax environments behind the gymnax interface, with physical parameters in EnvParams.

`env, params = make_brax("ant")` gives a `gymnax.environments.environment.Environment` whose
`EnvParams` carry the physics that may vary (per-link mass scale, friction scale, gravity,
actuator strength scale) next to the time limit. Each reset/step builds a modified
`brax.System` from the base system and these params, so the physics changes inside `jit` and
under `vmap` over params: one call can simulate many dynamics models.

Which backend reads which parameter (brax 0.14.2, mujoco-mjx 3.17; checked by rollouts):

- `generalized` (brax's reference physics) and `mjx` read every parameter, with the full
  inertia tensor.
- `spring` and `positional` use `mass ** (1 - spring_mass_scale)` and
  `inertia ** (1 - spring_inertia_scale)` from the model file. The adapter pre-compensates, so a
  mass scale k scales the mass the backend uses by k, except where the exponent is 1: there the
  backend uses unit mass / identity inertia whatever the params say. Ant, hopper and pusher
  have spring_mass_scale = 1 (the mass scale does nothing on spring); all envs but halfcheetah
  have spring_inertia_scale = 1 (on spring the mass scale changes only translational mass).
  Friction, gravity and actuator strength work on every backend.
- Friction only matters where there are contacts (not in the pendulums, reacher, swimmer).
  Gravity is zero in pusher and orthogonal to reacher's joints in the reference physics.

`DEFAULT_BACKENDS` is, per environment, the fastest CPU backend (64 envs, random actions,
through this adapter) among those where every parameter changes the dynamics.
"""

from __future__ import annotations

import contextlib
import copy
import io
import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from envs.params import Box, ParamSpace

# mujoco.mjx prints "Failed to import warp" for its optional GPU backend on every import, and
# brax warns on every model load that it is unmaintained: neither says anything actionable here.
_IMPORT_NOISE = ("Failed to import warp", "Failed to import mujoco_warp")
with contextlib.redirect_stdout(io.StringIO()) as _printed:
    from brax import envs as brax_envs
    from brax.base import System
for _line in _printed.getvalue().splitlines():
    if _line and not _line.startswith(_IMPORT_NOISE):
        print(_line, file=sys.stdout)
_UNMAINTAINED = "Brax System, piplines and environments are not actively being maintained"

# Fastest CPU backend on which every EnvParams field acts; env-steps/s measured for 64 envs with
# random actions through this adapter (2 shared CPU cores, so only the ratios mean much).
# Any backend can be asked for with `make_brax(name, backend=...)`.
DEFAULT_BACKENDS: dict[str, str] = {
    "ant": "mjx",  # 20k steps/s; spring 12k but its spring_mass_scale = 1 ignores the mass
    "halfcheetah": "spring",  # 7.0k; generalized 2.6k, mjx 1.6k
    "hopper": "mjx",  # 6.5k, generalized 4.8k; spring ignores the mass (spring_mass_scale = 1)
    "walker2d": "spring",  # 15k; generalized 6.4k, mjx 4.3k
    "humanoid": "mjx",  # 7.3k; spring 3.9k, generalized 1.0k
    "inverted_pendulum": "spring",  # 141k; mjx 49k, generalized 29k
    "inverted_double_pendulum": "mjx",  # 82k; spring 65k, generalized 19k
    "reacher": "spring",  # 81k; mjx 37k, generalized 11k
    "swimmer": "generalized",  # brax's swimmer supports only generalized
    "pusher": "generalized",  # 1.5k; spring 2.4k ignores the mass, mjx 13 (!)
}
BACKENDS = ("spring", "generalized", "positional", "mjx")


@struct.dataclass
class EnvParams:
    """Physical parameters and time limit of a brax environment (a pytree; vmap over it).

    mass_scale: (num_links,) factor on each link's mass and inertia.
    gravity: (3,) gravity vector in m/s^2 (a scalar is read as the z component).
    friction_scale: factor on every geom's friction coefficients.
    actuator_scale: factor on every actuator's gear (all brax envs use motors, so on torque).
    max_steps_in_episode: time limit; reaching it sets `truncated`, never `terminated`.
    """

    mass_scale: jax.Array
    gravity: jax.Array
    friction_scale: jax.Array | float = 1.0
    actuator_scale: jax.Array | float = 1.0
    max_steps_in_episode: int = 1000


@struct.dataclass
class EnvState:
    """The brax environment state (physics, obs, reward, done, metrics) and the step count."""

    brax_state: brax_envs.State
    time: jax.Array | int


def _as_float32(state: brax_envs.State) -> brax_envs.State:
    """obs, reward and done as float32 arrays (some envs give Python floats)."""
    return state.replace(**{k: jnp.asarray(getattr(state, k), jnp.float32)
                            for k in ("obs", "reward", "done")})


def physical_system(base: System, params: EnvParams, backend: str = "generalized") -> System:
    """The brax System of `base` with the physics of `params` (pure; traced params are fine).

    Sets both brax's own fields (`link`, `dof`, `gravity`, `actuator`) and the MuJoCo ones that
    the mjx backend and the collision code read (`body_*`, `geom_friction`, `opt.gravity`,
    `actuator_gear`). Inertia and the solver's inverse weights follow the mass scale. For
    `spring`/`positional`, which use `mass ** (1 - s)`, the link mass is scaled by
    `k ** (1 / (1 - s))` so that the mass the backend uses is scaled by k (nothing where s = 1).
    """
    mass = jnp.asarray(params.mass_scale, jnp.float32)
    link_mass, link_inertia = mass, mass
    if backend in ("spring", "positional"):
        link_mass = _spring_compensated(mass, base.spring_mass_scale)
        link_inertia = _spring_compensated(mass, base.spring_inertia_scale)
    friction = jnp.asarray(params.friction_scale, jnp.float32)
    strength = jnp.asarray(params.actuator_scale, jnp.float32)
    gravity = jnp.asarray(params.gravity, jnp.float32)
    if gravity.ndim == 0:
        gravity = jnp.asarray(base.gravity, jnp.float32).at[2].set(gravity)

    link = base.link
    inertia = link.inertia.replace(mass=link.inertia.mass * link_mass,
                                   i=link.inertia.i * link_inertia[:, None, None])
    link = link.replace(inertia=inertia, invweight=link.invweight / mass)
    dof_mass = mass[base.dof_link()]  # approximate: a dof's inverse weight follows its own link
    body_mass = jnp.concatenate([jnp.ones((1,), jnp.float32), mass])  # body 0 is the world
    return base.replace(
        link=link,
        dof=base.dof.replace(invweight=base.dof.invweight / dof_mass),
        gravity=gravity,
        opt=base.opt.replace(gravity=gravity),
        actuator=base.actuator.replace(gear=base.actuator.gear * strength),
        actuator_gear=base.actuator_gear * strength,
        body_mass=base.body_mass * body_mass,
        body_inertia=base.body_inertia * body_mass[:, None],
        body_invweight0=base.body_invweight0 / body_mass[:, None],
        dof_invweight0=base.dof_invweight0 / dof_mass,
        geom_friction=base.geom_friction * friction,
        pair_friction=base.pair_friction * friction,
    )


def _spring_compensated(scale: jax.Array, exponent: Any) -> jax.Array:
    """`scale ** (1 / (1 - s))`, so that `(m * that) ** (1 - s) == m ** (1 - s) * scale`."""
    s = float(np.asarray(exponent))
    return scale if s == 0.0 or s >= 1.0 else scale ** (1.0 / (1.0 - s))


class BraxEnv(environment.Environment[EnvState, EnvParams]):
    """A brax environment as a gymnax Environment; physics comes from EnvParams.

    Actions are clipped to [-1, 1]. `terminated` is brax's `done` (e.g. the hopper fell);
    `truncated` is the time limit `params.max_steps_in_episode`. Auto-reset and
    `info["final_observation"]` come from gymnax's `step`.
    """

    def __init__(self, env_name: str, backend: str | None = None,
                 env_kwargs: dict[str, Any] | None = None):
        """`backend=None` uses `DEFAULT_BACKENDS[env_name]`; `env_kwargs` go to brax's env."""
        super().__init__()
        if env_name not in DEFAULT_BACKENDS:
            raise ValueError(f"Unknown brax environment '{env_name}'; known: "
                             f"{', '.join(DEFAULT_BACKENDS)}")
        backend = backend or DEFAULT_BACKENDS[env_name]
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got '{backend}'")
        self.env_name = env_name
        self.backend = backend
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_UNMAINTAINED, category=UserWarning)
            self.brax_env = brax_envs.get_environment(env_name, backend=backend,
                                                      **(env_kwargs or {}))
        self.base_sys: System = self.brax_env.sys
        obs = jax.eval_shape(self.brax_env.reset, jax.random.PRNGKey(0)).obs
        self.obs_shape: tuple[int, ...] = tuple(obs.shape)
        self.action_size: int = int(self.base_sys.act_size())

    def _with_physics(self, params: EnvParams) -> brax_envs.PipelineEnv:
        """A shallow copy of the brax env whose `sys` follows `params` (no shared mutation)."""
        env = copy.copy(self.brax_env)
        env.sys = physical_system(self.base_sys, params, self.backend)
        return env

    @property
    def default_params(self) -> EnvParams:
        """Unit scales, the model's own gravity and a 1000-step time limit."""
        return EnvParams(
            mass_scale=jnp.ones((self.base_sys.num_links(),), jnp.float32),
            gravity=jnp.asarray(self.base_sys.gravity, jnp.float32),
            friction_scale=jnp.float32(1.0),
            actuator_scale=jnp.float32(1.0),
        )

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Reset with brax's own initial-state noise, in the physics of `params`."""
        brax_state = self._with_physics(params).reset(key)
        brax_state = _as_float32(brax_state)
        return brax_state.obs, EnvState(brax_state=brax_state, time=jnp.int32(0))

    def step_env(self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
                 ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        """One control step (brax's `n_frames` physics steps); brax's `done` is `terminated`."""
        del key  # brax dynamics are deterministic
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        brax_state = _as_float32(self._with_physics(params).step(state.brax_state, action))
        state = EnvState(brax_state=brax_state, time=state.time + 1)
        terminated = brax_state.done > 0.5
        return brax_state.obs, state, brax_state.reward, terminated, {
            "discount": 1.0 - brax_state.done}

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """The time limit was reached."""
        return state.time >= params.max_steps_in_episode

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """brax's `done` (the physics ended the episode)."""
        return state.brax_state.done > 0.5

    @property
    def name(self) -> str:
        """`brax/<env>`, as `envs.make` spells it."""
        return f"brax/{self.env_name}"

    @property
    def num_actions(self) -> int:
        """Dimension of the continuous action."""
        return self.action_size

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        """[-1, 1]^act_size."""
        return spaces.Box(-1.0, 1.0, (self.action_size,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        """Unbounded float32 box of brax's observation shape."""
        return spaces.Box(-jnp.inf, jnp.inf, self.obs_shape, jnp.float32)

    def __repr__(self) -> str:
        return f"BraxEnv({self.env_name!r}, backend={self.backend!r})"


def make_brax(env_name: str, *, backend: str | None = None, episode_length: int = 1000,
              env_kwargs: dict[str, Any] | None = None) -> tuple[BraxEnv, EnvParams]:
    """Build a brax environment: `env, params = make_brax("ant", backend="generalized")`.

    `backend=None` takes `DEFAULT_BACKENDS[env_name]`; `episode_length` is the default
    `max_steps_in_episode`; `env_kwargs` go to brax's env constructor (e.g.
    `{"terminate_when_unhealthy": False}`).
    """
    env = BraxEnv(env_name, backend=backend, env_kwargs=env_kwargs)
    return env, env.default_params.replace(max_steps_in_episode=episode_length)


def default_param_space(params: EnvParams) -> ParamSpace:
    """Per-link mass scale and friction scale in [0.5, 2], actuator strength in [0.75, 1.5].

    Gravity stays at `params.gravity` (a ParamSpace over part of the 3-vector would grid its
    fixed x and y components); build a space with `gravity=Box(low_vec, high_vec)` to vary it.
    Note that `grid(k)` has k ** (num_links + 2) points.
    """
    return ParamSpace(params, mass_scale=Box(0.5, 2.0), friction_scale=Box(0.5, 2.0),
                      actuator_scale=Box(0.75, 1.5))
