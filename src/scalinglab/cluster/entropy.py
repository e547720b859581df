"""Conditional entropies with the n-gram counts partitioned across a Dask cluster.

The positions of the training stream are split into ``P`` partitions by a hash
of their first token. Every m-gram (m >= 1) starts with one token, so each
m-gram's occurrences, and those of every context it extends, lie in one
partition: partition ``p`` sorts only its own positions by their first
``max_n + 1`` tokens (packed into int64 words, refined word by word among ties),
takes the longest common prefixes of neighbours, and from them the class sums
``sum f(c)`` of the engine (:func:`scalinglab.stats._ngram.fsum`) for every
level ``m <= max_n + 1`` and every stretch the engine uses (the nested
prefixes ``P/4, P/2, P`` and, for the contexts, each of them less its last
token), plus the term ``sum c log c log c_parent`` of the plug-in's standard
error. No worker holds more than its partition's positions (the tokens are
read from the shared memmap); the client adds up ``P`` small arrays. The class
sums are additive over partitions, so the plug-in, Miller-Madow and Grassberger
estimates (every view) and the plug-in standard error equal the
single-process ones up to the order of floating-point additions (1e-12).

The held-out upper bound (interpolated modified Kneser-Ney over the training
suffix array) and the held-out coverage are not partitioned: they are computed
on the client by the engine's own sweep, while the workers count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stats._entropy_result import EntropyResult
from ..stats._ngram import _NCOL, DISTINCT, S_G, S_LOG, S_LOG2, SweepResult, count_sweep, fsum
from ..stats.config import EntropyConfig, as_corpus, build_config
from ._client import gather_with_progress
from ._tokens import TokenRef, token_ref

__all__ = ["entropy", "partition_sums", "run_on"]

_SCAN = 1 << 22
_HASH = np.int64(0x9E3779B1)


def _partition_of(tok: np.ndarray, nparts: int) -> np.ndarray:
    return ((tok.astype(np.int64) * _HASH) & np.int64(0xFFFFFFFF)) % nparts


def _positions(T: np.ndarray, part: int, nparts: int) -> np.ndarray:
    parts = []
    for s in range(0, T.size, _SCAN):  # chunks, not tokens
        tok = np.asarray(T[s : s + _SCAN])
        parts.append(np.flatnonzero(_partition_of(tok, nparts) == part).astype(np.int64) + s)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _word(T: np.ndarray, pos: np.ndarray, start: int, k: int, base: int) -> np.ndarray:
    """``T[pos + start .. pos + start + k - 1]`` packed base ``V + 1`` (``V``: past the end)."""
    n = T.size
    w = np.zeros(pos.size, np.int64)
    for i in range(k):  # tokens of a word, not of the corpus
        q = pos + (start + i)
        t = np.asarray(T[np.minimum(q, n - 1)]).astype(np.int64)
        t[q >= n] = base - 1
        w *= base
        w += t
    return w


def _sort_prefixes(T: np.ndarray, pos: np.ndarray, depth: int, vocab: int) -> np.ndarray:
    """``pos`` ordered by the first ``depth`` tokens of their suffixes (ties left in place)."""
    base = vocab + 1
    k = max(1, int(63 // np.log2(base + 1)))
    w = _word(T, pos, 0, k, base)
    order = np.argsort(w, kind="stable")
    pos, w = pos[order], w[order]
    # slots of the sorted array still tied, and the id of their run
    tied = np.flatnonzero(
        np.concatenate(([False], w[1:] == w[:-1])) | np.concatenate((w[1:] == w[:-1], [False]))
    )
    gid = np.cumsum(np.concatenate(([True], w[1:] != w[:-1])))[tied] if tied.size else tied
    start = k
    while tied.size and start < depth:  # words of the prefix, not tokens
        wd = _word(T, pos[tied], start, k, base)
        o = np.lexsort((wd, gid))
        pos[tied] = pos[tied][o]
        wd, g = wd[o], gid[o]
        same = (g[1:] == g[:-1]) & (wd[1:] == wd[:-1])
        keep = np.concatenate(([False], same)) | np.concatenate((same, [False]))
        new_gid = np.cumsum(np.concatenate(([True], ~same)))
        tied, gid = tied[keep], new_gid[keep]
        start += k
    return pos


def _lcp(T: np.ndarray, pos: np.ndarray, cap: int) -> np.ndarray:
    """Longest common prefix (at most ``cap``) of neighbouring suffixes in ``pos``."""
    n = T.size
    out = np.zeros(max(pos.size - 1, 0), np.int64)
    alive = np.arange(out.size)
    for j in range(cap):  # prefix lengths, not tokens
        if alive.size == 0:
            break
        a, b = pos[alive] + j, pos[alive + 1] + j
        ok = (a < n) & (b < n)
        ta = np.asarray(T[np.minimum(a, n - 1)])
        tb = np.asarray(T[np.minimum(b, n - 1)])
        alive = alive[ok & (ta == tb)]
        out[alive] += 1
    return out


def partition_sums(
    T: np.ndarray, part: int, nparts: int, max_n: int, vocab: int, stretches: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Class sums of one partition: ``sums[q, m]`` for the stretch ``T[:stretches[q]]`` and
    m-grams ``m = 1 .. max_n + 1`` (row 0 unused), and ``cross[m]`` on the whole stream."""
    big = max_n + 1
    n = T.size
    sums = np.zeros((len(stretches), big + 1, _NCOL))
    cross = np.zeros(big + 1)
    pos = _positions(T, part, nparts)
    if pos.size == 0:
        return sums, cross
    pos = _sort_prefixes(T, pos, big, vocab)
    lcp = _lcp(T, pos, big)
    one = fsum(np.array([1]))
    prev_multi = None
    for m in range(1, big + 1):  # levels, not tokens
        ge = lcp >= m
        multi = np.concatenate(([False], ge)) | np.concatenate((ge, [False]))
        sub = np.flatnonzero(multi)
        starts = np.flatnonzero(np.concatenate(([True], lcp[sub[1:] - 1] < m))) if sub.size else sub
        p_sub, p_single = pos[sub], pos[~multi]
        for q, size in enumerate(stretches):  # stretches, not tokens
            c = np.add.reduceat((p_sub + m <= size).astype(np.int64), starts) if sub.size else sub
            sums[q, m] = fsum(c) + one * int((p_single + m <= size).sum())
        # sum over the m-grams of c log c (log c_parent - log c), parents the (m-1)-grams
        if m == 1:
            c = np.bincount(np.asarray(T[pos]).astype(np.int64)).astype(np.float64)
            c = c[c > 0]
            cross[1] = float((c * np.log(c) * (np.log(float(n)) - np.log(c))).sum())
        elif prev_multi is not None and prev_multi.size:
            sp = prev_multi
            valid = (pos[sp] + m <= n).astype(np.int64)
            prev_gap = lcp[sp[1:] - 1]
            p_flag = np.concatenate(([True], prev_gap < m - 1))
            c_flag = np.concatenate(([True], prev_gap < m))
            parent = np.add.reduceat(valid, np.flatnonzero(p_flag)).astype(np.float64)
            child = np.add.reduceat(valid, np.flatnonzero(c_flag)).astype(np.float64)
            of = (np.cumsum(p_flag) - 1)[np.flatnonzero(c_flag)]
            ok = child > 1
            c, pc = child[ok], parent[of[ok]]
            cross[m] = float((c * np.log(c) * (np.log(pc) - np.log(c))).sum())
        prev_multi = sub
    return sums, cross


