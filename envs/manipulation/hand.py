"""Meta-World v3's Sawyer hand, reduced to a model identified from Meta-World's own trajectories.

Meta-World moves a mocap body by `action[:3] * 0.01` per step (clipped to the task's mocap box)
and drags the 7-DoF arm after it through a soft weld; the fingers are two slide joints driven by
position actuators (kp 400, ctrl `[a3, -a3]`). Here:

- mocap: exact (`mocap_step`).
- hand (`body("hand").xpos`, obs[0:3]): a linear second-order lag per axis, fitted on
  free-space Meta-World trajectories (`scripts/metaworld_reference.py hand`),
      v[t+1] = A1 v[t] + A2 v[t-1] + d,   d = B1 (m[t+1] + SAG - p[t]) + B2 (m[t] + SAG - p[t]),
  so that the hand accelerates over ~8 steps and coasts ~2.5 cm after the mocap stops. Near full
  extension the arm can barely move radially (its Jacobian loses rank); the drive's radial
  component from a fitted shoulder point is scaled by a mobility that falls from 1 to REACH_SMIN
  around radius REACH_R0 (the slow creep of Meta-World's hand towards far mocap targets).
- fingers: MuJoCo's own arithmetic. Each finger is a joint of inertia 100.016 (armature),
  damping 1000 and actuator force 400 (u - q), stepped by five 2.5 ms Euler substeps (implicit
  damping) with MuJoCo's soft joint limits (0.4 mm max error against Meta-World). a3 <= 0 keeps
  the gripper open, a3 > 0 closes it at a rate set by a3 (the actuator target is beyond the
  joint range).
- geometry (identified at reset, hand orientation fixed by the mocap quaternion): the tcp (mean
  of the fingertip sites) is 4.5 cm below the hand; the pads and claws sit at +-y offsets that
  move with the finger joints; obs[3] = clip(|rightclaw - leftclaw| / 0.1, 0, 1), about 0.3 when
  the fingers close on nothing.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

ACTION_SCALE = 0.01  # metres of mocap motion per unit action per step
TIMESTEP = 0.0025  # MuJoCo timestep; frame_skip 5 -> 0.0125 s per env step
FRAME_SKIP = 5

# ---------------------------------------------------------------- hand lag (fitted, see module doc)
LAG_A1 = np.array([1.34873, 1.25612, 1.34797], np.float32)
LAG_A2 = np.array([-0.48811, -0.40419, -0.48055], np.float32)
LAG_B1 = np.array([0.12146, 0.13484, 0.10999], np.float32)
LAG_B2 = np.array([-0.11615, -0.13158, -0.10438], np.float32)
SAG = np.array([0.0, 0.0, -0.00322], np.float32)  # steady hand - mocap offset (gravity)
SHOULDER = np.array([0.02601, 0.14603, 0.24885], np.float32)
REACH_R0 = 0.64642
REACH_W = 0.04646
REACH_SMIN = 0.17942

# ---------------------------------------------------------------- fingers (exact, see module doc)
FINGER_INERTIA = 100.0162
FINGER_DAMPING = 1000.0
FINGER_KP = 400.0
# joint ranges: r_close [0, 0.04] (closing moves the right finger towards +y), l_close
# [-0.03, 0]; the open fingers rest 0.17 mm beyond them (MuJoCo's limits are soft)
RIGHT_RANGE = (0.0, 0.04)
LEFT_RANGE = (-0.03, 0.0)
FINGERS_OPEN = np.array([-0.000172, 0.000172], np.float32)  # (right, left) after the reset


# MuJoCo's default joint-limit softness (solref 0.02 s, damping ratio 1; impedance 0.95): past a
# limit the joint's acceleration is 0.95 of the reference -b v - k x plus 0.05 of the free one,
# and only while that pushes it back (a limit cannot pull)
LIMIT_IMPEDANCE = 0.95
LIMIT_TIMECONST = 0.02
LIMIT_K = LIMIT_IMPEDANCE / (LIMIT_IMPEDANCE ** 2 * LIMIT_TIMECONST ** 2)
LIMIT_B = 2.0 / (LIMIT_IMPEDANCE * LIMIT_TIMECONST)


# ---------------------------------------------------------------- geometry relative to the hand
TCP_OFFSET = np.array([-0.0003, 0.0001, -0.045], np.float32)  # + (0, (q_r + q_l) / 2, 0)
PAD_Y = 0.04693  # pad bodies at hand +- PAD_Y (+ q)
CLAW_GAP = 0.1  # claw distance with both finger joints at 0
# world bounding boxes of the collision geoms at reset: claw + pad of each finger, and the hand
# mesh above them (the wrist plate)
FINGER_HALF = np.array([0.0154, 0.0054, 0.0451], np.float32)
FINGER_Y = 0.0486  # finger box centre at hand +- FINGER_Y (+ q)
PALM_OFFSET = np.array([-0.007, 0.0, 0.067], np.float32)
PALM_HALF = np.array([0.034, 0.053, 0.026], np.float32)
# one box around fingers (open) and wrist, what the static scene meets
HAND_BOX_OFFSET = np.array([-0.007, 0.0, 0.024], np.float32)
HAND_BOX_HALF = np.array([0.034, 0.054, 0.069], np.float32)


def mocap_step(mocap: jax.Array, action: jax.Array, low: jax.Array, high: jax.Array
               ) -> jax.Array:
    """Meta-World's `set_xyz_action`: add `clip(a, -1, 1)[:3] * 0.01`, clip to the mocap box."""
    return jnp.clip(mocap + jnp.clip(action[:3], -1.0, 1.0) * ACTION_SCALE, low, high)


