"""Type checks of configuration values against their dataclass annotations.

Every config dataclass calls `check_fields(self, prefix)` first in `__post_init__`, so a value
of the wrong type fails at construction with one line naming the field, before range checks
(which then never see NaN, infinity or a bool posing as an int) and long before jax.

Accepted forms, by annotation:
  int              an integer (numpy's too, not a bool); a whole number written as text
                   (`"1e8"`) or as a float (`8.0`)
  float            a finite real number; a number written as text (`"3e-4"`: YAML 1.1 reads
                   exponents without a dot as strings)
  bool, str        exactly that type
  X | None         None or an X
  tuple[T, ...]    a list or tuple of T (stored as a tuple); never a bare string
  dict[...]        a mapping
  a dataclass      an instance of it
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any

INT_BOUND = 2**63  # integers go to jax/numpy as int64 at most


def check_fields(obj: Any, prefix: str = "") -> None:
    """Check (and normalise in place) every field of the frozen dataclass `obj`.

    `prefix` names the section in messages (`"es"` gives `es.lr must be ...`).
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = check_value(value, hints[f.name], _join(prefix, f.name))
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def check_options(cls: type, options: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`options` (keyword arguments of the dataclass `cls`) checked against its annotations."""
    hints = typing.get_type_hints(cls)
    return {k: check_value(v, hints[k], _join(prefix, k)) if k in hints else v
            for k, v in options.items()}


def check_value(value: Any, hint: Any, name: str) -> Any:
    """`value` as a `hint`, or a ValueError naming `name`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return check_value(value, options[0], name)
        return value  # a union of several real types: left to the field's own checks
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        return _integer(value, name)
    if hint is float:
        return _number(value, name)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    if origin is tuple:
        return _tuple(value, args, name)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a mapping, got {value!r}")
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise ValueError(f"{name} must be a {hint.__name__} (a mapping of its fields), "
                             f"got {value!r}")
        return value
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, str):
        value = _parse_number(value, name, "an integer")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not -INT_BOUND <= value < INT_BOUND:
        raise ValueError(f"{name} must fit in 64 bits, got {value!r}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, str):
        value = _parse_number(value, name, "a number")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy's bool too


def _parse_number(text: str, name: str, what: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {text!r}") from None


def _tuple(value: Any, args: tuple, name: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        kind = "the string" if isinstance(value, str) else "the value"
        raise ValueError(f"{name} must be a list, got {kind} {value!r}"
                         + (f" (write [{value}])" if isinstance(value, str) else ""))
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(check_value(v, args[0], f"{name}[{i}]") for i, v in enumerate(value))
    if len(args) != len(value):
        raise ValueError(f"{name} must have {len(args)} entries, got {value!r}")
    return tuple(check_value(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(args, value,
                                                                                    strict=True)))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
