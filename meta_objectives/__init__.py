"""What is discovered (learned objectives, learned policy gradients) and the fixed rules."""

from meta_objectives.base import AgentOutput, Progress, Rollout, UpdateRule, gae
from meta_objectives.lpg import LPG, TALPG
from meta_objectives.lpo import DPO, LPO, TALPO, MirrorLearningRule, drift_grid
from meta_objectives.ppo import A2C, PPO, PolicyObjectiveRule

RULES = {"ppo": PPO, "a2c": A2C, "dpo": DPO, "lpo": LPO, "ta-lpo": TALPO, "lpg": LPG,
         "ta-lpg": TALPG}


def make_rule(name: str, **kwargs) -> UpdateRule:
    """Build a rule by name (`ppo`, `a2c`, ...), with its hyperparameters as keywords."""
    if name not in RULES:
        raise ValueError(f"Unknown rule '{name}'. Known rules: {', '.join(sorted(RULES))}")
    return RULES[name](**kwargs)


__all__ = [
    "A2C", "DPO", "LPG", "LPO", "PPO", "RULES", "TALPG", "TALPO", "AgentOutput",
    "MirrorLearningRule", "PolicyObjectiveRule", "Progress", "Rollout", "UpdateRule", "drift_grid",
    "gae", "make_rule",
]
