"""The shape every outer loop has for `run_discovery`: ES and meta-gradients alike.

A run advances an outer loop in jitted chunks of `generations` (ES generations or meta-steps),
logs one metrics row per generation, checkpoints the loop's state between chunks, and saves the
meta-parameters it would hand to a user (the ES mean, or the meta-gradient's parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax


@dataclass(frozen=True)
class OuterLoop:
    """The pure pieces of one outer loop.

    init() -> state
    chunk(state, start, length) -> (state, log)  (jitted; `length` static; log has a leading
        axis of `length`; generation g uses the key `fold_in(k_gen, g)`)
    meta_params(state) -> the meta-parameters to save (the discovered rule)
    records(start, log) -> one metrics row per generation of a host-side chunk log
    score(meta_params, generation) -> the fitness of those meta-parameters as generation
        `generation` would score them, or None (the loop does not score a rule alone); ES
        loops also take `levels_state=` (default: the level source's initial state), e.g.
        the final worst-case set of a robust run
    label: what one generation is, for messages ("generation", "meta-step")
    """

    init: Callable[[], Any]
    chunk: Callable[[Any, jax.Array, int], tuple[Any, Any]]
    meta_params: Callable[[Any], Any]
    records: Callable[[int, Any], list[dict[str, Any]]]
    score: Callable[[Any, int], float | None]
    label: str = "generation"
