"""Prioritised level replay (PLR, robust PLR) and ACCEL, with jaxued's buffer semantics.

`LevelBuffer` is the data structure: static hyperparameters on the object, the buffer itself a
dict of arrays (jaxued's `LevelSampler` layout) that every method takes and returns:

    buffer = {
        "levels":        Level [C, ...]   (any pytree of arrays; slots >= size are placeholders)
        "scores":        float32 [C]      (-inf where empty; higher = more useful to train on)
        "timestamps":    int32 [C]        (episode_count when the slot was last handed out)
        "size":          int32 ()         (filled slots are 0..size-1)
        "episode_count": int32 ()         (levels handed out so far: replays plus insert attempts)
        "levels_extra":  {name: float32 [C]}  (per-level bookkeeping, e.g. "max_return")
    }

`PLR` and `ACCEL` are `LevelSource`s built on it. Their state adds what the last `sample` did:

    state = {"buffer": buffer,
             "last": {"kind":  int32 ()  (SampleKind: NEW, REPLAY or MUTATION),
                      "slots": int32 [C] (replayed slots in order, -1 past the batch / if new),
                      "train": bool ()   (False only under robust PLR on a non-replay batch)}}

Weights follow Jiang et al. 2021 as jaxued computes them: rank prioritisation
`(1/rank)^(1/temperature)` with ranks from 1 (or a softmax of the scores of the top k levels),
mixed with staleness `episode_count - timestamp` as `(1 - staleness_coeff) * score +
staleness_coeff * staleness`. (minimax before v0.2 divided by the temperature instead of raising
to 1/temperature, and ranked from 0, dividing by zero.)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp

from environment_design.sources import Generator, Mutate
from envs.params import Level

Buffer = dict[str, Any]
State = dict[str, Any]
Prioritization = Literal["rank", "topk"]


class SampleKind(enum.IntEnum):
    """What a `sample` handed out (stored as `state["last"]["kind"]`)."""

    NEW = 0  # fresh levels from the generator; `update` inserts them
    REPLAY = 1  # levels replayed from the buffer; `update` rescores their slots
    MUTATION = 2  # ACCEL: mutations of the last replayed levels; `update` inserts them


class LevelBuffer:
    """A fixed-capacity buffer of levels with PLR's replay distribution (jaxued semantics).

    Insertion fills empty slots first; once full, a level replaces the slot of lowest replay
    weight, and only if its score is strictly higher than that slot's (so a level scored -inf
    is never inserted). With `duplicate_check`, a level equal (leaf by leaf) to a stored one
    updates that slot's score and extras instead. Replay is only possible once the buffer is at
    least `minimum_fill_ratio` full (and never from an empty buffer), then with probability
    `replay_prob`.

    `extras` names the per-level bookkeeping arrays and their value for a fresh level, e.g.
    `{"max_return": -jnp.inf, "reference_return": jnp.nan}`.

    Defaults: the published PLR/ACCEL settings (capacity 4000, replay_prob 0.5, staleness 0.3,
    temperature 0.3) and jaxued's example configs (minimum fill ratio 0.5, top-k 4, duplicate
    check on).
    """

    def __init__(self, capacity: int = 4000, *, replay_prob: float = 0.5,
                 staleness_coeff: float = 0.3, temperature: float = 0.3,
                 prioritization: Prioritization = "rank", top_k: int = 4,
                 minimum_fill_ratio: float = 0.5, duplicate_check: bool = True,
                 extras: Mapping[str, float] | None = None):
        if int(capacity) < 1:
            raise ValueError(f"LevelBuffer: capacity must be >= 1, got {capacity}")
        for name, value in (("replay_prob", replay_prob), ("staleness_coeff", staleness_coeff),
                            ("minimum_fill_ratio", minimum_fill_ratio)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LevelBuffer: {name} must lie in [0, 1], got {value}")
        if prioritization not in ("rank", "topk"):
            raise ValueError(f"LevelBuffer: prioritization must be 'rank' or 'topk', got "
                             f"{prioritization!r}")
        if temperature <= 0.0:
            raise ValueError(f"LevelBuffer: temperature must be > 0, got {temperature}")
        if int(top_k) < 1:
            raise ValueError(f"LevelBuffer: top_k must be >= 1, got {top_k}")
        self.capacity = int(capacity)
        self.replay_prob = float(replay_prob)
        self.staleness_coeff = float(staleness_coeff)
        self.temperature = float(temperature)
        self.prioritization = prioritization
        self.top_k = int(top_k)
        self.minimum_fill_ratio = float(minimum_fill_ratio)
        self.duplicate_check = bool(duplicate_check)
        self.extras = {name: float(value) for name, value in (extras or {}).items()}

    # ------------------------------------------------------------------ state
    def init(self, template: Any) -> Buffer:
        """An empty buffer whose slots hold copies of `template` (one unbatched level)."""
        c = self.capacity
        return {
            "levels": jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], c, axis=0),
                                   template),
            "scores": jnp.full(c, -jnp.inf, jnp.float32),
            "timestamps": jnp.zeros(c, jnp.int32),
            "size": jnp.asarray(0, jnp.int32),
            "episode_count": jnp.asarray(0, jnp.int32),
            "levels_extra": {name: jnp.full(c, value, jnp.float32)
                             for name, value in self.extras.items()},
        }

    def filled(self, buffer: Buffer) -> jax.Array:
        """bool [C]: which slots hold a level."""
        return jnp.arange(self.capacity) < buffer["size"]

    # ------------------------------------------------------------------ weights
    def score_weights(self, buffer: Buffer) -> jax.Array:
        """float32 [C]: the score part of the replay distribution (0 on empty slots)."""
        filled = self.filled(buffer)
        masked = jnp.where(filled, buffer["scores"], -jnp.inf)
        order = jnp.argsort(-masked)  # stable: ties go to the lower slot
        if self.prioritization == "rank":
            ranks = jnp.zeros_like(order).at[order].set(jnp.arange(self.capacity) + 1)
            w = jnp.where(filled, 1.0 / ranks, 0.0) ** (1.0 / self.temperature)
            return w / w.sum()
        k = jnp.minimum(buffer["size"], self.top_k)
        in_top = jnp.zeros(self.capacity, bool).at[order].set(jnp.arange(self.capacity) < k)
        return jax.nn.softmax(buffer["scores"], where=in_top)

    def staleness_weights(self, buffer: Buffer) -> jax.Array:
        """float32 [C]: staleness `episode_count - timestamp` normalised over filled slots
        (uniform over them when all are fresh)."""
        filled = self.filled(buffer)
        staleness = jnp.where(filled, buffer["episode_count"] - buffer["timestamps"], 0)
        total = staleness.sum()
        return jnp.where(total > 0, staleness / total, filled / buffer["size"])

    def weights(self, buffer: Buffer) -> jax.Array:
        """float32 [C]: the replay distribution (sums to 1 once a slot is filled)."""
        return self._mix(self.score_weights(buffer), self.staleness_weights(buffer))

    def _mix(self, score_w: jax.Array, staleness_w: jax.Array) -> jax.Array:
        return (1.0 - self.staleness_coeff) * score_w + self.staleness_coeff * staleness_w

    # ------------------------------------------------------------------ replay
    def replay_decision(self, buffer: Buffer, key: jax.Array) -> jax.Array:
        """bool (): replay (True) or draw new levels; never below the minimum fill ratio."""
        full_enough = (buffer["size"] / self.capacity >= self.minimum_fill_ratio) & (
            buffer["size"] > 0)
        return full_enough & (jax.random.uniform(key) < self.replay_prob)

    def sample(self, buffer: Buffer, key: jax.Array, n: int) -> tuple[Buffer, jax.Array, Any]:
        """`n` slots drawn one after another from the replay distribution (with replacement).

        Each draw counts one episode and stamps its slot, so staleness moves within the batch
        as in jaxued. Returns (buffer, slots int32 [n], levels [n]).
        """
        score_w = self.score_weights(buffer)  # scores and size do not change while sampling

        def draw(buf: Buffer, k: jax.Array) -> tuple[Buffer, jax.Array]:
            p = self._mix(score_w, self.staleness_weights(buf))
            slot = jax.random.choice(k, self.capacity, p=p).astype(jnp.int32)
            count = buf["episode_count"] + 1
            return {**buf, "episode_count": count,
                    "timestamps": buf["timestamps"].at[slot].set(count)}, slot

        buffer, slots = jax.lax.scan(draw, buffer, jax.random.split(key, n))
        return buffer, slots, self.gather(buffer, slots)

    def gather(self, buffer: Buffer, slots: jax.Array) -> Any:
        """The levels stored at `slots` (int [n]): a batched level [n]."""
        return jax.tree.map(lambda x: x[slots], buffer["levels"])

    # ------------------------------------------------------------------ insertion
    def find(self, buffer: Buffer, level: Any) -> jax.Array:
        """int32 (): the first filled slot holding a level equal to `level`, else -1."""
        same = [jnp.reshape(stored == jnp.asarray(x), (self.capacity, -1)).all(axis=-1)
                for stored, x in zip(jax.tree.leaves(buffer["levels"]), jax.tree.leaves(level),
                                     strict=True)]
        match = jnp.stack(same).all(axis=0) & self.filled(buffer)
        return jnp.where(match.any(), jnp.argmax(match), -1).astype(jnp.int32)

    def insert(self, buffer: Buffer, level: Any, score: jax.Array,
               extras: Mapping[str, jax.Array] | None = None) -> tuple[Buffer, jax.Array]:
        """Try to insert one level (unbatched) with its score and extras (scalars).

        Returns (buffer, slot), slot = -1 if the level was refused. Every call counts one
        episode. Extras not given get their fresh value in a new slot and stay as they were
        in a duplicate's slot.
        """
        extras = self.check_extras(extras or {})
        if not self.duplicate_check:
            return self._insert_new(buffer, level, score, extras)
        slot = self.find(buffer, level)
        return jax.lax.cond(slot >= 0,
                            lambda: self._refresh(buffer, slot, score, extras),
                            lambda: self._insert_new(buffer, level, score, extras))

    def insert_batch(self, buffer: Buffer, levels: Any, scores: jax.Array,
                     extras: Mapping[str, jax.Array] | None = None
                     ) -> tuple[Buffer, jax.Array]:
        """`insert` for each level of a batch in order (a `lax.scan`); scores and extras [n].

        Returns (buffer, slots int32 [n]) with -1 for refused levels.
        """
        extras = self.check_extras(extras or {})

        def one(buf: Buffer, item: tuple[Any, jax.Array, dict]) -> tuple[Buffer, jax.Array]:
            level, score, extra = item
            return self.insert(buf, level, score, extra)

        return jax.lax.scan(one, buffer, (levels, jnp.asarray(scores, jnp.float32), extras))

    def update_batch(self, buffer: Buffer, slots: jax.Array, scores: jax.Array,
                     extras: Mapping[str, jax.Array] | None = None) -> Buffer:
        """Set the scores (and given extras) of `slots` (int [n]); a slot listed twice takes its
        last value, as sequential updates would."""
        extras = self.check_extras(extras or {})
        n = slots.shape[0]
        later_same = (slots[None, :] == slots[:, None]) & (jnp.arange(n)[None, :] >
                                                           jnp.arange(n)[:, None])
        target = jnp.where(later_same.any(axis=1), self.capacity, slots)  # capacity: dropped

        def put(column: jax.Array, values: jax.Array) -> jax.Array:
            return column.at[target].set(jnp.asarray(values, column.dtype), mode="drop")

        new_extra = {name: put(col, extras[name]) if name in extras else col
                     for name, col in buffer["levels_extra"].items()}
        return {**buffer, "scores": put(buffer["scores"], scores), "levels_extra": new_extra}

    def _insert_new(self, buffer: Buffer, level: Any, score: jax.Array,
                    extras: Mapping[str, jax.Array]) -> tuple[Buffer, jax.Array]:
        slot = jnp.where(buffer["size"] < self.capacity, buffer["size"],
                         jnp.argmin(self.weights(buffer))).astype(jnp.int32)
        accept = buffer["scores"][slot] < score

        def put(column: jax.Array, value: jax.Array) -> jax.Array:
            return column.at[slot].set(jnp.where(accept, jnp.asarray(value, column.dtype),
                                                 column[slot]))

        count = buffer["episode_count"]
        new_extra = {name: put(col, extras.get(name, self.extras[name]))
                     for name, col in buffer["levels_extra"].items()}
        buffer = {
            "levels": jax.tree.map(put, buffer["levels"], level),
            "scores": put(buffer["scores"], score),
            "timestamps": put(buffer["timestamps"], count + 1),
            "size": jnp.where(accept, jnp.minimum(buffer["size"] + 1, self.capacity),
                              buffer["size"]),
            "episode_count": count + 1,
            "levels_extra": new_extra,
        }
        return buffer, jnp.where(accept, slot, -1).astype(jnp.int32)

    def _refresh(self, buffer: Buffer, slot: jax.Array, score: jax.Array,
                 extras: Mapping[str, jax.Array]) -> tuple[Buffer, jax.Array]:
        """A duplicate: new score and extras for its slot, stamped as just played."""
        count = buffer["episode_count"] + 1
        new_extra = {name: col.at[slot].set(jnp.asarray(extras[name], col.dtype))
                     if name in extras else col
                     for name, col in buffer["levels_extra"].items()}
        return {**buffer,
                "scores": buffer["scores"].at[slot].set(jnp.asarray(score, jnp.float32)),
                "timestamps": buffer["timestamps"].at[slot].set(count),
                "episode_count": count, "levels_extra": new_extra}, slot

    def check_extras(self, extras: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """`extras` as float32 arrays, or a ValueError naming any this buffer does not keep."""
        unknown = sorted(set(extras) - set(self.extras))
        if unknown:
            raise ValueError(f"LevelBuffer: unknown extras {unknown}; this buffer keeps "
                             f"{sorted(self.extras)} (pass them as `extras=` when building it)")
        return {name: jnp.asarray(value, jnp.float32) for name, value in extras.items()}


class PLR:
    """Prioritised level replay as a `LevelSource` (Jiang et al. 2021; jaxued's training loop).

    Each `sample` makes one replay decision: either `n` levels replayed from the buffer by
    weight, or `n` new levels from `generator` (domain randomisation). `update` then rescores
    the replayed slots, or inserts the new levels with their scores. With `robust=True`
    (robust PLR) `state["last"]["train"]` is True only for replayed batches: the caller
    evaluates new levels to score them but takes no learning step on them.

    The state is a dict of arrays (see the module docstring); `n <= buffer.capacity`.
    """

    def __init__(self, generator: Generator, buffer: LevelBuffer | None = None, *,
                 robust: bool = False):
        self.generator = generator
        self.buffer = buffer if buffer is not None else LevelBuffer()
        self.robust = bool(robust)

    def init(self, key: jax.Array) -> State:
        """An empty buffer (slots hold copies of one generated level) and no last sample."""
        template = jax.tree.map(lambda x: x[0], self.generator(key, 1))
        return {"buffer": self.buffer.init(template),
                "last": {"kind": jnp.asarray(SampleKind.NEW, jnp.int32),
                         "slots": jnp.full(self.buffer.capacity, -1, jnp.int32),
                         "train": jnp.asarray(True)}}

    def sample(self, state: State, key: jax.Array, n: int) -> tuple[State, Level]:
        """`n` levels (a batched Level) and the state that remembers what they were."""
        if not 1 <= n <= self.buffer.capacity:
            raise ValueError(f"{type(self).__name__}.sample: n = {n} must lie in "
                             f"1..capacity ({self.buffer.capacity})")
        k_decide, k_levels = jax.random.split(key)
        kind = self._next_kind(state, k_decide)
        buffer, slots, levels = jax.lax.switch(
            kind, [lambda b, s, k, f=f: f(b, s, k, n) for f in self._branches()],
            state["buffer"], state["last"]["slots"], k_levels)
        train = jnp.asarray(not self.robust) | (kind == SampleKind.REPLAY)
        return {"buffer": buffer, "last": {"kind": kind, "slots": slots, "train": train}}, levels

    def update(self, state: State, key: jax.Array, levels: Level, scores: jax.Array,
               extras: dict[str, jax.Array]) -> State:
        """Rescore the replayed slots, or insert the new (or mutated) `levels`.

        `scores` [n] and `extras` (a subset of the buffer's extras, each [n]) refer to the
        levels the last `sample` returned, in order; `levels` must be those levels.
        """
        scores = jnp.asarray(scores, jnp.float32)
        n = scores.shape[0]
        extras = self.buffer.check_extras(extras)
        for name, value in extras.items():
            if value.shape != (n,):
                raise ValueError(f"{type(self).__name__}.update: extras[{name!r}] has shape "
                                 f"{value.shape}, expected ({n},) like scores")
        slots = state["last"]["slots"][:n]
        buffer = jax.lax.cond(
            state["last"]["kind"] == SampleKind.REPLAY,
            lambda b: self.buffer.update_batch(b, slots, scores, extras),
            lambda b: self.buffer.insert_batch(b, levels, scores, extras)[0],
            state["buffer"])
        return {**state, "buffer": buffer}

    def sampled_extras(self, state: State, n: int) -> dict[str, jax.Array]:
        """The stored extras ([n] each) of the levels the last `sample` replayed; for new or
        mutated levels, the buffer's fresh values (e.g. -inf max_return)."""
        slots = state["last"]["slots"][:n]
        replayed = state["last"]["kind"] == SampleKind.REPLAY
        return {name: jnp.where(replayed, col[jnp.maximum(slots, 0)],
                                self.buffer.extras[name])
                for name, col in state["buffer"]["levels_extra"].items()}

    # ------------------------------------------------------------------ branches
    def _branches(self) -> tuple[Callable[..., tuple[Buffer, jax.Array, Level]], ...]:
        """The `sample` branch for each SampleKind this source hands out, in kind order."""
        return self._new, self._replay

    def _next_kind(self, state: State, key: jax.Array) -> jax.Array:
        replay = self.buffer.replay_decision(state["buffer"], key)
        return jnp.where(replay, SampleKind.REPLAY, SampleKind.NEW).astype(jnp.int32)

    def _new(self, buffer: Buffer, last_slots: jax.Array, key: jax.Array,
             n: int) -> tuple[Buffer, jax.Array, Level]:
        return buffer, jnp.full(self.buffer.capacity, -1, jnp.int32), self.generator(key, n)

    def _replay(self, buffer: Buffer, last_slots: jax.Array, key: jax.Array,
                n: int) -> tuple[Buffer, jax.Array, Level]:
        buffer, slots, levels = self.buffer.sample(buffer, key, n)
        padded = jnp.full(self.buffer.capacity, -1, jnp.int32).at[:n].set(slots)
        return buffer, padded, levels


class ACCEL(PLR):
    """ACCEL (Parker-Holder et al. 2022): PLR whose replay batches are followed by mutations.

    After a replay `sample`, the next `sample` returns `mutate(key_i, level_i)` of the levels
    just replayed (same order, same `n`), and `update` inserts those children like new
    levels. Otherwise it behaves like PLR (a replay decision each time). With `robust=True`
    only replay batches have `train` set (jaxued's ACCEL without exploratory gradient updates).
    """

    def __init__(self, generator: Generator, mutate: Mutate,
                 buffer: LevelBuffer | None = None, *, robust: bool = False):
        super().__init__(generator, buffer, robust=robust)
        self.mutate = mutate

    def _branches(self) -> tuple[Callable[..., tuple[Buffer, jax.Array, Level]], ...]:
        return self._new, self._replay, self._mutation

    def _next_kind(self, state: State, key: jax.Array) -> jax.Array:
        after_replay = state["last"]["kind"] == SampleKind.REPLAY
        return jnp.where(after_replay, SampleKind.MUTATION,
                         super()._next_kind(state, key)).astype(jnp.int32)

    def _mutation(self, buffer: Buffer, last_slots: jax.Array, key: jax.Array,
                  n: int) -> tuple[Buffer, jax.Array, Level]:
        parents = self.buffer.gather(buffer, jnp.maximum(last_slots[:n], 0))
        children = jax.vmap(self.mutate)(jax.random.split(key, n), parents)
        return buffer, jnp.full(self.buffer.capacity, -1, jnp.int32), children


def train_on_last(state: State) -> jax.Array:
    """bool (): whether the caller should learn from the last sampled batch (False only for a
    robust PLR/ACCEL batch that was not replayed; True for sources without that notion)."""
    last = state.get("last", {}) if isinstance(state, Mapping) else {}
    return jnp.asarray(last.get("train", True))


def buffer_stats(state: State, features: Callable[[Level], dict[str, jax.Array]] | None = None
                 ) -> dict[str, jax.Array]:
    """Summary numbers of a PLR/ACCEL state for logging (NaN where the buffer is empty).

    fill_ratio, score_mean, score_max and staleness_mean over filled slots; `features` maps the
    batched buffer levels ([C]) to a dict of [C] arrays, each averaged over filled slots as
    `mean_<name>`.
    """
    buffer = state["buffer"]
    scores = buffer["scores"]
    capacity = scores.shape[0]
    filled = jnp.arange(capacity) < buffer["size"]
    count = jnp.maximum(buffer["size"], 1)

    def mean(x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        return jnp.where(buffer["size"] > 0, jnp.where(filled, x, 0.0).sum() / count, jnp.nan)

    stats = {
        "fill_ratio": buffer["size"] / capacity,
        "score_mean": mean(scores),
        "score_max": jnp.where(buffer["size"] > 0, jnp.where(filled, scores, -jnp.inf).max(),
                               jnp.nan),
        "staleness_mean": mean(buffer["episode_count"] - buffer["timestamps"]),
    }
    if features is not None:
        stats.update({f"mean_{name}": mean(value)
                      for name, value in features(buffer["levels"]).items()})
    return stats
