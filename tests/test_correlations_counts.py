"""Pair counting and covariance norms: additivity, symmetries, sparse vs dense, documents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglab.corpus import TokenCorpus
from scalinglab.stats import _corr_count as cc
from scalinglab.stats import _corr_shuffle as cs
from scalinglab.stats._corr_linalg import spectrum
from scalinglab.stats.correlations import count_pairs, covariance_norms


def dense_cov(x: np.ndarray, lag: int, v: int) -> np.ndarray:
    """Slow reference: C(n) from np.add.at on a dense table, marginals counted directly."""
    left, right = x[:-lag], x[lag:]
    m = left.size
    j = np.zeros((v, v))
    np.add.at(j, (left, right), 1.0)
    pl = np.bincount(left, minlength=v) / m
    pr = np.bincount(right, minlength=v) / m
    return j / m - np.outer(pl, pr)


sequences = st.integers(2, 12).flatmap(
    lambda v: st.tuples(
        st.just(v),
        st.lists(st.integers(0, v - 1), min_size=12, max_size=300),
        st.integers(1, 10),
    )
)


@settings(max_examples=60, deadline=None)
@given(sequences, st.integers(0, 2**31 - 1))
def test_relabelling_leaves_norms_unchanged(case, seed):
    v, xs, lag = case
    x = np.asarray(xs)
    lag = min(lag, x.size - 1)
    perm = np.random.default_rng(seed).permutation(v)
    a = covariance_norms(count_pairs(x, lag, vocab_size=v), top_k=1)
    b = covariance_norms(count_pairs(perm[x], lag, vocab_size=v), top_k=1)
    assert b["operator_norm"] == pytest.approx(a["operator_norm"], rel=1e-10, abs=1e-14)
    assert b["frobenius"] == pytest.approx(a["frobenius"], rel=1e-10, abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(sequences)
def test_reversal_transposes_the_covariance(case):
    v, xs, lag = case
    x = np.asarray(xs)
    lag = min(lag, x.size - 1)
    fwd = count_pairs(x, lag, vocab_size=v)
    rev = count_pairs(x[::-1].copy(), lag, vocab_size=v)
    np.testing.assert_array_equal(rev.to_dense(), fwd.to_dense().T)
    np.testing.assert_array_equal(fwd.transpose().to_dense(), rev.to_dense())
    a, b = covariance_norms(fwd), covariance_norms(rev)
    assert b["operator_norm"] == pytest.approx(a["operator_norm"], rel=1e-10, abs=1e-14)
    assert b["frobenius"] == pytest.approx(a["frobenius"], rel=1e-10, abs=1e-14)
    c = dense_cov(x, lag, v)
    assert a["frobenius"] == pytest.approx(np.linalg.norm(c), rel=1e-9, abs=1e-14)
    assert a["operator_norm"] == pytest.approx(np.linalg.norm(c, 2), rel=1e-9, abs=1e-14)


@pytest.mark.parametrize(
    ("v", "xs", "lag"),
    [
        (5, [0] * 11 + [1], 1),  # every left member is 0: J's row 0 is pR, so C = 0
        (3, [0, 0, 1, 1, 1, 2] + [0] * 11, 6),  # every right member is 0: C = 0
    ],
)
def test_a_zero_covariance_has_zero_norms(v, xs, lag):
    x = np.asarray(xs)
    for seq in (x, x[::-1].copy(), (x + 1) % v, (v - 1) - x, (x + 2) % v):
        t = count_pairs(seq, lag, vocab_size=v)
        assert np.abs(t.to_dense() / t.pairs - np.outer(*_marginals(t))).max() < 1e-15
        n = covariance_norms(t, top_k=1)
        assert n["frobenius"] <= 1e-15 and n["operator_norm"] <= 1e-15


def _marginals(t):
    d = t.to_dense() / t.pairs
    return d.sum(axis=1), d.sum(axis=0)


@settings(max_examples=40, deadline=None)
@given(sequences, st.data())
def test_chunk_tables_add_up(case, data):
    v, xs, lag = case
    x = np.asarray(xs)
    lag = min(lag, x.size - 1)
    cut = data.draw(st.integers(0, x.size))
    chunk = data.draw(st.integers(1, x.size))
    whole = count_pairs(x, lag, vocab_size=v)
    parts = count_pairs(x, lag, vocab_size=v, stop=cut) + count_pairs(
        x, lag, vocab_size=v, start=cut
    )
    chunked = count_pairs(x, lag, vocab_size=v, chunk_tokens=chunk)
    for t in (parts, chunked):
        np.testing.assert_array_equal(t.keys, whole.keys)
        np.testing.assert_array_equal(t.counts, whole.counts)
    assert whole.pairs == x.size - lag
    np.testing.assert_array_equal(whole.left_counts(), np.bincount(x[:-lag], minlength=v))
    np.testing.assert_array_equal(whole.right_counts(), np.bincount(x[lag:], minlength=v))


def test_sort_and_bincount_paths_agree():
    rng = np.random.default_rng(1)
    v, k = 300, 7
    left = rng.integers(0, v, 5000)
    right = rng.integers(0, v, 5000)
    blocks = np.sort(rng.integers(0, k, 5000))
    small = cc.count_composite(left, right, blocks, v, k)  # 630k cells > 2 x pairs: sort
    saved = cc._BINCOUNT_SMALL
    try:
        cc._BINCOUNT_SMALL = 1 << 30
        big = cc.count_composite(left, right, blocks, v, k)
    finally:
        cc._BINCOUNT_SMALL = saved
    np.testing.assert_array_equal(small[0], big[0])
    np.testing.assert_array_equal(small[1], big[1])
    ref = np.zeros(v * v * k, dtype=np.int64)
    np.add.at(ref, (left * v + right) * k + blocks, 1)
    np.testing.assert_array_equal(small[0], np.flatnonzero(ref))
    np.testing.assert_array_equal(small[1], ref[ref > 0])


def test_arpack_matches_dense_svd_for_a_large_vocabulary():
    """V = 700 with sparse transitions: the ARPACK path, checked against LAPACK."""
    rng = np.random.default_rng(2)
    v, n = 700, 200_000
    succ = rng.integers(0, v, (v, 4))  # each symbol is followed by one of 4 symbols
    x = np.empty(n, dtype=np.int64)
    x[0] = 0
    choice = rng.integers(0, 4, n)
    noise = rng.random(n) < 0.3
    fresh = rng.integers(0, v, n)
    for i in range(1, n):  # test-side sampler
        x[i] = fresh[i] if noise[i] else succ[x[i - 1], choice[i]]
    for lag in (1, 3):
        table = count_pairs(x, lag, vocab_size=v)
        sp = spectrum(table, k=5)
        assert sp.method == "arpack"
        c = dense_cov(x, lag, v)
        s = np.linalg.svd(c, compute_uv=False)
        np.testing.assert_allclose(sp.values, s[:5], rtol=1e-9)
        assert sp.frobenius == pytest.approx(np.linalg.norm(c), rel=1e-10)
        assert sp.u @ c @ sp.v == pytest.approx(s[0], rel=1e-9)
        dense = spectrum(table, k=5, dense_work=1 << 40)
        assert dense.method == "dense"
        np.testing.assert_allclose(dense.values, s[:5], rtol=1e-10)


def _docs_reference(x, offsets, eod, lag, v):
    """Loop reference for within-document pairs (separators excluded)."""
    ends = list(offsets[1:]) + [x.size]
    j = np.zeros((v, v), dtype=np.int64)
    for s, e in zip(offsets, ends, strict=True):
        doc = x[s:e]
        if doc.size and doc[-1] == eod:
            doc = doc[:-1]
        for i in range(doc.size - lag):
            j[doc[i], doc[i + lag]] += 1
    return j


@pytest.mark.parametrize("lag", [1, 2, 5])
def test_within_documents_counts_only_pairs_inside_documents(lag):
    rng = np.random.default_rng(3)
    v, eod = 6, 5
    docs = [rng.integers(0, 5, rng.integers(1, 12)) for _ in range(40)]
    offsets = np.cumsum([0] + [d.size + 1 for d in docs[:-1]])
    x = np.concatenate([np.append(d, eod) for d in docs])
    ref = _docs_reference(x, offsets, eod, lag, v)
    for chunk in (7, 1 << 20):
        t = count_pairs(
            x,
            lag,
            vocab_size=v,
            doc_offsets=offsets,
            eod_token=eod,
            within_documents=True,
            chunk_tokens=chunk,
        )
        np.testing.assert_array_equal(t.to_dense(), ref)
    layout = cc.Layout.build(x, v, offsets, eod, True)
    assert layout.total_pairs(lag) == ref.sum()
    stream = count_pairs(x, lag, vocab_size=v)
    assert stream.pairs == x.size - lag


def test_shuffled_source_is_a_permutation_of_the_content():
    rng = np.random.default_rng(4)
    v, eod = 8, 7
    docs = [rng.integers(0, 7, rng.integers(2, 50)) for _ in range(30)]
    offsets = np.cumsum([0] + [d.size + 1 for d in docs[:-1]])
    x = np.concatenate([np.append(d, eod) for d in docs]).astype(np.uint16)
    layout = cc.Layout.build(x, v, offsets, eod, True)
    counts = cs.content_counts(cc.ArraySource(x), layout, 64)
    streamed = cs.ShuffledSource(x, layout, counts, [0, 1], 64)
    got = np.concatenate([streamed.segment(s, min(s + 50, x.size)) for s in range(0, x.size, 50)])
    kept = cs.ShuffledSource(x, layout, counts, [0, 1], 64, materialize=True)
    np.testing.assert_array_equal(kept.segment(0, x.size), got)
    content = np.concatenate([np.ones(d.size, bool).tolist() + [False] for d in docs])
    np.testing.assert_array_equal(got[~content], x[~content])  # separators stay
    np.testing.assert_array_equal(np.sort(got[content]), np.sort(x[content]))
    assert not np.array_equal(got, x)


def test_pair_counts_reject_bad_ranges():
    from scalinglab.errors import UserError

    x = np.arange(10) % 3
    with pytest.raises(UserError):
        count_pairs(x, 10)
    with pytest.raises(UserError):
        count_pairs(x, 1, start=5, stop=3)
    with pytest.raises(ValueError):
        count_pairs(x, 1) + count_pairs(x, 2)
    corpus = TokenCorpus.from_array(x)
    assert count_pairs(corpus.tokens, 2).pairs == 8


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=40, unique=True),
    st.lists(st.integers(0, 60), max_size=40, unique=True),
)
def test_merge_of_sorted_tables(a, b):
    a_keys, b_keys = np.sort(np.array(a, np.int64)), np.sort(np.array(b, np.int64))
    a_counts, b_counts = a_keys * 3 + 1, b_keys + 7
    keys, counts = cc.merge_two(a_keys, a_counts, b_keys, b_counts)
    ref = np.zeros(61, np.int64)
    np.add.at(ref, a_keys, a_counts)
    np.add.at(ref, b_keys, b_counts)
    np.testing.assert_array_equal(keys, np.flatnonzero(ref))
    np.testing.assert_array_equal(counts, ref[ref > 0])
    acc = cc._Accumulator()
    for k, c in ((a_keys, a_counts), (b_keys, b_counts), (a_keys, a_counts)):
        acc.add(k, c)
    np.add.at(ref, a_keys, a_counts)
    keys, counts = acc.result()
    np.testing.assert_array_equal(keys, np.flatnonzero(ref))
    np.testing.assert_array_equal(counts, ref[ref > 0])
