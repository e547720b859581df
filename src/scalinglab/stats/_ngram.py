"""All n-gram statistics of a token stream from one sweep over its suffix array.

Notation: ``T`` is the training stream of ``N`` tokens, ``sa`` its suffix
array and ``lcp[k] = LCP(sa[k], sa[k+1])`` (clipped at ``M = max_n + 1``).
The occurrences of one m-gram are the ranks of one maximal run of ``lcp >= m``
(a run of ``r`` lcp entries spans ``r + 1`` ranks); every suffix outside such a
run is an m-gram seen once, and suffixes shorter than ``m`` never join a run
because their lcp with any neighbour is below ``m``.

The sweep visits ``m = 1 .. M`` once, keeping only the lcp positions with
``lcp >= m`` (the set shrinks as ``m`` grows), so its cost is
``O(N + sum_k min(lcp[k], M))`` instead of ``O(N M)`` for one pass per n.
At each level it produces, for the whole stream and for nested prefixes:

* ``S_m = sum_g c_g log c_g``, the number of distinct m-grams ``K_m``, the
  Grassberger sum ``sum_g c_g G(c_g)`` and the count-of-counts ``n1, n2``;
* the same sums over *context* counts (occurrences followed by a token), so
  that the conditional entropies are exact, not differences of block
  entropies with different sample sizes.

In the same level loop the held-out stream is matched against the training
suffix array: for every held-out start ``s`` the rank interval of the m-gram
``X[s:s+m]`` is narrowed from the interval of ``X[s:s+m-1]`` by a vectorised
binary search on the m-th token. Its width is the training count, and the
number of lcp entries equal to ``m`` inside it counts the distinct tokens that
follow it. These give an interpolated absolute-discounting model
(Kneser-Ney's discounts and recursion on raw lower-order counts) whose
held-out log loss at every context length is the upper bound.

Kneser-Ney's continuation counts ``N1+(. w)`` are not used: counting distinct
left extensions needs a second suffix array of the reversed stream (or range
distinct queries on the BWT) and the lower-order normaliser ``N1+(. h .)`` is
not an interval statistic of either array, so the raw-count recursion, which
still gives a normalised model and therefore a valid upper bound, is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import digamma

from ._suffix import lcp_array, suffix_array

#: Positions processed per step when building index arrays (bounds temporaries).
_CHUNK = 1 << 22


def grassberger_g(c: np.ndarray) -> np.ndarray:
    """Grassberger's (2003) G(c) = psi(c) + (-1)^c / 2 * (psi((c+1)/2) - psi(c/2)).

    The estimate of a block entropy from counts ``c_i`` summing to ``N`` is
    ``log N - (1/N) sum_i c_i G(c_i)`` nats.
    """
    c = np.asarray(c, dtype=np.float64)
    sign = np.where(np.mod(c, 2) == 0, 1.0, -1.0)
    return digamma(c) + 0.5 * sign * (digamma((c + 1) / 2) - digamma(c / 2))


def _g(c: float) -> float:
    return float(grassberger_g(np.array([float(c)]))[0])


_G1 = _g(1)


def _nonzero(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``np.flatnonzero(mask)`` in ``dtype``, built in chunks (no int64 temporary of size N)."""
    parts = []
    for start in range(0, mask.size, _CHUNK):  # chunks, not tokens
        idx = np.flatnonzero(mask[start : start + _CHUNK])
        parts.append((idx + start).astype(dtype, copy=False))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


@dataclass
class ClassSums:
    """Sums over the distinct m-grams of one level, for one stretch of the stream.

    ``total`` occurrences fall into ``distinct`` classes; ``s_log = sum c log c``,
    ``s_g = sum c G(c)``, ``n1``/``n2`` count classes seen once/twice.
    """

    total: int
    distinct: int
    s_log: float
    s_g: float
    n1: int
    n2: int


def class_sums(run_counts: np.ndarray, total: int) -> ClassSums:
    """Sums from the counts of the runs (classes of count >= 2 or fewer after selection).

    ``run_counts`` may hold zeros and ones (runs whose members fell outside
    the selected stretch); every counted occurrence outside a count >= 2 class
    is a class of its own.
    """
    big = run_counts[run_counts >= 2]
    u, f = np.unique(big, return_counts=True)
    uf = u.astype(np.float64)
    single = int(total - int((u * f).sum()))
    return ClassSums(
        total=int(total),
        distinct=int(f.sum()) + single,
        s_log=float((f * uf * np.log(np.maximum(uf, 1.0))).sum()),
        s_g=float((f * uf * grassberger_g(uf)).sum()) + single * _G1,
        n1=single,
        n2=int(f[u == 2].sum()),
    )


