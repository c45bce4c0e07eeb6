"""Record reference data from the REAL Meta-World for the differential tests of envs/manipulation.

Meta-World is not a dependency of this project (it pins mujoco 3.3.0, which conflicts with
mujoco-mjx): run this script with the python of a side virtualenv:

    python3 -m venv /tmp/mwvenv && /tmp/mwvenv/bin/pip install metaworld==3.1.1 packaging
    /tmp/mwvenv/bin/python scripts/metaworld_reference.py record      # tests/data/metaworld/
    /tmp/mwvenv/bin/python scripts/metaworld_reference.py variants    # seeded variant sets
    /tmp/mwvenv/bin/python scripts/metaworld_reference.py hand        # hand-model fit data

`record` writes one compressed `.npz` per task, each holding two episodes (concatenated along
time; `lengths` splits them, `meta` names the layouts and the versions) of the task's first
variant (`MT1(task, seed=0).train_tasks[0]`):
  - "random": uniform random actions, quantised to k/127 (stored as int8, applied as float32),
  - "expert": Meta-World's own scripted policy, closed loop in Meta-World, its actions quantised
    the same way before they are applied; recorded until 10 steps after its first success.
Per step it stores the observation frame obs[0:18] (int16 multiples of 0.1 mm, delta-coded over
time), the reward in float16 (both for trajectory comparisons) and the success flag; for
`REWARD_SAMPLES` steps spread over the episode, the exact float32 inputs of the task's reward
("samples": clipped obs[0:18], tcp, pads, Meta-World's reward and info, the task's live extras;
the action is the episode's int8 action / 127). Reset constants (variant, goal, initial
positions the reward uses) are one float64 row per episode ("consts").

`variants` writes the rand_vecs of Meta-World's benchmark constructors (MT10, MT50, ML10, ML45,
ML1 for reach and door-open, and MT1 for every task named by `--mt1-tasks`; seeds 0 and 1) so
that the test can check our reproduction of them (tests/data/metaworld/variants.npz).
`hand` writes free-space hand trajectories under random actions (reach-v3), the data the lag
model in `envs/manipulation/hand.py` was fitted on.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "metaworld"
REWARD_SAMPLES = 16
FRAME_UNIT = 1e-4  # frames are stored as int16 multiples of this, delta-coded over time
RANDOM_STEPS = 80
EXPERT_MAX_STEPS = 260
EXPERT_AFTER_SUCCESS = 10

Getter = Callable[[Any], np.ndarray]


def _site(name: str) -> Getter:
    return lambda env: env.data.site(name).xpos.copy()


def _body(name: str) -> Getter:
    return lambda env: env.data.body(name).xpos.copy()


def _joint(name: str) -> Getter:
    return lambda env: np.atleast_1d(env.data.joint(name).qpos.copy())


def _attr(name: str) -> Getter:
    return lambda env: np.atleast_1d(np.asarray(getattr(env, name), np.float64).copy())


# Per task: live quantities the reward reads beyond obs / action / tcp / pads ("extra"), and
# reset constants beyond goal, object start, tcp start and hand start ("init"). The names are
# the ones envs/manipulation's reward inputs use.
EXTRAS: dict[str, dict[str, Getter]] = {
    "door-open": {"door_angle": _joint("doorjoint")},
    "door-close": {"door_angle": _joint("doorjoint")},
    "peg-insert-side": {"peg_head": _site("pegHead")},
    "lever-pull": {"lever_angle": _joint("LeverAxis")},
    "window-open": {"window_slide": _joint("window_slide")},
    "window-close": {"window_slide": _joint("window_slide")},
    "drawer-open": {"drawer_slide": _joint("goal_slidey")},
    "drawer-close": {"drawer_slide": _joint("goal_slidey")},
    "button-press-topdown": {"button_slide": _joint("btnbox_joint")},
    "button-press-topdown-wall": {"button_slide": _joint("btnbox_joint")},
    "button-press": {"button_slide": _joint("btnbox_joint")},
    "button-press-wall": {"button_slide": _joint("btnbox_joint")},
    "coffee-button": {"button_slide": _joint("goal_slidey")},
    "basketball": {}, "shelf-place": {}, "sweep": {}, "sweep-into": {},
    "disassemble": {"nut_center": _site("RoundNut")},
    "assembly": {"nut_center": _site("RoundNut")},
    "hammer": {"nail_slide": _joint("NailSlideJoint")},
    "stick-push": {"touching": _attr("touching_main_object")},
    "stick-pull": {"stick_end": _site("stick_end"), "touching": _attr("touching_main_object")},
}
INITS: dict[str, dict[str, Getter]] = {
    "peg-insert-side": {"peg_head_init": _attr("peg_head_pos_init")},
    "window-open": {"handle_init": _attr("window_handle_pos_init")},
    "window-close": {"handle_init": _attr("window_handle_pos_init")},
    "button-press-topdown": {"press_depth": _attr("_obj_to_target_init")},
    "button-press-topdown-wall": {"press_depth": _attr("_obj_to_target_init")},
    "button-press": {"press_depth": _attr("_obj_to_target_init")},
    "button-press-wall": {"press_depth": _attr("_obj_to_target_init")},
    "coffee-button": {"press_depth": _attr("max_dist")},
    "dial-turn": {"push_init": _attr("dial_push_position")},
    "lever-pull": {"lever_init": _attr("_lever_pos_init")},
    "handle-press": {"handle_init": _attr("_handle_init_pos")},
    "handle-press-side": {"handle_init": _attr("_handle_init_pos")},
}


def _quantise(actions: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(actions, np.float64) * 127), -127, 127).astype(np.int8)


def _make_env(task: str, variant: int = 0):
    import metaworld

    name = f"{task}-v3"
    mt1 = metaworld.MT1(name, seed=0)
    env = mt1.train_classes[name]()
    env.set_task(mt1.train_tasks[variant])
    return env


def _reset_constants(env, task: str) -> dict[str, np.ndarray]:
    out = {
        "rand_vec": np.asarray(env._last_rand_vec, np.float64),
        "goal": np.asarray(env._target_pos, np.float64).copy(),
        "init_tcp": np.asarray(env.init_tcp, np.float64).copy(),
        "hand_init": np.asarray(env.hand_init_pos, np.float64).copy(),
        "hand_reset": env.data.body("hand").xpos.copy(),
    }
    obj_init = getattr(env, "obj_init_pos", None)
    if obj_init is not None:
        out["obj_init"] = np.asarray(obj_init, np.float64).copy()
    for name, get in INITS.get(task, {}).items():
        out[name] = get(env)
    return out


SAMPLE_FIELDS = (("obs", 18), ("tcp", 3), ("left_pad", 3), ("right_pad", 3), ("reward", 1),
                 ("info", 5))
INFO_KEYS = ("near_object", "grasp_success", "grasp_reward", "in_place_reward", "obj_to_target")


def _episode(env, task: str, policy, steps: int, stop_after_success: int | None
             ) -> dict[str, np.ndarray]:
    obs, _ = env.reset()
    consts = _reset_constants(env, task)
    frames, rewards, successes, actions = [obs[:18].copy()], [], [], []
    samples: list[np.ndarray] = []
    first_success = None
    extras = EXTRAS.get(task, {})
    for t in range(steps):
        q = _quantise(policy(obs))
        action = q.astype(np.float32) / 127.0
        obs, reward, _, _, info = env.step(action)
        row = [obs[:18], env.tcp_center, env.data.body("leftpad").xpos,
               env.data.body("rightpad").xpos, [reward], [info[k] for k in INFO_KEYS]]
        row += [get(env) for get in extras.values()]
        samples.append(np.concatenate([np.asarray(r, np.float64).ravel() for r in row]))
        frames.append(obs[:18].copy())
        rewards.append(reward)
        successes.append(info["success"])
        actions.append(q)
        if info["success"] and first_success is None:
            first_success = t
        if (stop_after_success is not None and first_success is not None
                and t >= first_success + stop_after_success):
            break
    n = len(actions)
    pick = np.unique(np.linspace(0, n - 1, min(REWARD_SAMPLES, n)).round().astype(int))
    return {
        "actions": np.stack(actions), "frames": _delta_code(np.stack(frames)),
        "rewards": np.asarray(rewards, np.float16), "success": np.asarray(successes, bool),
        "sample_steps": pick.astype(np.int16),
        "samples": np.stack([samples[i] for i in pick]).astype(np.float32),
        "consts": np.concatenate([np.atleast_1d(v) for v in consts.values()]),
        "_const_layout": [(k, np.size(v)) for k, v in consts.items()],
    }


def _delta_code(frames: np.ndarray) -> np.ndarray:
    """int16 multiples of FRAME_UNIT, each row stored as its difference from the previous one."""
    q = np.round(frames / FRAME_UNIT).astype(np.int64)
    return np.diff(q, axis=0, prepend=np.zeros_like(q[:1])).astype(np.int16)


def _layout_string(fields) -> np.ndarray:
    return np.array([f"{name}:{size}" for name, size in fields])


def record(tasks: list[str], out_dir: pathlib.Path) -> None:
    from importlib.metadata import version

    import mujoco
    from metaworld.policies import ENV_POLICY_MAP

    out_dir.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        env = _make_env(task)
        rng = np.random.default_rng(0)
        random_actions = rng.uniform(-1, 1, (RANDOM_STEPS, 4))
        step = iter(random_actions)
        episodes = {"random": _episode(env, task, lambda _o, it=step: next(it), RANDOM_STEPS,
                                       None)}
        expert = ENV_POLICY_MAP[f"{task}-v3"]()
        episodes["expert"] = _episode(
            env, task, lambda o, pol=expert: np.clip(pol.get_action(o), -1, 1),
            EXPERT_MAX_STEPS, EXPERT_AFTER_SUCCESS)
        layout = episodes["random"].pop("_const_layout")
        assert layout == episodes["expert"].pop("_const_layout")
        order = ("random", "expert")
        arrays = {key: np.concatenate([episodes[ep][key] for ep in order])
                  for key in ("actions", "frames", "rewards", "success", "sample_steps",
                              "samples")}
        arrays["consts"] = np.stack([episodes[ep]["consts"] for ep in order])
        arrays["lengths"] = np.array([len(episodes[ep]["actions"]) for ep in order], np.int16)
        arrays["samples_per_episode"] = np.array(
            [len(episodes[ep]["sample_steps"]) for ep in order], np.int16)
        extras = [(f"x_{k}", np.size(g(env))) for k, g in EXTRAS.get(task, {}).items()]
        arrays["meta"] = np.array(
            [f"metaworld {version('metaworld')}", f"mujoco {mujoco.__version__}",
             "episodes " + " ".join(order),
             "samples " + " ".join(f"{k}:{n}" for k, n in SAMPLE_FIELDS + tuple(extras)),
             "consts " + " ".join(f"{k}:{n}" for k, n in layout)])
        path = out_dir / f"{task}.npz"
        np.savez_compressed(path, **arrays)
        n_exp = arrays["lengths"][1]
        print(f"{task:28s} expert {n_exp:3d} steps, success "
              f"{bool(arrays['success'][-n_exp:].any())}, {path.stat().st_size / 1e3:.1f} kB")
        env.close()


BENCHMARK_SEEDS = (0, 1)


def variants(out: pathlib.Path, mt1_tasks: list[str]) -> None:
    """The benchmarks' rand_vecs, keyed "<benchmark>/<split>/<seed>/<task>"."""
    import metaworld

    arrays: dict[str, np.ndarray] = {}

    def add(prefix: str, tasks) -> None:
        import pickle

        by_task: dict[str, list] = {}
        for t in tasks:
            by_task.setdefault(t.env_name, []).append(pickle.loads(t.data)["rand_vec"])
        for name, vecs in by_task.items():
            arrays[f"{prefix}/{name.removesuffix('-v3')}"] = np.asarray(vecs, np.float64)

    for seed in BENCHMARK_SEEDS:
        add(f"MT10/train/{seed}", metaworld.MT10(seed=seed).train_tasks)
        add(f"MT50/train/{seed}", metaworld.MT50(seed=seed).train_tasks)
        for name, cls in (("ML10", metaworld.ML10), ("ML45", metaworld.ML45)):
            b = cls(seed=seed)
            add(f"{name}/train/{seed}", b.train_tasks)
            add(f"{name}/test/{seed}", b.test_tasks)
        for task in ("reach", "door-open"):
            b = metaworld.ML1(f"{task}-v3", seed=seed)
            add(f"ML1/train/{seed}", b.train_tasks)
            add(f"ML1/test/{seed}", b.test_tasks)
        for task in mt1_tasks:
            add(f"MT1/train/{seed}", metaworld.MT1(f"{task}-v3", seed=seed).train_tasks)
    np.savez_compressed(out, **arrays)
    print(f"{len(arrays)} variant sets -> {out} ({out.stat().st_size / 1e3:.1f} kB)")


