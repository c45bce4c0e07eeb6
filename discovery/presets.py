"""Named, typed configurations.

`train_preset(name)` gives the inner-loop settings per environment family (the published PPO
settings); discovery presets (ES + environments + rule) are added by `discovery.config`.
"""

from __future__ import annotations

from discovery.inner import TrainConfig

TRAIN_PRESETS: dict[str, TrainConfig] = {
    # purejaxrl's CartPole-v1 configuration (the defaults of TrainConfig).
    "classic": TrainConfig(),
    # MinAtar settings used by the LPO work: 64 envs x 128 steps, 4 epochs, 8 minibatches.
    "minatar": TrainConfig(num_envs=64, num_steps=128, total_timesteps=10_000_000,
                           update_epochs=4, num_minibatches=8, lr=5e-3, activation="relu"),
    # purejaxrl's continuous-action PPO (ppo_continuous_action.py), for GPUs: 2048 envs x 10
    # steps, 4 epochs x 32 minibatches, Adam 3e-4 without annealing, clip 0.5, tanh 256x256,
    # observation and reward normalisation (the rule's ent_coef must be 0, as its ENT_COEF).
    "brax": TrainConfig(num_envs=2048, num_steps=10, total_timesteps=50_000_000,
                        update_epochs=4, num_minibatches=32, lr=3e-4, anneal_lr=False,
                        hidden=(256, 256), normalize_obs=True, normalize_reward=True),
    # Tabular grid-worlds, GROOVE's TAB agents: bias-free linear tables over the one-hot
    # observation (flax's default init), plain SGD (actor lr 40, critic lr 4), actor and
    # critic each clipped to global norm 0.5; 64 workers x 20 steps, one update per rollout,
    # lifetime up to 250 updates (all_vrandlife's maximum). The time limit is a terminal
    # (grid-world observations carry time), and LPG runs are scored by the final policy.
    "gridworld-tabular": TrainConfig(num_envs=64, num_steps=20, total_timesteps=64 * 20 * 250,
                                     update_epochs=1, num_minibatches=1, lr=40.0,
                                     critic_lr=4.0, optimizer="sgd", anneal_lr=False,
                                     hidden=(), activation="relu", agent_style="groove"),
    # Non-tabular grid-worlds, GROOVE's RAND agents: MLP [32] (ReLU), Adam 1e-3 with optax's
    # defaults (eps 1e-8) and no gradient clipping (GROOVE's Adam chain has none), same batch.
    "gridworld": TrainConfig(num_envs=64, num_steps=20, total_timesteps=64 * 20 * 250,
                             update_epochs=1, num_minibatches=1, lr=1e-3, anneal_lr=False,
                             hidden=(32,), activation="relu", agent_style="groove",
                             max_grad_norm=None, adam_eps=1e-8),
    # Meta-World-style manipulation suite (continuous control, 500-step episodes).
    "manipulation": TrainConfig(num_envs=256, num_steps=50, total_timesteps=10_000_000,
                                update_epochs=4, num_minibatches=8, lr=3e-4,
                                hidden=(256, 256), normalize_obs=True),
}


def train_preset_for(env_name: str) -> str:
    """The train preset that suits an environment name."""
    if env_name.endswith("-MinAtar"):
        return "minatar"
    if env_name.startswith("gridworld/"):
        from envs.gridworld import layout_of

        return "gridworld-tabular" if layout_of(env_name.split("/", 1)[1]).tabular else "gridworld"
    for prefix, preset in (("brax/", "brax"), ("metaworld/", "manipulation")):
        if env_name.startswith(prefix):
            return preset
    return "classic"


def train_preset(name: str) -> TrainConfig:
    if name not in TRAIN_PRESETS:
        raise ValueError(f"Unknown train preset '{name}'. Known: {', '.join(TRAIN_PRESETS)}")
    return TRAIN_PRESETS[name]
