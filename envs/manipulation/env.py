"""One gymnax environment class for every manipulation task: the task is a field of EnvParams."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from envs.manipulation.physics import (
    HAND_RADIUS,
    EnvState,
    fixture_quaternion,
    handle_position,
    physics_step,
)
from envs.manipulation.rewards import task_reward
from envs.manipulation.tasks import (
    ERR_HANDLE,
    ERR_JOINT,
    ERR_OBJECT,
    ERR_TCP,
    MAX_STEPS,
    NO_FIXTURE,
    task_constants,
)

OBS_SIZE = 39
FRAME_SIZE = 18


@struct.dataclass
class EnvParams:
    """One task variant. Batch these (leading axis) to run many tasks/variants in one vmap.

    task_id: index into `tasks.TASKS`; rand_vec: the variant (see tasks.py);
    onehot_index: which entry of the task one-hot (MT benchmarks) is set.
    """

    task_id: jax.Array
    rand_vec: jax.Array
    onehot_index: jax.Array
    max_steps_in_episode: int = struct.field(pytree_node=False, default=MAX_STEPS)


def make_params(task_id: int, rand_vec: Any, onehot_index: int = 0) -> EnvParams:
    return EnvParams(task_id=jnp.asarray(task_id, jnp.int32),
                     rand_vec=jnp.asarray(rand_vec, jnp.float32),
                     onehot_index=jnp.asarray(onehot_index, jnp.int32))


class ManipulationEnv(environment.Environment[EnvState, EnvParams]):
    """Meta-World-style manipulation in pure JAX (observation 39 floats, action 4 floats).

    Constructor options (static): `num_onehot` appends a task one-hot of that size (MT
    benchmarks); `goal_observable=False` zeroes obs[36:39] (ML benchmarks); `substeps` physics
    substeps per env step; `default_task_id` / `default_rand_vec` give `default_params`.
    """

    def __init__(self, num_onehot: int = 0, goal_observable: bool = True, substeps: int = 5,
                 default_task_id: int = 0, default_rand_vec: Any = None, label: str = "metaworld"):
        super().__init__()
        self.num_onehot = int(num_onehot)
        self.goal_observable = bool(goal_observable)
        self.substeps = int(substeps)
        self._default_task_id = int(default_task_id)
        self._default_rand_vec = (jnp.zeros(6) if default_rand_vec is None
                                  else jnp.asarray(default_rand_vec, jnp.float32))
        self._label = label

    # ------------------------------------------------------------------ gymnax interface
    @property
    def default_params(self) -> EnvParams:
        return make_params(self._default_task_id, self._default_rand_vec)

    @property
    def name(self) -> str:
        return self._label

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        del key  # a reset is determined by the variant, as in Meta-World
        state = initial_state(params.task_id, params.rand_vec)
        return self.observation(state, params), state

    def step_env(self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
                 ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        del key
        c = task_constants(state.task_id)
        frame = observation_frame(state, c)
        nxt = physics_step(state, jnp.asarray(action, jnp.float32), c, self.substeps)
        nxt = nxt.replace(prev_frame=frame, time=state.time + 1)
        reward, info = evaluate(nxt, c)
        return (self.observation(nxt, params), nxt, reward, jnp.array(False), info)

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return state.time >= params.max_steps_in_episode

    def observation(self, state: EnvState, params: EnvParams) -> jax.Array:
        c = task_constants(state.task_id)
        goal = state.goal if self.goal_observable else jnp.zeros(3)
        parts = [observation_frame(state, c), state.prev_frame, goal]
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


# ---------------------------------------------------------------------- state helpers
def initial_state(task_id: jax.Array, rand_vec: jax.Array) -> EnvState:
    """The reset state of a variant (deterministic)."""
    c = task_constants(task_id)
    v = jnp.asarray(rand_vec, jnp.float32)
    obj_init = v @ c["obj_m"] + c["obj_c"]
    goal = v @ c["goal_m"] + c["goal_c"]
    base = v @ c["fix_m"] + c["fix_c"]
    aux = v @ c["aux_m"] + c["aux_c"]
    hand = c["hand_init"]
    zeros3 = jnp.zeros(3)
    state = EnvState(
        time=jnp.asarray(0, jnp.int32), hand=hand, grip=jnp.asarray(1.0),
        obj_pos=obj_init, obj_vel_z=jnp.asarray(0.0), obj_grasped=jnp.asarray(False),
        grasp_offset=zeros3, joint=c["fix_init"], fixture_grasped=jnp.asarray(False),
        fixture_offset=zeros3, prev_frame=jnp.zeros(FRAME_SIZE), goal=goal, obj_init=obj_init,
        fixture_base=base, aux=aux, hand_init=hand, reach_margin=jnp.asarray(1.0),
        err_margin=jnp.asarray(1.0), task_id=jnp.asarray(task_id, jnp.int32))
    focus = object_observation(state, c)
    err, _ = success_error(state, c)
    state = state.replace(prev_frame=observation_frame(state, c),
                          reach_margin=jnp.maximum(jnp.linalg.norm(focus - hand), 1e-3),
                          err_margin=jnp.maximum(err, 1e-3))
    return state


def object_observation(state: EnvState, c: dict[str, jax.Array]) -> jax.Array:
    """obs[4:7]: the free object, or the fixture's handle."""
    handle = handle_position(state.joint, state.fixture_base, c)
    return jnp.where(c["has_obj"] > 0, state.obj_pos, handle)


