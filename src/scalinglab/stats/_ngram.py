"""All n-gram statistics of a token stream from one sweep over its suffix array.

Notation: ``T`` is the training stream of ``N`` tokens, ``sa`` its suffix
array and ``lcp[k] = LCP(sa[k], sa[k+1])`` (clipped at ``M = max_n + 1``).
At level ``m`` the ranks split into classes at the *boundaries*
``{k : lcp[k] < m}``: the ranks between two neighbouring boundaries are the
occurrences of one m-gram. A suffix shorter than ``m`` is a class of its own
(its lcp with either neighbour is below ``m``) and is removed as a correction.

Going from level ``m - 1`` to ``m`` adds the boundaries ``{k : lcp[k] = m - 1}``,
each splitting one class in two. The sweep keeps the sorted boundary array
and the running sums over classes of ``f(c)`` for

    f(c) = (c log c,  c G(c),  [c >= 1],  [c = 1],  [c = 2],  c log^2 c,  [c = 3],  [c = 4])

and updates them by the splits alone (old class out, pieces in), so level m
costs ``O(B_m log N)`` for its ``B_m`` new boundaries, one copy of the
boundary array and a vectorised scan of the one-byte LCP array for the
positions equal to ``m``: the sorting and counting happen once (the suffix
array), and no level re-reads or re-sorts the token stream. The same sums are
kept for nested prefixes of the stream (the count of a class inside a prefix
is a rank query on a bit vector marking the suffixes that start in it), which
gives the convergence check at no extra suffix array. The m-grams that cross
the end of a stretch (at most ``m`` of them) are removed by a correction per
level; removing one more gives the *context* sums (occurrences followed by a
token), so that the conditional entropies are exact rather than differences of
block entropies over different sample sizes.

In the same level loop the held-out stream is matched against the training
suffix array: for every held-out start ``s`` the rank interval of the m-gram
``X[s:s+m]`` is narrowed from that of ``X[s:s+m-1]`` by a vectorised binary
search on the m-th token. Its width is the training count, and the level-m
classes inside the interval of ``X[s:s+m-1]`` are the distinct tokens that
follow that context. These feed the held-out model of the upper bound,
interpolated modified Kneser-Ney (:mod:`._kn`), whose log loss at every
context length is the upper bound. Kneser-Ney's continuation counts
``N1+(. u)`` need no second suffix array: the (m+1)-gram at position ``q`` is
the first of its class in suffix-array order iff ``PLCP[q] <= m``, so the
number of distinct left extensions of ``u`` is a range count, over ``u``'s
interval, of a bit vector built from one byte per rank (``PLCP[sa[r] - 1]``).
The earlier bound, interpolated absolute discounting on raw counts at every
order (:class:`AbsoluteDiscounting`), stays available as ``bound="absolute"``.

The loops in this module run over levels, chunks and views, never over tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from ._kn import ModifiedKneserNey
from ._ngram_bits import _CHUNK, _batch_stderr, _RankBits
from ._suffix import lcp_array, suffix_array

#: Columns of the class sums: sum c log c, sum c G(c), distinct, n1, n2, sum c log^2 c, n3, n4
#: (``n_j`` = number of classes of count j).
S_LOG, S_G, DISTINCT, N1, N2, S_LOG2, N3, N4 = range(8)
_NCOL = 8


def grassberger_g(c: np.ndarray) -> np.ndarray:
    """Grassberger's (2003) G(c) = psi(c) + (-1)^c / 2 * (psi((c+1)/2) - psi(c/2)).

    The estimate of a block entropy from counts ``c_i`` summing to ``N`` is
    ``log N - (1/N) sum_i c_i G(c_i)`` nats.
    """
    c = np.asarray(c, dtype=np.float64)
    sign = np.where(np.mod(c, 2) == 0, 1.0, -1.0)
    return digamma(c) + 0.5 * sign * (digamma((c + 1) / 2) - digamma(c / 2))


_TABLE = 1 << 16
_GTAB = np.concatenate([[0.0], grassberger_g(np.arange(1, _TABLE))])
_LTAB = np.concatenate([[0.0], np.log(np.arange(1, _TABLE))])


def fsum(c: np.ndarray) -> np.ndarray:
    """``sum_i f(c_i)`` over class counts ``c`` (zeros allowed: they are no class)."""
    c = np.asarray(c, dtype=np.int64)
    c = c[c > 0]
    out = np.zeros(_NCOL)
    if c.size == 0:
        return out
    small = c < _TABLE
    cs, cb = c[small], c[~small].astype(np.float64)
    ls, lb = _LTAB[cs], np.log(cb)
    out[S_LOG] = float((cs * ls).sum() + (cb * lb).sum())
    out[S_LOG2] = float((cs * ls * ls).sum() + (cb * lb * lb).sum())
    out[S_G] = float((cs * _GTAB[cs]).sum() + (cb * grassberger_g(cb)).sum())
    out[DISTINCT] = c.size
    out[N1] = int((cs == 1).sum())
    out[N2] = int((cs == 2).sum())
    out[N3] = int((cs == 3).sum())
    out[N4] = int((cs == 4).sum())
    return out


def _equal_positions(lcp: np.ndarray, value: int, dtype: np.dtype) -> np.ndarray:
    """Sorted positions ``k`` with ``lcp[k] == value``, scanned in chunks."""
    parts = []
    for start in range(0, lcp.size, _CHUNK):  # chunks, not tokens
        idx = np.flatnonzero(lcp[start : start + _CHUNK] == value)
        parts.append((idx + start).astype(dtype, copy=False))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class _View:
    """One stretch ``T[:size]``: counts its m-grams by rank queries.

    ``sums`` holds ``sum f(count)`` over the classes of the current level,
    where a class's count is its number of suffixes starting inside the
    stretch (m-grams crossing the stretch end are corrected per level).
    """

    def __init__(self, size: int, sa: np.ndarray, n: int):
        self.size = size
        self.bits = None if size == n else _RankBits(sa < size)
        self.sums = fsum(np.array([size]))
        self.cross = 0.0  # whole stream only: see ``_split``

    def count(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Suffixes of the stretch with rank in ``lo+1 .. hi`` (a class between boundaries)."""
        if self.bits is None:
            return np.asarray(hi, np.int64) - lo
        return self.bits.rank(np.asarray(hi, np.int64) + 1) - self.bits.rank(
            np.asarray(lo, np.int64) + 1
        )


