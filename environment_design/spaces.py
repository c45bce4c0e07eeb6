"""Named uncertainty sets: boxes of absolute physical values mapped onto an adapter's EnvParams.

    uset = make_space("hopper-3d")            # friction, torso mass, thigh mass
    params = uset.from_unit(u)                # u in [0, 1]^d -> one EnvParams (jittable)
    grid = uset.unit_grid(10)                 # [10^d, d] unit-cube points, bounds included

A set names *absolute* values (kg, friction coefficients, metres, N); each dimension has a
target on the adapter's parameters:

- gymnax classic control: a field of its EnvParams (`length`, `masspole`, ...), set directly
  (CartPole's derived `total_mass` / `polemass_length` follow).
- brax: `friction` sets `friction_scale = value / nominal floor friction` (the adapter scales
  every geom's friction, so the floor's own coefficient becomes `value`); `mass:<link>` sets
  that link's `mass_scale = value / nominal link mass` (the model file's mass; on the spring and
  positional backends the backend's own `mass ** (1 - s)` convention then applies, see
  `envs.brax`).

The brax sets are M2TD3's (Tanabe et al. 2022), which RRLS (Zouitine et al. 2024) reuses:
k-D is the first k dimensions of each environment's list, except halfcheetah-1d, whose friction
range is [0.1, 3.0] (RRLS's `HalfCheetahParamsBound.ONE_DIM`; 2-D and 3-D use [0.1, 4.0]).
Note that a published range need not contain the adapter's nominal value (brax's hopper torso
weighs 3.67 kg, the range ends at 3.0).
The classic-control sets are this platform's (about 0.25x - 4x the nominal values).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs


@dataclass(frozen=True)
class Dim:
    """One dimension: a label, its target on the adapter (see the module docstring) and the
    absolute bounds."""

    label: str
    target: str
    low: float
    high: float


@dataclass(frozen=True)
class SetSpec:
    """A named uncertainty set: the environment, its dimensions and where the ranges come from."""

    name: str
    env: str
    dims: tuple[Dim, ...]
    source: str


_M2TD3 = "M2TD3 / RRLS"
_BRAX_DIMS: dict[str, tuple[Dim, ...]] = {
    "hopper": (Dim("world friction", "friction", 0.1, 3.0),
               Dim("torso mass", "mass:torso", 0.1, 3.0),
               Dim("thigh mass", "mass:thigh", 0.1, 4.0)),
    "walker2d": (Dim("world friction", "friction", 0.1, 4.0),
                 Dim("torso mass", "mass:torso", 0.1, 5.0),
                 Dim("thigh mass", "mass:thigh", 0.1, 6.0)),
    "halfcheetah": (Dim("world friction", "friction", 0.1, 4.0),
                    Dim("torso mass", "mass:torso", 0.1, 7.0),
                    Dim("back thigh mass", "mass:bthigh", 0.1, 3.0)),
    # brax's ant names its hip links aux_1 (front left) and aux_2 (front right)
    "ant": (Dim("torso mass", "mass:torso", 0.1, 3.0),
            Dim("front left leg mass", "mass:aux_1", 0.01, 3.0),
            Dim("front right leg mass", "mass:aux_2", 0.01, 3.0)),
    "inverted_pendulum": (Dim("pole mass", "mass:pole", 1.0, 31.0),
                          Dim("cart mass", "mass:cart", 1.0, 11.0)),
}
# RRLS's 1-D sets that are not the first dimension of its 2-D and 3-D ones
_BRAX_ONE_DIM = {"halfcheetah": (Dim("world friction", "friction", 0.1, 3.0),)}
_CLASSIC_DIMS: dict[str, tuple[str, tuple[Dim, ...]]] = {
    "cartpole": ("CartPole-v1", (Dim("pole half-length", "length", 0.125, 2.0),
                                 Dim("pole mass", "masspole", 0.025, 0.4),
                                 Dim("cart mass", "masscart", 0.25, 4.0),
                                 Dim("force magnitude", "force_mag", 2.5, 40.0))),
    "pendulum": ("Pendulum-v1", (Dim("mass", "m", 0.25, 4.0),
                                 Dim("length", "l", 0.25, 4.0),
                                 Dim("gravity", "g", 2.5, 20.0))),
}


def _specs() -> dict[str, SetSpec]:
    specs = {}
    for env, dims in _BRAX_DIMS.items():
        for k in range(1, len(dims) + 1):
            name = f"{env.replace('_', '-')}-{k}d"
            first = _BRAX_ONE_DIM.get(env, dims[:1]) if k == 1 else dims[:k]
            specs[name] = SetSpec(name, f"brax/{env}", first, _M2TD3)
    for prefix, (env, dims) in _CLASSIC_DIMS.items():
        for k in range(1, len(dims) + 1):
            name = f"{prefix}-{k}d"
            specs[name] = SetSpec(name, env, dims[:k], "rldisco")
    return specs


SPECS: dict[str, SetSpec] = _specs()


def space_names() -> list[str]:
    """Every named uncertainty set."""
    return list(SPECS)


def spec(name: str) -> SetSpec:
    """The `SetSpec` of `name`, or a ValueError that lists the known sets."""
    if name not in SPECS:
        close = difflib.get_close_matches(name, SPECS, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown uncertainty set '{name}'.{hint} Known sets: "
                         f"{', '.join(SPECS)}")
    return SPECS[name]


Setter = Callable[[Any, jax.Array], Any]
Getter = Callable[[Any], jax.Array]


class UncertaintySet:
    """A box of absolute physical values over one environment's EnvParams.

    `values`, `from_unit`, `params` and `sample` are pure and jittable; `from_unit` and
    `params` act on one point (vmap them for batches).
    """

    def __init__(self, set_spec: SetSpec, env: Any, base: Any):
        self.spec = set_spec
        self.env = env
        self.base = base
        self.low = np.asarray([d.low for d in set_spec.dims], np.float32)
        self.high = np.asarray([d.high for d in set_spec.dims], np.float32)
        derive = _derive(set_spec.env, base)
        pairs = [_target(env, base, d.target, set_spec.name, derive) for d in set_spec.dims]
        self._setters: list[Setter] = [s for s, _ in pairs]
        self._getters: list[Getter] = [g for _, g in pairs]
        self.nominal = np.asarray(self.read(base), np.float32)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return len(self.spec.dims)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(d.label for d in self.spec.dims)

    def values(self, u: jax.Array) -> jax.Array:
        """Physical values of unit-cube points `u` ([..., d], clipped to [0, 1])."""
        u = jnp.clip(jnp.asarray(u, jnp.float32), 0.0, 1.0)
        return self.low + u * (self.high - self.low)

    def params(self, values: jax.Array) -> Any:
        """The base EnvParams with the physical `values` ([d]) set."""
        params = self.base
        for i, setter in enumerate(self._setters):
            params = setter(params, jnp.asarray(values[i], jnp.float32))
        return params

    def from_unit(self, u: jax.Array) -> Any:
        """EnvParams of one unit-cube point `u` ([d])."""
        return self.params(self.values(u))

    def read(self, params: Any) -> jax.Array:
        """The set's physical values in one EnvParams ([d]), the inverse of `params`."""
        return jnp.stack([jnp.asarray(g(params), jnp.float32) for g in self._getters])

    def unit_grid(self, points_per_dim: int) -> np.ndarray:
        """The full grid, `points_per_dim` evenly spaced values per dimension with both bounds
        included (numpy's linspace, as RRLS builds its evaluation grid): [points^d, d], the
        last dimension varying fastest."""
        if int(points_per_dim) < 1:
            raise ValueError(f"grid: points per dimension must be >= 1, got {points_per_dim}")
        axis = np.linspace(0.0, 1.0, int(points_per_dim)) if points_per_dim > 1 else \
            np.asarray([0.5])
        mesh = np.meshgrid(*([axis] * self.dim), indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=-1).astype(np.float32)

    def grid(self, points_per_dim: int) -> Any:
        """EnvParams of `unit_grid(points_per_dim)`, with a leading axis of the grid's size."""
        return jax.vmap(self.from_unit)(jnp.asarray(self.unit_grid(points_per_dim)))

    def sample(self, key: jax.Array, n: int) -> Any:
        """`n` uniform draws (domain randomisation over the set): EnvParams with a leading
        axis `n` (the shape `environment_design.space_generator` expects)."""
        return jax.vmap(self.from_unit)(jax.random.uniform(key, (n, self.dim)))

    def describe(self) -> str:
        """One line per dimension: label, range and the adapter's nominal value."""
        return "; ".join(f"{d.label} [{d.low:g}, {d.high:g}] (nominal {v:.3g})"
                         for d, v in zip(self.spec.dims, self.nominal, strict=True))

    def __repr__(self) -> str:
        return f"UncertaintySet({self.name!r} on {self.spec.env}: {self.describe()})"


