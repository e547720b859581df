"""Interpolated modified Kneser-Ney (Chen & Goodman 1998) held-out losses on a suffix array.

The model
---------
For context length ``n`` the model is an (n+1)-gram model over ``V`` tokens. Its
top order uses the raw training counts ``c``; with ``h'`` the context ``h``
without its oldest token, ``c(h.) = sum_w c(hw)`` and ``N_j(h.)`` the number of
tokens ``w`` with ``c(hw) = j`` (``N3+``: ``>= 3``)::

    p_n(w | h) = [max(c(hw) - D(c(hw)), 0) + g(h) q_{n-1}(w | h')] / c(h.)   if c(h.) > 0
               = q_{n-1}(w | h')                                           otherwise
    g(h) = D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)

(``g(h) / c(h.)`` is Chen & Goodman's gamma). The lower orders ``q_k`` use the
continuation counts ``a(u) = N1+(. u)``, the number of distinct tokens seen
right before the (k+1)-gram ``u``::

    q_k(w | g) = [max(a(gw) - D'(a(gw)), 0) + g'(g) q_{k-1}(w | g')] / S(g)  if S(g) > 0
               = q_{k-1}(w | g')                                           otherwise
    S(g) = sum_w a(gw) = N1+(. g .),   g'(g) = D'1 N'1(g.) + D'2 N'2(g.) + D'3+ N'3+(g.)
    q_{-1}(w) = 1 / V

with ``N'_j(g.)`` the number of tokens ``w`` with ``a(gw) = j``. ``D(c)`` is 0, D1,
D2 or D3+ for ``c = 0, 1, 2, >= 3``. Each order m has two sets of discounts,
one from the raw counts (used when m is the top order) and one from the
continuation counts (used below it), both from the count-of-counts ``n_j``
(the number of m-grams whose count, resp. continuation count, is ``j``)::

    Y = n1 / (n1 + 2 n2),  D1 = 1 - 2 Y n2 / n1,  D2 = 2 - 3 Y n3 / n2,  D3+ = 3 - 4 Y n4 / n3

When one of ``n1 .. n4`` is 0 or some ``D_j`` falls outside ``(0, j]`` the order
uses ``(0.5, 1, 1.5)`` (KenLM's ``--discount_fallback``). As ``D_j <= j``,
``sum_w max(c(hw) - D(c(hw)), 0) = c(h.) - g(h)``, so ``p_n(. | h)`` sums to 1
over the V tokens whenever ``q_{n-1}(. | h')`` does, and so on down to ``1/V``:
the model is normalised, and its mean held-out log loss is an upper bound on
``H_n`` in expectation. ``D_j > 0`` keeps every probability positive.

Counting on the suffix array
----------------------------
At level m the ranks of the suffix array split into classes of equal m-grams
(see :mod:`._ngram`); the raw count of an m-gram is the width of its class, and
the children of a context's class (its level-(m-1) interval) are the level-m
classes inside it, read off the sorted boundary array.

The (m+1)-gram at position ``q`` is the first of its class in suffix-array
order iff ``PLCP[q] <= m``, ``PLCP[q]`` being the longest common prefix of the
suffix at ``q`` with the one ranked just before it. Every distinct (m+1)-gram
``x u`` has exactly one such first occurrence, and ``u`` starts at ``q + 1``.
So with ``z[r] = PLCP[sa[r] - 1]`` (one byte per rank, computed once; none
for the suffix at position 0, which has no left neighbour)::

    a(u) = #{ranks r in the class of u : z[r] <= m and sa[r] + m <= N}

a range count on the bit vector ``I_m = [z <= m]`` (the suffixes shorter than m
cleared), answered by rank queries; ``S(g)`` is the same count over ``g``'s
interval. The continuation count-of-counts of level m come from one pass over
its classes (``np.add.reduceat`` of ``I_m``, chunked); the raw ones are kept by
the sweep. Every level is vectorised over ranks, classes and held-out targets.

Memory on top of the sweep: ``z`` (1 byte per training token), the level's
``I_m`` while it is packed (1 byte per token), its rank structure (1/4 byte
per token), and at setup the PLCP array (1 byte per token, freed): at most
3.25 bytes per token, plus chunk-sized temporaries. The whole sweep's peak
rises by 1.7-1.9 bytes per token (benchmarks/entropy.py at 1e7 tokens: 19.2
with absolute discounting, 20.9-21.1 with this model).
"""