def _gap_of(
    bounds: np.ndarray, ranks: np.ndarray, n: int, g: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries ``(lo, hi)`` of the classes holding ``ranks``: ``lo < rank <= hi``.

    Sentinels: ``lo = -1`` before the first boundary, ``hi = n - 1`` after the last.
    ``g`` may pass ``searchsorted(bounds, ranks)`` when it is already known.
    """
    if bounds.size == 0:
        return np.full(ranks.size, -1, np.int64), np.full(ranks.size, n - 1, np.int64)
    if g is None:  # same dtype on both sides, or searchsorted copies ``bounds``
        g = np.searchsorted(bounds, np.asarray(ranks).astype(bounds.dtype), side="left")
    lo = bounds[np.maximum(g - 1, 0)].astype(np.int64)
    lo[g == 0] = -1
    hi = bounds[np.minimum(g, bounds.size - 1)].astype(np.int64)
    hi[g == bounds.size] = n - 1
    return lo, hi


def _split(
    bounds: np.ndarray, new: np.ndarray, n: int, views: list[_View], ctx_rank: int = -1
) -> np.ndarray:
    """Insert the sorted boundaries ``new``, updating every view's sums; return the array.

    ``ctx_rank`` is the rank of the stream's final (m-1)-gram, which is no context:
    its class counts one less as a parent in the surprisal-variance term.
    """
    for v in views:  # views, not tokens
        v.cross = 0.0
    if new.size == 0:
        return bounds
    idx = np.searchsorted(bounds, new)
    lo, hi = _gap_of(bounds, new, n, g=idx)
    first = np.concatenate([[True], idx[1:] != idx[:-1]])
    last = np.concatenate([idx[1:] != idx[:-1], [True]])
    prev = np.where(first, lo, np.concatenate([[-1], new[:-1]]))
    piece_lo = np.concatenate([prev, new[last]])
    piece_hi = np.concatenate([new, hi[last]])
    for v in views:  # views, not tokens
        pieces = v.count(piece_lo, piece_hi)
        v.sums += fsum(pieces) - fsum(v.count(lo[first], hi[first]))
        if v.bits is None:
            # sum over the pieces of c log c (log c_parent - log c), for the surprisal variance
            own = (hi - lo) - ((lo < ctx_rank) & (ctx_rank <= hi))
            parent = np.maximum(np.concatenate([own, own[last]]), 1).astype(np.float64)
            c = pieces.astype(np.float64)
            lc = np.log(np.maximum(c, 1.0))
            v.cross = float((c * lc * (np.log(parent) - lc)).sum())
    return np.insert(bounds, idx, new)


def _crossing(bounds: np.ndarray, ranks: np.ndarray, n: int, view: _View) -> np.ndarray:
    """Change of ``view.sums`` when the suffixes at ``ranks`` are taken out of their classes."""
    if ranks.size == 0:
        return np.zeros(_NCOL)
    lo, hi = _gap_of(bounds, ranks, n)
    key, first, k = np.unique(lo, return_index=True, return_counts=True)
    raw = view.count(key, hi[first])
    return fsum(raw - k) - fsum(raw)


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
    ``grassberger`` have one row per view; ``plugin_stderr`` is the delta-method
    standard error of the whole-stream plug-in, ``sqrt(Var(-log p(w|h)) / (N - n))``
    with the surprisals treated as independent. ``block_sums[m]`` holds the class
    sums of the m-grams of the whole stream (columns ``S_LOG .. N4``),
    ``m = 0 .. max_n + 1``. ``upper`` is the held-out log loss of the smoothed
    model named by ``bound`` for each context length, ``upper_stderr`` its
    batch-means standard error; ``discounts[n]`` are the ``(D1, D2, D3+)`` of its
    top order ((n+1)-grams, raw counts), ``continuation_discounts[k]`` those of
    the continuation counts of the (k+1)-grams (Kneser-Ney's lower orders; NaN
    for absolute discounting, whose single discount is repeated in
    ``discounts``), and ``discount`` is ``discounts[:, 0]``.
    """

    max_n: int
    n_train: int
    views: list[int]
    plugin: np.ndarray
    miller_madow: np.ndarray
    grassberger: np.ndarray
    plugin_stderr: np.ndarray
    block_sums: np.ndarray
    upper: np.ndarray
    upper_stderr: np.ndarray
    discount: np.ndarray
    coverage: np.ndarray
    coverage_k: int
    n_targets: int
    bound: str = "kn"
    discounts: np.ndarray | None = None
    continuation_discounts: np.ndarray | None = None
    heldout_probs: np.ndarray | None = None

    @property
    def distinct(self) -> np.ndarray:
        """Number of distinct m-grams, m = 0 .. max_n + 1."""
        return self.block_sums[:, DISTINCT].astype(np.int64)

    @property
    def block_entropy(self) -> np.ndarray:
        """Plug-in entropy of the m-grams, ``log N_m - S_m / N_m`` nats, m = 0 .. max_n + 1."""
        nm = self.n_train - np.arange(self.block_sums.shape[0]) + 1.0
        nm[0] = self.n_train
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.log(nm) - self.block_sums[:, S_LOG] / nm
        h[0] = 0.0
        return np.where(nm > 0, h, np.nan)


class AbsoluteDiscounting:
    """Interpolated absolute discounting on raw counts at every order (the earlier bound).

    With ``D_n = n1 / (n1 + 2 n2)`` from the (n+1)-gram count-of-counts (clipped to
    [0.1, 0.95]) and ``N1+(h)`` the number of distinct tokens seen after ``h``::

        p_n(w | h) = [max(c_hw - D_n, 0) + D_n N1+(h) p_{n-1}(w | h')] / c_h
        p_{-1}(w) = 1 / V,    p_n = p_{n-1} when c_h = 0

    Same interface as :class:`._kn.ModifiedKneserNey` (``count_sweep(bound="absolute")``);
    kept as the baseline of ``benchmarks/entropy.py`` and for comparison.
    """

    def __init__(self, targets: np.ndarray, max_n: int, vocab_size: int):
        self.targets = np.asarray(targets, np.int64)
        self.p = np.full(self.targets.size, 1.0 / vocab_size)
        self.loss = np.full(max_n + 1, np.nan)
        self.stderr = np.full(max_n + 1, np.nan)
        self.discounts = np.full((max_n + 1, 3), np.nan)
        self.continuation_discounts = self.discounts.copy()
        self.probs = None

    def step(self, m, bounds, raw_coc, plo, phi, qlo, qhi, ctx) -> None:
        """Score context length ``n = m - 1``; ``ctx`` is the count of each context ``c_h``."""
        n = m - 1
        n1, n2 = float(raw_coc[0]), float(raw_coc[1])
        d = float(np.clip(n1 / (n1 + 2 * n2) if n1 else 0.0, 0.1, 0.95))
        self.discounts[n] = d
        if not self.targets.size:
            return
        s = self.targets - n
        lo, hi = plo[s], phi[s]
        ch = ctx[s].astype(np.float64)
        # distinct continuations: the level-m classes inside the context's interval, less
        # the stream's final (m-1)-gram, which is followed by nothing
        inside = np.searchsorted(bounds, np.maximum(hi - 1, lo).astype(bounds.dtype))
        inside = inside - np.searchsorted(bounds, lo.astype(bounds.dtype))
        n1p = np.where(hi > lo, inside + 1, 0) - ((hi - lo) - ctx[s])
        chw = (qhi[s] - qlo[s]).astype(np.float64)
        seen = ch > 0
        mixed = (np.maximum(chw - d, 0.0) + d * n1p * self.p) / np.where(seen, ch, 1)
        self.p = np.where(seen, mixed, self.p)
        loss = -np.log(self.p)
        self.loss[n] = float(loss.mean())
        self.stderr[n] = _batch_stderr(loss)


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
    bound: str = "kn",
    keep_probs: bool = False,
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
    on_level, on_stage : callable, optional
        Progress callbacks: ``on_level(m)`` after each level, ``on_stage(name)``.
    bound : {"kn", "absolute"}
        Held-out model of the upper bound: interpolated modified Kneser-Ney
        (:mod:`._kn`, the default) or interpolated absolute discounting on raw
        counts (:class:`AbsoluteDiscounting`, the earlier bound).
    keep_probs : bool
        Keep the model's probability of every held-out target (``heldout_probs``).

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

    The held-out model for context length n is the interpolated modified
    Kneser-Ney (n+1)-gram model of :mod:`._kn` (raw counts at the top order,
    continuation counts below it, three discounts per order, base ``1/V``), and
    ``upper[n] = -mean_j log p_n(x_j | x_{j-n} .. x_{j-1})`` over the same
    held-out targets ``j >= max_n`` for every n, with a batch-means standard error.
    """
    if bound not in ("kn", "absolute"):
        raise ValueError(f"bound must be 'kn' or 'absolute', got {bound!r}")
    T = np.asarray(train)
    X = np.ascontiguousarray(heldout).astype(np.int64)
    N, H = int(T.size), int(X.size)
    M = max_n + 1
    sizes = [int(v) for v in views if 0 < v < N] + [N]
    nv = len(sizes)
    idx_dt = np.dtype(np.int32) if N < 2**31 else np.dtype(np.int64)

    if on_stage is not None:
        on_stage("suffix array")
    sa = suffix_array(T)
    if on_stage is not None:
        on_stage("lcp array")
    # kasai needs a writable buffer; a read-only memmap is copied for the call only
    lcp = lcp_array(T if T.flags.writeable else np.array(T), sa, cap=M)
    if on_stage is not None:
        on_stage("n-gram levels")

    vw = [_View(v, sa, N) for v in sizes]
    # ranks of the suffixes starting in the last M + 1 positions of every stretch
    tail_pos = np.unique(np.concatenate([np.arange(max(v - M - 1, 0), v) for v in sizes]))
    is_tail = np.zeros(N, dtype=bool)
    is_tail[tail_pos] = True
    tail_ranks = np.flatnonzero(is_tail[sa])
    rank_of = dict(zip(sa[tail_ranks].tolist(), tail_ranks.tolist(), strict=True))
    del is_tail

    def ranks_at(start: int, stop: int) -> np.ndarray:
        return np.array([rank_of[p] for p in range(max(start, 0), stop)], dtype=np.int64)

    plugin = np.full((nv, M), np.nan)
    mm, gr = plugin.copy(), plugin.copy()
    block_sums = np.zeros((M + 1, _NCOL))
    plugin_se = np.full(M, np.nan)
    block_sums[0] = vw[-1].sums
    coverage = np.full(M, np.nan)
    prev_ctx = [v.sums.copy() for v in vw]  # level 0: the empty context before every token

    # held-out state: interval of X[s:s+m] for every start s, and the per-target model
    J0 = max_n
    targets = np.arange(J0, H)
    n_targets = int(targets.size)
    top = max(int(T.max()), int(X.max()) if H else 0) + 1
    first_tok = np.bincount(T, minlength=top).astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(first_tok)])
    qlo = np.zeros(H, dtype=np.int64)
    qhi = np.full(H, N, dtype=np.int64)
    ctx_prev = np.full(H, N, dtype=np.int64)
    if bound == "kn":
        model: AbsoluteDiscounting | ModifiedKneserNey = ModifiedKneserNey(
            T, sa, lcp, targets, max_n, vocab_size, keep_probs=keep_probs
        )
    else:
        model = AbsoluteDiscounting(targets, max_n, vocab_size)

    bounds = np.zeros(0, dtype=idx_dt)
    new = _equal_positions(lcp, 0, idx_dt)
    for m in range(1, M + 1):  # levels, not tokens
        bounds = _split(bounds, new, N, vw, ctx_rank=rank_of.get(N - m + 1, -1) if m > 1 else -1)
        new = _equal_positions(lcp, m, idx_dt) if m < M else new[:0]

        # block sums at level m and context sums for the next level, per stretch
        for i, v in enumerate(vw):
            total = v.size - m + 1
            if total <= 0:
                prev_ctx[i] = np.zeros(_NCOL)
                continue
            blk = v.sums + _crossing(bounds, ranks_at(v.size - m + 1, v.size), N, v)
            pc = prev_ctx[i]
            plug = (pc[S_LOG] - blk[S_LOG]) / total
            plugin[i, m - 1] = plug
            mm[i, m - 1] = plug + (blk[DISTINCT] - pc[DISTINCT]) / (2 * total)
            gr[i, m - 1] = (pc[S_G] - blk[S_G]) / total
            prev_ctx[i] = v.sums + _crossing(bounds, ranks_at(v.size - m, v.size), N, v)
            if v.size == N:
                block_sums[m] = blk
                # delta-method standard error of the plug-in: Var(-log p(w|h)) / (N - n), with
                # sum_hw c_hw log^2(c_hw / c_h) = S2(m) - 2 sum c_hw log c_hw log c_h + S2_ctx(m-1)
                second = (blk[S_LOG2] - 2 * (blk[S_LOG2] + v.cross) + pc[S_LOG2]) / total
                plugin_se[m - 1] = np.sqrt(max(second - plug**2, 0.0) / total)
        full = block_sums[m]

        # held-out: narrow X[s:s+m-1] -> X[s:s+m] for the starts that still match
        plo, phi = qlo.copy(), qhi.copy()
        valid = H - m + 1
        if valid > 0:
            if m == 1:
                tok = X[:valid]
                qlo[:valid] = cum[tok]
                qhi[:valid] = cum[tok + 1]
            else:
                alive = np.flatnonzero(qhi[:valid] > qlo[:valid])
                dead = np.ones(valid, dtype=bool)
                dead[alive] = False
                lo, hi = _binary_narrow(T, sa, qlo[alive], qhi[alive], X[alive + m - 1], m - 1)
                qlo[alive], qhi[alive] = lo, hi
                qhi[:valid][dead] = qlo[:valid][dead]
        qhi[max(valid, 0) :] = qlo[max(valid, 0) :]
        c_m = qhi - qlo

        # smoothed model for context length n = m - 1; the context of target j starts at j - n
        n = m - 1
        model.step(m, bounds, full[[N1, N2, N3, N4]], plo, phi, qlo, qhi, ctx_prev)
        if n_targets:
            coverage[n] = float((ctx_prev[targets - n] >= coverage_k).mean())

        # count of X[s:s+m] as a context (followed by a token), used at n = m
        if m < M:
            has = c_m > 0
            at_end = np.zeros(H, dtype=bool)
            at_end[has] = sa[qlo[has]] == N - m  # the training stream ends with this m-gram
            ctx_prev = c_m - at_end
        if on_level is not None:
            on_level(m)

    return SweepResult(
        max_n=max_n,
        n_train=N,
        views=sizes,
        plugin=plugin,
        miller_madow=mm,
        grassberger=gr,
        plugin_stderr=plugin_se,
        block_sums=block_sums,
        upper=model.loss,
        upper_stderr=model.stderr,
        discount=model.discounts[:, 0].copy(),
        coverage=coverage,
        coverage_k=int(coverage_k),
        n_targets=n_targets,
        bound=bound,
        discounts=model.discounts,
        continuation_discounts=model.continuation_discounts,
        heldout_probs=model.probs,
    )
