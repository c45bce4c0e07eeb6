"""The one interface of environment design: a `LevelSource` (jaxued's `LevelSampler` shape).

Static hyperparameters live on the object; everything that changes lives in a fixed-shape
state pytree `S` (a dict of arrays) passed in and out of pure, jittable functions:

    state = source.init(key)
    state, levels = source.sample(state, key, n)          # n static; levels: Level [n]
    state = source.update(state, key, levels, scores, extras)

`sample` records in `state` what it handed out (which buffer slots, replay or new), so
`update` knows what its `scores` ([n], higher = more useful to train on) and `extras` (a dict
of [n] arrays, e.g. a reference algorithm's return) refer to. Fixed environments, domain
randomisation, PLR/ACCEL buffers and a worst-case set of dynamics are all level sources; the
outer loop carries `(es_state, S)` through its jitted scan and checkpoints both.

This package sees only arrays: where a score needs agents trained, the caller (`discovery`)
computes it and passes it in.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from envs.params import Level

State = dict[str, Any]


@runtime_checkable
class LevelSource(Protocol):
    """Where the levels an agent (or a population's agents) trains on come from."""

    def init(self, key: jax.Array) -> State:
        """The initial state (fixed shapes: it is carried through `lax.scan` and saved)."""

    def sample(self, state: State, key: jax.Array, n: int) -> tuple[State, Level]:
        """`n` levels (a batched `Level`) and the state that remembers handing them out."""

    def update(self, state: State, key: jax.Array, levels: Level, scores: jax.Array,
               extras: dict[str, jax.Array]) -> State:
        """Take the scores ([n]) and extras of the levels the last `sample` handed out."""
