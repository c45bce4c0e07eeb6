"""Meta-World v3's seeded variant sets, reproduced without Meta-World.

`metaworld._make_tasks` seeds the global legacy numpy RNG (`np.random.seed(seed)`), then, for
each task of the benchmark in order, resets the env 50 times and keeps `_last_rand_vec`. A reset
runs the task's `reset_model` twice (`SawyerXYZEnv.reset` calls it, then gymnasium's
`MujocoEnv.reset` calls it again); each run draws `np.random.uniform(low, high, size)` over the
task's `_random_reset_space` and draws again while the task's rejection rule refuses the draw,
and the second run's draw is the one kept. The same stream, replayed here with
`np.random.RandomState(seed)`, gives the same `rand_vec`s (checked against the sets recorded
from Meta-World 3.1.1 in tests/data/metaworld/variants.npz).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.manipulation.tasks import task_spec

NUM_VARIANTS = 50
RESET_MODEL_CALLS = 2  # `reset_model` runs per `reset` in Meta-World v3 (see above)


def metaworld_variants(tasks: Sequence[str], seed: int, n: int = NUM_VARIANTS
                       ) -> dict[str, np.ndarray]:
    """{task: (n, rand_dim) float64} as one `_make_tasks(tasks, seed)` call produces them."""
    rng = np.random.RandomState(int(seed))
    out: dict[str, np.ndarray] = {}
    for name in tasks:
        spec = task_spec(name)
        low, high = np.asarray(spec.rand_low, np.float64), np.asarray(spec.rand_high, np.float64)
        vecs = []
        for _ in range(n):
            for _ in range(RESET_MODEL_CALLS):
                vec = rng.uniform(low, high, size=low.size)
                while spec.reject is not None and spec.reject.rejects(vec):
                    vec = rng.uniform(low, high, size=low.size)
            vecs.append(vec)
        out[spec.name] = np.stack(vecs)
    return out
