"""Exact integer arithmetic for the PRNG generators, vectorised over NumPy arrays.

Number theory of LCG moduli (prime factors, the Hull-Dobell full-period test,
random full-period pairs).

Modular products on uint64 (``m <= 2^32``, or ``m`` a power of two up to
2^64, where wrapping is the reduction), 128-bit products and sums on pairs of
uint64 limbs ``(hi, lo)``, and the jump-ahead of affine maps ``x -> a x + c``
that generates whole orbits with no loop over time: with ``B ~ sqrt(n)``,
``x_{jB + r} = A_r x_{jB} + C_r`` (``A_r = a^r``, ``C_r = c (1 + a + .. + a^(r-1))``)
is one broadcast product of ``n / B`` block starts and ``B`` jump coefficients.

>>> hi, lo = mul_64x64(np.array([2**63], dtype=np.uint64), np.array([4], dtype=np.uint64))
>>> int(hi[0]), int(lo[0])
(2, 0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UserError
from ._common import as_rng, check_int

__all__ = [
    "add128",
    "addmod",
    "affine_orbits",
    "check_modulus",
    "euler_phi",
    "full_period_pairs",
    "hull_dobell",
    "jump_tables",
    "limbs",
    "mul128",
    "mul_64x64",
    "mulmod",
    "multiplier_step",
    "prime_factors",
    "reduce_mod",
    "uniform_below",
]

_U64 = np.uint64
_M32 = _U64(0xFFFFFFFF)
_M64 = (1 << 64) - 1


# ----------------------------------------------------------------------------- number theory
@functools.lru_cache(maxsize=64)
def prime_factors(m: int) -> tuple[int, ...]:
    """Distinct prime factors of ``m`` (trial division, m <= 2^64; cached per modulus)."""
    out, d = [], 2
    while d * d <= m:
        if m % d == 0:
            out.append(d)
            while m % d == 0:
                m //= d
        d += 1 if d == 2 else 2
    if m > 1:
        out.append(m)
    return tuple(out)


def check_modulus(m: int) -> int:
    m = check_int("modulus", m, minimum=2)
    if m > 1 << 32 and m & (m - 1):
        raise UserError(f"modulus {m}: only moduli <= 2^32 or powers of two up to 2^64")
    if m > 1 << 64:
        raise UserError(f"modulus {m} exceeds 2^64")
    return m


def multiplier_step(m: int) -> int:
    """The product of m's prime factors, times 2 more when 4 divides m (Hull-Dobell)."""
    step = math.prod(prime_factors(m))
    return step * 2 if m % 4 == 0 else step


def hull_dobell(a: int, c: int, m: int) -> bool:
    """True when ``x -> (a x + c) mod m`` has full period ``m`` (Hull-Dobell theorem)."""
    a, c, m = int(a), int(c), int(m)
    return math.gcd(c, m) == 1 and (a - 1) % multiplier_step(m) == 0


def euler_phi(m: int) -> int:
    phi = m
    for p in prime_factors(m):
        phi = phi // p * (p - 1)
    return phi


def uniform_below(rng: np.random.Generator, m: int, size) -> np.ndarray:
    """Uniform integers in ``[0, m)`` as uint64 (``m`` up to 2^64)."""
    return rng.integers(0, int(m) - 1, size=size, dtype=np.uint64, endpoint=True)


def full_period_pairs(
    m: int, count: int, *, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct random (a, c) pairs with full period modulo ``m``.

    ``a = 1 + k * step`` (``step`` the product of m's primes, doubled when 4
    divides m) with ``k >= 1`` drawn uniformly, so that ``a = 1``, a mere
    counter, appears only when it is the sole choice; ``c`` is uniform among
    the units of ``m``.
    """
    m = check_modulus(m)
    count = check_int("count", count)
    rng = as_rng(seed)
    step = multiplier_step(m)
    k_max = (m - 1) // step  # a = 1 + k step < m
    k_lo = 1 if k_max >= 1 else 0
    total = (k_max - k_lo + 1) * euler_phi(m)
    if count > total:
        raise UserError(f"only {total} full-period pairs exist modulo {m}")
    seen: dict[tuple[int, int], None] = {}  # an ordered set: reproducible order
    while len(seen) < count:
        need = count - len(seen)
        k = rng.integers(k_lo, k_max, size=2 * need + 8, dtype=np.uint64, endpoint=True)
        c = uniform_below(rng, m, 2 * need + 8)
        for ki, ci in zip(k.tolist(), c.tolist(), strict=True):
            if math.gcd(ci, m) == 1 and len(seen) < count:
                seen[((1 + ki * step) % m, ci)] = None
    pairs = list(seen)
    a = np.array([x for x, _ in pairs], dtype=np.uint64)
    return a, np.array([y for _, y in pairs], dtype=np.uint64)


# ----------------------------------------------------------------------------- arithmetic
def mulmod(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """``a * b mod m`` on uint64 (m <= 2^32, or m a power of two <= 2^64)."""
    if m <= 1 << 32:
        return (a * b) % _U64(m)
    return (a * b) & _U64((m - 1) & _M64)  # wraps mod 2^64, which m divides


def addmod(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """``(a + b) mod m`` on uint64 (both already reduced)."""
    return reduce_mod(a + b, m)


def reduce_mod(x: np.ndarray, m: int) -> np.ndarray:
    """``x mod m`` for uint64 x (m <= 2^32, or m a power of two <= 2^64)."""
    if m <= 1 << 32:
        return x % _U64(m)
    return x & _U64((m - 1) & _M64)


def mul_64x64(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full 128-bit product of two uint64 arrays as (hi, lo)."""
    s32 = _U64(32)
    a0, a1 = a & _M32, a >> s32
    b0, b1 = b & _M32, b >> s32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> s32) + (p01 & _M32) + (p10 & _M32)
    lo = (mid << s32) | (p00 & _M32)
    hi = p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32)
    return hi, lo


