"""Meta-World v2-style reward shaping: dm_control tolerance and the Hamacher t-norm, in jnp."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_LONG_TAIL_SCALE = math.sqrt(1 / 0.1 - 1)  # value 0.1 at the margin
_GAUSSIAN_SCALE = math.sqrt(-2 * math.log(0.1))


def tolerance(x: jax.Array, lower: float | jax.Array, upper: float | jax.Array,
              margin: float | jax.Array, sigmoid: str = "long_tail") -> jax.Array:
    """1 inside [lower, upper], falling to 0.1 at `margin` outside (dm_control's tolerance)."""
    below, above = x < lower, x > upper
    d = jnp.where(below, lower - x, jnp.where(above, x - upper, 0.0)) / jnp.maximum(margin, 1e-6)
    if sigmoid == "long_tail":
        value = 1.0 / ((d * _LONG_TAIL_SCALE) ** 2 + 1.0)
    elif sigmoid == "gaussian":
        value = jnp.exp(-0.5 * (d * _GAUSSIAN_SCALE) ** 2)
    else:
        raise ValueError(f"unknown sigmoid '{sigmoid}' (long_tail or gaussian)")
    return jnp.where(below | above, value, 1.0)


def hamacher_product(a: jax.Array, b: jax.Array) -> jax.Array:
    """Hamacher t-norm ab / (a + b - ab), 0 where both are 0."""
    denom = a + b - a * b
    return jnp.where(denom > 0, a * b / jnp.where(denom > 0, denom, 1.0), 0.0)


def task_reward(kind: jax.Array, *, tcp_to_obj: jax.Array, reach_margin: jax.Array,
                err: jax.Array, err_margin: jax.Array, radius: jax.Array, grip: jax.Array,
                grasped: jax.Array, lifted: jax.Array, touching: jax.Array,
                success: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Reward in [0, 10] for the four reward families (10 wherever the task succeeds).

    reach:   10 * tol(|tcp - goal|).
    push:    r = 2 * caging; touching the object: r = 2r + 1 + 5 * in_place.
    pick:    hamacher(grasp, in_place), + 1 + 5 * in_place once grasped and lifted.
    fixture: 5 * (tol(|tcp - handle|) + tol(joint error)).
    """
    in_place = tolerance(err, 0.0, radius, err_margin)
    near = tolerance(tcp_to_obj, 0.0, 0.02, reach_margin)
    closed = jnp.clip(1.0 - grip, 0.0, 1.0)
    caging = hamacher_product(near, 0.5 + 0.5 * closed)
    grasp = near * (0.5 + 0.5 * grasped)
    reach_r = 10.0 * in_place
    push_r = jnp.where(touching, 2 * (2 * caging) + 1 + 5 * in_place, 2 * caging)
    pick_r = hamacher_product(grasp, in_place) + jnp.where(grasped & lifted, 1 + 5 * in_place,
                                                            0.0)
    fixture_r = 5.0 * (near + in_place)
    reward = jnp.select([kind == 0, kind == 1, kind == 2], [reach_r, push_r, pick_r], fixture_r)
    reward = jnp.where(success, 10.0, jnp.clip(reward, 0.0, 10.0))
    return reward, {"in_place_reward": in_place, "grasp_reward": grasp}

