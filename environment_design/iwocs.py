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
