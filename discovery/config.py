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
from discovery.levels import LevelsConfig
from discovery.metagrad import MetaGradConfig
from discovery.presets import TRAIN_PRESETS
from discovery.validate import check_fields, check_options

OUTER_LOOPS = ("es", "metagrad")

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
    outer: str = "es"  # "es" (evosax) or "metagrad" (LPG's meta-gradient through K updates)
    es: ESConfig = ESConfig()
    metagrad: MetaGradConfig = MetaGradConfig()
    generations: int = 100  # ES generations, or meta-steps with outer=metagrad
    chunk: int = 5  # generations per jitted chunk; metrics and checkpoints at chunk ends
    checkpoint_every: int = 1  # in chunks
    seed: int = 0
    seeds_per_member: int = 1
    center_seeds: int = 4  # runs that score the ES mean every generation (0: not scored)
    baseline_seeds: int = 4
    levels: LevelsConfig = LevelsConfig()  # fixed named envs, sampled levels, PLR or ACCEL

    def __post_init__(self) -> None:
        import envs as env_registry

        check_fields(self)
        if not self.envs:
            raise ValueError("envs: at least one training environment is needed")
        for name in self.envs:
            try:
                env_registry.short_name(name)
            except ValueError as e:
                raise ValueError(f"envs: {e}") from None
        for name in ("generations", "chunk", "checkpoint_every", "seeds_per_member",
                     "baseline_seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if (not isinstance(self.center_seeds, int) or isinstance(self.center_seeds, bool)
                or self.center_seeds < 0):
            raise ValueError(f"center_seeds must be an integer >= 0, got {self.center_seeds!r}")
        object.__setattr__(self, "envs", tuple(self.envs))
        if self.outer not in OUTER_LOOPS:
            raise ValueError(f"outer must be one of {OUTER_LOOPS}, got {self.outer!r}")
        if self.outer == "metagrad" and len(self.envs) != 1:
            raise ValueError(f"outer=metagrad trains its agents on one environment or level "
                             f"distribution; envs has {len(self.envs)}")
        if self.levels.kind != "fixed" and len(self.envs) != 1:
            raise ValueError(f"levels.kind={self.levels.kind} draws levels of one environment "
                             f"(a level distribution such as gridworld/all, or an env whose "
                             f"ParamSpace is varied); envs has {list(self.envs)}")
        if self.levels.kind == "iwocs":
            from environment_design.spaces import spec

            if self.outer != "es":
                raise ValueError("levels.kind iwocs (robust discovery) is for outer=es")
            if self.center_seeds < 1:
                raise ValueError("center_seeds must be >= 1 with levels.kind iwocs: the "
                                 "worst-case search runs against the ES mean's agents")
            if spec(self.levels.space).env != self.envs[0]:
                raise ValueError(f"levels.space {self.levels.space} is a set over "
                                 f"{spec(self.levels.space).env}, not envs[0]={self.envs[0]}")
        if self.levels.kind != "fixed" and self.levels.score not in ("regret", "random"):
            raise ValueError(f"levels.score must be regret or random for discovery, got "
                             f"{self.levels.score!r} (pvl / maxmc / l1 score agent training)")

    @property
    def samples_levels(self) -> bool:
        """Whether agents train on levels drawn from a level source (not fixed named envs)."""
        return self.levels.kind != "fixed"

    @property
    def reference_rule(self) -> str:
        """The hand-designed rule a curriculum's regret is measured against (GROOVE: A2C for
        LPG, PPO for LPO)."""
        from meta_objectives import RULES

        if self.levels.reference is not None:
            return self.levels.reference
        return getattr(RULES[self.rule.name], "reference", "ppo")

    @property
    def optimum_normalised(self) -> bool:
        """Level fitness is the return over the level's exact optimum (tabular grid-worlds)."""
        import envs as env_registry

        if not self.samples_levels or self.levels.fitness == "raw":
            return False
        env, _ = env_registry.make(self.envs[0])
        return env_registry.family(self.envs[0]).optimum(env) is not None

    @property
    def fitness_measure(self) -> str:
        """How an agent's run is scored: "final_window" or "final_policy" (see TrainConfig)."""
        from meta_objectives import RULES

        return self.train.fitness_measure or getattr(RULES[self.rule.name], "fitness_measure",
                                                     "final_window")

    @property
    def fitness_label(self) -> str:
        """What a member's fitness is (for logs and plot axes)."""
        ret = ("final-policy return" if self.fitness_measure == "final_policy"
               else "final return")
        if self.levels.kind == "iwocs":
            worst = ("minimum" if self.levels.worst_case == "min"
                     else f"CVaR {self.levels.cvar_alpha:g}")
            return f"{worst} over the worst-case set of the final-policy return"
        if self.samples_levels:
            return f"{ret} / level optimum" if self.optimum_normalised else ret
        return f"normalised {ret} (PPO = 1)" if self.fitness_is_ppo_normalised else ret

    @property
    def fitness_is_ppo_normalised(self) -> bool:
        return self.levels.fitness == "normalized" and not self.samples_levels

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
        _migrate_legacy(d)
        nested = {"rule": RuleConfig, "train": TrainConfig, "es": ESConfig,
                  "metagrad": MetaGradConfig, "levels": LevelsConfig}
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