@dataclass
class Level:
    """The m-gram classes of count >= 2 at one level of the sweep.

    ``pos`` are the lcp positions with ``lcp >= m`` (sorted), ``vals`` their lcp
    values; run ``i`` spans ranks ``lo[i] .. hi[i]`` inclusive (``count = hi - lo + 1``)
    and occupies ``pos[first[i] : first[i] + count - 1]``.
    """

    m: int
    pos: np.ndarray
    vals: np.ndarray
    first: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return (self.hi - self.lo + 1).astype(np.int64)


def iter_levels(lcp: np.ndarray, max_m: int, index_dtype: np.dtype):
    """Yield :class:`Level` for ``m = 1 .. max_m`` from a (clipped) lcp array."""
    pos = _nonzero(lcp >= 1, index_dtype)
    vals = lcp[pos]
    for m in range(1, max_m + 1):
        if m > 1:
            keep = vals >= m
            pos, vals = pos[keep], vals[keep]
        if pos.size:
            brk = np.flatnonzero(np.diff(pos) != 1) + 1
            first = np.concatenate([[0], brk])
            last = np.concatenate([brk - 1, [pos.size - 1]])
            lo = pos[first].astype(np.int64)
            hi = pos[last].astype(np.int64) + 1
        else:
            first = lo = hi = np.zeros(0, dtype=np.int64)
        yield Level(m=m, pos=pos, vals=vals, first=first, lo=lo, hi=hi)


def _runs_selected(level: Level, sa_pos: np.ndarray, sa_hi: np.ndarray, limit: int) -> np.ndarray:
    """Per run, the number of its occurrences starting at a position <= ``limit``."""
    if level.first.size == 0:
        return np.zeros(0, dtype=np.int64)
    sel = sa_pos <= limit
    inner = np.add.reduceat(sel, level.first, dtype=np.int64)
    return inner + (sa_hi <= limit)


