"""MT1 / MT10 / ML1 / ML10 benchmarks: 50 variants per task as one batched EnvParams."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from envs.manipulation.env import EnvParams, ManipulationEnv, make_params
from envs.manipulation.tasks import (
    ML10_TEST,
    ML10_TRAIN,
    MT10,
    TASK_INDEX,
    TASKS,
    task_spec,
)

NUM_VARIANTS = 50
BENCHMARKS = ("MT1", "MT10", "ML1", "ML10")
_SPLITS = ("train", "test")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark split: one env and its variants as a batched EnvParams (leading axis).

    `task_names[i]` is the task of variant `i`; `env.step` vmaps over `params`.
    """

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
    """`n` distinct rand_vecs of a task, deterministic in (task, seed).

    Uniform in the task's reset ranges with Meta-World's rejection rule (object and goal at least
    `min_xy_dist` apart in xy).
    """
    spec = task_spec(task)
    low, high = np.asarray(spec.rand_low, np.float64), np.asarray(spec.rand_high, np.float64)
    rng = np.random.default_rng([int(seed), TASK_INDEX[spec.name]])
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(out) < n:
        vec = rng.uniform(low, high).astype(np.float32)
        if spec.min_xy_dist and np.linalg.norm(vec[0:2] - vec[3:5]) < spec.min_xy_dist:
            continue
        if vec.tobytes() in seen:
            continue
        seen.add(vec.tobytes())
        out.append(vec)
    return np.stack(out)


def _split_tasks(name: str, split: str, task: str | None) -> tuple[str, ...]:
    if name in ("MT1", "ML1"):
        if task is None:
            raise ValueError(f"{name} needs a task, e.g. benchmark('{name}', task='reach'); "
                             f"tasks: {', '.join(TASKS)}")
        return (task_spec(task).name,)
    if task is not None:
        raise ValueError(f"{name} has a fixed task set; task= is only for MT1 / ML1")
    if name == "MT10":
        return MT10
    return ML10_TRAIN if split == "train" else ML10_TEST


def benchmark(name: str, split: str = "train", seed: int = 0, task: str | None = None,
              num_variants: int = NUM_VARIANTS, substeps: int = 5) -> Benchmark:
    """Build a benchmark split as one env + one batched EnvParams.

    MT1 / MT10: goal observable, MT10 appends a 10-way task one-hot; `split` must be "train".
    ML1 / ML10: goal hidden (obs[36:39] = 0). ML10 train/test are disjoint task sets;
    ML1 train/test are the same task with disjoint variants (test variants use seed + 1).
    """
    if name not in BENCHMARKS:
        raise ValueError(f"Unknown benchmark '{name}'; known: {', '.join(BENCHMARKS)}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got '{split}'")
    if name.startswith("MT") and split != "train":
        raise ValueError(f"{name} has only a train split (its tasks are evaluated as trained)")
    tasks = _split_tasks(name, split, task)
    variant_seed = seed + 1 if (name == "ML1" and split == "test") else seed
    vecs, ids, onehot, names = [], [], [], []
    for i, t in enumerate(tasks):
        vecs.append(sample_variants(t, num_variants, variant_seed))
        ids += [TASK_INDEX[t]] * num_variants
        onehot += [i] * num_variants
        names += [t] * num_variants
    params = jax.vmap(make_params)(np.asarray(ids, np.int32), np.concatenate(vecs),
                                   np.asarray(onehot, np.int32))
    env = ManipulationEnv(num_onehot=len(tasks) if name == "MT10" else 0,
                          goal_observable=name.startswith("MT"), substeps=substeps,
                          default_task_id=ids[0], default_rand_vec=vecs[0][0],
                          label=f"metaworld-{name}-{split}")
    return Benchmark(name=name, split=split, seed=seed, env=env, params=params,
                     task_names=tuple(names))