def _migrate_legacy(d: dict[str, Any]) -> None:
    """Read configs written before the `levels` section (run directories made by earlier
    versions): `sample_levels: true` is levels.kind sampled, `normalize_fitness: false` is
    levels.fitness raw."""
    sample, normalize = d.pop("sample_levels", None), d.pop("normalize_fitness", None)
    if sample is None and normalize is None:
        return
    levels = dict(d.get("levels") or {})
    if sample:
        levels.setdefault("kind", "sampled")
    if normalize is False:
        levels.setdefault("fitness", "raw")
    d["levels"] = levels


def _quickstart() -> DiscoveryConfig:
    # TA-LPO on CartPole from the papers' initialisation: the ES mean starts at exactly PPO
    # (normalised fitness 1 by construction) and the search moves the drift from there.
    return DiscoveryConfig(
        envs=("CartPole-v1",), rule=RuleConfig("ta-lpo"),
        train=TrainConfig(num_envs=8, num_steps=64, total_timesteps=8 * 64 * 30,
                          update_epochs=4, num_minibatches=4, lr=2.5e-3),
        es=ESConfig(population_size=16, lr=0.05, lr_min=1e-3, sigma=0.1, sigma_decay=1.0,
                    sigma_min=1e-2),
        generations=16, chunk=4, baseline_seeds=4, center_seeds=4)


def _minatar(rule: str) -> DiscoveryConfig:
    # LPO's MinAtar settings (64 envs x 128 steps, 4 epochs x 8 minibatches, relu 64x64) and
    # the LPO papers' OpenES (pop 64, lr and sigma 0.03 decayed by 0.99 to 1e-3 / 1e-2).
    # Deviations from the TA-LPO paper: it meta-trains LPO on SpaceInvaders alone, this preset
    # on the four games (use envs=[SpaceInvaders-MinAtar] for the paper's); and the paper tunes
    # the inner learning rate per game, while this preset uses 5e-3 for all four (the per-game
    # values were not available to this project; set train.lr per run).
    return DiscoveryConfig(envs=MINATAR, rule=RuleConfig(rule), train=TRAIN_PRESETS["minatar"],
                           es=ESConfig(population_size=64, lr=0.03, sigma=0.03),
                           generations=256, chunk=1)


def _lpg(rule: str) -> DiscoveryConfig:
    # Deviations from GROOVE, all fixes of its bugs (reference §6): TA-LPG sees n/N and log N
    # (GROOVE fed the raw update count and lifetime), and non-tabular objects respawn on free
    # cells. The published TA-LPG scale (GPU), as GROOVE runs it with --use_es: GROOVE's tabular
    # agents (bias-free linear tables, SGD lr 40 / 4), 64 workers x 20 steps, lifetimes
    # LU[10, 250] updates, population 1024 (512 antithetic pairs, each pair on one level, per-
    # pair rank), OpenES with Adam lr 1e-2 decayed by 0.999 to 1e-5, sigma 0.1 constant, the
    # mean starting at zero (pi_hat = 0, y_hat uniform), fitness from fresh episodes of the
    # final agent.
    return DiscoveryConfig(
        envs=("gridworld/all_vrandlife",), rule=RuleConfig(rule),
        levels=LevelsConfig("sampled"), train=TRAIN_PRESETS["gridworld-tabular"],
        es=ESConfig(population_size=1024, lr=1e-2, lr_decay=0.999, lr_min=1e-5, sigma=0.1,
                    sigma_decay=1.0, sigma_min=0.1, fitness_shaping="pair_rank"),
        generations=2500, chunk=5)


