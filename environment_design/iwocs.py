"""IWOCS (Zouitine, Geist, Rachelson 2024): worst-case search over an uncertainty set, and a
growing finite set of worst-case dynamics models as a level source.

Worst-case search: CMA-ES (evosax) over the set's unit cube minimises a score function
`score_fn(params, key) -> return` (the caller's: a policy's mean episode return, vmapped
rollouts). A candidate outside the cube is scored at its projection onto the cube. Every
candidate of the whole search is scored with the same key (common random numbers), so the
search minimises one fixed function and its result is comparable with a grid evaluated with
that key. The whole search is one `lax.scan` (jittable, no host sync).

    search = WorstCaseSearch(uset.dim, population=8, generations=12)
    result = search.run(score_fn, uset, key, eval_key)   # SearchResult: worst point, trace
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from evosax.algorithms import CMA_ES

from environment_design.spaces import UncertaintySet

ScoreFn = Callable[[Any, jax.Array], jax.Array]


def worst_case_return(returns: jax.Array, valid: jax.Array,
                      cvar_alpha: float | None = None) -> jax.Array:
    """The robust return of `returns` [..., K] over the models where `valid` [K]: their minimum,
    or with `cvar_alpha` the CVaR: the mean of the ceil(alpha * count) lowest returns (at least
    one). A non-finite return on a valid model makes the result NaN."""
    r = jnp.where(valid, returns, jnp.inf)
    if cvar_alpha is None:
        robust = r.min(axis=-1)
    else:
        k = jnp.maximum(jnp.ceil(cvar_alpha * valid.sum()), 1.0)
        lowest = jnp.arange(r.shape[-1]) < k
        robust = jnp.sum(jnp.where(lowest, jnp.sort(r, axis=-1), 0.0), axis=-1) / k
    bad = jnp.any(valid & ~jnp.isfinite(returns), axis=-1)
    return jnp.where(bad, jnp.nan, robust)


class SearchResult(NamedTuple):
    """The worst point found and the search trace (one row per generation)."""

    unit: jax.Array  # [d] worst point in the unit cube
    values: jax.Array  # [d] its physical values
    score: jax.Array  # () its return
    best_trace: jax.Array  # [G] lowest return found up to each generation
    mean_trace: jax.Array  # [G] mean return of each generation's candidates
    sigma_trace: jax.Array  # [G] CMA-ES step size after each generation
    evaluations: jax.Array  # () score-function calls (population x generations)


class WorstCaseSearch:
    """CMA-ES minimising a score over the unit cube `[0, 1]^dim` (static settings on the
    object, like evosax's algorithms)."""

    def __init__(self, dim: int, population: int = 8, generations: int = 12,
                 sigma: float = 0.3):
        for name, value in (("dim", dim), ("population", population),
                            ("generations", generations)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"WorstCaseSearch.{name} must be a positive integer, got "
                                 f"{value!r}")
        if population < 2:
            raise ValueError(f"WorstCaseSearch.population must be >= 2, got {population}")
        if not 0 < sigma < float("inf"):
            raise ValueError(f"WorstCaseSearch.sigma must be > 0, got {sigma!r}")
        self.dim = dim
        self.population = population
        self.generations = generations
        self.sigma = float(sigma)
        self.es = CMA_ES(population, jnp.zeros(dim))
        self.es_params = self.es.default_params.replace(std_init=jnp.float32(sigma))

    @property
    def evaluations(self) -> int:
        """Score-function calls of one search."""
        return self.population * self.generations

    def run(self, score_fn: ScoreFn, uset: UncertaintySet, key: jax.Array,
            eval_key: jax.Array, start: jax.Array | None = None) -> SearchResult:
        """Search `uset` for the point of lowest `score_fn` (pure, jittable).

        `key` drives CMA-ES's sampling, `eval_key` is the one key every candidate is scored
        with; `start` ([d], default the cube's centre) is the initial mean.
        """
        if uset.dim != self.dim:
            raise ValueError(f"WorstCaseSearch.dim is {self.dim}, the set '{uset.name}' has "
                             f"{uset.dim} dimensions")
        mean = jnp.full((self.dim,), 0.5) if start is None else jnp.asarray(start, jnp.float32)
        k_init, k_loop = jax.random.split(key)
        es_state = self.es.init(k_init, mean, self.es_params)
        score_all = jax.vmap(lambda u: score_fn(uset.from_unit(u), eval_key))

        def generation(carry, k):
            es_state, best_u, best = carry
            k_ask, k_tell = jax.random.split(k)
            x, es_state = self.es.ask(k_ask, es_state, self.es_params)
            u = jnp.clip(x, 0.0, 1.0)
            scores = jnp.asarray(score_all(u), jnp.float32)
            es_state, _ = self.es.tell(k_tell, x, scores, es_state, self.es_params)
            i = jnp.argmin(scores)
            better = scores[i] < best
            best_u = jnp.where(better, u[i], best_u)
            best = jnp.where(better, scores[i], best)
            return (es_state, best_u, best), (best, scores.mean(), es_state.std)

        init = (es_state, jnp.clip(mean, 0.0, 1.0), jnp.float32(jnp.inf))
        (_, best_u, best), (best_trace, mean_trace, sigma_trace) = jax.lax.scan(
            generation, init, jax.random.split(k_loop, self.generations))
        return SearchResult(best_u, uset.values(best_u), best, best_trace, mean_trace,
                            sigma_trace, jnp.int32(self.evaluations))


class WorstCaseSet:
    """IWOCS's growing finite set of dynamics models, as a `LevelSource`.

    State (fixed shapes, `capacity` slots): `unit` [K, d] the models (unit-cube points),
    `count` how many slots are filled, `returns` [K] the current policy's return on each model
    (set by `reweight`), `iteration`, `estimate` (the worst-case estimate, see `record`) and
    per-iteration traces `set_worst` / `search_worst` [K] (NaN until written).

    On-policy adaptation of IWOCS (the paper trains SAC against the minimum over per-model
    critics): `sample` draws each environment's model from the set with probabilities
    `(1 - uniform) * softmax(-(R - min R) / (temperature * spread)) + uniform / count`, where R
    are the policy's last returns per model and `spread` their range. The worst models get most
    of the rollouts, so the policy-gradient step is close to a step on the minimum, while every
    model keeps some weight, so a model stays learnable once it stops being the worst (a hard
    minimum would feed an on-policy learner a single model and forget the others). `update`
    does nothing: the set changes only between iterations (`add`, `reweight`, `record`).
    """

    def __init__(self, uset: UncertaintySet, capacity: int, lifetime: int,
                 temperature: float = 0.25, uniform: float = 0.2,
                 start: jax.Array | None = None):
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"WorstCaseSet.capacity must be a positive integer, got "
                             f"{capacity!r}")
        if not 0 < temperature < float("inf"):
            raise ValueError(f"WorstCaseSet.temperature must be > 0, got {temperature!r}")
        if not 0 <= uniform <= 1:
            raise ValueError(f"WorstCaseSet.uniform must be in [0, 1], got {uniform!r}")
        self.uset = uset
        self.capacity = capacity
        self.lifetime = int(lifetime)
        self.temperature = float(temperature)
        self.uniform = float(uniform)
        nominal = (uset.nominal - uset.low) / (uset.high - uset.low)
        self.start = jnp.clip(jnp.asarray(nominal if start is None else start, jnp.float32),
                              0.0, 1.0)

    def init(self, key: jax.Array) -> dict[str, Any]:
        """The set holds one model: the nominal dynamics (projected onto the set)."""
        nan = jnp.full((self.capacity,), jnp.nan, jnp.float32)
        return {"unit": jnp.tile(self.start, (self.capacity, 1)), "count": jnp.int32(1),
                "returns": jnp.zeros((self.capacity,), jnp.float32),
                "iteration": jnp.int32(0), "estimate": jnp.float32(jnp.inf),
                "set_worst": nan, "search_worst": nan}

    def weights(self, state: dict[str, Any]) -> jax.Array:
        """Sampling probabilities of the slots ([K]; zero on empty slots)."""
        valid = jnp.arange(self.capacity) < state["count"]
        r = jnp.where(valid, state["returns"], jnp.inf)
        low = r.min()
        spread = jnp.maximum(jnp.where(valid, r, low).max() - low, 1e-6)
        logits = jnp.where(valid, -(r - low) / (self.temperature * spread), -jnp.inf)
        soft = jax.nn.softmax(logits)
        return (1 - self.uniform) * soft + self.uniform * valid / state["count"]

    def sample(self, state: dict[str, Any], key: jax.Array, n: int):
        from envs.params import Level

        index = jax.random.choice(key, self.capacity, (n,), p=self.weights(state))
        params = jax.vmap(self.uset.from_unit)(state["unit"][index])
        return state, Level(params=params, lifetime=jnp.full((n,), self.lifetime, jnp.int32))

    def update(self, state: dict[str, Any], key: jax.Array, levels: Any, scores: jax.Array,
               extras: dict[str, jax.Array]) -> dict[str, Any]:
        return state

    def models(self, state: dict[str, Any]) -> Any:
        """EnvParams of every slot ([K]; slots past `count` repeat the start model)."""
        return jax.vmap(self.uset.from_unit)(state["unit"])

    def reweight(self, state: dict[str, Any], returns: jax.Array) -> dict[str, Any]:
        """Store the current policy's return on each model ([K]; empty slots ignored)."""
        valid = jnp.arange(self.capacity) < state["count"]
        return {**state, "returns": jnp.where(valid, returns, 0.0).astype(jnp.float32)}

    def add(self, state: dict[str, Any], unit: jax.Array) -> dict[str, Any]:
        """Append a model (a unit-cube point); a full set replaces its last slot."""
        slot = jnp.minimum(state["count"], self.capacity - 1)
        return {**state, "unit": state["unit"].at[slot].set(jnp.clip(unit, 0.0, 1.0)),
                "count": jnp.minimum(state["count"] + 1, self.capacity)}

    def record(self, state: dict[str, Any], set_worst: jax.Array,
               search_worst: jax.Array) -> dict[str, Any]:
        """Close an iteration: its policy's lowest return on the set's models (`set_worst`)
        and the search's worst case (`search_worst`).

        The worst-case estimate is IWOCS's upper bound on the robust return: the lowest return
        seen on the set's models, `estimate_i = min(estimate_{i-1}, set_worst_i)`; the set
        only grows, so the estimate never increases (a policy that improves on the old models
        does not raise it: the set keeps the models it failed on).
        """
        i = jnp.minimum(state["iteration"], self.capacity - 1)
        return {**state, "iteration": state["iteration"] + 1,
                "estimate": jnp.minimum(state["estimate"], set_worst),
                "set_worst": state["set_worst"].at[i].set(set_worst),
                "search_worst": state["search_worst"].at[i].set(search_worst)}
