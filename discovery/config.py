"""Typed discovery configurations, named presets, and `key=value` overrides.

A bad value fails at construction with a message naming the field, before anything compiles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from discovery.es import ESConfig
from discovery.inner import TrainConfig
from discovery.presets import TRAIN_PRESETS
from discovery.validate import check_fields, check_options

MINATAR = ("Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar", "SpaceInvaders-MinAtar")


@dataclass(frozen=True)
class RuleConfig:
    """Which rule is discovered: a name from `meta_objectives.RULES` and its keyword options."""

    name: str = "ta-lpo"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from meta_objectives import RULES

        check_fields(self, "rule")
        if self.name not in RULES:
            raise ValueError(f"rule.name: unknown rule '{self.name}' (known: "
                             f"{', '.join(sorted(RULES))})")
        fields = {f.name for f in dataclasses.fields(RULES[self.name])}
        bad = sorted(set(self.options) - fields)
        if bad:
            raise ValueError(f"rule.options: {bad} are not options of '{self.name}' "
                             f"(options: {sorted(fields)})")
        object.__setattr__(self, "options", check_options(RULES[self.name], self.options,
                                                          "rule.options"))

    def build(self):
        from meta_objectives import make_rule

        return make_rule(self.name, **self.options)


@dataclass(frozen=True)
class DiscoveryConfig:
    """Everything one discovery run needs."""

    envs: tuple[str, ...] = ("CartPole-v1",)
    rule: RuleConfig = RuleConfig()
    train: TrainConfig = TrainConfig()
    es: ESConfig = ESConfig()
    generations: int = 100
    chunk: int = 5  # generations per jitted chunk; metrics and checkpoints at chunk ends
    checkpoint_every: int = 1  # in chunks
    seed: int = 0
    seeds_per_member: int = 1
    baseline_seeds: int = 4
    normalize_fitness: bool = True  # False: fitness is the raw return (no baselines computed)
    sample_levels: bool = False  # draw fresh levels each generation (gridworld distributions)

    def __post_init__(self) -> None:
        import envs as env_registry

        check_fields(self)
        if not self.envs:
            raise ValueError("envs: at least one training environment is needed")
        for name in self.envs:
            try:
                env_registry.registry._resolve(name)
            except ValueError as e:
                raise ValueError(f"envs: {e}") from None
        for name in ("generations", "chunk", "checkpoint_every", "seeds_per_member",
                     "baseline_seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        object.__setattr__(self, "envs", tuple(self.envs))
        if self.sample_levels:
            from envs.gridworld import DISTRIBUTIONS

            dists = [f"gridworld/{d}" for d in DISTRIBUTIONS]
            if len(self.envs) != 1 or self.envs[0] not in dists:
                raise ValueError(f"sample_levels needs exactly one level distribution in envs "
                                 f"(one of {dists}), got {list(self.envs)}")

    @property
    def fitness_label(self) -> str:
        """What a member's fitness is (for logs and plot axes)."""
        if self.sample_levels:
            from envs.gridworld import layout_of

            tabular = layout_of(self.envs[0].split("/", 1)[1]).tabular
            return "final return / level optimum" if tabular else "final return"
        return "normalised return (PPO = 1)" if self.normalize_fitness else "final return"

    @property
    def fitness_is_ppo_normalised(self) -> bool:
        return self.normalize_fitness and not self.sample_levels

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["envs"] = list(self.envs)
        d["train"]["hidden"] = list(self.train.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiscoveryConfig:
        d = dict(d)
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}")
        nested = {"rule": RuleConfig, "train": TrainConfig, "es": ESConfig}
        for key, typ in nested.items():
            if key in d and isinstance(d[key], dict):
                known = {f.name for f in dataclasses.fields(typ)}
                bad = sorted(set(d[key]) - known)
                if bad:
                    raise ValueError(f"unknown config field(s) {[f'{key}.{b}' for b in bad]}; "
                                     f"{key} has {sorted(known)}")
                d[key] = typ(**d[key])
        if "envs" in d:
            d["envs"] = tuple(d["envs"]) if not isinstance(d["envs"], str) else (d["envs"],)
        return cls(**d)


