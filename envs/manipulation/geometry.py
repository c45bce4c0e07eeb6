"""Contact primitives: an axis-aligned probe box against a box, resolved by the smallest push.

Everything the hand, the fingers and the objects touch is a box (cylinders and capsules by their
bounding boxes, a few spheres). A probe box (half extents `e`) overlaps a box (centre `c`, half
extents `h`) when its centre lies inside the box grown by `e` (the Minkowski sum, exact for
aligned boxes); the separating push moves the probe out along one axis. A box in a rotated
frame is tested in that frame, with the probe's extents rotated into it (its bounding box).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_BIG = 1e3


def push_simple(p: jax.Array, e: jax.Array, c: jax.Array, h: jax.Array) -> jax.Array:
    """World push (3,) separating probe (centre p, half extents e) from the box (c, h) along
    the axis of least penetration; zero when they do not overlap."""
    grown = h + e
    rel = p - c
    depth = grown - jnp.abs(rel)
    least = jnp.min(depth)
    return jnp.where((least > 0.0) & (depth <= least), jnp.where(rel >= 0.0, depth, -depth), 0.0)


def push_lookback(p: jax.Array, back: jax.Array, e: jax.Array, c: jax.Array, h: jax.Array
                  ) -> jax.Array:
    """As `push_simple`, but through the face the probe came in by: among the axes along which
    the probe was outside at `back` (a point behind it along its motion), the least penetration
    wins, and the push goes to `back`'s side; so a fast probe is not pushed through a thin
    plate."""
    grown = h + e
    rel = p - c
    depth = grown - jnp.abs(rel)
    rel_back = back - c
    was_out = jnp.abs(rel_back) >= grown
    cand = jnp.where(was_out | ~jnp.any(was_out), depth, _BIG)
    least = jnp.min(cand)
    side = jnp.where(was_out, rel_back, rel) >= 0.0
    out = jnp.where(side, grown - rel, -grown - rel)
    return jnp.where((jnp.min(depth) > 0.0) & (cand <= least), out, 0.0)


def push_out_round(p: jax.Array, e: jax.Array, c: jax.Array, h: jax.Array, mask: jax.Array
                   ) -> jax.Array:
    """World push (3,) separating probe box (centre p, half extents e) from a box (c, h) that
    is round across the axes of `mask`: a sphere of radius h[0] (mask 1, 1, 1) or a cylinder
    whose axis is the unmasked one (radius: its masked half extent; flat caps at +-h along the
    axis). The push is the shorter of: out along the normal from the axis to the probe's
    nearest point, or (a cylinder) out through a cap; zero without overlap or, for a sphere,
    with its centre inside the probe."""
    r = jnp.max(h * mask)
    axial = 1.0 - mask
    above = c - (p + e)  # the centre's distance beyond the probe's interval, per axis
    below = (p - e) - c
    d = jnp.where(above > 0.0, above, jnp.where(below > 0.0, -below, 0.0)) * mask
    dist = jnp.sqrt(jnp.sum(d * d) + 1e-12)
    radial_depth = r - dist
    is_cylinder = jnp.any(axial > 0.0)
    rel = p - c
    cap_depth = jnp.sum(axial * (h + e - jnp.abs(rel)))
    cap_depth = jnp.where(is_cylinder, cap_depth, jnp.inf)
    hit = (radial_depth > 0.0) & (cap_depth > 0.0)
    radial_ok = dist > 1e-6
    through_cap = is_cylinder & ((cap_depth < radial_depth) | ~radial_ok)
    radial = -d / dist * radial_depth
    cap = axial * jnp.where(rel >= 0.0, 1.0, -1.0) * jnp.where(is_cylinder, cap_depth, 0.0)
    push = jnp.where(through_cap, cap, radial)
    return jnp.where(hit & (radial_ok | is_cylinder), push, 0.0)


# Small products as elementwise sums: under vmap, `@` on 3-vectors becomes a batched dot that
# XLA:CPU runs as a loop of tiny matrix products, far slower than a fused elementwise sum.
def mat_vec(m: jax.Array, v: jax.Array) -> jax.Array:
    """m @ v for a small matrix m (rows, k) and vector v (k,)."""
    return jnp.sum(m * v, axis=-1)


def mat_t_vec(m: jax.Array, v: jax.Array) -> jax.Array:
    """m.T @ v for a small matrix m (k, cols) and vector v (k,)."""
    return jnp.sum(m * v[:, None], axis=0)


def dot3(a: jax.Array, b: jax.Array) -> jax.Array:
    """a . b for two small vectors."""
    return jnp.sum(a * b)
