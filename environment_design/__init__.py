"""Which environments a rule or an agent meets: level sources, PLR/ACCEL buffers, level scores.

Every source implements `LevelSource` (`init`, `sample`, `update`) over a fixed-shape state of
arrays; this package imports `envs` only and sees scores as arrays the caller computed.
"""

from environment_design.base import LevelSource
from environment_design.plr import (
    ACCEL,
    PLR,
    LevelBuffer,
    SampleKind,
    buffer_stats,
    train_on_last,
)
from environment_design.scores import (
    algorithmic_regret,
    l1_value_loss,
    max_episode_return,
    max_mc,
    positive_value_loss,
    random_scores,
    update_max_return,
)
from environment_design.sources import (
    Fixed,
    Sampled,
    gridworld_generator,
    gridworld_mutate,
    space_generator,
    space_mutate,
)

__all__ = [
    "ACCEL", "PLR", "Fixed", "LevelBuffer", "LevelSource", "SampleKind", "Sampled",
    "algorithmic_regret", "buffer_stats", "gridworld_generator", "gridworld_mutate",
    "l1_value_loss", "max_episode_return", "max_mc", "positive_value_loss", "random_scores",
    "space_generator", "space_mutate", "train_on_last", "update_max_return",
]
