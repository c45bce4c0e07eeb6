"""Levels, and ParamSpace: which fields of an EnvParams pytree vary, and within what bounds.

A level and a dynamics model are both EnvParams values; a `Level` pairs one with the agent
lifetime (in updates) that goes with it. A ParamSpace is the set the curriculum samples and
mutates in and the robust search optimises over. All methods are pure and jittable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Level:
    """An environment's parameters and the agent lifetime (number of agent updates) that goes
    with them; add leading axes for batches of levels."""

    params: Any
    lifetime: jax.Array  # int32 ()


@dataclass(frozen=True)
class Box:
    """A continuous (or integer) interval; scalar or array bounds broadcast to the field's shape.

    `log=True` samples and mutates log-uniformly (both bounds must be > 0).
    `integer=True` rounds values to the nearest integer after every operation.
    """

    low: Any
    high: Any
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Choice:
    """A finite set of allowed values for a scalar field."""

    values: tuple


class ParamSpace:
    """A box/choice space over named fields of an EnvParams pytree.

    >>> space = ParamSpace(params, gravity=Box(5.0, 15.0), length=Box(0.25, 1.0))
    >>> levels = space.sample(key, 64)          # EnvParams with a leading axis of 64
    """

    def __init__(self, base: Any, derive: Callable[[Any], Any] | None = None,
                 **fields: Box | Choice):
        """`derive` recomputes dependent fields (e.g. CartPole's total_mass) after a change."""
        if not fields:
            raise ValueError("ParamSpace needs at least one field")
        self.base = base
        self.derive = derive
        self.fields: dict[str, Box | Choice] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._dtypes: dict[str, Any] = {}
        self._bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, spec in fields.items():
            if not hasattr(base, name):
                known = ", ".join(sorted(_field_names(base)))
                raise ValueError(f"ParamSpace field '{name}' is not a field of "
                                 f"{type(base).__name__} (fields: {known})")
            value = np.asarray(getattr(base, name))
            self._shapes[name] = value.shape
            self._dtypes[name] = _jax_dtype(value.dtype)
            if isinstance(spec, Choice):
                if value.shape != () or len(spec.values) == 0:
                    raise ValueError(f"ParamSpace field '{name}': Choice needs a scalar field "
                                     "and at least one value")
                vals = np.asarray(spec.values, dtype=np.float64)
                low, high = vals.min(), vals.max()
                self._bounds[name] = (np.full(value.shape, low), np.full(value.shape, high))
            elif isinstance(spec, Box):
                low = np.broadcast_to(np.asarray(spec.low, np.float64), value.shape)
                high = np.broadcast_to(np.asarray(spec.high, np.float64), value.shape)
                if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                    raise ValueError(f"ParamSpace field '{name}': bounds must be finite")
                if np.any(low > high):
                    raise ValueError(f"ParamSpace field '{name}': low {spec.low} > high "
                                     f"{spec.high}")
                if spec.log and np.any(low <= 0):
                    raise ValueError(f"ParamSpace field '{name}': log-scale bounds must be > 0")
                self._bounds[name] = (low.copy(), high.copy())
            else:
                raise TypeError(f"ParamSpace field '{name}': expected Box or Choice, got "
                                f"{type(spec).__name__}")
            self.fields[name] = spec

    # ------------------------------------------------------------------ shape helpers
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    @property
    def dim(self) -> int:
        """Length of the flat vector (`to_vector`)."""
        return int(sum(math.prod(s) for s in self._shapes.values()))

    @property
    def low(self) -> jax.Array:
        return jnp.concatenate([jnp.ravel(self._bounds[n][0]) for n in self.names]).astype(
            jnp.float32)

    @property
    def high(self) -> jax.Array:
        return jnp.concatenate([jnp.ravel(self._bounds[n][1]) for n in self.names]).astype(
            jnp.float32)

    def _with(self, params: Any, values: dict[str, jax.Array]) -> Any:
        cast = {n: jnp.asarray(v).astype(self._dtypes[n]) for n, v in values.items()}
        params = params.replace(**cast)
        return self.derive(params) if self.derive is not None else params

    def _finish(self, name: str, x: jax.Array) -> jax.Array:
        """Clip to bounds, snap choices and integers."""
        spec = self.fields[name]
        low, high = self._bounds[name]
        x = jnp.clip(x, low, high)
        if isinstance(spec, Choice):
            vals = jnp.asarray(spec.values, jnp.float32)
            x = vals[jnp.argmin(jnp.abs(x[..., None] - vals), axis=-1)]
        elif spec.integer:
            x = jnp.round(x)
        return x

    # ------------------------------------------------------------------ public API
    def sample(self, key: jax.Array, n: int) -> Any:
        """`n` uniform (log-uniform where asked) draws, as EnvParams with a leading axis `n`."""
        keys = jax.random.split(key, len(self.names))
        values = {}
        for k, name in zip(keys, self.names, strict=True):
            spec, shape = self.fields[name], (n, *self._shapes[name])
            low, high = self._bounds[name]
            if isinstance(spec, Choice):
                vals = jnp.asarray(spec.values, jnp.float32)
                x = vals[jax.random.randint(k, shape, 0, len(spec.values))]
            elif spec.log:
                u = jax.random.uniform(k, shape)
                x = jnp.exp(jnp.log(low) + u * (jnp.log(high) - jnp.log(low)))
            else:
                x = jax.random.uniform(k, shape, minval=low, maxval=high)
                if spec.integer:  # uniform over the integers low..high inclusive
                    x = jnp.floor(jax.random.uniform(k, shape, minval=low, maxval=high + 1))
            values[name] = self._finish(name, x)
        return self._with(_broadcast(self.base, n), values)

    def grid(self, points_per_dim: int) -> Any:
        """The full tensor grid (`points_per_dim` per vector dimension; every value of a Choice).

        Returns EnvParams with a leading axis of the grid's size.
        """
        if points_per_dim < 1:
            raise ValueError("grid: points_per_dim must be >= 1")
        axes = []
        for name in self.names:
            spec = self.fields[name]
            low, high = self._bounds[name]
            for lo, hi in zip(np.ravel(low), np.ravel(high), strict=True):
                if isinstance(spec, Choice):
                    axes.append(np.asarray(sorted(set(spec.values)), np.float64))
                elif spec.log:
                    axes.append(np.geomspace(lo, hi, points_per_dim))
                elif spec.integer:
                    axes.append(np.unique(np.round(np.linspace(lo, hi, points_per_dim))))
                else:
                    axes.append(np.linspace(lo, hi, points_per_dim))
        mesh = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=-1)
        return jax.vmap(self.from_vector)(jnp.asarray(mesh, jnp.float32))

    def mutate(self, key: jax.Array, params: Any, scale: float) -> Any:
        """Gaussian perturbation of each field by `scale` x its range (in log space where asked).

        A Choice field is resampled with probability `scale`. The result is clipped.
        """
        keys = jax.random.split(key, len(self.names))
        values = {}
        for k, name in zip(keys, self.names, strict=True):
            spec = self.fields[name]
            low, high = self._bounds[name]
            x = jnp.asarray(getattr(params, name), jnp.float32)
            if isinstance(spec, Choice):
                k1, k2 = jax.random.split(k)
                vals = jnp.asarray(spec.values, jnp.float32)
                new = vals[jax.random.randint(k1, x.shape, 0, len(spec.values))]
                x = jnp.where(jax.random.uniform(k2, x.shape) < scale, new, x)
            elif spec.log:
                span = np.log(high) - np.log(low)
                x = jnp.exp(jnp.log(x) + scale * span * jax.random.normal(k, x.shape))
            else:
                x = x + scale * (high - low) * jax.random.normal(k, x.shape)
            values[name] = self._finish(name, x)
        return self._with(params, values)

    def clip(self, params: Any) -> Any:
        """Project each field onto its bounds (and onto the allowed choices / integers)."""
        return self._with(params, {n: self._finish(n, jnp.asarray(getattr(params, n),
                                                                  jnp.float32))
                                   for n in self.names})

    def to_vector(self, params: Any) -> jax.Array:
        """The varying fields of one EnvParams as a flat float32 vector (in field order)."""
        return jnp.concatenate([jnp.ravel(jnp.asarray(getattr(params, n), jnp.float32))
                                for n in self.names])

    def from_vector(self, vector: jax.Array) -> Any:
        """Inverse of `to_vector` on top of `base` (the vector is clipped into the space)."""
        values, i = {}, 0
        for name in self.names:
            shape = self._shapes[name]
            size = math.prod(shape)
            values[name] = self._finish(name, jnp.reshape(vector[i:i + size], shape))
            i += size
        return self._with(self.base, values)

    def contains(self, params: Any) -> jax.Array:
        """True where every field lies within its bounds."""
        ok = jnp.array(True)
        for name in self.names:
            low, high = self._bounds[name]
            x = jnp.asarray(getattr(params, name))
            axes = tuple(range(x.ndim - len(self._shapes[name]), x.ndim))
            inside = jnp.all((x >= low - 1e-6) & (x <= high + 1e-6), axis=axes)
            ok = ok & inside
        return ok

    def __repr__(self) -> str:
        parts = [f"{n}={s}" for n, s in self.fields.items()]
        return f"ParamSpace({type(self.base).__name__}: {', '.join(parts)})"


def _field_names(params: Any) -> list[str]:
    fields = getattr(params, "__dataclass_fields__", None)
    return list(fields) if fields else [k for k in vars(params) if not k.startswith("_")]


def _broadcast(params: Any, n: int) -> Any:
    return jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (n, *jnp.shape(x))), params)


def _jax_dtype(dtype: np.dtype) -> np.dtype:
    """Python floats/ints become float32/int32 (jax's default precision)."""
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32)
    if np.issubdtype(dtype, np.integer):
        return np.dtype(np.int32)
    return dtype