def mul128(
    ah: np.ndarray, al: np.ndarray, bh: np.ndarray, bl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``a * b mod 2^128`` on (hi, lo) uint64 limbs."""
    hi, lo = mul_64x64(al, bl)
    return hi + al * bh + ah * bl, lo


def add128(
    ah: np.ndarray, al: np.ndarray, bh: np.ndarray, bl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``a + b mod 2^128`` on (hi, lo) uint64 limbs."""
    lo = al + bl
    return ah + bh + (lo < al).astype(np.uint64), lo


def limbs(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Python integers below 2^128 as (hi, lo) uint64 limbs."""
    return (
        np.array([v >> 64 for v in values], dtype=np.uint64),
        np.array([v & _M64 for v in values], dtype=np.uint64),
    )


def jump_tables(a: int, c: int, m: int, x0: int, n: int) -> tuple[list, list, list, int]:
    """Jump coefficients ``A_r, C_r`` (r < L) and block starts ``x_{jL}`` (Python ints)."""
    block = max(1, math.isqrt(n))
    big_a, big_c = [1], [0]
    for _ in range(block - 1):
        big_a.append(big_a[-1] * a % m)
        big_c.append((big_c[-1] * a + c) % m)
    step_a = big_a[-1] * a % m
    step_c = (big_c[-1] * a + c) % m
    starts = [x0 % m]
    for _ in range(-(-(n + 1) // block) - 1):
        starts.append((step_a * starts[-1] + step_c) % m)
    return big_a, big_c, starts, block


def tmap(f: Callable[[np.ndarray], np.ndarray], v: Any) -> Any:
    """Apply ``f`` to an array, or to each limb of a (hi, lo) pair."""
    return tuple(f(z) for z in v) if isinstance(v, tuple) else f(v)


def stack_columns(values: list) -> Any:
    """Stack a list of (P,) arrays (or of (hi, lo) pairs of them) as columns: (P, len)."""
    if isinstance(values[0], tuple):
        return tuple(np.stack([v[i] for v in values], axis=1) for i in range(2))
    return np.stack(values, axis=1)


def affine_orbits(
    a: Any,
    c: Any,
    x0: Any,
    length: int,
    mul: Callable[[Any, Any], Any],
    add: Callable[[Any, Any], Any],
) -> Any:
    """States ``x_1..x_length`` of ``x -> a x + c`` for every row, with no loop over time.

    Per row, ``x_{jB + r} = A_r x_{jB} + C_r`` with ``A_r = a^r`` and
    ``C_r = c (1 + a + .. + a^(r-1))``: the B = isqrt(length) jump coefficients
    and the length / B block starts take about ``2 sqrt(length)`` vectorised
    steps over the P rows, and the states are one broadcast product.
    ``mul`` and ``add`` are the ring operations (uint64 arrays, or (hi, lo)
    pairs for 128 bits); the result is (P, length) in the same representation.
    """
    block = max(1, math.isqrt(length))
    jump_a, jump_c = [a], [c]  # r = 1..block
    for _ in range(block - 1):
        jump_a.append(mul(a, jump_a[-1]))
        jump_c.append(add(mul(a, jump_c[-1]), c))
    n_blocks = -(-length // block)
    starts = [x0]  # x_{jB}
    for _ in range(n_blocks - 1):
        starts.append(add(mul(jump_a[-1], starts[-1]), jump_c[-1]))
    big_a = tmap(lambda z: z[:, None, :], stack_columns(jump_a))
    big_c = tmap(lambda z: z[:, None, :], stack_columns(jump_c))
    big_s = tmap(lambda z: z[:, :, None], stack_columns(starts))
    states = add(mul(big_a, big_s), big_c)  # (P, blocks, B): x_{jB + 1 .. jB + B}
    return tmap(lambda z: z.reshape(z.shape[0], -1)[:, :length], states)