def make_space(name: str, **make_kwargs: Any) -> UncertaintySet:
    """The named set on its environment (`envs.make(spec.env, **make_kwargs)`, e.g.
    `backend="generalized"` for brax)."""
    set_spec = spec(name)
    env, base = envs.make(set_spec.env, **make_kwargs)
    return UncertaintySet(set_spec, env, base)


def _target(env: Any, base: Any, target: str, set_name: str,
            derive: Callable[[Any], Any]) -> tuple[Setter, Getter]:
    """(setter, getter) of one dimension's target on `env`'s EnvParams (`derive` recomputes
    the fields gymnax pre-computes, e.g. CartPole's total_mass)."""
    if target == "friction":
        nominal = float(np.asarray(env.base_sys.geom_friction)[0, 0])  # the floor's
        return (lambda p, v: p.replace(friction_scale=v / nominal),
                lambda p: jnp.asarray(p.friction_scale) * nominal)
    if target.startswith("mass:"):
        link = target.split(":", 1)[1]
        names = list(env.base_sys.link_names)
        if link not in names:
            raise ValueError(f"uncertainty set '{set_name}': {env!r} has no link '{link}' "
                             f"(links: {names})")
        i = names.index(link)
        nominal = float(np.asarray(env.base_sys.link.inertia.mass)[i])
        return (lambda p, v: p.replace(mass_scale=jnp.asarray(p.mass_scale).at[i].set(
                    v / nominal)),
                lambda p: jnp.asarray(p.mass_scale)[i] * nominal)
    if not hasattr(base, target):
        raise ValueError(f"uncertainty set '{set_name}': '{target}' is not a field of "
                         f"{type(base).__name__}")
    return (lambda p, v: derive(p.replace(**{target: v})),
            lambda p: jnp.asarray(getattr(p, target)))




def _derive(env_name: str, base: Any) -> Callable[[Any], Any]:
    """The derived-field update of the environment's default ParamSpace (identity if none)."""
    if envs.family(env_name).name != "gymnax":
        return lambda p: p
    derive = envs.default_param_space(env_name, base).derive
    return derive if derive is not None else (lambda p: p)