def _quickstart() -> DiscoveryConfig:
    return DiscoveryConfig(
        # TA-LPO from a random drift that hinders learning (normalised fitness ~0.1);
        # ES finds a drift that learns CartPole about half as fast as PPO within 12 generations.
        envs=("CartPole-v1",), rule=RuleConfig("ta-lpo", {"init_scale": 1.5}),
        train=TrainConfig(num_envs=8, num_steps=64, total_timesteps=8 * 64 * 30,
                          update_epochs=4, num_minibatches=4, lr=2.5e-3),
        es=ESConfig(population_size=16, lr=0.05, sigma=0.1, sigma_decay=1.0),
        generations=16, chunk=4, baseline_seeds=4)


def _minatar(rule: str) -> DiscoveryConfig:
    return DiscoveryConfig(envs=MINATAR, rule=RuleConfig(rule), train=TRAIN_PRESETS["minatar"],
                           es=ESConfig(population_size=64, lr=0.03, sigma=0.03),
                           generations=256, chunk=1)


def _lpg(rule: str) -> DiscoveryConfig:
    # The published LPG/TA-LPG scale (GPU): GROOVE's tabular agents (linear, SGD lr 40), 64
    # workers x 20 steps, lifetimes LU[10, 250] updates, population 1024, antithetic pairs on
    # the same level with per-pair rank.
    return DiscoveryConfig(
        envs=("gridworld/all_vrandlife",), rule=RuleConfig(rule), sample_levels=True,
        normalize_fitness=False, train=TRAIN_PRESETS["gridworld-tabular"],
        es=ESConfig(population_size=1024, lr=1e-2, sigma=0.1, lr_decay=1.0, sigma_decay=1.0,
                    fitness_shaping="pair_rank"),
        generations=2500, chunk=5)


def _quickstart_lpg() -> DiscoveryConfig:
    # LPG (GRU 8) on fresh 'small' levels, tabular agents for 40 updates (capped lifetimes),
    # antithetic pairs on one level ranked per pair (GROOVE). About 1 CPU minute. Seed 0, on 32
    # held-out small levels (discovery.level_eval): optimum-normalised return, mean over levels,
    # -0.08 -> 0.31 (the random initial GRU hinders learning; uniform-random policy 0.03, A2C
    # 0.48); see tests/test_lpg_discovery.py.
    return DiscoveryConfig(
        envs=("gridworld/small",), rule=RuleConfig("lpg", {"hidden": 8}), sample_levels=True,
        normalize_fitness=False,
        train=TrainConfig(num_envs=16, num_steps=20, total_timesteps=16 * 20 * 40,
                          update_epochs=1, num_minibatches=1, lr=1e-2, anneal_lr=False,
                          hidden=(), activation="relu"),
        es=ESConfig(population_size=32, lr=0.03, sigma=0.1, lr_decay=1.0, sigma_decay=1.0,
                    fitness_shaping="pair_rank"),
        generations=32, chunk=8)


PRESETS = {
    "quickstart": _quickstart,
    "quickstart-lpg": _quickstart_lpg,
    "lpg-gridworld": lambda: _lpg("lpg"),
    "ta-lpg-gridworld": lambda: _lpg("ta-lpg"),
    "lpo-minatar": lambda: _minatar("lpo"),
    "ta-lpo-minatar": lambda: _minatar("ta-lpo"),
    "lpo-brax-ant": lambda: DiscoveryConfig(
        envs=("brax/ant",), rule=RuleConfig("lpo"),
        train=TRAIN_PRESETS["brax"].replace(total_timesteps=30_000_000),
        es=ESConfig(population_size=64, lr=0.03, sigma=0.03), generations=256, chunk=1),
}


def preset(name: str) -> DiscoveryConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}' (known: {', '.join(PRESETS)})")
    return PRESETS[name]()


def apply_overrides(cfg: DiscoveryConfig, overrides: list[str]) -> DiscoveryConfig:
    """Apply `a.b=value` overrides (values parsed as YAML: numbers, lists, booleans)."""
    d = cfg.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override '{item}' is not of the form key=value")
        path, raw = item.split("=", 1)
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            if not isinstance(node.get(k), dict):
                raise ValueError(f"override '{path}': '{k}' is not a config section")
            node = node[k]
        if keys[-1] not in node and not (len(keys) > 1 and keys[-2] == "options"):
            raise ValueError(f"override '{path}': unknown field '{keys[-1]}' (fields: "
                             f"{sorted(node)})")
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ValueError(f"override '{item}': '{raw}' is not a valid value") from None
    return DiscoveryConfig.from_dict(d)
