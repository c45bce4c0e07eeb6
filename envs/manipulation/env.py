"""One gymnax environment class for every manipulation task: the task is a field of EnvParams.

Protocol options follow Meta-World v3 (`metaworld.make_mt_envs` / `make_ml_envs`):
  - `resample_variants`: each reset draws one of the task's variants in `params.variants`
    (Meta-World's `RandomTaskSelectWrapper`, on in its MT envs); off, the reset uses
    `params.rand_vec` (one fixed variant per env slot, this suite's earlier behaviour);
  - `terminate_on_success`: `terminated` is the success flag (Meta-World's
    `AutoTerminateOnSuccessWrapper`, on in its ML test envs); off, episodes only truncate;
  - `num_onehot`: appends a task one-hot (Meta-World's `use_one_hot`, off by default there);
  - `goal_observable=False` zeroes obs[36:39] (Meta-World's ML envs).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces
from jax.flatten_util import ravel_pytree

from envs.manipulation import hand as H
from envs.manipulation.geometry import mat_t_vec
from envs.manipulation.physics import (
    FRAME_SIZE,
    EnvState,
    Features,
    fixture_pose,
    physics_step,
)
from envs.manipulation.rewards import INFO_KEYS, RewardInputs
from envs.manipulation.scene import (
    JOINT_HINGE,
    ON_FIXTURE,
    ON_OBJECT,
    QUAT_CONST,
    QUAT_FIXTURE,
    XYZW,
)
from envs.manipulation.tasks import (
    RAND_DIM,
    TASK_INDEX,
    TASK_SPECS,
    TASKS,
    View,
    task_constants,
)

OBS_SIZE = 39
MAX_STEPS = 500
NUM_VARIANTS = 50
# Meta-World clips the observation to its space: the hand to _HAND_SPACE, the gripper to [-1, 1]
HAND_SPACE_LOW = np.array([-0.525, 0.348, -0.0525], np.float32)
HAND_SPACE_HIGH = np.array([0.525, 1.025, 0.7], np.float32)


@struct.dataclass
class EnvParams:
    """One task variant. Batch these (leading axis) to run many tasks/variants in one vmap.

    task_id: index into `TASKS`; rand_vec: the variant (Meta-World's `rand_vec`, padded to
    RAND_DIM); variants: (NUM_VARIANTS, RAND_DIM) the task's variant set, drawn from at each
    reset when the env resamples; onehot_index: which entry of the task one-hot is set."""

    task_id: jax.Array
    rand_vec: jax.Array
    variants: jax.Array
    onehot_index: jax.Array
    max_steps_in_episode: int = struct.field(pytree_node=False, default=MAX_STEPS)


def make_params(task_id: int, rand_vec: Any, onehot_index: int = 0, variants: Any = None
                ) -> EnvParams:
    vec = jnp.zeros(RAND_DIM, jnp.float32).at[:jnp.shape(rand_vec)[-1]].set(
        jnp.asarray(rand_vec, jnp.float32))
    table = (jnp.broadcast_to(vec, (NUM_VARIANTS, RAND_DIM)) if variants is None
             else jnp.asarray(variants, jnp.float32))
    return EnvParams(task_id=jnp.asarray(task_id, jnp.int32), rand_vec=vec, variants=table,
                     onehot_index=jnp.asarray(onehot_index, jnp.int32))


# ------------------------------------------------------------------------- observation
def _point(on: jax.Array, offset: jax.Array, anchor: jax.Array, s: EnvState, view: View
           ) -> jax.Array:
    world = s.anchors[anchor] + offset
    return jnp.select([on == ON_OBJECT, on == ON_FIXTURE],
                      [s.obj + offset, view.fixture_point(offset)], world)


def _quat_mul(a: jax.Array, b: jax.Array) -> jax.Array:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return jnp.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                      aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


def _quat(mode: jax.Array, base: jax.Array, order: jax.Array, s: EnvState, c: dict
          ) -> jax.Array:
    """An observed quaternion: zeros, `base`, or the hinge rotation composed with `base`; in
    scipy's (x, y, z, w) order its largest component is positive, as `Rotation.as_quat` gives."""
    half = 0.5 * s.joint[0]
    axis = c["joint_axis"][0]
    turn = jnp.concatenate([jnp.cos(half)[None], jnp.sin(half) * axis])
    q = jnp.where(mode == QUAT_FIXTURE, _quat_mul(turn, base), base)
    xyzw = jnp.concatenate([q[1:], q[:1]])
    big = xyzw[jnp.argmax(jnp.abs(xyzw))]
    xyzw = jnp.where(big < 0, -xyzw, xyzw)
    out = jnp.where(order == XYZW, xyzw, q)
    return jnp.where((mode == QUAT_CONST) | (mode == QUAT_FIXTURE), out, 0.0)


