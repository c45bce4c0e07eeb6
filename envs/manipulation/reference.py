"""Differential checks against recordings of the real Meta-World (`scripts/metaworld_reference.py`).

Three checks per task, each on the episodes of one recording (a random-action episode and an
episode of Meta-World's own scripted expert, both on the task's first MT1 variant):
  - `check_resets`: our reset state against Meta-World's reset constants (goal, the constants its
    reward reads, the hand);
  - `check_rewards`: our reward and success functions on Meta-World's own recorded states
    (observation, tcp, pads, live extras, action) against Meta-World's reward, success and info;
  - `replay` + `trajectory_errors`: Meta-World's action sequence replayed in our env from the
    same variant; the trajectory errors per observation component, reward and success agreement.
Each takes a list of recordings and runs them as one batch (one compile for all tasks).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envs.manipulation.env import ManipulationEnv, make_params
from envs.manipulation.rewards import RewardInputs
from envs.manipulation.tasks import TASK_INDEX, task_spec

FRAME_UNIT = 1e-4  # frames are recorded as int16 multiples of this, delta-coded over time
COMPONENTS = {"hand": slice(0, 3), "gripper": slice(3, 4), "object": slice(4, 7),
              "quaternion": slice(7, 11), "object2": slice(11, 18)}
# reset constants: Meta-World's name -> our init slice
INIT_SLOTS = {"obj_init": slice(0, 3), "init_tcp": slice(3, 6), "hand_init": slice(6, 9),
              "peg_head_init": slice(9, 12), "handle_init": slice(9, 12),
              "lever_init": slice(9, 12), "press_depth": slice(9, 10), "push_init": slice(9, 12)}


@dataclass(frozen=True)
class Episode:
    """One recorded episode (float64 arrays; see scripts/metaworld_reference.py)."""

    kind: str
    actions: np.ndarray  # (T, 4) as applied
    frames: np.ndarray  # (T + 1, 18) obs[0:18], reset first
    rewards: np.ndarray  # (T,)
    success: np.ndarray  # (T,) bool
    sample_steps: np.ndarray  # (S,)
    samples: dict[str, np.ndarray]  # name -> (S, k)
    consts: dict[str, np.ndarray]


@dataclass(frozen=True)
class Recording:
    task: str
    versions: tuple[str, ...]
    episodes: tuple[Episode, ...]


def _layout(line: str) -> list[tuple[str, int]]:
    return [(f.split(":")[0], int(f.split(":")[1])) for f in line.split()[1:]]


def load(path: str | pathlib.Path) -> Recording:
    """Decode one task's recording."""
    path = pathlib.Path(path)
    with np.load(path) as d:
        data = {k: d[k] for k in d.files}
    meta = [str(x) for x in data["meta"]]
    kinds = meta[2].split()[1:]
    sample_layout, const_layout = _layout(meta[3]), _layout(meta[4])
    episodes, t0, s0 = [], 0, 0
    for e, (kind, length, n_samples) in enumerate(zip(kinds, data["lengths"],
                                                      data["samples_per_episode"],
                                                      strict=True)):
        length, n_samples = int(length), int(n_samples)
        frames = np.cumsum(data["frames"][t0 + e:t0 + e + length + 1].astype(np.int64), axis=0)
        rows = data["samples"][s0:s0 + n_samples].astype(np.float64)
        samples, col = {}, 0
        for name, size in sample_layout:
            samples[name] = rows[:, col:col + size]
            col += size
        consts, col = {}, 0
        for name, size in const_layout:
            consts[name] = data["consts"][e, col:col + size]
            col += size
        episodes.append(Episode(
            kind=kind, actions=data["actions"][t0:t0 + length].astype(np.float32) / 127.0,
            frames=frames * FRAME_UNIT, rewards=data["rewards"][t0:t0 + length].astype(np.float64),
            success=data["success"][t0:t0 + length], sample_steps=data["sample_steps"][
                s0:s0 + n_samples].astype(np.int64), samples=samples, consts=consts))
        t0 += length
        s0 += n_samples
    return Recording(task=path.stem, versions=tuple(meta[:2]), episodes=tuple(episodes))


