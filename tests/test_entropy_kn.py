"""The modified Kneser-Ney upper bound on H_n against a slow dict-based model and exact answers."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.stats._kn import FALLBACK, mkn_discounts
from scalinglab.stats._ngram import count_sweep
from scalinglab.stats.entropy import entropy


# ---- a slow, independent interpolated modified Kneser-Ney -------------------------------
def slow_discounts(values) -> tuple[float, float, float]:
    """(D1, D2, D3+) from the count-of-counts of ``values`` (Chen & Goodman 1998)."""
    hist = Counter(values)
    n1, n2, n3, n4 = (hist[j] for j in (1, 2, 3, 4))
    if 0 in (n1, n2, n3, n4):
        return (0.5, 1.0, 1.5)
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if all(0 < dj <= j + 1 for j, dj in enumerate(d)):
        return d
    return (0.5, 1.0, 1.5)


class SlowMKN:
    """Interpolated modified Kneser-Ney from Counters: p(n, h, w) for context length n."""

    def __init__(self, train: list[int], max_n: int, vocab: int):
        self.V, self.max_n = vocab, max_n
        N = len(train)
        self.count: dict[int, Counter] = {}
        self.cont: dict[int, Counter] = {}
        for m in range(1, max_n + 2):
            grams = [tuple(train[i : i + m]) for i in range(N - m + 1)]
            self.count[m] = Counter(grams)
            lefts = defaultdict(set)
            for i in range(1, N - m + 1):
                lefts[grams[i]].add(train[i - 1])
            self.cont[m] = Counter({u: len(x) for u, x in lefts.items()})
        self.d_raw = {m: slow_discounts(self.count[m].values()) for m in self.count}
        self.d_cont = {m: slow_discounts(self.cont[m].values()) for m in self.cont}
        # per context: total and the numbers of continuations of value 1, 2, >= 3
        self.agg = {}
        for kind, table in (("raw", self.count), ("cont", self.cont)):
            for m, cnt in table.items():
                tot, nj = Counter(), defaultdict(lambda: [0, 0, 0])
                for u, c in cnt.items():
                    if c > 0:
                        tot[u[:-1]] += c
                        nj[u[:-1]][min(c, 3) - 1] += 1
                self.agg[kind, m] = (tot, nj)

    @staticmethod
    def _d(d, c):
        return 0.0 if c == 0 else d[min(c, 3) - 1]

    def _level(self, kind, m, h, w, lower):
        table = self.count if kind == "raw" else self.cont
        d = (self.d_raw if kind == "raw" else self.d_cont)[m]
        tot, nj = self.agg[kind, m]
        if tot[h] == 0:
            return lower
        c = table[m][h + (w,)]
        gamma = sum(dj * k for dj, k in zip(d, nj[h], strict=True))
        return (max(c - self._d(d, c), 0.0) + gamma * lower) / tot[h]

    def p(self, n: int, h: tuple, w: int) -> float:
        """p_n(w | h) of the (n+1)-gram model; ``h`` holds the last n tokens."""
        q = 1.0 / self.V
        for k in range(n):  # continuation orders below the top
            q = self._level("cont", k + 1, h[len(h) - k :], w, q)
        return self._level("raw", n + 1, h, w, q)

    def heldout(self, held: list[int]) -> np.ndarray:
        loss = np.zeros(self.max_n + 1)
        for j in range(self.max_n, len(held)):
            for n in range(self.max_n + 1):
                loss[n] -= math.log(self.p(n, tuple(held[j - n : j]), held[j]))
        return loss / (len(held) - self.max_n)


def sticky_source(seed: int, vocab: int, size: int, lag: int = 3) -> np.ndarray:
    """Tokens that copy the one ``lag`` back half of the time: long n-grams repeat."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, vocab, size)
    return np.where(rng.random(size) < 0.5, np.roll(base, lag), base)


# ---- tests ------------------------------------------------------------------------------
def test_discounts_closed_form_and_fallbacks():
    d = mkn_discounts(100, 40, 20, 12)
    y = 100 / 180
    assert np.allclose(d, [1 - 2 * y * 0.4, 2 - 3 * y * 0.5, 3 - 4 * y * 0.6])
    assert np.allclose(d[0], y)  # D1 = Y
    assert tuple(mkn_discounts(5, 0, 3, 1)) == FALLBACK  # a zero count-of-count
    assert tuple(mkn_discounts(1, 1, 30, 1)) == FALLBACK  # D2 < 0
    assert tuple(mkn_discounts(0, 0, 0, 0)) == FALLBACK