def radial_mobility(hand: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(unit radial direction from the shoulder, mobility in (REACH_SMIN, 1])."""
    r = hand - SHOULDER
    dist = jnp.sqrt(jnp.sum(r * r) + 1e-12)
    mobility = REACH_SMIN + (1.0 - REACH_SMIN) * jax.nn.sigmoid((REACH_R0 - dist) / REACH_W)
    return r / dist, mobility


def hand_step(hand: jax.Array, vel: jax.Array, vel_prev: jax.Array, mocap_next: jax.Array,
              mocap: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(hand position, velocity per step) after one env step of the fitted lag model."""
    drive = LAG_B1 * (mocap_next + SAG - hand) + LAG_B2 * (mocap + SAG - hand)
    n, mobility = radial_mobility(hand)
    drive = drive - (1.0 - mobility) * n * jnp.sum(n * drive)
    new_vel = LAG_A1 * vel + LAG_A2 * vel_prev + drive
    return hand + new_vel, new_vel


def soft_limit(q: jax.Array, qd: jax.Array, a_free: jax.Array, lo: jax.Array, hi: jax.Array
               ) -> jax.Array:
    """A joint's acceleration with MuJoCo's soft limits at `lo` / `hi`: past a limit, 0.95 of the
    reference -b qd - k x plus 0.05 of `a_free`, only while that pushes back (a limit cannot
    pull); `a_free` elsewhere."""
    x = jnp.where(q < lo, q - lo, jnp.where(q > hi, q - hi, 0.0))
    a_lim = LIMIT_IMPEDANCE * (-LIMIT_B * qd - LIMIT_K * x) + (1 - LIMIT_IMPEDANCE) * a_free
    into = jnp.where(q < lo, 1.0, -1.0)
    return jnp.where((x != 0) & ((a_lim - a_free) * into > 0), a_lim, a_free)


FINGER_LO = np.array([RIGHT_RANGE[0], LEFT_RANGE[0]], np.float32)
FINGER_HI = np.array([RIGHT_RANGE[1], LEFT_RANGE[1]], np.float32)


def finger_step(q: jax.Array, qd: jax.Array, effort: jax.Array, lo: jax.Array = FINGER_LO,
                hi: jax.Array = FINGER_HI) -> tuple[jax.Array, jax.Array]:
    """Finger joints (right, left) after one env step under gripper effort a3 (ctrl [a3, -a3]):
    five MuJoCo Euler substeps (implicit damping) with MuJoCo's soft limits at `lo` / `hi` (the
    joint ranges, narrowed where the pads meet an object)."""
    u = jnp.clip(effort, -1.0, 1.0) * jnp.array([1.0, -1.0])
    h, m, c = TIMESTEP, FINGER_INERTIA, FINGER_DAMPING
    for _ in range(FRAME_SKIP):
        a_free = (FINGER_KP * (u - q) - c * qd) / (m + h * c)
        qd = qd + h * soft_limit(q, qd, a_free, lo, hi)
        q = q + h * qd
    return q, qd


def tcp_center(hand: jax.Array, q: jax.Array) -> jax.Array:
    """Mean of the two fingertip sites (Meta-World's `tcp_center`)."""
    return hand + TCP_OFFSET + jnp.array([0.0, 0.5 * (q[0] + q[1]), 0.0])


def pad_positions(hand: jax.Array, q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(left pad, right pad) body positions (`body("leftpad").xpos`, `body("rightpad").xpos`)."""
    left = hand + jnp.array([0.0, PAD_Y + q[1], 0.0])
    right = hand + jnp.array([0.0, -PAD_Y + q[0], 0.0])
    return left, right


def gripper_opening(q: jax.Array) -> jax.Array:
    """obs[3]: claw distance / 0.1, clipped to [0, 1] (1 open, about 0.3 closed on nothing)."""
    return jnp.clip((CLAW_GAP - q[0] + q[1]) / 0.1, 0.0, 1.0)


def fingers_box(q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(offset from the hand, half extents) of one box around both finger boxes."""
    outer_left = FINGER_Y + q[1] + FINGER_HALF[1]
    outer_right = -FINGER_Y + q[0] - FINGER_HALF[1]
    offset = jnp.stack([0.0, (outer_left + outer_right) / 2, 0.0])
    half = jnp.stack([FINGER_HALF[0], (outer_left - outer_right) / 2, FINGER_HALF[2]])
    return offset, half


def finger_centres(hand: jax.Array, q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(left, right) centres of the finger collision boxes (half extents FINGER_HALF)."""
    left = hand + jnp.array([0.0, FINGER_Y + q[1], 0.0])
    right = hand + jnp.array([0.0, -FINGER_Y + q[0], 0.0])
    return left, right


# hand state at the end of Meta-World's reset (50 settling steps towards `hand_init_pos`), by
# hand_init_pos: position (obs[0:3] after reset), last and previous per-step velocities
_RESET = {
    (0.0, 0.6, 0.2): ((0.004584, 0.601388, 0.195143), (0.000200, -0.000420, -0.000239),
                      (0.000364, -0.000474, -0.000261)),
    (0.0, 0.4, 0.2): ((0.004529, 0.400308, 0.195686), (0.000223, -0.000135, -0.000298),
                      (0.000402, -0.000177, -0.000344)),
    (-0.5, 0.6, 0.2): ((-0.498945, 0.604286, 0.195599), (0.000543, -0.000274, 0.000139),
                       (0.000622, -0.000179, 0.000137)),
}


def reset_hand(hand_init: tuple[float, float, float]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, velocity, previous velocity) of the hand after Meta-World's reset."""
    key = tuple(round(float(x), 4) for x in hand_init)
    if key not in _RESET:
        raise ValueError(f"no identified reset for hand_init_pos {hand_init}")
    return tuple(np.asarray(v, np.float32) for v in _RESET[key])
