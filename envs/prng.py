"""Threefry-2x32 keys whose hash is written in plain `jax.numpy`, bit for bit JAX's own.

JAX lowers its threefry hash on CPU as a `while` loop of five trips (to keep compile times
short). Inside a `vmap` every trip copies each of the loop's carried buffers, so a small
batched draw (an env's reset noise, an action sample) costs a few dozen XLA thunks, and a
training step on a CPU draws several per environment step. `fast_key(key)` re-wraps a key's
data under `THREEFRY_FUSED`, an implementation with the same `split`, `fold_in` and
`random_bits` (JAX's partitionable threefry, its default) whose hash XLA fuses into one
elementwise kernel: every number drawn from it, and from every key derived from it, equals
what JAX's threefry draws (tests/test_prng.py), only cheaper to compute on a CPU.

Keys of the two implementations cannot be mixed in one array: convert where a key enters a
hot loop, and keep keys that leave it (in states, checkpoints) of JAX's default kind.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import define_prng_impl, threefry_prng_impl

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: jax.Array, r: int) -> jax.Array:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array
                 ) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block cipher (20 rounds) on counters (x1, x2) under key (k1, k2)."""
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ _rotate_left(x2, r)
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


_FUSED_MAX = 2**32  # counters above this need the high word: JAX's own draw handles them


def _counters(shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """The high and low 32 bits of a row-major uint64 iota of `shape` (fewer than 2**32)."""
    size = math.prod(shape)
    return jnp.zeros(shape, jnp.uint32), jnp.arange(size, dtype=jnp.uint32).reshape(shape)


def _seed(seed: jax.Array) -> jax.Array:
    return jax.random.key_data(jax.random.key(seed, impl="threefry2x32"))


def _split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    if math.prod(shape) >= _FUSED_MAX:  # (16 GiB of keys: the loop's cost is no matter)
        return threefry_prng_impl.split(key, tuple(shape))
    bits1, bits2 = threefry2x32(key[0], key[1], *_counters(tuple(shape)))
    return jnp.stack([bits1, bits2], axis=bits1.ndim)


def _fold_in(key: jax.Array, data: jax.Array) -> jax.Array:
    count = _seed(data)  # JAX hashes the data's seed key, (hi, lo), as one counter pair
    bits1, bits2 = threefry2x32(key[0], key[1], count[:1], count[1:])
    return jnp.concatenate([bits1, bits2])


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    if math.prod(shape) >= _FUSED_MAX:
        return threefry_prng_impl.random_bits(key, bit_width, tuple(shape))
    bits1, bits2 = threefry2x32(key[0], key[1], *_counters(tuple(shape)))
    if bit_width == 64:
        hi, lo = bits1.astype(jnp.uint64), bits2.astype(jnp.uint64)
        return (hi << jnp.uint64(32)) | lo
    dtype = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32}[bit_width]
    return (bits1 ^ bits2).astype(dtype)


THREEFRY_FUSED = define_prng_impl(
    key_shape=(2,), seed=_seed, split=_split, random_bits=_random_bits, fold_in=_fold_in,
    name="threefry2x32_fused", tag="ftf")


def fast_key(key: jax.Array) -> jax.Array:
    """`key` (a typed threefry key array, any shape) as a `THREEFRY_FUSED` key: the same
    numbers, drawn without the CPU's rolled hash loop. Other keys (raw uint32 ones, other
    implementations, any key while `jax_threefry_partitionable` is off) pass unchanged.
    """
    if (not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)  # (raw uint32 keys,
            or jax.random.key_impl(key) != threefry_prng_impl.name  # fused or rbg keys,
            or not jax.config.jax_threefry_partitionable):  # JAX's older threefry streams)
        return key
    return jax.random.wrap_key_data(jax.random.key_data(key), impl=THREEFRY_FUSED)


def stable_argsort(keys: jax.Array) -> jax.Array:
    """`lax.sort_key_val(keys, arange(n))[1]` for 1-D uint32 `keys`: the indices in key order,
    ties in index order, at the cost of a one-operand sort.

    XLA:CPU sorts one array with its plain comparison but a (keys, values) pair through a
    compiled comparator called per comparison, about 4.5x slower. So sort the keys alone, find
    each key's first slot in the sorted array by binary search, and write each index there;
    equal keys (rare with 32 random bits) take their group's slots one round at a time, the
    lowest index first, which is the stable order.
    """
    n = keys.shape[0]
    first = jnp.searchsorted(jax.lax.sort(keys), keys, side="left").astype(jnp.int32)
    index = jnp.arange(n, dtype=jnp.int32)

    def place(carry):
        order, slot, placed = carry
        order = order.at[slot].min(jnp.where(placed, n, index), mode="promise_in_bounds")
        placed = placed | (order[slot] == index)
        return order, jnp.where(placed, slot, slot + 1), placed

    order, _, _ = jax.lax.while_loop(lambda c: ~jnp.all(c[2]), place,
                                     (jnp.full(n, n, jnp.int32), first, jnp.zeros(n, bool)))
    return order


def permutation(key: jax.Array, n: int) -> jax.Array:
    """`jax.random.permutation(key, n)` (int32), the same permutation computed with
    `stable_argsort`: JAX's rounds of sorting by fresh 32-bit keys (more rounds for larger n),
    each a one-operand sort instead of a sort of (keys, values) pairs."""
    rounds = math.ceil(3 * math.log(max(1, n)) / math.log(np.iinfo(np.uint32).max))
    x = jnp.arange(n, dtype=jnp.int32)
    for _ in range(rounds):
        key, subkey = jax.random.split(key)
        x = x[stable_argsort(jax.random.bits(subkey, (n,), jnp.uint32))]
    return x