def observation_frame(s: EnvState, c: dict) -> jax.Array:
    """obs[0:18]: hand, gripper opening, object 1 position + quaternion, object 2 (or zeros),
    clipped as Meta-World clips it."""
    return _frame(s, task_view(s, c), c)


def _frame(s: EnvState, view: View, c: dict) -> jax.Array:
    p2 = _point(c["p2_on"], c["p2_offset"], c["p2_anchor"], s, view) * c["has_p2"]
    q1 = _quat(c["q1_mode"], c["q1_base"], c["q1_order"], s, c)
    q2 = _quat(c["q2_mode"], c["q2_base"], c["q2_order"], s, c) * c["has_p2"]
    hand = jnp.clip(s.hand, HAND_SPACE_LOW, HAND_SPACE_HIGH)
    return jnp.concatenate([hand, H.gripper_opening(s.fingers)[None], view.point, q1, p2, q2])


def task_view(s: EnvState, c: dict) -> View:
    """The task view of a state (the fixture pose and the first observed point, computed once
    per step and shared by the observation, the extras and the reset constants)."""
    origin, rot, trans = fixture_pose(s.joint, s.anchors, c)
    view = View(anchors=s.anchors, goal=s.goal, obj=s.obj, joint=s.joint, point=s.obj,
                tcp=H.tcp_center(s.hand, s.fingers), hand=s.hand, fixture_origin=origin,
                fixture_rot=rot, fixture_trans=trans)
    return view._replace(point=_point(c["p1_on"], c["p1_offset"], c["p1_anchor"], s, view))


def reward_inputs(s: EnvState, action: jax.Array, extra: jax.Array) -> RewardInputs:
    """The standard reward inputs of a state whose `frame` is up to date."""
    left, right = H.pad_positions(s.hand, s.fingers)
    return RewardInputs(obs=s.frame, action=jnp.asarray(action, jnp.float32),
                        tcp=H.tcp_center(s.hand, s.fingers), left_pad=left, right_pad=right,
                        goal=s.goal, extra=extra, init=s.init, touching=s.held)


