"""Which environments a rule or an agent meets: level sources, PLR/ACCEL buffers, level scores,
uncertainty sets, worst-case evaluation and search (IWOCS).

Every source implements `LevelSource` (`init`, `sample`, `update`) over a fixed-shape state of
arrays; this package imports `envs` only and sees scores as arrays the caller computed.
"""

from environment_design.base import LevelSource
from environment_design.iwocs import (
    SearchResult,
    WorstCaseSearch,
    WorstCaseSet,
    worst_case_return,
)
from environment_design.plr import (
    ACCEL,
    PLR,
    LevelBuffer,
    SampleKind,
    buffer_stats,
    train_on_last,
)
from environment_design.robust import GridResult, evaluate_grid, score_points
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
    gridworld_mutate,
    space_generator,
    space_mutate,
)
from environment_design.spaces import UncertaintySet, make_space, space_names

__all__ = [
    "ACCEL", "PLR", "Fixed", "GridResult", "LevelBuffer", "LevelSource", "SampleKind", "Sampled",
    "SearchResult", "UncertaintySet", "WorstCaseSearch", "WorstCaseSet", "evaluate_grid",
    "make_space", "score_points", "space_names",
    "algorithmic_regret", "buffer_stats", "gridworld_mutate",
    "l1_value_loss", "max_episode_return", "max_mc", "positive_value_loss", "random_scores",
    "space_generator", "space_mutate", "train_on_last", "update_max_return",
    "worst_case_return",
]
