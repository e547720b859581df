"""Sparse, chunked counting of lag-n token pairs for the correlation engine.

The joint table of the pairs ``(x_i, x_{i+n})`` is kept as sorted unique int64
keys ``mu * V + nu`` with int64 counts, never as a dense ``V x V`` array when
``V`` is large. The pairs whose *left* member lies in a chunk ``[s, e)`` of
positions are counted from ``tokens[s : e + n]`` alone, so the tables of
disjoint chunks add up to the table of the whole stream: a corpus of any size
is counted with memory bounded by the chunk and by the number of distinct
pairs, and chunks counted on different machines are summed with ``+``.

Inside a chunk every pair also carries the index of its bootstrap block (a
contiguous range of left positions, or a group of whole documents), and the
chunk is counted on the composite key ``(mu * V + nu) * K + block``: one sort
(or one ``np.bincount`` when the table is small) yields the joint table and the
per-block tables the block bootstrap needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import UserError

#: Count with ``np.bincount`` over the whole composite table when it has at most this
#: many cells (or at most twice as many cells as there are pairs, up to ``_BINCOUNT_MAX``);
#: otherwise sort the keys.
_BINCOUNT_SMALL = 1 << 18
_BINCOUNT_MAX = 1 << 24


# ----------------------------------------------------------------------------------------
# Sorted sparse tables
def run_length(sorted_keys: np.ndarray, weights: np.ndarray | None = None):
    """Unique values of a sorted array and their multiplicities (or summed ``weights``)."""
    n = sorted_keys.size
    if n == 0:
        return sorted_keys[:0].astype(np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    uniq = sorted_keys[starts]
    if weights is None:
        counts = np.diff(np.append(starts, n)).astype(np.int64)
    else:
        counts = np.add.reduceat(weights, starts)
    return uniq, counts


def merge_tables(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse tables given as (sorted unique keys, counts) pairs.

    A stable sort of the concatenated runs is a merge (NumPy's timsort finds
    the sorted runs), followed by a run-length sum of equal keys.
    """
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    order = np.argsort(keys, kind="stable")
    return run_length(keys[order], counts[order])


