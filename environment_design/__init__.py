"""Which environments a rule or an agent meets: level sources, PLR/ACCEL buffers, level scores.

Every source implements `LevelSource` (`init`, `sample`, `update`) over a fixed-shape state of
arrays; this package imports `envs` only and sees scores as arrays the caller computed.
"""

from environment_design.base import LevelSource
from environment_design.sources import (
    Fixed,
    Sampled,
    gridworld_generator,
    gridworld_mutate,
    space_generator,
    space_mutate,
)

__all__ = [
    "Fixed", "LevelSource", "Sampled", "gridworld_generator", "gridworld_mutate",
    "space_generator", "space_mutate",
]