def _pad6(vec: np.ndarray) -> np.ndarray:
    out = np.zeros(6)
    out[:len(vec)] = vec
    return out


def _batch(recordings: list[Recording]) -> tuple[ManipulationEnv, list[tuple], Any]:
    """One env with the recordings' tasks, the (recording, episode) pairs, batched params."""
    tasks = tuple(dict.fromkeys(task_spec(r.task).name for r in recordings))
    env = ManipulationEnv(tasks=tasks)
    episodes = [(r, e) for r in recordings for e in r.episodes]
    params = jax.vmap(make_params)(
        np.asarray([TASK_INDEX[task_spec(r.task).name] for r, _ in episodes], np.int32),
        np.stack([_pad6(e.consts["rand_vec"]) for _, e in episodes]).astype(np.float32))
    return env, episodes, params


def _regroup(recordings: list[Recording], flat: list) -> list[list]:
    out, i = [], 0
    for r in recordings:
        out.append(flat[i:i + len(r.episodes)])
        i += len(r.episodes)
    return out


def _resets(env: ManipulationEnv, params: Any, n: int) -> tuple[np.ndarray, Any]:
    keys = jax.random.split(jax.random.key(0), n)
    return jax.device_get(jax.jit(jax.vmap(env.reset))(keys, params))


def check_resets(recordings: list[Recording]) -> list[list[dict[str, float]]]:
    """Per recording, per episode: max abs difference of each reset constant, ours against
    Meta-World's (goal, hand after the reset, the constants the reward reads)."""
    env, episodes, params = _batch(recordings)
    obs, state = _resets(env, params, len(episodes))
    results = []
    for i, (_, e) in enumerate(episodes):
        ours = {"goal": state.goal[i], "hand_reset": obs[i, 0:3]}
        for name, cols in INIT_SLOTS.items():
            ours[name] = state.init[i, cols]
        results.append({k: float(np.max(np.abs(v - e.consts[k]))) for k, v in ours.items()
                        if k in e.consts})
    return _regroup(recordings, results)


def recorded_inputs(episode: Episode, our_init: np.ndarray) -> RewardInputs:
    """Meta-World's recorded reward inputs as a batch of `RewardInputs` (leading axis: samples).

    The reset constants are Meta-World's where it records them and ours (checked by
    `check_resets`) for the task-specific rest."""
    s = episode.samples
    n = len(episode.sample_steps)
    extras = [v for k, v in s.items() if k.startswith("x_") and k != "x_touching"]
    extra = np.zeros((n, 4))
    if extras:
        cat = np.concatenate(extras, axis=1)
        extra[:, :cat.shape[1]] = cat
    init = np.array(our_init, np.float64)
    for name in ("obj_init", "init_tcp", "hand_init"):
        if name in episode.consts:
            init[INIT_SLOTS[name]] = episode.consts[name]
    # Meta-World's contact flag where the recording has it (ours is the grip)
    touching = (s["x_touching"][:, 0] > 0.5 if "x_touching" in s else np.zeros(n, bool))
    f = lambda x: jnp.asarray(x, jnp.float32)
    return RewardInputs(
        obs=f(s["obs"]), action=f(episode.actions[episode.sample_steps]), tcp=f(s["tcp"]),
        left_pad=f(s["left_pad"]), right_pad=f(s["right_pad"]),
        goal=f(np.broadcast_to(episode.consts["goal"], (n, 3))), extra=f(extra),
        init=f(np.broadcast_to(init, (n, 16))), touching=jnp.asarray(touching))


_INFO_COLUMNS = {"near_object": 0, "grasp_reward": 2, "in_place_reward": 3, "obj_to_target": 4}


