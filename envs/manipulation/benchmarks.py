"""MT1 / MT10 / MT50 / ML1 / ML10 / ML45 benchmarks as Meta-World v3 builds them, one batched
EnvParams each.

Variants are Meta-World's own seeded sets (`variants.metaworld_variants`): `seed` here is the
`seed` of `metaworld.MT10(seed=...)` and the others. The protocol defaults are Meta-World's:
  MT: goal observable, a variant drawn from the task's 50 at every reset, no one-hot;
  ML: goal hidden, one variant per env slot (Meta-World changes it only when the algorithm asks),
      train episodes only truncate, test episodes end at success.
`onehot=True` appends the task one-hot (Meta-World's `use_one_hot`); `resample=False` keeps one
fixed variant per slot, `terminate_on_success` overrides the split's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np

from envs.manipulation.env import EnvParams, ManipulationEnv, make_params
from envs.manipulation.tasks import (
    ML10_TEST,
    ML10_TRAIN,
    ML45_TEST,
    ML45_TRAIN,
    MT10,
    MT50,
    RAND_DIM,
    TASK_INDEX,
    TASKS,
    task_spec,
)
from envs.manipulation.variants import NUM_VARIANTS, metaworld_variants

BENCHMARKS = ("MT1", "MT10", "MT50", "ML1", "ML10", "ML45")
_FIXED = {("MT10", "train"): MT10, ("MT50", "train"): MT50, ("ML10", "train"): ML10_TRAIN,
          ("ML10", "test"): ML10_TEST, ("ML45", "train"): ML45_TRAIN, ("ML45", "test"): ML45_TEST}
_SPLITS = ("train", "test")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark split: one env and its variants as a batched EnvParams (leading axis).

    `task_names[i]` is the task of slot `i`; `env.step` vmaps over `params`."""

    name: str
    split: str
    seed: int
    env: ManipulationEnv
    params: EnvParams
    task_names: tuple[str, ...]

    @property
    def tasks(self) -> tuple[str, ...]:
        """The distinct tasks of this split, in order."""
        return tuple(dict.fromkeys(self.task_names))

    @property
    def num_variants(self) -> int:
        return len(self.task_names)


def sample_variants(task: str, n: int = NUM_VARIANTS, seed: int = 0) -> np.ndarray:
    """`n` rand_vecs of a task as Meta-World's MT1 / ML1 (train) builds them with `seed`,
    padded to (n, RAND_DIM) float32 (what `make_params` takes)."""
    vecs = metaworld_variants([task], seed, n)[task_spec(task).name]
    out = np.zeros((n, RAND_DIM), np.float32)
    out[:, :vecs.shape[1]] = vecs
    return out


def _split_tasks(name: str, split: str, task: str | None) -> tuple[str, ...]:
    if name in ("MT1", "ML1"):
        if task is None:
            raise ValueError(f"{name} needs a task, e.g. benchmark('{name}', task='reach'); "
                             f"tasks: {', '.join(TASKS)}")
        return (task_spec(task).name,)
    if task is not None:
        raise ValueError(f"{name} has a fixed task set; task= is only for MT1 / ML1")
    return _FIXED[(name, split)]


def benchmark(name: str, split: str = "train", seed: int = 0, task: str | None = None,
              num_variants: int = NUM_VARIANTS, onehot: bool = False,
              resample: bool | None = None, terminate_on_success: bool | None = None
              ) -> Benchmark:
    """Build a benchmark split as one env + one batched EnvParams (50 slots per task).

    See the module docstring for the protocol defaults. ML1 test variants come from
    `seed + 1` as in Meta-World."""
    if name not in BENCHMARKS:
        raise ValueError(f"Unknown benchmark '{name}'; known: {', '.join(BENCHMARKS)}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got '{split}'")
    if name.startswith("MT") and split != "train":
        raise ValueError(f"{name} has only a train split (its tasks are evaluated as trained)")
    tasks = _split_tasks(name, split, task)
    is_mt = name.startswith("MT")
    variant_seed = seed + 1 if (name == "ML1" and split == "test") else seed
    return _build(name, split, seed, tasks, variant_seed, num_variants, is_mt, onehot,
                  is_mt if resample is None else resample,
                  (split == "test" and not is_mt) if terminate_on_success is None
                  else terminate_on_success)


def multi_task(tasks: Sequence[str], seed: int = 0, num_variants: int = NUM_VARIANTS,
               onehot: bool = False, resample: bool = True) -> Benchmark:
    """An MT-style benchmark over any tasks (goal observable, a variant resampled per reset),
    with the variants `metaworld._make_tasks(tasks, seed)` would draw. `benchmark("MT10")` is
    `multi_task(MT10)`; this one also takes tasks Meta-World groups differently (all the tasks
    built so far, say)."""
    names = tuple(dict.fromkeys(task_spec(t).name for t in tasks))
    if not names:
        raise ValueError("multi_task needs at least one task")
    return _build("MT", "train", seed, names, seed, num_variants, True, onehot, resample, False)


def _build(name: str, split: str, seed: int, tasks: tuple[str, ...], variant_seed: int,
           num_variants: int, is_mt: bool, onehot: bool, resample: bool,
           terminate_on_success: bool) -> Benchmark:
    sets = metaworld_variants(tasks, variant_seed, num_variants)
    vecs, ids, onehots, names, tables = [], [], [], [], []
    for i, t in enumerate(tasks):
        vecs.append(sets[t])
        ids += [TASK_INDEX[t]] * num_variants
        onehots += [i] * num_variants
        names += [t] * num_variants
        padded = np.zeros((num_variants, 6), np.float32)
        padded[:, :sets[t].shape[1]] = sets[t]
        tables.append(np.broadcast_to(padded, (num_variants, num_variants, 6)))
    rand = np.concatenate([np.pad(v, ((0, 0), (0, 6 - v.shape[1]))) for v in vecs])
    params = jax.vmap(make_params)(np.asarray(ids, np.int32), rand.astype(np.float32),
                                   np.asarray(onehots, np.int32), np.concatenate(tables))
    env = ManipulationEnv(
        tasks=tasks, num_onehot=len(tasks) if onehot else 0, goal_observable=is_mt,
        resample_variants=resample, terminate_on_success=terminate_on_success,
        default_task_id=ids[0], default_rand_vec=rand[0], label=f"metaworld-{name}-{split}")
    return Benchmark(name=name, split=split, seed=seed, env=env, params=params,
                     task_names=tuple(names))
