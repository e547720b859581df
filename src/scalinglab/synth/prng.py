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

from typing import Any

import numpy as np

from ..errors import UserError
from ._common import as_rng, check_int, write_synthetic
from ._modarith import (
    add128,
    addmod,
    affine_orbits,
    check_modulus,
    full_period_pairs,
    hull_dobell,
    jump_tables,
    limbs,
    mul128,
    mulmod,
    multiplier_step,
    prime_factors,
    reduce_mod,
    uniform_below,
)

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
    "multiplier_step",
    "num_digits",
    "parse_pair",
    "pcg",
    "pcg_output",
    "pcg_sequences",
    "prime_factors",
    "to_digits",
    "truncate",
    "uniform_below",
]

PCG_MULTIPLIER_64 = 6364136223846793005
PCG_MULTIPLIER_128 = 0x2360ED051FC65DA44385DF649FCCF645
OUTPUTS = ("rs", "rr", "xsh-rs", "xsh-rr", "xsl-rr")

_U64 = np.uint64
_M32 = _U64(0xFFFFFFFF)
_M64 = (1 << 64) - 1


# ----------------------------------------------------------------------------- checks
def _check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise UserError(f"unknown PCG output {output!r}; choose from {', '.join(OUTPUTS)}")
    return output


def _check_bits(bits: int) -> int:
    if bits not in (64, 128):
        raise UserError(f"PCG state bits must be 64 or 128, got {bits}")
    return bits


# ----------------------------------------------------------------------------- LCG
def lcg(n: int, *, a: int, c: int, m: int, x0: int = 0) -> np.ndarray:
    """States ``x_1..x_n`` of ``x_{t+1} = (a x_t + c) mod m`` from ``x_0 = x0`` (uint64).

    Vectorised by jump-ahead (no loop over time): see the module docstring.
    """
    n = check_int("n", n)
    m = check_modulus(m)
    a, c, x0 = int(a) % m, int(c) % m, int(x0) % m
    big_a, big_c, starts, _ = jump_tables(a, c, m, x0, n)
    ar = np.array(big_a, dtype=np.uint64)[None, :]
    cr = np.array(big_c, dtype=np.uint64)[None, :]
    s = np.array(starts, dtype=np.uint64)[:, None]
    return addmod(mulmod(ar, s, m), cr, m).ravel()[1 : n + 1]


def lcg_sequences(a: np.ndarray, c: np.ndarray, m: int, x0: np.ndarray, length: int) -> np.ndarray:
    """``length`` states of many LCGs at once, one per (a, c, x0) row: (P, length) uint64.

    Jump-ahead over time (:func:`affine_orbits`), vectorised over the P generators.
    """
    m = check_modulus(m)
    length = check_int("length", length)
    a = reduce_mod(np.atleast_1d(np.asarray(a, dtype=np.uint64)), m)
    c = reduce_mod(np.atleast_1d(np.asarray(c, dtype=np.uint64)), m)
    x = reduce_mod(np.atleast_1d(np.asarray(x0, dtype=np.uint64)), m)
    return affine_orbits(
        a, c, x, length, lambda p, q: mulmod(p, q, m), lambda p, q: addmod(p, q, m)
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
    _check_output(output)
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
    _check_bits(bits)
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
    _check_bits(bits)
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
    _check_output(output)
    mult = _check_pcg_args(state, increment, bits, multiplier)
    m = 1 << bits
    big_a, big_c, starts, _ = jump_tables(mult, int(increment), m, int(state), n)
    if bits == 64:
        ar = np.array(big_a, dtype=np.uint64)[None, :]
        cr = np.array(big_c, dtype=np.uint64)[None, :]
        s = np.array(starts, dtype=np.uint64)[:, None]
        st = (ar * s + cr).ravel()[1 : n + 1]
        return pcg_output(st, output, 64)
    ah, al = limbs(big_a)
    ch, cl = limbs(big_c)
    sh, sl = limbs(starts)
    ph, pl = mul128(ah[None, :], al[None, :], sh[:, None], sl[:, None])
    hi, lo = add128(ph, pl, ch[None, :], cl[None, :])
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
    _check_output(output)
    if bits == 64:
        x = np.array([int(s) for s in states], dtype=np.uint64)
        a = np.array(mults, dtype=np.uint64)
        c = np.array([int(v) for v in increments], dtype=np.uint64)
        st = affine_orbits(a, c, x, length, np.multiply, np.add)  # uint64 wraps mod 2^64
        return pcg_output(st.ravel(), output, 64).reshape(p, length)
    st = affine_orbits(
        limbs(mults),
        limbs([int(v) for v in increments]),
        limbs([int(s) for s in states]),
        length,
        lambda u, w: mul128(*u, *w),
        lambda u, w: add128(*u, *w),
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


def parse_pair(text: str) -> tuple[int, int]:
    """An LCG pair from a text ``"A,C"`` (decimal, or with a 0x / 0o / 0b prefix)."""
    parts = text.replace(" ", "").split(",")
    try:
        a, c = (int(v, 0) for v in parts)
    except ValueError:
        raise UserError(f"an (a, c) pair takes two integers A,C, got {text!r}") from None
    return a, c


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
    pairs: list[tuple[int, int]] | list[str] | None = None,
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
    pairs : list of (a, c), optional
        The given pairs, as integers or texts ``"A,C"`` (:func:`parse_pair`).
    """
    rng = as_rng(seed)
    m = check_modulus(modulus)
    seq_len = check_int("seq_len", seq_len)
    if pairs is not None:
        if len(pairs) == 0:
            raise UserError("pairs must not be empty")
        pairs = [parse_pair(x) if isinstance(x, str) else x for x in pairs]
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
    _check_bits(bits)
    _check_output(output)
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
