"""`TaskSpec`: everything that makes one Meta-World task, as data plus four small jnp functions.

A variant is Meta-World's `rand_vec` (3 or 6 floats, padded to RAND_DIM). Anchors A and B (where
Meta-World puts the task's bodies), the goal and the object's start are affine functions of it.
The functions a task supplies:
  - `reward(RewardInputs) -> Outcome`: Meta-World's `evaluate_state` (reward, success, info);
  - `init(View) -> (obj_init (3,), consts (7,))`: the reset constants the reward reads;
  - `extra(View) -> (4,)`: the live quantities the reward reads beyond the observation;
  - `expert(obs) -> action`: a scripted policy on the 39-float observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from envs.manipulation.geometry import mat_vec
from envs.manipulation.rewards import Outcome, RewardInputs
from envs.manipulation.scene import Scene

Vec3 = tuple[float, float, float]
RAND_DIM = 6
Affine = tuple[np.ndarray, np.ndarray]


def affine(*cols: tuple[int | None, float]) -> Affine:
    """(M, c) with pos[j] = rand_vec[i_j] + c_j, or c_j where i_j is None."""
    m = np.zeros((RAND_DIM, 3), np.float32)
    c = np.zeros(3, np.float32)
    for j, (i, off) in enumerate(cols):
        if i is not None:
            m[i, j] = 1.0
        c[j] = off
    return m, c


def from_vec(start: int, offset: Vec3 = (0.0, 0.0, 0.0)) -> Affine:
    """rand_vec[start:start + 3] + offset."""
    return affine(*[(start + j, offset[j]) for j in range(3)])


def const(point: Vec3) -> Affine:
    return affine(*[(None, p) for p in point])


@dataclass(frozen=True)
class Reject:
    """Meta-World's rejection loop at reset: resample while |v[i:i+2] - other| < `min_dist`,
    where `other` is v[j:j+2] or a fixed xy point."""

    i: int
    min_dist: float
    j: int | None = None
    point: tuple[float, float] | None = None

    def rejects(self, vec: np.ndarray) -> bool:
        other = vec[self.j:self.j + 2] if self.j is not None else np.asarray(self.point)
        return bool(np.linalg.norm(vec[self.i:self.i + 2] - other) < self.min_dist)


class View(NamedTuple):
    """What `init` and `extra` may read of a state: the variant anchors (3, 3) (world, A, B),
    the goal, the free object's centre, the fixture joints, the first observed point, the tcp,
    the hand, and the fixture body's pose (`fixture_point(local)` maps a body point to the
    world)."""

    anchors: jax.Array
    goal: jax.Array
    obj: jax.Array
    joint: jax.Array
    point: jax.Array
    tcp: jax.Array
    hand: jax.Array
    fixture_origin: jax.Array
    fixture_rot: jax.Array
    fixture_trans: jax.Array

    def fixture_point(self, local: jax.Array) -> jax.Array:
        return self.fixture_origin + mat_vec(self.fixture_rot, local) + self.fixture_trans


def no_consts(v: View) -> tuple[jax.Array, jax.Array]:
    """obj_init = the object's start (Meta-World's `obj_init_pos` for most object tasks)."""
    return v.obj, jnp.zeros(7)


def no_extra(v: View) -> jax.Array:
    return jnp.zeros(4)


def joint_extra(v: View) -> jax.Array:
    """extra[0] = the first fixture joint (qpos)."""
    return jnp.zeros(4).at[0].set(v.joint[0])


@dataclass(frozen=True)
class TaskSpec:
    """One Meta-World v3 task (see the module docstring)."""

    name: str
    rand_low: tuple[float, ...]
    rand_high: tuple[float, ...]
    scene: Scene
    goal: Affine
    reward: Callable[[RewardInputs], Outcome]
    expert: Callable[[jax.Array], jax.Array]
    init: Callable[[View], tuple[jax.Array, jax.Array]] = no_consts
    extra: Callable[[View], jax.Array] = no_extra
    anchor_a: Affine = from_vec(0)
    anchor_b: Affine = from_vec(3)
    obj_start: Affine | None = None  # default: anchor A + the object's `start`
    hand_init: Vec3 = (0.0, 0.6, 0.2)
    # the hand after Meta-World's reset where it is not the one `hand.reset_hand` identified for
    # `hand_init` (the door-lock scenes settle the arm elsewhere; measured)
    hand_reset: Vec3 | None = None
    mocap_low: Vec3 = (-0.5, 0.4, 0.05)
    mocap_high: Vec3 = (0.5, 1.0, 0.5)
    reject: Reject | None = None
    table_z: float = 0.0  # height of the surface objects and fingertips rest on
    # joint values the reset observation shows, where Meta-World's reset moves a joint without
    # recomputing positions (window-close reports its sash shut in the first observation)
    reset_obs_joint: tuple[float, float] | None = None

    @property
    def rand_dim(self) -> int:
        return len(self.rand_low)