def observation_frame(state: EnvState, c: dict[str, jax.Array]) -> jax.Array:
    """obs[0:18]: hand, gripper opening, object-1 pos + quat, object-2 pos + quat (zeros)."""
    quat = jnp.where(c["fix_kind"] != NO_FIXTURE, fixture_quaternion(state.joint, c),
                     jnp.array([1.0, 0.0, 0.0, 0.0]))
    return jnp.concatenate([state.hand, state.grip[None], object_observation(state, c), quat,
                            jnp.zeros(7)])


def success_error(state: EnvState, c: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
    """(error, measured point) of the task's success rule."""
    handle = handle_position(state.joint, state.fixture_base, c)
    head = state.obj_pos + c["head_offset"]
    point = jnp.select([c["err_kind"] == ERR_TCP, c["err_kind"] == ERR_OBJECT,
                        c["err_kind"] == ERR_HANDLE], [state.hand, head, handle], handle)
    dist = jnp.sqrt(jnp.sum((c["err_weights"] * (point - state.goal)) ** 2) + 1e-12)
    err = jnp.where(c["err_kind"] == ERR_JOINT, jnp.abs(state.joint - c["target_joint"]), dist)
    return err, point


def evaluate(state: EnvState, c: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, Any]]:
    """Reward in [0, 10] and the info dict (success as float32)."""
    err, _ = success_error(state, c)
    success = err <= c["success_threshold"]
    focus = object_observation(state, c)
    tcp_to_obj = jnp.linalg.norm(focus - state.hand)
    grasped = state.obj_grasped | state.fixture_grasped
    lifted = state.obj_pos[2] - state.obj_init[2] > 0.01
    touching = tcp_to_obj < HAND_RADIUS + c["obj_radius"] + 0.01
    reward, parts = task_reward(
        c["reward_kind"], tcp_to_obj=tcp_to_obj, reach_margin=state.reach_margin, err=err,
        err_margin=state.err_margin, radius=c["success_threshold"], grip=state.grip,
        grasped=grasped, lifted=lifted, touching=touching, success=success)
    info = {
        "success": success.astype(jnp.float32),
        "near_object": (tcp_to_obj <= 0.05).astype(jnp.float32),
        "grasp_success": grasped.astype(jnp.float32),
        "obj_to_target": err.astype(jnp.float32),
        "in_place_reward": parts["in_place_reward"].astype(jnp.float32),
        "grasp_reward": parts["grasp_reward"].astype(jnp.float32),
    }
    return reward.astype(jnp.float32), info