def check_rewards(recordings: list[Recording]) -> list[list[dict[str, float]]]:
    """Per recording, per episode: max abs difference of the reward and info values our reward
    functions give on Meta-World's recorded states against Meta-World's own, and the number of
    success flags that differ. (`grasp_success` is left out: several tasks define it by
    MuJoCo contact forces.)"""
    env, episodes, params = _batch(recordings)
    _, state = _resets(env, params, len(episodes))
    inputs = [recorded_inputs(e, state.init[i]) for i, (_, e) in enumerate(episodes)]
    sizes = [len(e.sample_steps) for _, e in episodes]
    batch = jax.tree.map(lambda *xs: jnp.concatenate(xs), *inputs)
    local = np.concatenate([np.full(n, env.tasks.index(task_spec(r.task).name))
                            for n, (r, _) in zip(sizes, episodes, strict=True)])
    fns = tuple(task_spec(t).reward for t in env.tasks)
    out = jax.device_get(jax.jit(jax.vmap(lambda ri, k: jax.lax.switch(k, fns, ri)))(
        batch, jnp.asarray(local)))
    results, start = [], 0
    for n, (_, e) in zip(sizes, episodes, strict=True):
        rows = slice(start, start + n)
        res = {"reward": float(np.max(np.abs(out.reward[rows] - e.samples["reward"][:, 0])))}
        for k, col in _INFO_COLUMNS.items():
            res[k] = float(np.max(np.abs(getattr(out, k)[rows] - e.samples["info"][:, col])))
        res["success_mismatches"] = int(np.sum(out.success[rows] != e.success[e.sample_steps]))
        results.append(res)
        start += n
    return _regroup(recordings, results)


def replay(recordings: list[Recording]) -> list[list[dict[str, np.ndarray]]]:
    """Every episode of `recordings` replayed in our env from its variant, in one batched,
    jitted rollout: per recording, per episode, frames (T + 1, 18), rewards (T,), success (T,)."""
    env, episodes, params = _batch(recordings)
    horizon = max(len(e.actions) for _, e in episodes)
    actions = np.zeros((len(episodes), horizon, 4), np.float32)
    for i, (_, e) in enumerate(episodes):
        actions[i, :len(e.actions)] = e.actions

    @jax.jit
    def run(params, actions):
        def one(p, acts):
            obs, state = env.reset(jax.random.key(0), p)

            def body(s, a):
                o, s, r, _, _, info = env.step(jax.random.key(0), s, a, p)
                return s, (o[:18], r, info["success"])

            _, (frames, rewards, success) = jax.lax.scan(body, state, acts)
            return obs[:18], frames, rewards, success

        return jax.vmap(one)(params, actions)

    first, frames, rewards, success = jax.device_get(run(params, jnp.asarray(actions)))
    flat = []
    for i, (_, e) in enumerate(episodes):
        n = len(e.actions)
        flat.append({"frames": np.concatenate([first[i][None], frames[i, :n]]),
                     "rewards": rewards[i, :n], "success": success[i, :n] > 0})
    return _regroup(recordings, flat)


def trajectory_errors(episode: Episode, ours: dict[str, np.ndarray]) -> dict[str, float]:
    """Max abs error per observation component over the episode, mean abs reward error,
    success-flag agreement (fraction of steps) and the first-success steps (-1: never)."""
    out = {}
    for name, cols in COMPONENTS.items():
        out[name] = float(np.max(np.abs(ours["frames"][:, cols] - episode.frames[:, cols])))
    out["reward_mean_abs"] = float(np.mean(np.abs(ours["rewards"] - episode.rewards)))
    out["success_agreement"] = float(np.mean(ours["success"] == episode.success))
    first = lambda s: int(np.argmax(s)) if s.any() else -1
    out["first_success_ours"] = first(ours["success"])
    out["first_success_metaworld"] = first(episode.success)
    return out