def _binary_narrow(
    T: np.ndarray, sa: np.ndarray, lo: np.ndarray, hi: np.ndarray, tok: np.ndarray, off: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-interval of ranks ``[lo, hi)`` whose suffixes have token ``tok`` at offset ``off``.

    All suffixes in ``[lo, hi)`` share their first ``off`` tokens, so within the
    interval they are sorted by the token at ``off`` (a suffix that ends before
    ``off`` sorts first and reads as -1). Both bounds are found by one
    vectorised bisection over all queries: ``first k with key(k) > thr`` with
    ``thr = tok - 1`` (lower bound) and ``thr = tok`` (upper bound).
    """
    n = T.size
    q = lo.size
    a = np.concatenate([lo, lo])
    b = np.concatenate([hi, hi])
    thr = np.concatenate([tok - 1, tok])
    act = np.flatnonzero(a < b)
    while act.size:
        mid = (a[act] + b[act]) >> 1
        p = sa[mid].astype(np.int64) + off
        key = T[np.minimum(p, n - 1)].astype(np.int64)
        key[p >= n] = -1
        gt = key > thr[act]
        b[act[gt]] = mid[gt]
        a[act[~gt]] = mid[~gt] + 1
        act = act[a[act] < b[act]]
    return a[:q], a[q:]


@dataclass
class SweepResult:
    """Everything the entropy engine needs, indexed by context length ``n = 0 .. max_n``.

    ``views`` are the stretch sizes (nested prefixes of the training stream,
    the last one the whole of it); ``plugin``, ``miller_madow`` and
    ``grassberger`` have one row per view. ``distinct[m]`` and ``block[m]``
    (plug-in block entropy, nats) are for the whole stream, ``m = 0 .. max_n+1``.
    """

    max_n: int
    n_train: int
    views: list[int]
    plugin: np.ndarray
    miller_madow: np.ndarray
    grassberger: np.ndarray
    distinct: np.ndarray
    block: np.ndarray
    upper: np.ndarray
    upper_stderr: np.ndarray
    discount: np.ndarray
    coverage: np.ndarray
    coverage_k: int
    n_targets: int
    heldout_matches: np.ndarray = field(repr=False)


def _batch_stderr(x: np.ndarray, max_batches: int = 50) -> float:
    """Standard error of the mean of a serially correlated series by batch means."""
    nb = min(max_batches, x.size // 20)
    if nb < 2:
        return float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    size = x.size // nb
    means = x[: nb * size].reshape(nb, size).mean(axis=1)
    return float(np.std(means, ddof=1) / np.sqrt(nb))


def count_sweep(
    train: np.ndarray,
    heldout: np.ndarray,
    max_n: int,
    vocab_size: int,
    *,
    views: tuple[int, ...] = (),
    coverage_k: int = 10,
    on_level: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> SweepResult:
    """Conditional entropies, held-out upper bounds and coverage for ``n = 0 .. max_n``.

    Parameters
    ----------
    train, heldout : np.ndarray
        Training and held-out token streams (non-negative ids < ``vocab_size``).
    max_n : int
        Longest context length.
    vocab_size : int
        Alphabet size ``V``; the smoothed model's base distribution is ``1/V``.
    views : tuple of int
        Sizes of nested training prefixes to estimate on as well (convergence).
    coverage_k : int
        Coverage threshold: fraction of held-out contexts seen ``>= k`` times.
    on_level : callable, optional
        Called with ``m`` after each level (progress).
    on_stage : callable, optional
        Called with the name of each stage as it starts (progress).

    Notes
    -----
    For a stretch of ``P`` tokens, with ``c_h`` the count of context ``h`` (an
    n-gram followed by a token) and ``c_hw`` of the (n+1)-gram:

    * plug-in: ``H_n = (sum_h c_h log c_h - sum_hw c_hw log c_hw) / (P - n)``
    * Miller-Madow: ``+ (K_{n+1} - K^ctx_n) / (2 (P - n))`` (one ``(k-1)/2N`` per context)
    * Grassberger: ``H_n = (sum_h c_h G(c_h) - sum_hw c_hw G(c_hw)) / (P - n)``, the
      difference of the Grassberger block estimates of the (n+1)- and n-grams.
      (Averaging per-context Grassberger estimates instead over-corrects by
      about ``#contexts / (2 (P - n))``: G is unbiased for Poisson, not
      multinomial, counts, and a context's total is fixed.)

    The held-out model for context length n is, with ``D_n = n1 / (n1 + 2 n2)``
    from the (n+1)-gram count-of-counts and ``N1+(h)`` the number of distinct
    tokens seen after ``h``::

        p_n(w | h) = [max(c_hw - D_n, 0) + D_n N1+(h) p_{n-1}(w | h')] / c_h
        p_{-1}(w) = 1 / V,    p_n = p_{n-1} when c_h = 0

    and ``upper[n] = -mean_j log p_n(x_j | x_{j-n} .. x_{j-1})`` over the same
    held-out targets ``j >= max_n`` for every n.
    """
    T = np.array(train, copy=True, order="C")  # in memory and writable (kasai needs both)
    X = np.ascontiguousarray(heldout).astype(np.int64)
    N, H = int(T.size), int(X.size)
    M = max_n + 1
    all_views = [int(v) for v in views if 0 < v < N] + [N]
    nv = len(all_views)
    idx_dt = np.dtype(np.int32) if N < 2**31 else np.dtype(np.int64)

    if on_stage is not None:
        on_stage("suffix array")
    sa = suffix_array(T)
    if on_stage is not None:
        on_stage("lcp array")
    lcp = lcp_array(T, sa, cap=M)
    if on_stage is not None:
        on_stage("n-gram levels")

    nan = np.full((nv, M), np.nan)
    plugin, mm, gr = nan.copy(), nan.copy(), nan.copy()
    distinct = np.zeros(M + 1, dtype=np.int64)
    block = np.full(M + 1, np.nan)
    distinct[0] = 1
    block[0] = 0.0
    discount = np.full(M, np.nan)
    upper = np.full(M, np.nan)
    upper_se = np.full(M, np.nan)
    coverage = np.full(M, np.nan)
    matches = np.zeros(M + 1, dtype=np.int64)

    # Context sums of level 0 (the empty context precedes every token of the view).
    prev_ctx = [
        ClassSums(total=v, distinct=1, s_log=v * np.log(v), s_g=v * _g(v), n1=0, n2=0)
        for v in all_views
    ]

    # Held-out state: interval of X[s:s+m] for every start s, and per-target model.
    J0 = max_n
    targets = np.arange(J0, H)
    n_targets = int(targets.size)
    first_tok = np.bincount(T, minlength=vocab_size).astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(first_tok)])
    qlo = np.zeros(H, dtype=np.int64)
    qhi = np.full(H, N, dtype=np.int64)
    ctx_prev = np.full(H, N, dtype=np.int64)  # c_h of the empty context
    n1p_prev = np.full(H, int((first_tok > 0).sum()), dtype=np.int64)
    p_model = np.full(n_targets, 1.0 / vocab_size)

    for level in iter_levels(lcp, M, idx_dt):
        m = level.m
        counts = level.counts
        sa_pos = sa[level.pos]
        sa_hi = sa[level.hi]
        full_block = class_sums(counts, N - m + 1)
        distinct[m] = full_block.distinct
        block[m] = np.log(N - m + 1) - full_block.s_log / (N - m + 1)

        # Conditional entropies at n = m - 1 for every view, and next level's context sums.
        for i, v in enumerate(all_views):
            total = v - m + 1
            if total <= 0:
                prev_ctx[i] = ClassSums(0, 0, 0.0, 0.0, 0, 0)
                continue
            if v == N:
                blk = full_block
            else:
                blk = class_sums(_runs_selected(level, sa_pos, sa_hi, v - m), total)
            pc = prev_ctx[i]
            plug = (pc.s_log - blk.s_log) / total
            plugin[i, m - 1] = plug
            mm[i, m - 1] = plug + (blk.distinct - pc.distinct) / (2 * total)
            gr[i, m - 1] = (pc.s_g - blk.s_g) / total
            prev_ctx[i] = class_sums(_runs_selected(level, sa_pos, sa_hi, v - m - 1), total - 1)
        del sa_pos

        # Held-out: narrow X[s:s+m-1] -> X[s:s+m] for the starts that still match.
        valid = H - m + 1
        if valid > 0:
            if m == 1:
                tok = X[:valid]
                qlo[:valid] = cum[tok]
                qhi[:valid] = cum[tok + 1]
            else:
                alive = np.flatnonzero(qhi[:valid] > qlo[:valid])
                lo, hi = _binary_narrow(T, sa, qlo[alive], qhi[alive], X[alive + m - 1], m - 1)
                qlo[alive], qhi[alive] = lo, hi
                dead = np.ones(valid, dtype=bool)
                dead[alive] = False
                qlo[:valid][dead] = 0
                qhi[:valid][dead] = 0
            qhi[valid:] = qlo[valid:]
        c_m = qhi - qlo
        matches[m] = int((c_m > 0).sum())

        # Smoothed model for context length n = m - 1 on targets j: context starts at j - n.
        n = m - 1
        d = full_block.n1 / (full_block.n1 + 2 * full_block.n2) if full_block.n1 else 0.0
        d = float(np.clip(d, 0.1, 0.95))
        discount[n] = d
        if n_targets:
            s = targets - n
            chw = c_m[s].astype(np.float64)
            ch = ctx_prev[s].astype(np.float64)
            n1p = n1p_prev[s].astype(np.float64)
            seen = ch > 0
            p_new = p_model.copy()
            p_new[seen] = (np.maximum(chw[seen] - d, 0.0) + d * n1p[seen] * p_model[seen]) / ch[
                seen
            ]
            p_model = p_new
            loss = -np.log(p_model)
            upper[n] = float(loss.mean())
            upper_se[n] = _batch_stderr(loss)
            coverage[n] = float((ctx_prev[s] >= coverage_k).mean())

        # Context count and number of distinct continuations of X[s:s+m] (for n = m).
        if m < M:
            has = c_m > 0
            at_end = np.zeros(H, dtype=bool)
            at_end[has] = sa[qlo[has]] == N - m  # the training stream ends with this m-gram
            eq = np.concatenate([[0], np.cumsum(level.vals == m)])
            a = np.searchsorted(level.pos, qlo, side="left")
            b = np.searchsorted(level.pos, np.maximum(qhi - 1, qlo), side="left")
            n1p_prev = np.where(has, eq[b] - eq[a] + 1, 0) - at_end
            ctx_prev = c_m - at_end
        if on_level is not None:
            on_level(m)

    return SweepResult(
        max_n=max_n,
        n_train=N,
        views=all_views,
        plugin=plugin,
        miller_madow=mm,
        grassberger=gr,
        distinct=distinct,
        block=block,
        upper=upper,
        upper_stderr=upper_se,
        discount=discount,
        coverage=coverage,
        coverage_k=int(coverage_k),
        n_targets=n_targets,
        heldout_matches=matches,
    )
