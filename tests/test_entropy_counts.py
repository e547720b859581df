"""Suffix-array n-gram counts against slow Counter-based references."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma

from scalinglab.stats._ngram import (
    DISTINCT,
    N1,
    N2,
    N3,
    N4,
    S_G,
    S_LOG,
    count_sweep,
    fsum,
    grassberger_g,
)
from scalinglab.stats._suffix import lcp_array, suffix_array

EULER = 0.5772156649015329


def slow_sa(x):
    return sorted(range(len(x)), key=lambda i: tuple(x[i:]))


def ngram_counts(x, m, stop=None):
    """Counts of the m-grams starting at positions 0 .. stop - 1 (default: all)."""
    stop = len(x) - m + 1 if stop is None else stop
    return Counter(tuple(x[i : i + m]) for i in range(max(stop, 0)))


def g_slow(c):
    return float(digamma(c) + 0.5 * (-1) ** c * (digamma((c + 1) / 2) - digamma(c / 2)))


token_arrays = st.integers(1, 6).flatmap(
    lambda v: st.lists(st.integers(0, v - 1), min_size=2, max_size=250)
)


def test_grassberger_g_closed_forms():
    # psi(1) = -gamma_E, psi(2) = 1 - gamma_E, psi(3/2) = 2 - gamma_E - 2 ln 2
    g = grassberger_g(np.array([1, 2]))
    assert g[0] == pytest.approx(-EULER - math.log(2), abs=1e-12)
    assert g[1] == pytest.approx(2 - EULER - math.log(2), abs=1e-12)
    # G(c) -> log c for large c (even and odd)
    big = grassberger_g(np.array([10**6, 10**6 + 1]))
    assert np.allclose(big, np.log([10**6, 10**6 + 1]), atol=2e-6)


@pytest.mark.parametrize("alphabet", [3, 300, 70000])
def test_suffix_array_matches_sorting(alphabet):
    rng = np.random.default_rng(alphabet)
    for size in (1, 2, 17, 200):
        # few distinct values, spread over a large id range: repeats, and 1/2/4-byte codes
        vals = rng.choice(alphabet, size=min(alphabet, 5), replace=False)
        x = vals[rng.integers(0, vals.size, size)]
        if alphabet > 256:
            x = np.concatenate([x, np.arange(min(alphabet, 300))])
        x = x.astype(np.uint32)
        assert suffix_array(x).tolist() == slow_sa(x.tolist())


def doubling_sa(x: np.ndarray) -> np.ndarray:
    """Suffix array by prefix doubling (rank pairs sorted with np.lexsort)."""
    n = x.size
    rank = np.unique(x, return_inverse=True)[1].astype(np.int64)
    k = 1
    while True:
        second = np.full(n, -1, np.int64)
        second[: n - k] = rank[k:]
        sa = np.lexsort((second, rank))
        r, s = rank[sa], second[sa]
        step = np.concatenate([[0], ((r[1:] != r[:-1]) | (s[1:] != s[:-1])).astype(np.int64)])
        rank = np.empty(n, np.int64)
        rank[sa] = np.cumsum(step)
        if rank[sa[-1]] == n - 1:
            return sa
        k *= 2


def test_suffix_array_with_more_than_65536_distinct_tokens():
    """Four-byte codes: more distinct ids than two bytes hold, with long repeats."""
    rng = np.random.default_rng(8)
    x = np.concatenate(
        [rng.permutation(70_000) * 3, rng.integers(0, 50, 20_000) * 5000, rng.integers(0, 9, 500)]
    )
    x = np.concatenate([x, x[:3000], x[100:2000]]).astype(np.uint32)
    assert np.unique(x).size > 65536
    sa = suffix_array(x)
    np.testing.assert_array_equal(sa, doubling_sa(x))
    lcp = lcp_array(x, sa, cap=200)
    a, b = sa[:-1].astype(np.int64), sa[1:].astype(np.int64)
    for k in rng.integers(0, x.size - 1, 200).tolist():  # spot checks against a direct scan
        u, v = x[a[k] : a[k] + 200], x[b[k] : b[k] + 200]
        m = min(u.size, v.size)
        neq = np.flatnonzero(u[:m] != v[:m])
        assert lcp[k] == (neq[0] if neq.size else m)


@settings(max_examples=60, deadline=None)
@given(token_arrays)
def test_lcp_and_suffix_array_property(x):
    arr = np.array(x, dtype=np.uint16)
    sa = suffix_array(arr)
    assert sa.tolist() == slow_sa(x)
    lcp = lcp_array(arr, sa, cap=1000)
    for k in range(len(x) - 1):
        a, b = x[sa[k] :], x[sa[k + 1] :]
        common = next(
            (i for i, (u, v) in enumerate(zip(a, b, strict=False)) if u != v), min(len(a), len(b))
        )
        assert lcp[k] == common


@settings(max_examples=80, deadline=None)
@given(token_arrays, st.integers(1, 9))
def test_block_sums_equal_counter(x, max_n):
    arr = np.array(x, dtype=np.uint8)
    r = count_sweep(arr, arr[: max_n + 1], max_n, int(arr.max()) + 1, views=(len(x) // 2,))
    for m in range(1, max_n + 2):
        ref = ngram_counts(x, m)
        got = r.block_sums[m]
        assert got[DISTINCT] == len(ref)
        assert got[N1] == sum(1 for c in ref.values() if c == 1)
        assert got[N2] == sum(1 for c in ref.values() if c == 2)
        assert got[N3] == sum(1 for c in ref.values() if c == 3)
        assert got[N4] == sum(1 for c in ref.values() if c == 4)
        assert got[S_LOG] == pytest.approx(sum(c * math.log(c) for c in ref.values()), abs=1e-9)
        assert got[S_G] == pytest.approx(sum(c * g_slow(c) for c in ref.values()), abs=1e-9)


def test_fsum_large_counts():
    c = np.array([0, 1, 2, 3, 70_000, 123_457])
    s = fsum(c)
    ref = [x for x in c.tolist() if x > 0]
    assert s[S_LOG] == pytest.approx(sum(x * math.log(x) for x in ref), rel=1e-12)
    assert s[S_G] == pytest.approx(sum(x * g_slow(x) for x in ref), rel=1e-12)
    assert (s[DISTINCT], s[N1], s[N2], s[N3], s[N4]) == (5, 1, 1, 1, 0)


# ---- the whole sweep against a slow reference -------------------------------------------
def slow_conditional(x, n, size):
    """Plug-in, Miller-Madow and Grassberger H_n on the first ``size`` tokens of ``x``."""
    x = x[:size]
    tot = size - n
    joint = ngram_counts(x, n + 1)
    ctx = ngram_counts(x, n, stop=tot) if n else Counter({(): tot})
    s_joint = sum(c * math.log(c) for c in joint.values())
    s_ctx = sum(c * math.log(c) for c in ctx.values())
    plug = (s_ctx - s_joint) / tot
    mm = plug + (len(joint) - len(ctx)) / (2 * tot)
    gr = sum(c * g_slow(c) for c in ctx.values()) - sum(c * g_slow(c) for c in joint.values())
    return plug, mm, gr / tot


def slow_upper(train, held, max_n, vocab):
    """Interpolated absolute discounting, held-out log loss per context length (dicts)."""
    N = len(train)
    counts = [ngram_counts(train, m) for m in range(max_n + 2)]
    counts[0] = Counter({(): N})
    ctx = [Counter({(): N})] + [ngram_counts(train, m, stop=N - m) for m in range(1, max_n + 1)]
    follow = [defaultdict(set) for _ in range(max_n + 1)]
    for m in range(max_n + 1):
        for i in range(N - m):
            follow[m][tuple(train[i : i + m])].add(train[i + m])
    disc = []
    for m in range(1, max_n + 2):
        n1 = sum(1 for c in counts[m].values() if c == 1)
        n2 = sum(1 for c in counts[m].values() if c == 2)
        disc.append(min(max(n1 / (n1 + 2 * n2) if n1 else 0.0, 0.1), 0.95))
    losses = np.zeros((max_n + 1, len(held) - max_n))
    cover = np.zeros((max_n + 1, len(held) - max_n))
    for t, j in enumerate(range(max_n, len(held))):
        p = 1.0 / vocab
        for n in range(max_n + 1):
            h = tuple(held[j - n : j])
            ch = ctx[n][h]
            cover[n, t] = ch
            if ch > 0:
                chw = counts[n + 1][h + (held[j],)]
                p = (max(chw - disc[n], 0) + disc[n] * len(follow[n][h]) * p) / ch
            losses[n, t] = -math.log(p)
    return losses.mean(axis=1), cover, np.array(disc)


@pytest.mark.parametrize("seed", range(6))
def test_sweep_matches_slow_reference(seed):
    rng = np.random.default_rng(seed)
    vocab = int(rng.integers(2, 6))
    n_train = int(rng.integers(60, 400))
    # a sticky source so that long n-grams repeat
    base = rng.integers(0, vocab, n_train + 80)
    stick = rng.random(base.size) < 0.5
    x = np.where(stick, np.roll(base, 3), base)
    train, held = x[:n_train].tolist(), x[n_train:].tolist()
    max_n = int(rng.integers(2, 8))
    views = (n_train // 4, n_train // 2)
    r = count_sweep(
        np.array(train, dtype=np.uint8),
        np.array(held),
        max_n,
        vocab,
        views=views,
        coverage_k=2,
        bound="absolute",
    )
    assert r.views == [n_train // 4, n_train // 2, n_train]
    for i, size in enumerate(r.views):
        for n in range(max_n + 1):
            if size - n - 1 < 1:
                continue
            plug, mm, gr = slow_conditional(train, n, size)
            assert r.plugin[i, n] == pytest.approx(plug, abs=1e-9)
            assert r.miller_madow[i, n] == pytest.approx(mm, abs=1e-9)
            assert r.grassberger[i, n] == pytest.approx(gr, abs=1e-9)
    for n in range(max_n + 1):  # delta-method stderr of the plug-in, from the surprisals
        tot = n_train - n
        joint = ngram_counts(train, n + 1)
        ctx = ngram_counts(train, n, stop=tot) if n else Counter({(): tot})
        s = [
            -math.log(joint[tuple(train[i : i + n + 1])] / ctx[tuple(train[i : i + n])])
            for i in range(tot)
        ]
        ref_se = np.std(s) / math.sqrt(tot)
        assert r.plugin_stderr[n] == pytest.approx(ref_se, rel=1e-9, abs=1e-12)
    up, cover, disc = slow_upper(train, held, max_n, vocab)
    assert np.allclose(r.upper, up, atol=1e-9)
    assert np.allclose(r.discount, disc)
    assert np.allclose(r.coverage, (cover >= 2).mean(axis=1))
    assert r.n_targets == len(held) - max_n


def test_sweep_heldout_equal_to_train_tail_and_unseen_tokens():
    # held-out tokens absent from training, and a held-out stream that ends the training one
    train = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 3, 0, 1], dtype=np.uint8)
    held = [2, 0, 1, 4, 0, 1, 2, 0, 1]
    r = count_sweep(train, np.array(held), 3, 5, coverage_k=1, bound="absolute")
    up, cover, _ = slow_upper(train.tolist(), held, 3, 5)
    assert np.allclose(r.upper, up, atol=1e-12)
    assert np.allclose(r.coverage, (cover >= 1).mean(axis=1))