def _quickstart_lpg() -> DiscoveryConfig:
    # LPG (GRU 8) on fresh 'small' levels with GROOVE's tabular agents (16 workers, lifetimes
    # capped at 40 updates), antithetic pairs on one level ranked per pair, the ES mean
    # starting at zero, fitness from fresh episodes of the final agent. CPU minutes; see
    # tests/test_lpg_discovery.py for what it reaches on held-out levels.
    return DiscoveryConfig(
        envs=("gridworld/small",), rule=RuleConfig("lpg", {"hidden": 8}),
        levels=LevelsConfig("sampled"),
        train=TRAIN_PRESETS["gridworld-tabular"].replace(num_envs=16,
                                                         total_timesteps=16 * 20 * 40),
        es=ESConfig(population_size=32, lr=0.03, lr_decay=1.0, sigma=0.1, sigma_decay=1.0,
                    fitness_shaping="pair_rank"),
        generations=32, chunk=8)


def _lpg_metagrad() -> DiscoveryConfig:
    # GROOVE's meta-gradient LPG (its default run without --use_es), GPU scale: 512 agents on
    # all_shortlife levels (lifetime 250 updates), K = 5 agent updates per LPG update, Adam
    # 1e-4 on LPG, the LPG paper's regularisers, 30,000 meta-steps. Deviation: the meta-critic
    # that gives the meta-loss its advantages is fitted (GROOVE's update discarded its result).
    return DiscoveryConfig(
        envs=("gridworld/all_shortlife",), rule=RuleConfig("lpg", {"net_init": "random"}),
        levels=LevelsConfig("sampled"), outer="metagrad",
        train=TRAIN_PRESETS["gridworld-tabular"],
        metagrad=MetaGradConfig(num_agents=512, unroll=5, lr=1e-4, num_minibatches=16),
        generations=30_000, chunk=50, center_seeds=16)


def _quickstart_lpg_metagrad() -> DiscoveryConfig:
    # The same in CPU minutes: 16 agents on 'small' levels with lifetimes capped at 40 updates,
    # a GRU of 8, Adam 1e-2 (1e-4 needs GROOVE's 30,000 steps); the meta-parameters are scored
    # on 8 fresh levels every chunk. Seed 0: held-out 'small' levels -0.06 -> 0.48 (optimum-
    # normalised; random policy 0.03), see tests/test_metagrad.py.
    return DiscoveryConfig(
        envs=("gridworld/small",), rule=RuleConfig("lpg", {"hidden": 8, "net_init": "random"}),
        levels=LevelsConfig("sampled"), outer="metagrad",
        train=TRAIN_PRESETS["gridworld-tabular"].replace(num_envs=16,
                                                         total_timesteps=16 * 20 * 40),
        metagrad=MetaGradConfig(num_agents=16, unroll=5, lr=1e-2, num_minibatches=1),
        generations=128, chunk=32, center_seeds=8)


def _quickstart_groove() -> DiscoveryConfig:
    # GROOVE's curriculum in CPU minutes: quickstart-lpg's LPG and agents, with levels from an
    # algorithmic-regret PLR buffer over the 'small' level space (the regret of a level is
    # A2C's return on it minus the LPG agents'; A2C trains once per new level).
    base = _quickstart_lpg()
    return dataclasses.replace(base, levels=LevelsConfig(
        "plr", buffer_size=256, replay_prob=0.5, minimum_fill_ratio=0.25))