from __future__ import annotations

import numpy as np

from ._ngram_bits import _CHUNK, _batch_stderr, _RankBits

#: Discounts (D1, D2, D3+) of an order whose count-of-counts give no valid estimate.
FALLBACK = (0.5, 1.0, 1.5)


def mkn_discounts(n1: float, n2: float, n3: float, n4: float) -> np.ndarray:
    """Chen & Goodman's discounts ``(D1, D2, D3+)`` from the count-of-counts ``n1 .. n4``.

    Falls back to :data:`FALLBACK` when a count-of-count is 0 or a discount
    ``D_j`` is outside ``(0, j]``.
    """
    if min(n1, n2, n3, n4) <= 0:
        return np.array(FALLBACK)
    y = n1 / (n1 + 2.0 * n2)
    d = np.array([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
    if np.all(d > 0) and np.all(d <= np.arange(1, 4)):
        return d
    return np.array(FALLBACK)


def _discount_of(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``D(c)``: 0, D1, D2 or D3+ for counts 0, 1, 2 and >= 3."""
    return np.concatenate([[0.0], d])[np.minimum(c, 3)]


def _class_edges(bounds: np.ndarray, cid: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last rank (inclusive) of the level classes ``cid`` (class c ends at bounds[c])."""
    nb = bounds.size
    if nb == 0:
        return np.zeros(cid.size, np.int64), np.full(cid.size, n - 1, np.int64)
    lo = bounds[np.maximum(cid - 1, 0)].astype(np.int64) + 1
    lo[cid == 0] = 0
    hi = bounds[np.minimum(cid, nb - 1)].astype(np.int64)
    hi[cid == nb] = n - 1
    return lo, hi


class ModifiedKneserNey:
    """Held-out losses of the interpolated MKN models for context lengths ``0 .. max_n``.

    Driven level by level by :func:`._ngram.count_sweep`: :meth:`step` at level
    ``m`` gets the level's boundary array, the raw count-of-counts of the
    m-grams and, for every held-out start ``s``, the rank intervals of
    ``X[s:s+m-1]`` (``plo, phi``) and of ``X[s:s+m]`` (``qlo, qhi``). It scores the
    top order of the model with context length ``n = m - 1`` and then extends
    the continuation-count model ``q`` by one order.

    Attributes (after the last level)
    ---------------------------------
    loss, stderr : (max_n + 1,) arrays
        Mean held-out log loss (nats) and its batch-means standard error.
    discounts, continuation_discounts : (max_n + 1, 3) arrays
        ``(D1, D2, D3+)`` of the raw (n+1)-gram counts (top order of model n) and of
        the continuation counts of the (k+1)-grams (order k below the top; the
        last row, never used, is NaN).
    probs : (max_n + 1, n_targets) array or None
        ``p_n(x_j | x_{j-n} .. x_{j-1})`` per target, when ``keep_probs``.
    """

    def __init__(
        self,
        train: np.ndarray,
        sa: np.ndarray,
        lcp: np.ndarray,
        targets: np.ndarray,
        max_n: int,
        vocab_size: int,
        *,
        keep_probs: bool = False,
    ):
        n = int(sa.size)
        self.n, self.max_n, self.vocab_size = n, int(max_n), int(vocab_size)
        self.sa, self.targets = sa, np.asarray(targets, np.int64)
        m_top = self.max_n + 1
        # ranks of the last max_n + 2 positions: the suffixes too short for a level
        tail = np.flatnonzero(sa >= max(n - m_top - 1, 0))
        self._tail_rank = np.full(m_top + 2, -1, np.int64)
        self._tail_rank[n - 1 - sa[tail].astype(np.int64)] = tail  # index: n - 1 - position
        first = int(np.flatnonzero(sa == 0)[0]) if n else 0
        # z[r] = PLCP[sa[r] - 1], the level from which position sa[r] - 1 starts a new class
        plcp = np.empty(n, dtype=lcp.dtype)
        if n:
            plcp[sa[0]] = 0
        for start in range(0, max(n - 1, 0), _CHUNK):  # chunks, not tokens
            plcp[sa[start + 1 : start + 1 + _CHUNK]] = lcp[start : start + _CHUNK]
        self.z = np.empty(n, dtype=lcp.dtype)
        for start in range(0, n, _CHUNK):  # chunks, not tokens
            pos = sa[start : start + _CHUNK].astype(np.int64) - 1
            self.z[start : start + pos.size] = plcp[np.maximum(pos, 0)]
        del plcp
        self.z[first] = np.iinfo(lcp.dtype).max
        self.keep_probs = keep_probs
        t = self.targets.size
        self.q = np.full(t, 1.0 / self.vocab_size)  # q_{m-2}(x_j | ..), the model below the top
        self.loss = np.full(m_top, np.nan)
        self.stderr = np.full(m_top, np.nan)
        self.discounts = np.full((m_top, 3), np.nan)
        self.continuation_discounts = np.full((m_top, 3), np.nan)
        self.probs = np.full((m_top, t), np.nan) if keep_probs else None

    # ---- per level ---------------------------------------------------------------------
    def _short_ranks(self, m: int) -> np.ndarray:
        """Ranks of the suffixes shorter than ``m`` (positions ``N - m + 1 .. N - 1``)."""
        r = self._tail_rank[: max(min(m - 1, self.n), 0)]
        return r[r >= 0]

    def _bits(self, m: int, bounds: np.ndarray) -> tuple[_RankBits, np.ndarray]:
        """``I_m`` as a rank structure, and level m's continuation count-of-counts ``n0 .. n5+``."""
        ind = self.z <= m
        ind[self._short_ranks(m)] = False
        # class c ends at rank bounds[c] (the last at N - 1): a(c) = C(end_c) - C(end_{c-1}),
        # C(e) the number of set bits at ranks <= e, from a cumulative sum per chunk of ranks
        coc = np.zeros(6, np.int64)
        base = last = 0
        for r0 in range(0, self.n, _CHUNK):  # chunks of ranks, not tokens
            r1 = min(r0 + _CHUNK, self.n)
            cs = np.cumsum(ind[r0:r1], dtype=np.int32)
            k0, k1 = np.searchsorted(bounds, np.array([r0, r1], bounds.dtype))
            ends = bounds[k0:k1] - r0
            if r1 == self.n:
                ends = np.append(ends, r1 - 1 - r0)
            c_end = cs[ends].astype(np.int64)
            c_end += base
            a = np.empty_like(c_end)
            if a.size:
                a[0] = c_end[0] - last
                np.subtract(c_end[1:], c_end[:-1], out=a[1:])
                np.minimum(a, 5, out=a)
                coc += np.bincount(a, minlength=6)
                last = int(c_end[-1])
            base += int(cs[-1])
        bits = _RankBits(ind)
        return bits, coc

    def _children(
        self,
        m: int,
        bounds: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        bits: _RankBits | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct context interval ``[lo, hi)`` (sorted, disjoint): its children at level m.

        Returns ``(c_ctx, raw, cont)``: the context's count ``c(h.)``, the numbers of
        children with raw count 1, 2, >= 3 (``(U, 3)``) and with continuation count
        1, 2, >= 3 (``(U, 3)``, zeros without ``bits``).
        """
        u = lo.size
        i0 = np.searchsorted(bounds, lo.astype(bounds.dtype), side="left")
        i1 = np.searchsorted(bounds, (hi - 1).astype(bounds.dtype), side="left")
        nch = (i1 - i0 + 1).astype(np.int64)
        short = self._tail_rank[m - 2] if m >= 2 else -1  # position N - m + 1, a lone child
        c_ctx = np.zeros(u, np.int64)
        raw = np.zeros((u, 3), np.int64)
        cont = np.zeros((u, 3), np.int64)
        ends = np.cumsum(nch)
        g0 = 0
        while g0 < u:  # groups of contexts of at most _CHUNK children (one context has <= V)
            g1 = max(int(np.searchsorted(ends, ends[g0] - nch[g0] + _CHUNK, side="right")), g0 + 1)
            nc = nch[g0:g1]
            first = np.cumsum(nc) - nc
            cid = np.repeat(i0[g0:g1].astype(np.int64) - first, nc) + np.arange(int(nc.sum()))
            clo, chi = _class_edges(bounds, cid, self.n)
            size = np.where(clo == short, 0, chi - clo + 1)
            c_ctx[g0:g1] = np.add.reduceat(size, first)
            for j in range(3):  # the three classes of counts, not tokens
                hit = size == j + 1 if j < 2 else size >= 3
                raw[g0:g1, j] = np.add.reduceat(hit.astype(np.int64), first)
            if bits is not None:
                a = bits.rank(chi + 1) - bits.rank(clo)
                for j in range(3):
                    hit = a == j + 1 if j < 2 else a >= 3
                    cont[g0:g1, j] = np.add.reduceat(hit.astype(np.int64), first)
            g0 = g1
        return c_ctx, raw, cont

    def step(
        self,
        m: int,
        bounds: np.ndarray,
        raw_coc: np.ndarray,
        plo: np.ndarray,
        phi: np.ndarray,
        qlo: np.ndarray,
        qhi: np.ndarray,
        ctx: np.ndarray | None = None,
    ) -> None:
        """Score model ``n = m - 1`` and extend ``q`` to continuation order ``m - 1``.

        ``raw_coc`` holds the level's raw count-of-counts ``(n1, n2, n3, n4)``; ``ctx``
        (the sweep's context counts, unused) keeps the interface of the other models:
        ``c(h.)`` is summed over the children here.
        """
        n = m - 1
        cont_needed = m <= self.max_n
        bits, coc = self._bits(m, bounds) if cont_needed else (None, None)
        d_raw = mkn_discounts(*(float(x) for x in raw_coc))
        self.discounts[n] = d_raw
        t = self.targets.size
        if t == 0:
            if coc is not None:
                self.continuation_discounts[n] = mkn_discounts(*(float(x) for x in coc[1:5]))
            return
        s = self.targets - n
        lo, hi = plo[s], phi[s]
        seen = hi > lo
        ulo, inv = np.unique(lo[seen], return_inverse=True)
        uhi = np.zeros(ulo.size, np.int64)
        uhi[inv] = hi[seen]
        c_ctx, raw, cont = self._children(m, bounds, ulo, uhi, bits)
        ch = np.zeros(t, np.int64)
        nraw = np.zeros((t, 3), np.int64)
        ch[seen], nraw[seen] = c_ctx[inv], raw[inv]

        chw = (qhi[s] - qlo[s]).astype(np.int64)
        top = ch > 0
        den = np.where(top, ch, 1).astype(np.float64)
        gam = nraw @ d_raw
        p_top = (np.maximum(chw - _discount_of(d_raw, chw), 0.0) + gam * self.q) / den
        p_top = np.where(top, p_top, self.q)
        loss = -np.log(p_top)
        self.loss[n] = float(loss.mean())
        self.stderr[n] = _batch_stderr(loss)
        if self.probs is not None:
            self.probs[n] = p_top

        if bits is None or coc is None:
            return
        d_c = mkn_discounts(*(float(x) for x in coc[1:5]))
        self.continuation_discounts[n] = d_c
        ncont = np.zeros((t, 3), np.int64)
        ncont[seen] = cont[inv]
        a = bits.rank(qhi[s]) - bits.rank(qlo[s])
        big_s = np.zeros(t, np.int64)
        big_s[seen] = bits.rank(hi[seen]) - bits.rank(lo[seen])
        low = big_s > 0
        den = np.where(low, big_s, 1).astype(np.float64)
        q = (np.maximum(a - _discount_of(d_c, a), 0.0) + (ncont @ d_c) * self.q) / den
        self.q = np.where(low, q, self.q)
