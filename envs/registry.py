"""One name -> (env, default_params) registry over every environment family.

Families are imported lazily, so `import envs` stays cheap and brax is only loaded when a brax
environment is made.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.families import BRAX, GYMNAX, MANIPULATION, Family
from envs.params import Box, ParamSpace

GYMNAX_ENVS = (
    "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0",
    "Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar", "SpaceInvaders-MinAtar",
)
BRAX_ENVS = ("ant", "halfcheetah", "hopper", "walker2d", "humanoid", "inverted_pendulum",
             "inverted_double_pendulum", "reacher", "swimmer", "pusher")
GRIDWORLD_LEVELS = ("dense", "sparse", "long", "longer", "longer_groove", "long_dense",
                    "rand_dense", "rand_long",
                    "rand_small", "rand_sparse", "rand_very_dense", "rand_tiny",
                    # level distributions (the default params are one fixed draw)
                    "small", "medium", "large", "all", "rand_all", "all_shortlife",
                    "all_randlife", "all_vrandlife", "debug", "tabular")
METAWORLD_TASKS = ("reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
                   "button-press-topdown", "peg-insert-side", "window-open", "window-close",
                   "sweep", "basketball", "door-close", "shelf-place", "sweep-into", "lever-pull",
                   "reach-wall", "push-wall", "pick-place-wall", "button-press-topdown-wall",
                   "button-press", "button-press-wall", "handle-press", "handle-press-side",
                   "plate-slide", "plate-slide-side", "plate-slide-back", "plate-slide-back-side",
                   "push-back", "coffee-button", "dial-turn", "faucet-open", "faucet-close",
                   "door-lock", "door-unlock", "coffee-push", "coffee-pull",
                   "hand-insert", "pick-out-of-hole", "box-close",
                   "bin-picking", "disassemble", "peg-unplug-side", "assembly", "hammer",
                   "stick-push", "stick-pull", "soccer", "handle-pull", "handle-pull-side")

# Classic-control physical constants that make sense to vary (roughly 0.5x - 2x the default).
_GYMNAX_SPACES: dict[str, dict[str, Box]] = {
    "CartPole-v1": {"gravity": Box(4.9, 19.6), "masscart": Box(0.5, 2.0),
                    "masspole": Box(0.05, 0.2), "length": Box(0.25, 1.0),
                    "force_mag": Box(5.0, 20.0)},
    "Acrobot-v1": {"link_mass_1": Box(0.5, 2.0), "link_mass_2": Box(0.5, 2.0),
                   "link_length_1": Box(0.5, 2.0), "link_length_2": Box(0.5, 2.0)},
    "Pendulum-v1": {"g": Box(5.0, 15.0), "m": Box(0.5, 2.0), "l": Box(0.5, 2.0)},
    "MountainCar-v0": {"force": Box(0.0005, 0.002), "gravity": Box(0.00125, 0.005)},
    "MountainCarContinuous-v0": {"power": Box(0.00075, 0.003)},
}

# Fields that gymnax stores pre-computed and must follow the ones a ParamSpace changes.
_GYMNAX_DERIVED: dict[str, Callable[[Any], Any]] = {
    "CartPole-v1": lambda p: p.replace(total_mass=p.masscart + p.masspole,
                                       polemass_length=p.masspole * p.length),
}


def _make_gymnax(name: str) -> tuple[Any, Any]:
    import gymnax

    return gymnax.make(name)


def _lazy(module: str, function: str) -> Callable[[], Callable[..., Any]]:
    return lambda: getattr(importlib.import_module(module), function)


# prefix -> (loader of the family's factory `f(short_name, *, options...)`, names)
_FAMILIES: dict[str, tuple[Callable[[], Callable[..., Any]], tuple[str, ...]]] = {
    "": (lambda: _make_gymnax, GYMNAX_ENVS),
    "brax/": (_lazy("envs.brax", "make_brax"), BRAX_ENVS),
    "gridworld/": (_lazy("envs.gridworld", "make_gridworld"), GRIDWORLD_LEVELS),
    "metaworld/": (_lazy("envs.manipulation", "make_task"), METAWORLD_TASKS),
}


def registered_names() -> list[str]:
    """Every name `make` accepts."""
    return [prefix + n for prefix, (_, names) in _FAMILIES.items() for n in names]


def _resolve(name: str) -> tuple[str, str]:
    """(family prefix, short name), or a ValueError listing close matches."""
    for prefix, (_, names) in _FAMILIES.items():
        if prefix and name.startswith(prefix) and name[len(prefix):] in names:
            return prefix, name[len(prefix):]
    if name in GYMNAX_ENVS:
        return "", name
    close = difflib.get_close_matches(name, registered_names(), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown environment '{name}'.{hint} Known environments: "
                     f"{', '.join(registered_names())}")


def family(name: str) -> Family:
    """The `Family` (its facts: train preset, level distributions, exact optimum) of a
    registered environment name."""
    prefix, _ = _resolve(name)
    if prefix == "gridworld/":
        return importlib.import_module("envs.gridworld.family").FAMILY
    return {"": GYMNAX, "brax/": BRAX, "metaworld/": MANIPULATION}[prefix]


def short_name(name: str) -> str:
    """The name within its family (`gridworld/small` -> `small`)."""
    return _resolve(name)[1]


def make(name: str, **overrides: Any) -> tuple[Any, Any]:
    """Build an environment by name: `env, params = make("CartPole-v1", gravity=12.0)`.

    Keyword overrides that the family's constructor accepts (e.g. `backend="spring"` for brax)
    go to the constructor; the rest replace fields of the default EnvParams. An override that is
    neither fails with the list of valid fields.
    """
    prefix, short = _resolve(name)
    factory = _FAMILIES[prefix][0]()
    sig = inspect.signature(factory)
    ctor_names = {p for p, v in sig.parameters.items() if v.kind is v.KEYWORD_ONLY}
    ctor = {k: v for k, v in overrides.items() if k in ctor_names}
    env, params = factory(short, **ctor)
    rest = {k: v for k, v in overrides.items() if k not in ctor}
    if rest:
        fields = {f.name for f in dataclasses.fields(params)}
        bad = sorted(set(rest) - fields)
        if bad:
            raise ValueError(f"make('{name}'): unknown override(s) {bad}; EnvParams fields are "
                             f"{sorted(fields)}" + (f", constructor options {sorted(ctor_names)}"
                                                    if ctor_names else ""))
        for field, value in rest.items():
            _check_param_value(name, field, getattr(params, field), value)
        params = params.replace(**rest)
        if prefix == "" and short in _GYMNAX_DERIVED:
            params = _GYMNAX_DERIVED[short](params)
    return env, params


def _check_param_value(env_name: str, field: str, default: Any, value: Any) -> None:
    """An EnvParams override must be numeric (bool only where the default is) and broadcast to
    the default's shape, so a wrong value fails here rather than deep inside a jitted step."""
    kind = _dtype_kind(default)
    try:
        value_kind = _dtype_kind(value)
        shape_ok = np.broadcast_shapes(np.shape(value), np.shape(default)) == np.shape(default)
    except (TypeError, ValueError):
        value_kind, shape_ok = "O", False
    numeric = value_kind in "iuf" or (value_kind == "b" and kind == "b")
    if not numeric or not shape_ok:
        raise ValueError(f"make('{env_name}'): {field} must be "
                         f"{'a boolean' if kind == 'b' else 'a number'} of shape "
                         f"{np.shape(default)} like its default {default!r}, got {value!r}")


def _dtype_kind(x: Any) -> str:
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype if dtype is not None else np.asarray(x).dtype).kind


def default_param_space(name: str, params: Any | None = None) -> ParamSpace:
    """The default ParamSpace of an environment (physical constants, masses, level fields)."""
    prefix, short = _resolve(name)
    if params is None:
        _, params = make(name)
    if prefix == "":
        if short not in _GYMNAX_SPACES:
            raise ValueError(f"No default ParamSpace for '{name}' (it has no physical "
                             f"constants worth varying); build one with envs.ParamSpace")
        return ParamSpace(params, derive=_GYMNAX_DERIVED.get(short), **_GYMNAX_SPACES[short])
    module = {"brax/": "envs.brax", "gridworld/": "envs.gridworld",
              "metaworld/": "envs.manipulation"}[prefix]
    return importlib.import_module(module).default_param_space(params)