def _groove_gridworld() -> DiscoveryConfig:
    # GROOVE at the published scale (GPU): ta-lpg-gridworld's ES and agents (LPG here) with an
    # algorithmic-regret PLR buffer of 4000 levels over the 'all' level space (replay 0.5,
    # staleness 0.3, rank temperature 0.3). Deviation: GROOVE pairs its curriculum with LPG's
    # meta-gradient; this preset drives it with ES (outer=metagrad draws fresh levels only).
    base = _lpg("lpg")
    return dataclasses.replace(base, envs=("gridworld/all",), levels=LevelsConfig("plr"))


def _quickstart_lpo_plr() -> DiscoveryConfig:
    # TA-LPO over CartPole's physics (gravity, masses, pole length, force: the env's default
    # ParamSpace), levels from an algorithmic-regret PLR buffer: a level's regret is PPO's
    # return there minus the population's (PPO trains once per new level). Fitness is the raw
    # final return (physics levels have no exact optimum). CPU minutes.
    base = _quickstart()
    return dataclasses.replace(base, levels=LevelsConfig(
        "plr", buffer_size=128, minimum_fill_ratio=0.25), generations=16)


def _quickstart_robust() -> DiscoveryConfig:
    # Robust discovery in CPU minutes: quickstart's TA-LPO, where a member's fitness is its
    # agents' worst final-policy return over a growing set of CartPole pole lengths and masses
    # (cartpole-2d): every 4 generations CMA-ES (6 x 6 evaluations) finds the ES mean's agent's
    # worst case and adds it to the set (nominal + 4 models by generation 12).
    base = _quickstart()
    return dataclasses.replace(base, levels=LevelsConfig(
        "iwocs", space="cartpole-2d", set_size=5, search_every=4, search_population=6,
        search_generations=6))


def _robust_lpo_hopper() -> DiscoveryConfig:
    # Robust discovery at GPU scale: LPO on brax Hopper under M2TD3's hopper-3d set (world
    # friction [0.1, 3.0], torso mass [0.1, 3.0], thigh mass [0.1, 4.0]); the inner loop is
    # lpo-brax-ant's (purejaxrl's continuous PPO settings). A member's fitness is its agents'
    # worst final-policy return over up to 16 worst-case models; CMA-ES (16 x 12) adds one
    # every 8 generations.
    return DiscoveryConfig(
        envs=("brax/hopper",), rule=RuleConfig("lpo", {"ent_coef": 0.0}),
        train=TRAIN_PRESETS["brax"].replace(total_timesteps=10_000_000),
        es=ESConfig(population_size=64, lr=0.03, sigma=0.03),
        levels=LevelsConfig("iwocs", space="hopper-3d", set_size=16, search_every=8,
                            search_population=16, search_generations=12),
        generations=128, chunk=1)


def _lpo_brax_ant() -> DiscoveryConfig:
    # LPO on brax Ant as in the DPO paper, with purejaxrl's continuous PPO as the inner loop
    # (observation and reward normalisation, no LR annealing, entropy 0), so PPO, the
    # normaliser, is a tuned baseline. Deviation: the DPO paper's inner loop was brax's own PPO
    # (the reimplementation here is purejaxrl's, on brax's mjx backend by default).
    return DiscoveryConfig(
        envs=("brax/ant",), rule=RuleConfig("lpo", {"ent_coef": 0.0}),
        train=TRAIN_PRESETS["brax"].replace(total_timesteps=30_000_000),
        es=ESConfig(population_size=64, lr=0.03, sigma=0.03), generations=256, chunk=1)


PRESETS = {
    "quickstart": _quickstart,
    "quickstart-lpg": _quickstart_lpg,
    "quickstart-lpg-metagrad": _quickstart_lpg_metagrad,
    "quickstart-groove": _quickstart_groove,
    "quickstart-lpo-plr": _quickstart_lpo_plr,
    "quickstart-robust": _quickstart_robust,
    "robust-lpo-hopper": _robust_lpo_hopper,
    "groove-gridworld": _groove_gridworld,
    "lpg-metagrad-gridworld": _lpg_metagrad,
    "lpg-gridworld": lambda: _lpg("lpg"),
    "ta-lpg-gridworld": lambda: _lpg("ta-lpg"),
    "lpo-minatar": lambda: _minatar("lpo"),
    "ta-lpo-minatar": lambda: _minatar("ta-lpo"),
    "lpo-brax-ant": _lpo_brax_ant,
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