def hand_data(out: pathlib.Path, episodes: int = 24, steps: int = 300) -> None:
    """Mocap and hand positions under random (piecewise-constant and white) actions, reach-v3.

    Episodes that would push the fingers into the table or the puck are kept: the mocap's lower
    z bound (0.05) stays above them, and the fit below drops steps with a contact."""
    import metaworld

    mt1 = metaworld.MT1("reach-v3", seed=0)
    env = mt1.train_classes["reach-v3"]()
    rng = np.random.default_rng(1)
    hands, mocaps, contacts = [], [], []
    for ep in range(episodes):
        env.set_task(mt1.train_tasks[ep % 50])
        env.reset()
        h, m, c = [env.data.body("hand").xpos.copy()], [env.data.mocap_pos[0].copy()], [0]
        hold = rng.integers(1, 15)
        action = rng.uniform(-1, 1, 4)
        for t in range(steps):
            if t % hold == 0:
                action = rng.uniform(-1, 1, 4) * rng.choice([0.3, 1.0])
            env.step(action)
            h.append(env.data.body("hand").xpos.copy())
            m.append(env.data.mocap_pos[0].copy())
            c.append(env.data.ncon)
        hands.append(h)
        mocaps.append(m)
        contacts.append(c)
    np.savez_compressed(out, hand=np.asarray(hands), mocap=np.asarray(mocaps),
                        contacts=np.asarray(contacts))
    print(f"hand data -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--tasks", nargs="*", default=None, help="default: every task in EXTRAS "
                     "order of envs/manipulation (all 50)")
    rec.add_argument("--out", type=pathlib.Path, default=OUT)
    var = sub.add_parser("variants")
    var.add_argument("--out", type=pathlib.Path, default=OUT / "variants.npz")
    var.add_argument("--mt1-tasks", nargs="*", default=["reach", "door-open"],
                     help="tasks whose MT1 variant sets to record (the test checks every one)")
    hand = sub.add_parser("hand")
    hand.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/mw_hand.npz"))
    args = ap.parse_args()
    if args.cmd == "record":
        import metaworld

        tasks = args.tasks or [n.removesuffix("-v3")
                               for n in metaworld.env_dict.ALL_V3_ENVIRONMENTS]
        record(tasks, args.out)
    elif args.cmd == "variants":
        variants(args.out, args.mt1_tasks)
    else:
        hand_data(args.out)


if __name__ == "__main__":
    main()