# ------------------------------------------------------------------------- environment
class ManipulationEnv(environment.Environment[EnvState, EnvParams]):
    """Meta-World v3 manipulation in pure JAX (observation 39 floats, action 4 floats).

    `tasks` (static): the tasks this env may be given (default: all); the per-task code (reward,
    reset constants) is compiled for these only. See the module docstring for the protocol
    options; `default_task_id` / `default_rand_vec` give `default_params`."""

    def __init__(self, tasks: Sequence[str] | None = None, num_onehot: int = 0,
                 goal_observable: bool = True, terminate_on_success: bool = False,
                 resample_variants: bool = False, default_task_id: int = 0,
                 default_rand_vec: Any = None, label: str = "metaworld"):
        super().__init__()
        names = tuple(dict.fromkeys(tasks)) if tasks is not None else TASKS
        self.tasks = tuple(TASK_SPECS[TASK_INDEX[n.removesuffix("-v3")]].name for n in names)
        self.num_onehot = int(num_onehot)
        self.goal_observable = bool(goal_observable)
        self.terminate_on_success = bool(terminate_on_success)
        self.resample_variants = bool(resample_variants)
        self._default_task_id = int(default_task_id)
        self._default_rand_vec = (np.zeros(RAND_DIM, np.float32) if default_rand_vec is None
                                  else np.asarray(default_rand_vec, np.float32))
        self._label = label
        specs = [TASK_SPECS[TASK_INDEX[n]] for n in self.tasks]
        local = np.zeros(len(TASKS), np.int32)
        local[[TASK_INDEX[n] for n in self.tasks]] = np.arange(len(self.tasks))
        self._local = jnp.asarray(local)
        self._rewards = tuple(partial(_score, spec.reward, spec.extra) for spec in specs)
        self._inits = tuple(spec.init for spec in specs)
        self.features = task_features(specs)

    # ------------------------------------------------------------------ gymnax interface
    @property
    def default_params(self) -> EnvParams:
        return make_params(self._default_task_id, self._default_rand_vec)

    @property
    def name(self) -> str:
        return self._label

    def constants(self, task_id: jax.Array) -> dict:
        """The task's row of constants, cut to the boxes this env's tasks use."""
        c = task_constants(task_id)
        for k in ("static_center", "static_half", "static_anchor", "static_hand"):
            c[k] = c[k][:max(self.features.n_static, 1)]
        for k in ("moving_center", "moving_half", "moving_round"):
            c[k] = c[k][:max(self.features.n_moving, 1)]
        return c

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        state = self.reset_state(key, params)
        return self.observation(state, params), state

    def reset_state(self, key: jax.Array, params: EnvParams) -> EnvState:
        """The state `reset_env` starts an episode in (a variant drawn when resampling)."""
        if self.resample_variants:
            # the key's own bits pick the variant: a key handed to an env is already a threefry
            # output (a split), and hashing it again costs a rolled threefry loop per env per
            # step on CPU, about a tenth of the step (randint: three); modulo bias < 1e-8
            bits = jax.random.key_data(key).reshape(-1)[-1]
            vec = params.variants[(bits % params.variants.shape[0]).astype(jnp.int32)]
        else:
            vec = params.rand_vec
        return self.initial_state(params.task_id, vec)

    def initial_state(self, task_id: jax.Array, rand_vec: jax.Array) -> EnvState:
        """The reset state of a variant (deterministic, as Meta-World's reset)."""
        c = self.constants(task_id)
        v = jnp.asarray(rand_vec, jnp.float32)

        def affine(name: str) -> jax.Array:  # a point of the variant: rand_vec @ M + c
            return mat_t_vec(c[f"{name}_m"], v) + c[f"{name}_c"]

        anchors = jnp.stack([jnp.zeros(3), affine("a"), affine("b")])
        z2 = jnp.zeros(2)
        state = EnvState(
            time=jnp.asarray(0, jnp.int32), mocap=c["hand_init"], hand=c["hand_reset"],
            hand_vel=c["hand_reset_vel"], hand_vel_prev=c["hand_reset_vel_prev"],
            fingers=jnp.asarray(H.FINGERS_OPEN), fingers_vel=z2,
            obj=affine("obj"), obj_vel=jnp.zeros(3), held=jnp.asarray(False),
            held_offset=jnp.zeros(3), joint=c["joint_init"], joint_vel=c["joint_init_vel"],
            anchors=anchors,
            goal=affine("goal"), init=jnp.zeros(16),
            frame=jnp.zeros(FRAME_SIZE), prev_frame=jnp.zeros(FRAME_SIZE),
            task_id=jnp.asarray(task_id, jnp.int32))
        obj_init, consts = jax.lax.switch(self._local[task_id], self._inits, task_view(state, c))
        init = jnp.concatenate([obj_init, H.tcp_center(state.hand, state.fingers),
                                c["hand_init"], consts])
        state = state.replace(init=init)
        shown = state.replace(joint=jnp.where(c["stale_reset"] > 0, c["reset_obs_joint"],
                                              state.joint))
        first = observation_frame(shown, c)
        return state.replace(frame=first, prev_frame=first)

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: EnvState, action: jax.Array,
             params: EnvParams | None = None
             ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """gymnax's `step` (auto-reset on done, same outputs), with the reset selected over the
        state flattened to one array: XLA on CPU runs one select per leaf of this state about
        3x slower than the whole step."""
        if params is None:
            params = self.default_params
        # step_env draws nothing, so the key goes to the reset whole (a split is a threefry
        # call per env per step, a rolled loop on CPU)
        obs_st, state_st, reward, terminated, info = self.step_env(key, state, action, params)
        truncated = self.is_truncated(state_st, params)
        done = jnp.logical_or(terminated, truncated)
        state_re = self.reset_state(key, params)
        flat_st, unravel = ravel_pytree(state_st)
        flat_re, _ = ravel_pytree(state_re)
        state = unravel(jnp.where(done, flat_re, flat_st))
        obs = self.observation(state, params)
        info = {**info, "terminated": terminated, "truncated": truncated,
                "final_observation": obs_st}
        return obs, state, reward, terminated, truncated, info

    def step_env(self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
                 ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        del key
        c = self.constants(state.task_id)
        nxt = physics_step(state, jnp.asarray(action, jnp.float32), c, self.features)
        view = task_view(nxt, c)
        nxt = nxt.replace(frame=_frame(nxt, view, c), prev_frame=state.frame,
                          time=state.time + 1)
        out = jax.lax.switch(self._local[state.task_id], self._rewards, nxt, action, view)
        info = {k: getattr(out, k).astype(jnp.float32) for k in INFO_KEYS}
        info["success"] = out.success.astype(jnp.float32)
        terminated = out.success if self.terminate_on_success else jnp.array(False)
        return (self.observation(nxt, params), nxt, out.reward, terminated, info)

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return state.time >= params.max_steps_in_episode

    def observation(self, state: EnvState, params: EnvParams) -> jax.Array:
        goal = state.goal if self.goal_observable else jnp.zeros(3)
        parts = [state.frame, state.prev_frame, goal]
        if self.num_onehot:
            parts.append(jax.nn.one_hot(params.onehot_index, self.num_onehot))
        return jnp.concatenate(parts).astype(jnp.float32)

    def observation_space(self, params: EnvParams) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (OBS_SIZE + self.num_onehot,), jnp.float32)

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (4,), jnp.float32)

    @property
    def num_actions(self) -> int:
        return 4


