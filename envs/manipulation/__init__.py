"""A Meta-World-style manipulation suite in pure JAX (section 5 of DESIGN.md).

    env, params = envs.make("metaworld/pick-place")          # one task, default variant
    bench = envs.manipulation.benchmark("ML10", split="train", seed=0)
    obs, state = jax.vmap(bench.env.reset)(keys, bench.params)   # 500 variants, one vmap

Every task is the same `ManipulationEnv` with the task id in EnvParams, so a whole benchmark is
one batched EnvParams and one vmapped step.
"""

from __future__ import annotations

import numpy as np

from envs.manipulation.benchmarks import (
    BENCHMARKS,
    Benchmark,
    benchmark,
    multi_task,
    sample_variants,
)
from envs.manipulation.env import EnvParams, ManipulationEnv, make_params
from envs.manipulation.physics import EnvState
from envs.manipulation.policies import EXPERTS, expert_action, expert_policy, expert_rollout
from envs.manipulation.tasks import (
    ML10_TEST,
    ML10_TRAIN,
    ML45_TEST,
    ML45_TRAIN,
    MT10,
    MT50,
    RAND_HIGH,
    RAND_LOW,
    TASK_INDEX,
    TASKS,
    default_rand_vec,
    task_spec,
)
from envs.manipulation.variants import NUM_VARIANTS, metaworld_variants
from envs.params import Box, ParamSpace

__all__ = [
    "BENCHMARKS", "EXPERTS", "ML10_TEST", "ML10_TRAIN", "ML45_TEST", "ML45_TRAIN", "MT10", "MT50",
    "NUM_VARIANTS", "TASKS",
    "TASK_INDEX", "Benchmark", "EnvParams", "EnvState", "ManipulationEnv", "benchmark",
    "default_param_space", "expert_action", "expert_policy", "expert_rollout", "make_params",
    "make_task", "metaworld_variants", "multi_task", "sample_variants",
]


def make_task(task_name: str, *, goal_observable: bool = True
              ) -> tuple[ManipulationEnv, EnvParams]:
    """One task as `(env, default_params)`; the default variant is the centre of its ranges."""
    spec = task_spec(task_name)
    vec = default_rand_vec(spec)
    env = ManipulationEnv(tasks=(spec.name,), goal_observable=goal_observable,
                          default_task_id=TASK_INDEX[spec.name], default_rand_vec=vec,
                          label=f"metaworld/{spec.name}")
    return env, env.default_params


def default_param_space(params: EnvParams) -> ParamSpace:
    """A box over the variant (`rand_vec`: object/fixture and goal positions) of the task.

    Bounds are the task's reset ranges; Meta-World's object-goal minimum distance is not enforced.
    """
    task_id = int(np.asarray(params.task_id).reshape(-1)[0])
    return ParamSpace(params, rand_vec=Box(RAND_LOW[task_id], RAND_HIGH[task_id]))