@pytest.mark.parametrize(
    "seed,vocab,n_train,max_n",
    [(0, 3, 3000, 4), (1, 4, 2500, 8), (2, 2, 2000, 12), (3, 6, 3000, 3), (4, 5, 1500, 10)],
)
def test_heldout_loss_matches_slow_reference(seed, vocab, n_train, max_n):
    x = sticky_source(seed, vocab, n_train + 400)
    train, held = x[:n_train], x[n_train:]
    r = count_sweep(train.astype(np.uint8), held, max_n, vocab, coverage_k=2)
    ref = SlowMKN(train.tolist(), max_n, vocab)
    assert np.allclose(r.upper, ref.heldout(held.tolist()), rtol=0, atol=1e-9)
    for m in range(1, max_n + 2):
        assert np.allclose(r.discounts[m - 1], ref.d_raw[m])
        if m <= max_n:
            assert np.allclose(r.continuation_discounts[m - 1], ref.d_cont[m])
    assert np.allclose(r.discount, r.discounts[:, 0])
    if max_n >= 8:  # contexts become unique: the longest are mostly unseen or seen once
        assert r.coverage[max_n] < 0.5


def test_large_vocabulary_matches_slow_reference():
    # more than 256 distinct tokens: two-byte suffix array codes; Zipf-like frequencies
    rng = np.random.default_rng(5)
    x = np.minimum(rng.zipf(1.3, 4000), 300) - 1
    x = np.where(rng.random(x.size) < 0.3, np.roll(x, 2), x)
    train, held = x[:3500].astype(np.uint16), x[3500:]
    r = count_sweep(train, held, 6, 300)
    ref = SlowMKN(train.tolist(), 6, 300)
    assert np.allclose(r.upper, ref.heldout(held.tolist()), rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda v: st.tuples(
            st.just(v),
            st.lists(st.integers(0, v - 1), min_size=12, max_size=120),
            st.lists(st.integers(0, v - 1), min_size=8, max_size=30),
        )
    ),
    st.integers(1, 6),
)
def test_tiny_random_streams_match_slow_reference(case, max_n):
    vocab, train, held = case
    if len(held) <= max_n:
        held = held * (max_n // len(held) + 2)
    r = count_sweep(np.array(train, dtype=np.uint8), np.array(held), max_n, vocab)
    ref = SlowMKN(train, max_n, vocab)
    assert np.allclose(r.upper, ref.heldout(held), rtol=0, atol=1e-9)


def test_edge_cases_match_slow_reference():
    # held-out tokens absent from training, contexts seen only at the end of training,
    # the training stream's first token (no left neighbour), a held-out copy of its tail
    train = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 3, 0, 1, 2, 2, 1, 0, 1, 3], dtype=np.uint8)
    held = [2, 0, 1, 4, 0, 1, 2, 0, 1, 3, 0, 1, 3, 5, 5, 0, 1, 2, 2]
    for max_n in (1, 3, 6):
        r = count_sweep(train, np.array(held), max_n, 6)
        ref = SlowMKN(train.tolist(), max_n, 6)
        assert np.allclose(r.upper, ref.heldout(held), rtol=0, atol=1e-12)
    single = np.zeros(40, dtype=np.uint8)  # one class at every level, no boundaries
    r = count_sweep(single, np.array([0, 0, 0, 1, 0, 0]), 2, 2)
    ref = SlowMKN(single.tolist(), 2, 2)
    assert np.allclose(r.upper, ref.heldout([0, 0, 0, 1, 0, 0]), rtol=0, atol=1e-12)