def _partition_task(
    ref: TokenRef, data: Any, part: int, nparts: int, max_n: int, vocab: int, stretches: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    return partition_sums(ref.open(data), part, nparts, max_n, vocab, stretches)


def _estimates(
    sums: np.ndarray, cross: np.ndarray, stretches: list[int], sizes: list[int], max_n: int
) -> dict[str, np.ndarray]:
    """The engine's per-view estimates from the summed class sums (formulas of count_sweep)."""
    big = max_n + 1
    at = {s: i for i, s in enumerate(stretches)}
    nv = len(sizes)
    plugin = np.full((nv, big), np.nan)
    mm, gr = plugin.copy(), plugin.copy()
    plugin_se = np.full(big, np.nan)
    n = sizes[-1]
    block_sums = np.zeros((big + 1, _NCOL))
    block_sums[0] = fsum(np.array([n]))
    for i, size in enumerate(sizes):  # views, not tokens
        for m in range(1, big + 1):  # levels, not tokens
            total = size - m + 1
            if total <= 0:
                continue
            blk = sums[at[size], m]
            pc = fsum(np.array([size])) if m == 1 else sums[at[size - 1], m - 1]
            plug = (pc[S_LOG] - blk[S_LOG]) / total
            plugin[i, m - 1] = plug
            mm[i, m - 1] = plug + (blk[DISTINCT] - pc[DISTINCT]) / (2 * total)
            gr[i, m - 1] = (pc[S_G] - blk[S_G]) / total
            if size == n:
                block_sums[m] = blk
                second = (blk[S_LOG2] - 2 * (blk[S_LOG2] + cross[m]) + pc[S_LOG2]) / total
                plugin_se[m - 1] = np.sqrt(max(second - plug**2, 0.0) / total)
    return {
        "plugin": plugin,
        "miller_madow": mm,
        "grassberger": gr,
        "plugin_stderr": plugin_se,
        "block_sums": block_sums,
    }


def entropy(
    corpus: Any,
    client: Any,
    max_n: int | None = None,
    *,
    config: EntropyConfig | None = None,
    progress: bool = True,
    partitions: int | None = None,
    **settings: Any,
) -> EntropyResult:
    """:func:`scalinglab.stats.entropy` with the n-gram counts partitioned on a Dask cluster.

    Same settings and result type. The count-based estimates (plug-in,
    Miller-Madow, Grassberger on every prefix, the plug-in's standard error and
    the block sums) come from ``partitions`` partitions of the training
    positions (default: twice the workers, at least 2), counted on the
    workers; the Kneser-Ney held-out bound and the coverage are computed on the
    client (module docstring). Estimates equal the single-process ones to 1e-12.
    """
    if max_n is not None:
        settings["max_n"] = max_n
    cfg = build_config(EntropyConfig, config, settings, "entropy")
    c = as_corpus(corpus)
    cfg.check(c)
    return run_on(client, c, cfg, progress=progress, partitions=partitions)


def run_on(
    client: Any,
    c: Any,
    cfg: EntropyConfig,
    *,
    progress: bool = True,
    partitions: int | None = None,
) -> EntropyResult:
    """:func:`scalinglab.stats.entropy.run_entropy` (a checked corpus and config) with the
    n-gram counts partitioned on ``client``'s workers."""
    from ..stats.entropy import run_entropy

    nworkers = max(1, len(client.scheduler_info().get("workers", {})))
    nparts = int(partitions or max(2, 2 * nworkers))

    def sweep_fn(train: np.ndarray, heldout: np.ndarray, top_n: int, vocab: int, *,
                 views: tuple[int, ...] = (), **kw: Any) -> SweepResult:  # fmt: skip
        n = int(len(train))
        sizes = [int(v) for v in views if 0 < v < n] + [n]
        stretches = sorted({s for v in sizes for s in (v, v - 1) if s > 0})
        ref, data = token_ref(client, train)
        futs = [
            client.submit(
                _partition_task, ref, data, p, nparts, top_n, vocab, stretches, pure=False,
                key=f"entropy-partition-{p}-{id(sizes)}",
            )
            for p in range(nparts)
        ]  # fmt: skip
        # the held-out bound on the client while the workers count
        res = count_sweep(train, heldout, top_n, vocab, views=views, **kw)
        parts = gather_with_progress(client, futs, "n-gram partitions", progress=progress)
        sums = np.sum([p[0] for p in parts], axis=0)
        cross = np.sum([p[1] for p in parts], axis=0)
        for name, value in _estimates(sums, cross, stretches, sizes, top_n).items():
            setattr(res, name, value)
        return res

    return run_entropy(c, cfg, progress=progress, sweep_fn=sweep_fn)
