"""LCG and PCG sequences: periods, exact references and the digit corpora."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth import prng

M128 = (1 << 128) - 1


def _ref_output(s: int, output: str, bits: int) -> int:
    """PCG output permutations on Python integers (slow reference)."""
    w = bits // 2
    mask = (1 << w) - 1
    opbits = 5 if bits == 64 else 6  # log2(w): rotation amount bits
    spare = bits - w

    def rotr(x: int, r: int) -> int:
        r %= w
        return ((x >> r) | (x << (w - r))) & mask

    rot = s >> (bits - opbits)
    if output == "xsl-rr":
        return rotr(((s >> w) ^ s) & mask, rot)
    if output == "rr":
        return rotr((s >> (spare - opbits)) & mask, rot)
    if output == "xsh-rr":
        xs = (opbits + w) // 2
        return rotr(((s ^ (s >> xs)) >> (spare - opbits)) & mask, rot)
    rsbits = 3 if bits == 64 else 4  # random-shift amount bits
    r = s >> (bits - rsbits)
    bottom = spare - rsbits
    if output == "rs":
        return (s >> (bottom - r)) & mask
    maxshift = (1 << rsbits) - 1
    xs = rsbits + (w + maxshift) // 2
    return ((s ^ (s >> xs)) >> (bottom - maxshift + r)) & mask


def _ref_pcg(n, state, inc, bits, output, mult):
    out = []
    for _ in range(n):
        state = (state * mult + inc) % (1 << bits)
        out.append(_ref_output(state, output, bits))
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, M128), st.integers(0, M128 >> 1), st.integers(1, 300))
def test_pcg128_xsl_rr_equals_numpy_pcg64(state, half_inc, n):
    inc = (half_inc << 1) | 1
    bg = np.random.PCG64()
    bg.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": 0,
        "uinteger": 0,
    }
    np.testing.assert_array_equal(prng.pcg(n, state=state, increment=inc), bg.random_raw(n))


def test_pcg64_from_numpy_seed_long_stream():
    bg = np.random.PCG64(2024)
    s = bg.state["state"]
    out = prng.pcg(100_000, state=s["state"], increment=s["inc"])
    np.testing.assert_array_equal(out, bg.random_raw(100_000))


def test_pcg32_xsh_rr_reference_values():
    # pcg32 demo of the PCG reference library, seed 42, sequence 54 (its first
    # output permutes the state 151 * a + 109, i.e. s_1 of our s_0 = 151).
    out = prng.pcg(6, state=151, increment=109, bits=64, output="xsh-rr")
    assert [int(x) for x in out] == [
        0xA15C02B7,
        0x7B47F409,
        0xBA1D3330,
        0x83D2F293,
        0xBFA4784B,
        0xCBED606E,
    ]


@pytest.mark.parametrize("bits", [64, 128])
@pytest.mark.parametrize("output", prng.OUTPUTS)
def test_every_output_permutation_matches_python_reference(bits, output):
    rng = np.random.default_rng(bits)
    mult = prng.PCG_MULTIPLIER_64 if bits == 64 else prng.PCG_MULTIPLIER_128
    for _ in range(3):
        state = int(rng.integers(0, 2**63)) << (bits - 63) | int(rng.integers(0, 2**62))
        inc = int(rng.integers(0, 2**62)) << (bits - 62) | 1
        got = prng.pcg(257, state=state, increment=inc, bits=bits, output=output)
        assert [int(x) for x in got] == _ref_pcg(257, state, inc, bits, output, mult)
        seq = prng.pcg_sequences([state], [inc], 257, bits=bits, output=output)
        np.testing.assert_array_equal(seq[0], got)


@pytest.mark.parametrize("m", [2**10, 1000, 2916, 3**7, 2**16 + 1, 2**16])
def test_hull_dobell_pairs_have_period_m(m):
    a, c = prng.full_period_pairs(m, 4, seed=m)
    for ai, ci in zip(a.tolist(), c.tolist(), strict=True):
        assert prng.hull_dobell(ai, ci, m)
        assert ai != 1 or prng.multiplier_step(m) >= m  # a = 1 only when it is the sole a
        x = prng.lcg(2 * m, a=ai, c=ci, m=m, x0=5)
        assert np.unique(x[:m]).size == m  # m distinct states: period m
        np.testing.assert_array_equal(x[:m], x[m:])


def test_pairs_without_full_period_repeat_early():
    m = 1024
    for a, c in [(5, 2), (3, 1), (7, 3)]:  # c even; a-1 not divisible by 4
        assert not prng.hull_dobell(a, c, m)
        assert np.unique(prng.lcg(m, a=a, c=c, m=m, x0=1)).size < m


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([7, 100, 2**20, 2**32, 2**40, 2**64]),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(1, 500),
)
def test_lcg_jump_ahead_matches_loop(m, a, c, x0, n):
    x, ref = x0 % m, []
    for _ in range(n):
        x = (a * x + c) % m
        ref.append(x)
    assert prng.lcg(n, a=a, c=c, m=m, x0=x0).tolist() == ref
    seq = prng.lcg_sequences(
        np.array([a % m], dtype=np.uint64),
        np.array([c % m], dtype=np.uint64),
        m,
        np.array([x0 % m], dtype=np.uint64),
        n,
    )
    assert seq[0].tolist() == ref


def test_truncation_and_digits():
    x = np.array([0, 1023, 512, 700], dtype=np.uint64)
    assert prng.truncate(x, 1024, 1).tolist() == [0, 1, 1, 1]
    assert prng.truncate(x, 1024, 3).tolist() == [0, 7, 4, 5]
    d = prng.to_digits(np.array([2**64 - 1, 12345], dtype=np.uint64), 10, 20)
    assert int("".join(map(str, d[0][::-1]))) == 2**64 - 1
    assert prng.num_digits(64, 10) == 20 and prng.num_digits(32, 65536) == 2
    assert prng.num_digits(None, 2, modulus=1000) == 10
    with pytest.raises(UserError):
        prng.to_digits(np.array([1000], dtype=np.uint64), 10, 2)


def test_lcg_corpus_digits_decode_to_the_sequences(tmp_path):
    corpus = sl.synth.generate_lcg(
        tmp_path / "lcg", modulus=4096, num_pairs=6, seq_len=50, base=8, test_pairs=2, seed=4
    )
    truth = json.loads((tmp_path / "lcg" / "truth.json").read_text())
    assert corpus.vocab_size == 8 and truth["digits_per_number"] == 4
    assert all(truth["full_period"]) and truth["period"] == [4096] * 6
    toks = np.asarray(corpus.tokens).reshape(6, 50, 4).astype(np.int64)
    nums = (toks * 8 ** np.arange(4)).sum(axis=2)
    for row, (a, c, x0) in zip(nums, truth["pairs"], strict=True):
        assert row.tolist() == prng.lcg(50, a=a, c=c, m=4096, x0=x0).tolist()
    assert corpus.train.size == 4 * 200 and corpus.heldout.size == 2 * 200
    assert list(corpus.doc_offsets[:3]) == [0, 200, 400]


def test_truncated_lcg_corpus_keeps_top_bits(tmp_path):
    corpus = sl.synth.generate_lcg(
        tmp_path / "t", modulus=2**16, num_pairs=3, seq_len=40, keep_bits=1, seed=1
    )
    truth = json.loads((tmp_path / "t" / "truth.json").read_text())
    assert corpus.vocab_size == 2
    a, c, x0 = truth["pairs"][0]
    top = prng.lcg(40, a=a, c=c, m=2**16, x0=x0) >> np.uint64(15)
    np.testing.assert_array_equal(np.asarray(corpus.tokens[:40]), top)


def test_pcg_corpus_matches_pcg(tmp_path):
    corpus = sl.synth.generate_pcg(
        tmp_path / "p", bits=128, output="xsl-rr", num_sequences=3, seq_len=20, base=2**16, seed=2
    )
    truth = json.loads((tmp_path / "p" / "truth.json").read_text())
    s = truth["sequences"][1]
    ref = prng.pcg(20, state=int(s["state"]), increment=int(s["increment"]))
    toks = np.asarray(corpus.tokens).reshape(3, 20, 4).astype(np.uint64)[1]
    nums = sum(toks[:, i] << np.uint64(16 * i) for i in range(4))
    np.testing.assert_array_equal(nums, ref)


def test_prng_bad_parameters(tmp_path):
    with pytest.raises(UserError, match="full period"):
        sl.synth.generate_lcg(tmp_path / "x", modulus=1024, pairs=[(5, 2)], seq_len=4)
    with pytest.raises(UserError):
        prng.lcg(10, a=3, c=1, m=3 * 2**40)  # not a power of two above 2^32
    with pytest.raises(UserError):
        prng.truncate(np.zeros(2, dtype=np.uint64), 1024, 11)
    with pytest.raises(UserError, match="odd increment"):
        prng.pcg(4, state=1, increment=2)
    with pytest.raises(UserError, match="output"):
        prng.pcg(4, state=1, increment=3, output="xyz")
    with pytest.raises(UserError, match="64 or 128"):
        prng.pcg(4, state=1, increment=3, bits=32)
    with pytest.raises(UserError, match="full-period pairs exist"):
        prng.full_period_pairs(8, 100)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([7, 1000, 2**20, 2**32, 2**64]),
    st.lists(st.tuples(*[st.integers(0, 2**64 - 1)] * 3), min_size=1, max_size=5),
    st.integers(1, 300),
)
def test_lcg_sequences_of_many_generators_match_loops(m, rows, n):
    a, c, x0 = (np.array([r[i] % m for r in rows], dtype=np.uint64) for i in range(3))
    got = prng.lcg_sequences(a, c, m, x0, n)
    assert got.shape == (len(rows), n)
    for row, (ai, ci, xi) in zip(got, rows, strict=True):
        x, ref = xi % m, []
        for _ in range(n):
            x = (ai % m * x + ci % m) % m
            ref.append(x)
        assert row.tolist() == ref


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from([64, 128]),
    st.sampled_from(prng.OUTPUTS),
    st.lists(st.tuples(*[st.integers(0, 2**128 - 1)] * 3), min_size=1, max_size=4),
    st.integers(1, 200),
)
def test_pcg_sequences_with_their_own_multipliers_match_the_reference(bits, output, rows, n):
    mask = (1 << bits) - 1
    states = [r[0] & mask for r in rows]
    incs = [(r[1] & mask) | 1 for r in rows]
    mults = [(r[2] & mask & ~3) | 1 for r in rows]  # full period: a = 1 mod 4
    got = prng.pcg_sequences(states, incs, n, bits=bits, output=output, multipliers=mults)
    for row, s, c, a in zip(got, states, incs, mults, strict=True):
        assert [int(v) for v in row] == _ref_pcg(n, s, c, bits, output, a)


def test_lcg_corpus_period_is_the_truth_json_period(tmp_path):
    """Sequences twice as long as m, decoded from the corpus, repeat with period exactly m."""
    m = 256
    corpus = sl.synth.generate_lcg(tmp_path / "l", modulus=m, num_pairs=5, seq_len=2 * m,
                                   base=4, seed=9)  # fmt: skip
    truth = json.loads((tmp_path / "l" / "truth.json").read_text())
    d = truth["digits_per_number"]
    nums = (
        np.asarray(corpus.tokens).reshape(5, 2 * m, d).astype(np.int64) * 4 ** np.arange(d)
    ).sum(axis=2)
    for row, period in zip(nums, truth["period"], strict=True):
        assert period == m
        assert np.unique(row[:m]).size == m  # no repeat before m steps
        np.testing.assert_array_equal(row[:m], row[m:])  # and a repeat at m


def test_given_pairs_are_used_and_checked(tmp_path):
    corpus = sl.synth.generate_lcg(tmp_path / "g", modulus=1024, pairs=[(5, 3), (9, 7)],
                                   seq_len=8, seed=1)  # fmt: skip
    truth = json.loads((tmp_path / "g" / "truth.json").read_text())
    assert [p[:2] for p in truth["pairs"]] == [[5, 3], [9, 7]]
    assert corpus.meta["generator"]["params"]["pairs"] == "given"
    x0 = truth["pairs"][1][2]
    np.testing.assert_array_equal(
        np.asarray(corpus.tokens[8:16]), prng.lcg(8, a=9, c=7, m=1024, x0=x0)
    )
    # asking for any period lets a short-period pair through, and records it
    sl.synth.generate_lcg(tmp_path / "h", modulus=1024, pairs=[(5, 2)], seq_len=4,
                          full_period=False)  # fmt: skip
    truth = json.loads((tmp_path / "h" / "truth.json").read_text())
    assert truth["full_period"] == [False] and truth["period"] == [None]