def test_model_is_normalised_over_the_vocabulary():
    """sum_w p_n(w | h) = 1 for every n and context, seen or not, from the engine itself."""
    vocab, max_n = 4, 5
    x = sticky_source(7, vocab, 2000)
    train = x[:1800].astype(np.uint8)
    rng = np.random.default_rng(0)
    contexts = [x[1900 : 1900 + max_n], train[-max_n:], train[:max_n], rng.integers(0, vocab, 5)]
    contexts.append(np.array([3, 3, 3, 3, 3]))  # long runs: rare or unseen contexts
    # one block per (context, w): the block's last token is the target, its context ``h``
    held = np.concatenate([np.r_[h, w] for h in contexts for w in range(vocab)])
    r = count_sweep(train, held, max_n, vocab, keep_probs=True)
    block = max_n + 1
    ends = np.arange(block - 1, held.size, block) - max_n  # target index among j >= max_n
    p = r.heldout_probs[:, ends].reshape(max_n + 1, len(contexts), vocab)
    assert np.all(p > 0)
    assert np.allclose(p.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    slow = SlowMKN(train.tolist(), max_n, vocab)
    for i, h in enumerate(contexts):
        for n in range(max_n + 1):
            ctx = tuple(h[len(h) - n :].tolist())
            assert sum(slow.p(n, ctx, w) for w in range(vocab)) == pytest.approx(1.0, abs=1e-12)
            assert p[n, i] == pytest.approx([slow.p(n, ctx, w) for w in range(vocab)], abs=1e-12)


@pytest.mark.parametrize("vocab,order,alpha", [(4, 2, 0.7), (3, 3, 0.5)])
def test_markov_chain_bound_is_above_and_approaches_the_truth(vocab, order, alpha):
    chain = sl.synth.markov.random_chain(vocab, order, alpha=alpha, seed=11)
    x, _ = chain.sample(600_000, seed=12)
    truth = chain.conditional_entropies(10)
    held = x[-60_000:]
    small = count_sweep(x[:30_000], held, 10, vocab)
    r = count_sweep(x[:540_000], held, 10, vocab)
    k = order
    for res in (small, r):  # an upper bound up to the noise of the held-out mean
        assert np.all(res.upper >= truth - 3 * res.upper_stderr), res.upper - truth
    # with enough data the bound reaches the entropy rate at n = k and stays there
    assert np.all(np.abs(r.upper[k : k + 3] - truth[k : k + 3]) < 0.01), r.upper - truth
    assert np.all(np.fmin.accumulate(r.upper)[k:] - truth[k:] < 0.01)
    # beyond the order, sparse long contexts cost less as the data grow
    gap_small, gap = small.upper - truth, r.upper - truth
    assert np.all(gap[k + 3 :] < gap_small[k + 3 :]), (gap_small, gap)


@pytest.fixture(scope="module")
def shakespeare_char():
    return sl.corpus.resolve("/work/shared/data/tiny-shakespeare.txt", "char")


def test_shakespeare_bound_keeps_falling_beyond_n4(shakespeare_char):
    c = shakespeare_char
    kn = count_sweep(np.asarray(c.train), np.asarray(c.heldout), 12, c.vocab_size)
    ad = count_sweep(np.asarray(c.train), np.asarray(c.heldout), 12, c.vocab_size, bound="absolute")
    best_ad = np.nanmin(ad.upper)
    assert int(np.argmin(ad.upper)) == 4  # the earlier bound stops at n = 4 (1.598 nats)
    # Kneser-Ney falls beyond n = 4 and ends well below the earlier bound's best
    assert np.all(np.diff(kn.upper[:7]) < 0), kn.upper
    assert kn.upper[6] < best_ad - 0.1
    assert np.all(kn.upper[3:] < ad.upper[3:])


def test_entropy_reports_the_kneser_ney_bound_and_its_discounts():
    x = sticky_source(9, 5, 40_000).astype(np.uint8)
    r = entropy(x, max_n=6, progress=False, n_boot=50)
    sweep = count_sweep(x[: r.train_tokens], x[r.train_tokens :], 6, 5)
    assert np.allclose(r.ngram_loss, sweep.upper)
    assert np.allclose(r.upper_ngram, np.fmin.accumulate(sweep.upper))
    d = json.loads(json.dumps(r.to_dict()))
    assert "Kneser-Ney" in d["method"]
    top, cont = np.array(d["discounts"]["top"]), d["discounts"]["continuation"]
    assert top.shape == (7, 3) and len(cont) == 7 and cont[6] == [None] * 3
    assert np.allclose(d["kn_discount"], top[:, 0])
