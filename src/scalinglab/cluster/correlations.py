"""Correlations as map-reduce on a Dask cluster, bit-identical to one process.

Each task counts the lag-n pairs whose left member lies in a run of chunks of
the memmapped corpus (a chunk reads ``tokens[s : e + n]``, so neighbouring
chunks overlap by the lag), with the engine's own primitives
(:mod:`scalinglab.stats._corr_count`). The per-task tables (joint counts,
per-block marginals, and the per-chunk composite tables while they fit) are
summed by a binary tree of tasks on the workers; the client receives one table
per lag and computes the norms, floors, bootstrap and beta exactly as
:func:`scalinglab.stats.correlations` does (it *is* that engine, with the
counting plan replaced). Counts are integers, so every sum is exact and the
norms are bit-identical. The shuffled surrogates are permutations generated
block by block in order; each (surrogate, lag) is one task that regenerates it
from the seed on a worker. Lags are prefetched a few at a time, so the
workers count the next lags while the client takes the norms of this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..stats._corr_count import (
    ArraySource,
    CountPlan,
    LagCounts,
    Layout,
    PairCounts,
    TokenSource,
    _block_ids,
    _pairs_of_chunk,
    count_composite,
    merge_tables,
    run_length,
)
from ..stats._corr_result import CorrelationResult
from ..stats._corr_shuffle import ShuffledSource
from ..stats.config import CorrelationConfig, as_corpus, build_config
from ..stats.correlations import _MATERIALIZE_BYTES
from ._client import task_result
from ._tokens import TokenRef, token_ref

__all__ = ["ClusterCountPlan", "correlations", "run_on"]


#: Materialised surrogates of this worker process, by (corpus, seed, block).
_SURROGATES: dict[tuple[str, str, int], ShuffledSource] = {}
_KEEP_SURROGATES = 4


@dataclass
class _Partial:
    """Summed tables of a run of chunks of one lag (``triples`` None once too large)."""

    left: np.ndarray
    right: np.ndarray
    pairs: np.ndarray
    keys: np.ndarray
    counts: np.ndarray
    triples: list[tuple[np.ndarray, np.ndarray]] | None
    size: int = 0


class _Source:
    def __init__(self, tokens: np.ndarray):
        self.tokens = tokens

    def segment(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.tokens[start:stop])


def _plan_on_worker(plan: CountPlan, ref: TokenRef, data: Any) -> tuple[CountPlan, _Source]:
    return plan, _Source(ref.open(data))


def _count_run(
    ref: TokenRef, data: Any, plan: CountPlan, lag: int, c0: int, c1: int, keep: int
) -> _Partial:
    """Count chunks ``c0 .. c1 - 1`` of ``plan`` at ``lag`` (blocks included), on a worker."""
    plan, source = _plan_on_worker(plan, ref, data)
    v, k = plan.layout.vocab_size, plan.n_blocks
    rate = plan.rate(lag)
    left, right = np.zeros(k * v), np.zeros(k * v)
    pairs = np.zeros(k)
    tables: list[tuple[np.ndarray, np.ndarray]] = []
    triples: list[tuple[np.ndarray, np.ndarray]] | None = []
    size = 0
    for ci in range(c0, c1):  # chunks, not tokens
        s, e = plan.chunks[ci]
        lt, rt, pos = _pairs_of_chunk(source, plan.layout, s, e, lag, rate, plan._rng(lag, ci, 0))
        if lt.size == 0:
            continue
        blk = _block_ids(plan.block_bounds, pos, lt.size) if k > 1 else None
        comp, cnt = count_composite(lt, rt, blk, v, k)
        key = comp // k
        b = comp - key * k
        rows = key // v
        left += np.bincount(b * v + rows, weights=cnt, minlength=k * v)
        right += np.bincount(b * v + (key - rows * v), weights=cnt, minlength=k * v)
        pairs += np.bincount(b, weights=cnt, minlength=k)
        tables.append(run_length(key, cnt) if k > 1 else (key, cnt))
        size += comp.size
        if triples is not None:
            triples = triples + [(comp, cnt)] if size <= keep else None
    keys, counts = merge_tables(tables)
    return _Partial(left, right, pairs, keys, counts, triples, size)


def _merge(a: _Partial, b: _Partial, keep: int) -> _Partial:
    """Sum of two partial tables (``a``'s chunks before ``b``'s)."""
    keys, counts = merge_tables([(a.keys, a.counts), (b.keys, b.counts)])
    size = a.size + b.size
    triples = (
        a.triples + b.triples
        if a.triples is not None and b.triples is not None and size <= keep
        else None
    )
    return _Partial(
        a.left + b.left, a.right + b.right, a.pairs + b.pairs, keys, counts, triples, size
    )


def _chunk_table(ref: TokenRef, data: Any, plan: CountPlan, lag: int, ci: int):
    """The composite table of chunk ``ci`` (the bootstrap's recount when tables are not kept)."""
    plan, source = _plan_on_worker(plan, ref, data)
    s, e = plan.chunks[ci]
    lt, rt, pos = _pairs_of_chunk(
        source, plan.layout, s, e, lag, plan.rate(lag), plan._rng(lag, ci, 0)
    )
    if lt.size == 0:
        return None
    k = plan.n_blocks
    blk = _block_ids(plan.block_bounds, pos, lt.size) if k > 1 else None
    return count_composite(lt, rt, blk, plan.layout.vocab_size, k)


def _count_surrogate(
    ref: TokenRef,
    data: Any,
    plan: CountPlan,
    counts: np.ndarray,
    seed: Any,
    block: int,
    lag: int,
    stream: int,
) -> PairCounts:
    """The joint table of one shuffled surrogate at one lag, regenerated from its seed."""
    plan, source = _plan_on_worker(plan, ref, data)
    key = (repr(ref), repr(seed), block)
    sur = _SURROGATES.get(key)
    if sur is None:
        # kept in this worker when small, like the engine's: generated once for all lags
        keep = source.tokens.size * source.tokens.dtype.itemsize <= _MATERIALIZE_BYTES
        sur = ShuffledSource(source.tokens, plan.layout, counts, seed, block, materialize=keep)
        if keep:
            while len(_SURROGATES) >= _KEEP_SURROGATES:  # the oldest goes first
                _SURROGATES.pop(next(iter(_SURROGATES)))
            _SURROGATES[key] = sur
    return plan.count_plain(sur, lag, stream=stream)


@dataclass
class ClusterCountPlan(CountPlan):
    """A :class:`CountPlan` whose counting runs on the workers of a Dask client.

    ``lags`` is the order in which the engine asks for the lags; ``ahead`` lags
    are counted in advance. ``tasks_per_lag`` runs of chunks make one lag.
    """

    client: Any = None
    ref: TokenRef | None = None
    data: Any = None
    lags: list[int] = field(default_factory=list)
    ahead: int = 4
    tasks_per_lag: int = 8
    on_task: Any = None
    _futures: dict[tuple[int, int], Any] = field(default_factory=dict)
    _plan_future: Any = None

    def _base(self) -> CountPlan:
        return CountPlan(
            self.layout,
            self.chunks,
            self.block_bounds,
            self.max_pairs,
            self.seed,
            self.keep_triples,
        )

    def _shared_plan(self) -> Any:
        if self._plan_future is None:
            self._plan_future = self.client.scatter(self._base(), broadcast=True, hash=False)
        return self._plan_future

    def _submit_lag(self, lag: int) -> Any:
        c, plan = self.client, self._shared_plan()
        nc = len(self.chunks)
        cuts = np.unique(np.linspace(0, nc, min(self.tasks_per_lag, nc) + 1).round().astype(int))
        level = [
            c.submit(
                _count_run, self.ref, self.data, plan, lag, int(a), int(b), self.keep_triples,
                pure=False, key=f"corr-count-{lag}-{int(a)}-{id(self)}",
            )
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
        ]  # fmt: skip
        depth = 0
        while len(level) > 1:  # a binary tree of sums, in chunk order
            nxt = [
                c.submit(_merge, level[i], level[i + 1], self.keep_triples, pure=False,
                         key=f"corr-sum-{lag}-{depth}-{i}-{id(self)}")
                for i in range(0, len(level) - 1, 2)
            ]  # fmt: skip
            if len(level) % 2:
                nxt.append(level[-1])
            level, depth = nxt, depth + 1
        return level[0]

    def _prefetch(self, lag: int, stream: int, submit) -> Any:
        order = self.lags or [lag]
        i = order.index(lag) if lag in order else 0
        for nxt in [lag, *order[i + 1 : i + 1 + self.ahead]]:
            if (nxt, stream) not in self._futures:
                self._futures[(nxt, stream)] = submit(nxt)
        return self._futures.pop((lag, stream))

    def count(self, source: TokenSource, lag: int) -> LagCounts:
        fut = self._prefetch(lag, 0, self._submit_lag)
        part: _Partial = task_result(fut)
        del fut
        if self.on_task is not None:
            self.on_task()
        v, k = self.layout.vocab_size, self.n_blocks
        table = PairCounts(lag, v, part.keys, part.counts)
        return LagCounts(
            table, part.left.reshape(k, v), part.right.reshape(k, v), part.pairs, part.triples
        )

    def chunk_tables(
        self, source: TokenSource, lag: int, *, stream: int = 0, blocks: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not (blocks and stream == 0 and isinstance(source, ArraySource)):
            yield from super().chunk_tables(source, lag, stream=stream, blocks=blocks)
            return
        plan = self._shared_plan()
        futs = [
            self.client.submit(_chunk_table, self.ref, self.data, plan, lag, ci, pure=False)
            for ci in range(len(self.chunks))
        ]
        for f in futs:  # in chunk order
            tab = task_result(f)
            if tab is not None:
                yield tab

    def count_plain(self, source: TokenSource, lag: int, stream: int) -> PairCounts:
        if not isinstance(source, ShuffledSource):
            return super().count_plain(source, lag, stream)
        plan = self._shared_plan()
        counts = source.content_counts  # V integers: travel inside the task

        def submit(nxt: int) -> Any:
            return self.client.submit(
                _count_surrogate, self.ref, self.data, plan, counts, source.seed, source.block,
                nxt, stream, pure=False, key=f"corr-shuffle-{stream}-{nxt}-{id(self)}",
            )  # fmt: skip

        fut = self._prefetch(lag, stream, submit)
        out: PairCounts = task_result(fut)
        if self.on_task is not None:
            self.on_task()
        return out


def correlations(
    corpus: Any,
    client: Any,
    lags: Any = None,
    *,
    config: CorrelationConfig | None = None,
    progress: bool = True,
    tasks_per_lag: int | None = None,
    **settings: Any,
) -> CorrelationResult:
    """:func:`scalinglab.stats.correlations` with the counting on a Dask cluster.

    Same settings, same result type; the norms are bit-identical to the
    single-process result. ``client`` is a :class:`distributed.Client` (see
    :func:`scalinglab.cluster.connect`). ``tasks_per_lag`` runs of chunks are
    counted in parallel per lag (default: twice the workers).
    """
    if lags is not None:
        settings["lags"] = lags
    cfg = build_config(CorrelationConfig, config, settings, "correlations")
    c = as_corpus(corpus)
    return run_on(client, c, cfg, cfg.check(c), progress=progress, tasks_per_lag=tasks_per_lag)


def run_on(
    client: Any,
    c: Any,
    cfg: CorrelationConfig,
    lag_arr: np.ndarray,
    *,
    progress: bool = True,
    tasks_per_lag: int | None = None,
) -> CorrelationResult:
    """:func:`scalinglab.stats.correlations.run_correlations` (a checked corpus and config)
    with the counting on ``client``'s workers."""
    from ..stats.correlations import run_correlations

    ref, data = token_ref(client, c.tokens)
    nworkers = max(1, len(client.scheduler_info().get("workers", {})))
    per_lag = tasks_per_lag or 2 * nworkers

    def make_plan(layout: Layout, chunks, bounds, *, max_pairs=None, seed: int = 0) -> CountPlan:
        return ClusterCountPlan(
            layout, chunks, bounds, max_pairs=max_pairs, seed=seed, client=client, ref=ref,
            data=data, lags=[int(x) for x in lag_arr], ahead=max(2, nworkers),
            tasks_per_lag=per_lag,
        )  # fmt: skip

    return run_correlations(c, cfg, lag_arr, progress=progress, count_plan=make_plan)