def merge_two(
    a_keys: np.ndarray, a_counts: np.ndarray, b_keys: np.ndarray, b_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of two sparse tables (sorted unique keys) in ``O(|a| + |b| log |a|)`` time and
    about ``|a| + |b|`` extra memory: shared keys add up, new keys are inserted."""
    if a_keys.size == 0:
        return b_keys, b_counts
    if b_keys.size == 0:
        return a_keys, a_counts
    pos = np.searchsorted(a_keys, b_keys)
    hit = pos < a_keys.size
    hit[hit] = a_keys[pos[hit]] == b_keys[hit]
    counts = a_counts.copy()
    counts[pos[hit]] += b_counts[hit]
    new = ~hit
    return np.insert(a_keys, pos[new], b_keys[new]), np.insert(counts, pos[new], b_counts[new])


class _Accumulator:
    """Running sum of sparse tables, memory about twice the distinct keys.

    Incoming tables wait until they hold a quarter as many keys as the running
    sum (at least 2^20), are then summed among themselves (a sort) and merged
    into it (a linear merge): memory stays a small multiple of the distinct
    keys, and the running sum is rewritten about four times per its size of
    incoming keys.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.counts = np.zeros(0, np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_size = 0

    def add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self.pending.append((keys, counts))
        self.pending_size += keys.size
        if self.pending_size > max(self.keys.size // 4, 1 << 20):
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            keys, counts = merge_tables(self.pending)
            self.pending, self.pending_size = [], 0
            self.keys, self.counts = merge_two(self.keys, self.counts, keys, counts)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        return self.keys, self.counts


@dataclass
class PairCounts:
    """Sparse joint counts of the lag-``n`` pairs ``(x_i, x_{i+n})``.

    Tables of disjoint chunks of left positions add up (``a + b``) to the
    table of their union, so a long corpus can be counted chunk by chunk, on
    one machine or many.

    Attributes
    ----------
    lag : int
        The lag ``n``.
    vocab_size : int
        ``V``; keys are ``mu * V + nu`` (left symbol ``mu``, right symbol ``nu``).
    keys : np.ndarray
        Sorted unique int64 keys of the pairs that occur.
    counts : np.ndarray
        int64 number of occurrences of each key.
    """

    lag: int
    vocab_size: int
    keys: np.ndarray
    counts: np.ndarray

    @property
    def pairs(self) -> int:
        """``M``, the number of pairs counted."""
        return int(self.counts.sum())

    @property
    def nnz(self) -> int:
        """Number of distinct pairs."""
        return int(self.keys.size)

    @property
    def rows(self) -> np.ndarray:
        """Left symbol of each key (int32)."""
        return (self.keys // self.vocab_size).astype(np.int32)

    @property
    def cols(self) -> np.ndarray:
        """Right symbol of each key (int32)."""
        return (self.keys % self.vocab_size).astype(np.int32)

    def left_counts(self) -> np.ndarray:
        """Occurrences of each symbol as the left member (length ``V``, int64)."""
        return exact_bincount(self.rows, self.counts, self.vocab_size)

    def right_counts(self) -> np.ndarray:
        """Occurrences of each symbol as the right member (length ``V``, int64)."""
        return exact_bincount(self.cols, self.counts, self.vocab_size)

    def __add__(self, other: PairCounts) -> PairCounts:
        if (self.lag, self.vocab_size) != (other.lag, other.vocab_size):
            raise ValueError("only tables of the same lag and vocabulary add up")
        keys, counts = merge_tables([(self.keys, self.counts), (other.keys, other.counts)])
        return PairCounts(self.lag, self.vocab_size, keys, counts)

    def transpose(self) -> PairCounts:
        """The table of the swapped pairs ``(x_{i+n}, x_i)``."""
        v = self.vocab_size
        t = self.cols * v + self.rows
        order = np.argsort(t)
        return PairCounts(self.lag, v, t[order], self.counts[order])

    def to_dense(self) -> np.ndarray:
        """The ``V x V`` int64 count matrix (small vocabularies only)."""
        v = self.vocab_size
        if v * v > 1 << 26:
            raise UserError(f"a dense {v} x {v} table is too large; use the sparse keys")
        out = np.zeros(v * v, dtype=np.int64)
        out[self.keys] = self.counts
        return out.reshape(v, v)


def exact_bincount(idx: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount`` with integer weights, exact while the sums stay below 2^53."""
    return np.rint(np.bincount(idx, weights=counts, minlength=size)).astype(np.int64)


# ----------------------------------------------------------------------------------------
# Where the pairs are: one stream, or pairs inside documents
class TokenSource(Protocol):
    def segment(self, start: int, stop: int) -> np.ndarray: ...


class ArraySource:
    """Segments of a token array (a memmap is read one segment at a time)."""

    def __init__(self, tokens: np.ndarray):
        self.tokens = tokens

    def segment(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.tokens[start:stop])


@dataclass
class Layout:
    """The positions whose pairs count.

    In the default mode the corpus is one stream (documents concatenated with
    their separator tokens) and every ``i < N - n`` starts a pair. With
    ``content_end`` (within-document mode) a pair counts only when both members
    lie inside the content of one document: ``i + n < content_end[doc(i)]``,
    where the content of a document stops before its trailing separator.
    """

    n_tokens: int
    vocab_size: int
    doc_offsets: np.ndarray | None = None
    content_end: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        tokens: np.ndarray,
        vocab_size: int,
        doc_offsets: np.ndarray | None,
        eod_token: int | None,
        within_documents: bool,
    ) -> Layout:
        n = int(tokens.shape[0])
        if not within_documents:
            return cls(n, vocab_size)
        offs = np.unique(np.asarray(doc_offsets if doc_offsets is not None else [0], np.int64))
        offs = offs[(offs >= 0) & (offs < n)]
        if offs.size == 0 or offs[0] != 0:
            offs = np.concatenate(([0], offs))
        ends = np.append(offs[1:], n)
        if eod_token is not None:
            last = np.asarray(tokens[ends - 1]).astype(np.int64)
            ends = ends - (last == eod_token)
        return cls(n, vocab_size, offs, np.maximum(ends, offs))

    @property
    def within_documents(self) -> bool:
        return self.content_end is not None

    def total_pairs(self, lag: int) -> int:
        """Number of pairs at ``lag`` (before any subsampling)."""
        if self.content_end is None:
            return max(self.n_tokens - lag, 0)
        assert self.doc_offsets is not None
        return int(np.maximum(self.content_end - self.doc_offsets - lag, 0).sum())

    def content_mask(self, start: int, stop: int) -> np.ndarray | None:
        """True at content positions of ``[start, stop)`` (None: every position)."""
        if self.content_end is None:
            return None
        return np.arange(start, stop) < self._content_end_at(start, stop)

    def _content_end_at(self, start: int, stop: int) -> np.ndarray:
        assert self.doc_offsets is not None and self.content_end is not None
        d0 = int(np.searchsorted(self.doc_offsets, start, side="right")) - 1
        d1 = int(np.searchsorted(self.doc_offsets, stop - 1, side="right")) - 1
        cuts = self.doc_offsets[d0 + 1 : d1 + 1]
        lengths = np.diff(np.concatenate(([start], cuts, [stop])))
        return np.repeat(self.content_end[d0 : d1 + 1], lengths)

    def valid_positions(self, start: int, stop: int, lag: int) -> np.ndarray | None:
        """Offsets (from ``start``) of the left positions in ``[start, stop)`` that start a
        pair at ``lag``; None when they are all of ``[start, min(stop, N - lag))``."""
        if self.content_end is None:
            return None
        stop = min(stop, self.n_tokens - lag)
        if stop <= start:
            return np.zeros(0, dtype=np.int64)
        ok = np.arange(start + lag, stop + lag) < self._content_end_at(start, stop)
        return np.flatnonzero(ok)

    def block_bounds(self, n_blocks: int) -> np.ndarray:
        """Start positions of ``n_blocks`` bootstrap blocks of about equal length, ending
        with ``N``; in within-document mode the cuts fall on document boundaries."""
        n = self.n_tokens
        cuts = np.linspace(0, n, n_blocks + 1).round().astype(np.int64)
        if self.doc_offsets is not None and self.doc_offsets.size > 1:
            idx = np.searchsorted(self.doc_offsets, cuts[1:-1])
            idx = np.clip(idx, 0, self.doc_offsets.size - 1)
            cuts = np.concatenate(([0], self.doc_offsets[idx], [n]))
        return np.unique(cuts)

    def chunks(self, chunk_tokens: int) -> list[tuple[int, int]]:
        step = max(int(chunk_tokens), 1)
        return [(s, min(s + step, self.n_tokens)) for s in range(0, self.n_tokens, step)]


# ----------------------------------------------------------------------------------------
# Counting one chunk
def _pairs_of_chunk(
    source: TokenSource,
    layout: Layout,
    start: int,
    stop: int,
    lag: int,
    subsample: float,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | int]:
    """Left tokens, right tokens and left positions (or the first one) of a chunk's pairs."""
    end = min(stop, layout.n_tokens - lag)
    if end <= start:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    seg = source.segment(start, end + lag)
    idx = layout.valid_positions(start, stop, lag)
    if subsample < 1.0:
        assert rng is not None
        if idx is None:
            idx = np.flatnonzero(rng.random(end - start) < subsample)
        else:
            idx = idx[rng.random(idx.size) < subsample]
    if idx is None:
        m = end - start
        return seg[:m], seg[lag : lag + m], start
    return seg[idx], seg[idx + lag], idx + start


def _block_ids(bounds: np.ndarray, pos: np.ndarray | int, m: int) -> np.ndarray:
    """Bootstrap block of each left position (``pos``: positions, or the first of ``m``)."""
    if isinstance(pos, np.ndarray):
        return np.searchsorted(bounds, pos, side="right") - 1
    b0 = int(np.searchsorted(bounds, pos, side="right")) - 1
    b1 = int(np.searchsorted(bounds, pos + m - 1, side="right")) - 1
    cuts = bounds[b0 + 1 : b1 + 1]
    lengths = np.diff(np.concatenate(([pos], cuts, [pos + m])))
    return np.repeat(np.arange(b0, b1 + 1), lengths)


def count_composite(
    left: np.ndarray, right: np.ndarray, blocks: np.ndarray | None, v: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique composite keys ``(left * V + right) * K + block`` and their counts.

    ``np.bincount`` over the whole table when it is small (or not much larger than
    the number of pairs), else an in-place sort and a run-length count.
    """
    comp = left.astype(np.int64)
    comp *= v
    comp += right
    if k > 1:
        assert blocks is not None
        comp *= k
        comp += blocks
    cells = v * v * k
    if cells <= _BINCOUNT_SMALL or (cells <= _BINCOUNT_MAX and cells <= 2 * comp.size):
        full = np.bincount(comp, minlength=cells)
        nz = np.flatnonzero(full)
        return nz.astype(np.int64), full[nz].astype(np.int64)
    comp.sort()
    return run_length(comp)


@dataclass
class LagCounts:
    """The tables of one lag: joint counts and what the block bootstrap needs.

    ``left_blocks[b]`` / ``right_blocks[b]`` count the left / right members of the
    pairs of block ``b`` (``K x V``, float64 holding integers), ``pairs_blocks[b]``
    their number; ``triples`` keep each chunk's ``(composite key, count)`` table
    when they fit in memory (else None: they are recounted when needed).
    """

    table: PairCounts
    left_blocks: np.ndarray
    right_blocks: np.ndarray
    pairs_blocks: np.ndarray
    triples: list[tuple[np.ndarray, np.ndarray]] | None


@dataclass
class CountPlan:
    """How a lag is counted: chunks, bootstrap blocks, subsampling."""

    layout: Layout
    chunks: list[tuple[int, int]]
    block_bounds: np.ndarray
    max_pairs: int | None = None
    seed: int = 0
    keep_triples: int = 1 << 23

    @property
    def n_blocks(self) -> int:
        return int(self.block_bounds.size - 1)

    def rate(self, lag: int) -> float:
        """Fraction of the pairs at ``lag`` that are counted (``max_pairs / M``, at most 1)."""
        if self.max_pairs is None:
            return 1.0
        total = self.layout.total_pairs(lag)
        return 1.0 if total <= self.max_pairs else self.max_pairs / total

    def _rng(self, lag: int, chunk: int, stream: int) -> np.random.Generator | None:
        if self.rate(lag) >= 1.0:
            return None
        return np.random.default_rng([self.seed, lag, chunk, stream, 0x5AB])

    def chunk_tables(
        self, source: TokenSource, lag: int, *, stream: int = 0, blocks: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(sorted unique composite keys, counts) of each chunk, in order."""
        v = self.layout.vocab_size
        k = self.n_blocks if blocks else 1
        rate = self.rate(lag)
        for ci, (s, e) in enumerate(self.chunks):
            left, right, pos = _pairs_of_chunk(
                source, self.layout, s, e, lag, rate, self._rng(lag, ci, stream)
            )
            if left.size == 0:
                continue
            blk = _block_ids(self.block_bounds, pos, left.size) if k > 1 else None
            yield count_composite(left, right, blk, v, k)

    def count(self, source: TokenSource, lag: int) -> LagCounts:
        """Joint table plus per-block marginals (and per-block tables if they fit)."""
        v, k = self.layout.vocab_size, self.n_blocks
        acc = _Accumulator()
        left_b = np.zeros(k * v)
        right_b = np.zeros(k * v)
        pairs_b = np.zeros(k)
        triples: list[tuple[np.ndarray, np.ndarray]] | None = []
        kept = 0
        for comp, cnt in self.chunk_tables(source, lag):
            key = comp // k
            blk = comp - key * k
            rows = key // v
            left_b += np.bincount(blk * v + rows, weights=cnt, minlength=k * v)
            right_b += np.bincount(blk * v + (key - rows * v), weights=cnt, minlength=k * v)
            pairs_b += np.bincount(blk, weights=cnt, minlength=k)
            acc.add(*(run_length(key, cnt) if k > 1 else (key, cnt)))
            if triples is not None:
                kept += comp.size
                if kept <= self.keep_triples:
                    triples.append((comp, cnt))
                else:
                    triples = None
        keys, counts = acc.result()
        table = PairCounts(lag, v, keys, counts)
        return LagCounts(table, left_b.reshape(k, v), right_b.reshape(k, v), pairs_b, triples)

    def block_tables(
        self, source: TokenSource, lag: int, counts: LagCounts
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The per-chunk composite tables of a lag: kept ones, or counted again."""
        if counts.triples is not None:
            yield from counts.triples
        else:
            yield from self.chunk_tables(source, lag)

    def count_plain(self, source: TokenSource, lag: int, stream: int) -> PairCounts:
        """Joint table only (no blocks): used for the shuffled surrogates."""
        acc = _Accumulator()
        for keys, cnt in self.chunk_tables(source, lag, stream=stream, blocks=False):
            acc.add(keys, cnt)
        keys, counts = acc.result()
        return PairCounts(lag, self.layout.vocab_size, keys, counts)


def count_pairs(
    tokens: np.ndarray,
    lag: int,
    *,
    vocab_size: int | None = None,
    start: int = 0,
    stop: int | None = None,
    doc_offsets: np.ndarray | None = None,
    eod_token: int | None = None,
    within_documents: bool = False,
    chunk_tokens: int = 1 << 22,
) -> PairCounts:
    """Count the lag-``n`` pairs whose left member lies in ``[start, stop)``.

    Parameters
    ----------
    tokens : np.ndarray
        The whole token stream (a memmap is read chunk by chunk).
    lag : int
        ``n >= 1``.
    vocab_size : int, optional
        ``V`` (default ``max(tokens) + 1``).
    start, stop : int
        Range of left positions; tables of disjoint ranges add up with ``+``.
    doc_offsets, eod_token, within_documents
        With ``within_documents`` only pairs inside one document's content count.

    Returns
    -------
    PairCounts
        ``#{i in [start, stop) : x_i = mu, x_{i+n} = nu}`` as sparse keys and counts.
    """
    n = int(tokens.shape[0])
    stop = n if stop is None else int(stop)
    if not 0 <= start <= stop <= n:
        raise UserError(f"bad position range [{start}, {stop}) for {n} tokens")
    if lag < 1 or lag >= n:
        raise UserError(f"lag must be an integer in 1..{n - 1}, got {lag}")
    v = int(vocab_size) if vocab_size is not None else int(np.max(tokens)) + 1
    layout = Layout.build(tokens, v, doc_offsets, eod_token, within_documents)
    step = max(int(chunk_tokens), 1)
    chunks = [(s, min(s + step, stop)) for s in range(start, stop, step)]
    plan = CountPlan(layout, chunks, np.array([0, n], dtype=np.int64))
    return plan.count_plain(ArraySource(tokens), lag, stream=0)
