"""Pseudo-random number sequences: LCGs, truncated LCGs and PCG output permutations.

Linear congruential generator (LCG)
    ``x_{t+1} = (a x_t + c) mod m``. By the Hull-Dobell theorem the period is
    ``m`` exactly when ``gcd(c, m) = 1``, ``a - 1`` is divisible by every prime
    factor of ``m``, and ``a - 1`` is divisible by 4 when 4 divides ``m``.
    Supported moduli: any ``m <= 2^32``, and powers of two up to ``2^64``.

Truncated LCG
    Only the top ``keep_bits`` of the ``k = ceil(log2 m)``-bit state are
    emitted: ``x >> (k - keep_bits)``, down to a single bit.

PCG (O'Neill 2014)
    A ``b``-bit LCG (``b`` = 64 or 128, modulus ``2^b``) whose state ``s`` is
    mapped to a ``w = b/2``-bit output by a permutation. With ``r`` the top bits
    of the state and ``rotr`` a right rotation on ``w`` bits:

    =======  ==================================  ===================================
    name     64-bit state -> 32 bits             128-bit state -> 64 bits
    =======  ==================================  ===================================
    rs       ``s >> (29 - (s >> 61))``           ``s >> (60 - (s >> 124))``
    rr       ``rotr(s >> 27, s >> 59)``          ``rotr(s >> 58, s >> 122)``
    xsh-rs   ``(s ^ s >> 22) >> (22 + (s>>61))`` ``(s ^ s >> 43) >> (45 + (s>>124))``
    xsh-rr   ``rotr((s ^ s >> 18) >> 27, s>>59)`` ``rotr((s ^ s >> 35) >> 58, s>>122)``
    xsl-rr   ``rotr(s>>32 ^ s, s >> 59)``        ``rotr(s>>64 ^ s, s >> 122)``
    =======  ==================================  ===================================

    (each result truncated to ``w`` bits). The XSH and XSL rows are those of the
    PCG reference library; RS and RR are the paper's plain random shift and
    random rotation. Outputs follow NumPy's convention: the state is advanced,
    then permuted, so ``pcg(n, state=s, increment=c)`` returns
    ``f(s_1), .., f(s_n)`` with ``s_1 = a s + c``; for 128 bits, XSL-RR and the
    default multiplier this is exactly ``numpy.random.PCG64``'s ``random_raw``.

Tokens
    Every number is written as little-endian base-``b`` digits (least
    significant first), ``D`` digits per number with ``D`` the smallest integer
    such that ``b^D`` covers the output range; the vocabulary is ``b``.

Long single sequences are generated without a loop over time: with ``L ~ sqrt(n)``
the states ``x_{jL + r} = A_r x_{jL} + C_r`` (``A_r = a^r``, ``C_r = c (a^r - 1)/(a - 1)``)
are one outer product of ``n/L`` block starts and ``L`` jump coefficients.
128-bit products are done on two uint64 limbs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..errors import UserError
from ._common import as_rng, check_int, write_synthetic

__all__ = [
    "OUTPUTS",
    "PCG_MULTIPLIER_64",
    "PCG_MULTIPLIER_128",
    "full_period_pairs",
    "generate_lcg",
    "generate_pcg",
    "hull_dobell",
    "lcg",
    "lcg_sequences",
    "num_digits",
    "pcg",
    "pcg_output",
    "pcg_sequences",
    "to_digits",
    "truncate",
]

PCG_MULTIPLIER_64 = 6364136223846793005
PCG_MULTIPLIER_128 = 0x2360ED051FC65DA44385DF649FCCF645
OUTPUTS = ("rs", "rr", "xsh-rs", "xsh-rr", "xsl-rr")

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


def _check_modulus(m: int) -> int:
    m = check_int("modulus", m, minimum=2)
    if m > 1 << 32 and m & (m - 1):
        raise UserError(f"modulus {m}: only moduli <= 2^32 or powers of two up to 2^64")
    if m > 1 << 64:
        raise UserError(f"modulus {m} exceeds 2^64")
    return m


def _multiplier_step(m: int) -> int:
    """The product of m's prime factors, times 2 more when 4 divides m (Hull-Dobell)."""
    step = math.prod(prime_factors(m))
    return step * 2 if m % 4 == 0 else step