def _score(reward_fn, extra_fn, s: EnvState, action: jax.Array, view: View):
    """A task's reward on our state: its extras, then its reward on the standard inputs."""
    return reward_fn(reward_inputs(s, action, extra_fn(view)))


def task_features(specs) -> Features:
    """The engine stages the tasks `specs` need."""
    return Features(
        objects=any(s.scene.obj is not None for s in specs),
        fixtures=any(s.scene.fixture.joints for s in specs),
        hinges=any(j.kind == JOINT_HINGE for s in specs for j in s.scene.fixture.joints),
        round=any(bool(b.round) for s in specs for b in s.scene.fixture.boxes),
        light=any(s.scene.fixture.light and s.scene.fixture.joints for s in specs),
        drag=any(s.scene.fixture.drag and s.scene.fixture.joints for s in specs),
        friction=any(s.scene.fixture.friction and s.scene.fixture.joints for s in specs),
        ball=any(s.scene.obj is not None and s.scene.obj.ball for s in specs),
        object_boxes=any(not b.hand for s in specs for b in s.scene.static),
        object_fixture=any(s.scene.obj is not None and s.scene.fixture.joints for s in specs),
        object_part=any(s.scene.obj is not None and s.scene.obj.part is not None
                        and s.scene.fixture.joints for s in specs),
        n_static=max(len(s.scene.static) for s in specs),
        n_moving=max(len(s.scene.fixture.boxes) for s in specs))