def hull_dobell(a: int, c: int, m: int) -> bool:
    """True when ``x -> (a x + c) mod m`` has full period ``m`` (Hull-Dobell theorem)."""
    a, c, m = int(a), int(c), int(m)
    return math.gcd(c, m) == 1 and (a - 1) % _multiplier_step(m) == 0


def _euler_phi(m: int) -> int:
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
    m = _check_modulus(m)
    count = check_int("count", count)
    rng = as_rng(seed)
    step = _multiplier_step(m)
    k_max = (m - 1) // step  # a = 1 + k step < m
    k_lo = 1 if k_max >= 1 else 0
    total = (k_max - k_lo + 1) * _euler_phi(m)
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
def _mulmod(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """``a * b mod m`` on uint64 (m <= 2^32, or m a power of two <= 2^64)."""
    if m <= 1 << 32:
        return (a * b) % _U64(m)
    return (a * b) & _U64((m - 1) & _M64)  # wraps mod 2^64, which m divides


def _addmod(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    return _reduce(a + b, m)


def _reduce(x: np.ndarray, m: int) -> np.ndarray:
    """``x mod m`` for uint64 x (m <= 2^32, or m a power of two <= 2^64)."""
    if m <= 1 << 32:
        return x % _U64(m)
    return x & _U64((m - 1) & _M64)


def _mul_64x64(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full 128-bit product of two uint64 arrays as (hi, lo)."""
    s32 = _U64(32)
    a0, a1 = a & _M32, a >> s32
    b0, b1 = b & _M32, b >> s32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> s32) + (p01 & _M32) + (p10 & _M32)
    lo = (mid << s32) | (p00 & _M32)
    hi = p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32)
    return hi, lo


def _mul128(ah, al, bh, bl) -> tuple[np.ndarray, np.ndarray]:
    """``a * b mod 2^128`` on (hi, lo) uint64 limbs."""
    hi, lo = _mul_64x64(al, bl)
    return hi + al * bh + ah * bl, lo


def _add128(ah, al, bh, bl) -> tuple[np.ndarray, np.ndarray]:
    lo = al + bl
    return ah + bh + (lo < al).astype(np.uint64), lo


def _limbs(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([v >> 64 for v in values], dtype=np.uint64),
        np.array([v & _M64 for v in values], dtype=np.uint64),
    )


def _jump_tables(a: int, c: int, m: int, x0: int, n: int) -> tuple[list, list, list, int]:
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


# ----------------------------------------------------------------------------- LCG
def lcg(n: int, *, a: int, c: int, m: int, x0: int = 0) -> np.ndarray:
    """States ``x_1..x_n`` of ``x_{t+1} = (a x_t + c) mod m`` from ``x_0 = x0`` (uint64).

    Vectorised by jump-ahead (no loop over time): see the module docstring.
    """
    n = check_int("n", n)
    m = _check_modulus(m)
    a, c, x0 = int(a) % m, int(c) % m, int(x0) % m
    big_a, big_c, starts, _ = _jump_tables(a, c, m, x0, n)
    ar = np.array(big_a, dtype=np.uint64)[None, :]
    cr = np.array(big_c, dtype=np.uint64)[None, :]
    s = np.array(starts, dtype=np.uint64)[:, None]
    return _addmod(_mulmod(ar, s, m), cr, m).ravel()[1 : n + 1]


def _tmap(f, v):
    """Apply ``f`` to an array, or to each limb of a (hi, lo) pair."""
    return tuple(f(z) for z in v) if isinstance(v, tuple) else f(v)


def _stack_columns(values: list) -> Any:
    """Stack a list of (P,) arrays (or of (hi, lo) pairs of them) as columns: (P, len)."""
    if isinstance(values[0], tuple):
        return tuple(np.stack([v[i] for v in values], axis=1) for i in range(2))
    return np.stack(values, axis=1)


def _affine_orbits(a, c, x0, length: int, mul, add):
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
    big_a = _tmap(lambda z: z[:, None, :], _stack_columns(jump_a))
    big_c = _tmap(lambda z: z[:, None, :], _stack_columns(jump_c))
    big_s = _tmap(lambda z: z[:, :, None], _stack_columns(starts))
    states = add(mul(big_a, big_s), big_c)  # (P, blocks, B): x_{jB + 1 .. jB + B}
    return _tmap(lambda z: z.reshape(z.shape[0], -1)[:, :length], states)


def lcg_sequences(a: np.ndarray, c: np.ndarray, m: int, x0: np.ndarray, length: int) -> np.ndarray:
    """``length`` states of many LCGs at once, one per (a, c, x0) row: (P, length) uint64.

    Jump-ahead over time (:func:`_affine_orbits`), vectorised over the P generators.
    """
    m = _check_modulus(m)
    length = check_int("length", length)
    a = _reduce(np.atleast_1d(np.asarray(a, dtype=np.uint64)), m)
    c = _reduce(np.atleast_1d(np.asarray(c, dtype=np.uint64)), m)
    x = _reduce(np.atleast_1d(np.asarray(x0, dtype=np.uint64)), m)
    return _affine_orbits(
        a, c, x, length, lambda p, q: _mulmod(p, q, m), lambda p, q: _addmod(p, q, m)
    )


def truncate(x: np.ndarray, m: int, keep_bits: int) -> np.ndarray:
    """Top ``keep_bits`` of the ``ceil(log2 m)``-bit states: ``x >> (k - keep_bits)``."""
    k = (int(m) - 1).bit_length()
    keep_bits = check_int("keep_bits", keep_bits, minimum=1, maximum=k)
    return np.asarray(x, dtype=np.uint64) >> _U64(k - keep_bits)


# ----------------------------------------------------------------------------- PCG
def _rotr(x: np.ndarray, r: np.ndarray, width: int) -> np.ndarray:
    mask = _U64((1 << width) - 1)
    r = r & _U64(width - 1)
    return ((x >> r) | (x << ((_U64(width) - r) & _U64(width - 1)))) & mask


def pcg_output(state, output: str = "xsl-rr", bits: int = 128) -> np.ndarray:
    """Apply a PCG output permutation to states (uint64 for 64 bits, (hi, lo) for 128).

    Returns the ``bits/2``-bit outputs as uint64.
    """
    if output not in OUTPUTS:
        raise UserError(f"unknown PCG output {output!r}; choose from {', '.join(OUTPUTS)}")
    u = _U64
    if bits == 64:
        s = np.asarray(state, dtype=np.uint64)
        if output == "rs":
            return (s >> (u(29) - (s >> u(61)))) & _M32
        if output == "rr":
            return _rotr((s >> u(27)) & _M32, s >> u(59), 32)
        if output == "xsh-rs":
            return ((s ^ (s >> u(22))) >> (u(22) + (s >> u(61)))) & _M32
        if output == "xsh-rr":
            return _rotr(((s ^ (s >> u(18))) >> u(27)) & _M32, s >> u(59), 32)
        return _rotr((s >> u(32)) ^ (s & _M32), s >> u(59), 32)
    if bits != 128:
        raise UserError(f"PCG state bits must be 64 or 128, got {bits}")
    hi, lo = state

    def low64_shr(h, lw, sh):  # low 64 bits of (h:lw) >> sh, 0 < sh < 64
        return (lw >> sh) | (h << (u(64) - sh))

    if output == "rs":
        return low64_shr(hi, lo, u(60) - (hi >> u(60)))
    if output == "rr":
        return _rotr(low64_shr(hi, lo, u(58)), hi >> u(58), 64)
    if output == "xsh-rs":
        th, tl = hi ^ (hi >> u(43)), lo ^ low64_shr(hi, lo, u(43))
        return low64_shr(th, tl, u(45) + (hi >> u(60)))
    if output == "xsh-rr":
        th, tl = hi ^ (hi >> u(35)), lo ^ low64_shr(hi, lo, u(35))
        return _rotr(low64_shr(th, tl, u(58)), hi >> u(58), 64)
    return _rotr(hi ^ lo, hi >> u(58), 64)


def _check_pcg_args(state: int, increment: int, bits: int, multiplier: int | None) -> int:
    if bits not in (64, 128):
        raise UserError(f"PCG state bits must be 64 or 128, got {bits}")
    mult = (
        int(multiplier)
        if multiplier is not None
        else (PCG_MULTIPLIER_128 if bits == 128 else PCG_MULTIPLIER_64)
    )
    for name, v in (("state", state), ("increment", increment), ("multiplier", mult)):
        if not 0 <= int(v) < 1 << bits:
            raise UserError(f"{name} must lie in [0, 2^{bits})")
    if not hull_dobell(mult, increment, 1 << bits):
        raise UserError("PCG needs a full-period LCG: an odd increment and a multiplier = 1 mod 4")
    return mult


def pcg(
    n: int,
    *,
    state: int,
    increment: int,
    bits: int = 128,
    output: str = "xsl-rr",
    multiplier: int | None = None,
) -> np.ndarray:
    """Raw PCG outputs ``f(s_1), .., f(s_n)`` (uint64), ``s_{t+1} = a s_t + increment``.

    With ``bits=128``, ``output="xsl-rr"`` and the default multiplier this equals
    ``numpy.random.PCG64`` with the same 128-bit ``state`` and ``inc``:
    ``bg.state = {"bit_generator": "PCG64", "state": {"state": s, "inc": c}, ...};
    bg.random_raw(n)``.
    """
    n = check_int("n", n)
    if output not in OUTPUTS:
        raise UserError(f"unknown PCG output {output!r}; choose from {', '.join(OUTPUTS)}")
    mult = _check_pcg_args(state, increment, bits, multiplier)
    m = 1 << bits
    big_a, big_c, starts, _ = _jump_tables(mult, int(increment), m, int(state), n)
    if bits == 64:
        ar = np.array(big_a, dtype=np.uint64)[None, :]
        cr = np.array(big_c, dtype=np.uint64)[None, :]
        s = np.array(starts, dtype=np.uint64)[:, None]
        st = (ar * s + cr).ravel()[1 : n + 1]
        return pcg_output(st, output, 64)
    ah, al = _limbs(big_a)
    ch, cl = _limbs(big_c)
    sh, sl = _limbs(starts)
    ph, pl = _mul128(ah[None, :], al[None, :], sh[:, None], sl[:, None])
    hi, lo = _add128(ph, pl, ch[None, :], cl[None, :])
    return pcg_output((hi.ravel()[1 : n + 1], lo.ravel()[1 : n + 1]), output, 128)


def pcg_sequences(
    states: list[int],
    increments: list[int],
    length: int,
    *,
    bits: int = 64,
    output: str = "xsh-rr",
    multipliers: list[int] | None = None,
) -> np.ndarray:
    """``length`` outputs of many PCGs at once: (P, length) uint64, no loop over time."""
    length = check_int("length", length)
    p = len(states)
    mults = list(multipliers) if multipliers is not None else [None] * p
    mults = [
        _check_pcg_args(s, c, bits, a) for s, c, a in zip(states, increments, mults, strict=True)
    ]
    if output not in OUTPUTS:
        raise UserError(f"unknown PCG output {output!r}; choose from {', '.join(OUTPUTS)}")
    if bits == 64:
        x = np.array([int(s) for s in states], dtype=np.uint64)
        a = np.array(mults, dtype=np.uint64)
        c = np.array([int(v) for v in increments], dtype=np.uint64)
        st = _affine_orbits(a, c, x, length, np.multiply, np.add)  # uint64 wraps mod 2^64
        return pcg_output(st.ravel(), output, 64).reshape(p, length)
    st = _affine_orbits(
        _limbs(mults),
        _limbs([int(v) for v in increments]),
        _limbs([int(s) for s in states]),
        length,
        lambda u, w: _mul128(*u, *w),
        lambda u, w: _add128(*u, *w),
    )
    return pcg_output((st[0].ravel(), st[1].ravel()), output, 128).reshape(p, length)


# ----------------------------------------------------------------------------- digits
def num_digits(value_bits: int | None, base: int, modulus: int | None = None) -> int:
    """Smallest D with ``base^D >= 2^value_bits`` (or ``>= modulus``)."""
    base = check_int("base", base, minimum=2)
    top = int(modulus) if modulus is not None else 1 << int(value_bits or 1)
    d, cap = 1, base
    while cap < top:
        cap *= base
        d += 1
    return d


def to_digits(values: np.ndarray, base: int, digits: int) -> np.ndarray:
    """Little-endian base-``base`` digits of uint64 values: (n, digits), least significant first."""
    base = check_int("base", base, minimum=2)
    v = np.asarray(values, dtype=np.uint64).copy()
    out = np.empty((v.size, digits), dtype=np.uint64)
    b = _U64(base)
    for i in range(digits):
        out[:, i] = v % b
        v //= b
    if v.any():
        raise UserError(f"{digits} base-{base} digits cannot hold every value")
    return out


# ----------------------------------------------------------------------------- corpora
def _sequences_corpus(
    out,
    numbers: np.ndarray,
    value_range: int,
    base: int,
    *,
    test_sequences: int,
    kind: str,
    name: str,
    params: dict[str, Any],
    seed: int,
    truth: dict[str, Any],
):
    """Write (P, T) numbers as P documents of T*D little-endian digits."""
    p, t = numbers.shape
    d = num_digits(None, base, modulus=value_range)
    tokens = to_digits(numbers.ravel(), base, d).reshape(p, t * d)
    doc_len = t * d
    truth.update(
        digits_per_number=d, base=base, tokens_per_sequence=doc_len, value_range=value_range
    )
    train = (p - test_sequences) * doc_len if test_sequences else None
    return write_synthetic(
        out,
        tokens.ravel(),
        base,
        kind=kind,
        name=name,
        params=params,
        seed=seed,
        truth=truth,
        doc_offsets=np.arange(p, dtype=np.int64) * doc_len,
        train_tokens=train,
    )


def generate_lcg(
    out,
    *,
    modulus: int = 2048,
    num_pairs: int = 256,
    seq_len: int = 512,
    base: int | None = None,
    keep_bits: int | None = None,
    test_pairs: int = 0,
    full_period: bool = True,
    pairs: list[tuple[int, int]] | None = None,
    seed: int = 0,
):
    """A corpus of LCG sequences, one document per (a, c) pair, as base-b digits.

    Parameters
    ----------
    modulus : int
        m (<= 2^32, or a power of two up to 2^64).
    num_pairs : int
        Number of random (a, c) pairs when ``pairs`` is not given.
    seq_len : int
        Numbers per sequence (each from a random seed ``x_0``).
    base : int, optional
        Digit base b = vocabulary size; default the output range itself (one
        token per number).
    keep_bits : int, optional
        Emit only the top ``keep_bits`` bits of each state (truncated LCG).
    test_pairs : int
        The last ``test_pairs`` pairs form the held-out split (unseen (a, c)).
    full_period : bool
        Draw, or require of the given ``pairs``, Hull-Dobell full-period pairs.
    """
    rng = as_rng(seed)
    m = _check_modulus(modulus)
    seq_len = check_int("seq_len", seq_len)
    if pairs is not None:
        if len(pairs) == 0:
            raise UserError("pairs must not be empty")
        a = np.array([int(x) % m for x, _ in pairs], dtype=np.uint64)
        c = np.array([int(y) % m for _, y in pairs], dtype=np.uint64)
        bad = [(int(x), int(y)) for x, y in zip(a, c, strict=True) if not hull_dobell(x, y, m)]
        if full_period and bad:
            raise UserError(f"pair (a={bad[0][0]}, c={bad[0][1]}) has no full period mod {m}")
    elif full_period:
        a, c = full_period_pairs(m, num_pairs, seed=rng)
    else:
        a = uniform_below(rng, m, check_int("num_pairs", num_pairs))
        c = uniform_below(rng, m, a.size)
    test_pairs = check_int("test_pairs", test_pairs, minimum=0, maximum=a.size - 1)
    x0 = uniform_below(rng, m, a.size)
    states = lcg_sequences(a, c, m, x0, seq_len)
    value_range = m
    if keep_bits is not None:
        states = truncate(states, m, keep_bits)
        value_range = 1 << int(keep_bits)
    b = int(base) if base is not None else value_range
    full = [hull_dobell(int(x), int(y), m) for x, y in zip(a, c, strict=True)]
    truth: dict[str, Any] = {
        "kind": "lcg",
        "modulus": m,
        "keep_bits": keep_bits,
        "pairs": [[int(x), int(y), int(z)] for x, y, z in zip(a, c, x0, strict=True)],
        "pairs_columns": ["a", "c", "x0"],
        "full_period": full,
        "period": [m if f else None for f in full],
        "test_pairs": test_pairs,
        "note": "each document is one pair's sequence x_1..x_T of (a x + c) mod m",
    }
    params = {
        "modulus": m,
        "num_pairs": int(a.size),
        "seq_len": seq_len,
        "base": b,
        "keep_bits": keep_bits,
        "test_pairs": test_pairs,
        "full_period": full_period,
        "pairs": "given" if pairs is not None else "random",
    }
    name = f"lcg-m{m}" + (f"-top{keep_bits}" if keep_bits else "")
    return _sequences_corpus(
        out,
        states,
        value_range,
        b,
        test_sequences=test_pairs,
        kind="lcg",
        name=name,
        params=params,
        seed=seed,
        truth=truth,
    )


def generate_pcg(
    out,
    *,
    bits: int = 64,
    output: str = "xsh-rr",
    num_sequences: int = 256,
    seq_len: int = 256,
    base: int = 65536,
    random_multiplier: bool = False,
    test_sequences: int = 0,
    seed: int = 0,
):
    """A corpus of PCG sequences (random states and increments) as base-b digits.

    With ``random_multiplier`` every sequence also gets its own full-period
    multiplier (``a = 1 mod 4``), i.e. many (a, c) pairs per corpus.
    """
    rng = as_rng(seed)
    if bits not in (64, 128):
        raise UserError(f"PCG state bits must be 64 or 128, got {bits}")
    if output not in OUTPUTS:
        raise UserError(f"unknown PCG output {output!r}; choose from {', '.join(OUTPUTS)}")
    p = check_int("num_sequences", num_sequences)
    words = bits // 64

    def draw(count: int) -> list[int]:
        raw = rng.bit_generator.random_raw((count, words))
        return [sum(int(w) << (64 * i) for i, w in enumerate(row)) for row in raw]

    states = draw(p)
    incs = [x | 1 for x in draw(p)]
    mults = [(x & ~3) | 1 for x in draw(p)] if random_multiplier else None
    test_sequences = check_int("test_sequences", test_sequences, minimum=0, maximum=p - 1)
    outs = pcg_sequences(states, incs, seq_len, bits=bits, output=output, multipliers=mults)
    default = PCG_MULTIPLIER_128 if bits == 128 else PCG_MULTIPLIER_64
    truth: dict[str, Any] = {
        "kind": "pcg",
        "bits": bits,
        "output": output,
        "output_bits": bits // 2,
        "sequences": [
            {"state": str(s), "increment": str(c), "multiplier": str(a if mults else default)}
            for s, c, a in zip(states, incs, mults or [default] * p, strict=True)
        ],
        "period": f"2^{bits}",
        "test_sequences": test_sequences,
        "note": "integers are strings (they exceed JSON's safe range); outputs f(s_1)..f(s_T)",
    }
    params = {
        "bits": bits,
        "output": output,
        "num_sequences": p,
        "seq_len": seq_len,
        "base": base,
        "random_multiplier": random_multiplier,
        "test_sequences": test_sequences,
    }
    return _sequences_corpus(
        out,
        outs,
        1 << (bits // 2),
        check_int("base", base, minimum=2),
        test_sequences=test_sequences,
        kind="pcg",
        name=f"pcg{bits}-{output}",
        params=params,
        seed=seed,
        truth=truth,
    )
