"""Helpers shared by the synthetic generators: random streams, entropies, parallel
walkers and writing a generated token array as a TokenCorpus with its truth."""

from __future__ import annotations

import dataclasses
import io
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .._io import to_json_text
from ..errors import UserError

#: Number of random draws (walkers x steps) prepared at once by :func:`run_walkers`.
_BLOCK = 1 << 20
#: Default number of tokens per independent segment of the walker-based samplers.
SEGMENT_LENGTH = 1 << 13

Progress = Callable[[int], None] | None
Step = Callable[..., tuple[np.ndarray, np.ndarray]]
Prepare = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator (PCG64) from an integer seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(seed)


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """Validate an integer parameter and return it as ``int`` (UserError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UserError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise UserError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise UserError(f"{name} must be <= {maximum}, got {v}")
    return v


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a finite float parameter inside ``[low, high]`` (open ends on request)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v):
        raise UserError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise UserError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise UserError(f"{name} must be {'<' if high_open else '<='} {high}, got {v}")
    return v


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy ``-sum p ln p`` in nats along ``axis`` (``0 ln 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -t.sum(axis=axis)


def nats_bits(h: float) -> dict[str, float]:
    """An entropy in nats and in bits."""
    return {"nats": float(h), "bits": float(h) / math.log(2)}


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 for vocabularies up to 65536 symbols, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def segment_layout(num_tokens: int, segment_length: int) -> tuple[int, np.ndarray, int]:
    """Cut ``num_tokens`` into segments of ``segment_length`` (the last one shorter).

    Returns the number of segments, their int64 start offsets and the length of
    the walk each segment's walker takes (the last segment is cut afterwards).
    """
    num_tokens = check_int("num_tokens", num_tokens)
    segment_length = check_int("segment_length", segment_length)
    n_seg = -(-num_tokens // segment_length)
    offsets = np.arange(n_seg, dtype=np.int64) * segment_length
    return n_seg, offsets, min(segment_length, num_tokens)


def within_segment_fraction(lags: np.ndarray, num_tokens: int, offsets: np.ndarray) -> np.ndarray:
    """Fraction of the ``N - n`` pairs at lag ``n`` whose members share a segment.

    Pairs that straddle two independent segments carry no correlation, so the
    correlation measured on the concatenated stream is ``C(n)`` times this factor.
    """
    lengths = np.diff(np.append(offsets, num_tokens))
    lags = np.asarray(lags, dtype=np.int64)
    within = np.clip(lengths[None, :] - lags[:, None], 0, None).sum(axis=1)
    return within / np.maximum(num_tokens - lags, 1)


def run_walkers(
    init: np.ndarray,
    num_steps: int,
    step: Callable[..., tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    dtype: np.dtype,
    progress: Progress = None,
    prepare: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None = None,
) -> np.ndarray:
    """Advance ``B`` independent walkers ``num_steps`` times, all of them at once.

    A Markov chain is sequential in time, so the vectorisation runs across
    walkers: every step is a handful of NumPy operations on arrays of length B.
    Random bits are drawn in blocks of about 2^20 (steps x walkers) and the
    time-major block of emitted tokens is transposed into segment-major order.

    Parameters
    ----------
    init : (B,) array
        The walkers' starting states.
    step : callable
        ``step(state, *draws) -> (token, new_state)``; ``draws`` are the rows for
        this step of the arrays returned by ``prepare(bits)`` (by default the
        (B,) uint64 array of fresh random bits itself).
    prepare : callable, optional
        Turns a (steps, B) block of random bits into per-step arrays, so that the
        work that does not depend on the state is done once per block.

    Returns
    -------
    (B, num_steps) array of emitted tokens, row b being walker b's path.
    """
    state = np.asarray(init)
    n_walk = state.shape[0]
    out = np.empty((n_walk, num_steps), dtype=dtype)
    chunk = max(1, min(num_steps, _BLOCK // max(n_walk, 1)))
    t0 = 0
    while t0 < num_steps:
        t1 = min(num_steps, t0 + chunk)
        bits = rng.bit_generator.random_raw((t1 - t0, n_walk))
        draws = prepare(bits) if prepare is not None else (bits,)
        block = np.empty((t1 - t0, n_walk), dtype=dtype)
        for t in range(t1 - t0):
            tok, state = step(state, *[d[t] for d in draws])
            block[t] = tok
        out[:, t0:t1] = block.T
        if progress is not None:
            progress((t1 - t0) * n_walk)
        t0 = t1
    return out


def draw_from_cdf(cdf: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` iid indices drawn with the (unnormalised) cumulative weights ``cdf``."""
    u = rng.random(count) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


def _readings_by_chain(
    chain: np.ndarray, t0: int, last_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group a chunk of readings of independent chains by chain, in time order.

    ``chain[i]`` is the chain read at time ``t0 + i``; ``last_t[k]`` the time chain
    k was last read before the chunk (-1: never), updated in place to its last
    reading in the chunk.

    Returns
    -------
    times, chains : int64 arrays, the readings grouped by chain (stable in time)
    first : bool array, the chain's first reading in this chunk
    gap : float64 array, time since the chain's previous reading (inf: never read)
    ends : int64 indices of each chain's last reading in the chunk
    """
    order = np.argsort(chain, kind="stable")
    ks = chain[order].astype(np.int64)
    ts = order.astype(np.int64) + t0
    first = np.ones(ks.size, dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    prev_t = np.empty(ks.size, dtype=np.int64)
    prev_t[1:] = ts[:-1]
    prev_t[first] = last_t[ks[first]]
    gap = (ts - prev_t).astype(np.float64)
    gap[prev_t < 0] = np.inf
    ends = np.flatnonzero(np.append(first[1:], True))
    last_t[ks[ends]] = ts[ends]
    return ts, ks, first, gap, ends


def chain_readings(
    num_tokens: int, chunk: int, cdf: np.ndarray, rng: np.random.Generator, progress: Progress
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The readings of a stream that reads, at each step, one of K independent chains.

    The chain read at each time is drawn iid with the cumulative weights ``cdf``,
    ``chunk`` times at once; for each chunk this yields the readings grouped by
    chain, ``(times, chains, first, gap, ends)`` as described in
    :func:`_readings_by_chain`, and calls ``progress`` with the chunk's size once
    the caller has handled it. The samplers of the power-law source and of the
    flipping facts evolve each chain only between its readings, from the gap.
    """
    k = cdf.size
    dtype = np.int16 if k < 32768 else np.int32
    last_t = np.full(k, -1, dtype=np.int64)  # -1: never read yet
    for t0 in range(0, num_tokens, chunk):
        m = min(chunk, num_tokens - t0)
        chain = draw_from_cdf(cdf, m, rng).astype(dtype)
        yield _readings_by_chain(chain, t0, last_t)
        if progress is not None:
            progress(m)


def uniform_from_bits(bits: np.ndarray) -> np.ndarray:
    """Uniform doubles in [0, 1) from the top 53 of 64 random bits."""
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def uniform_draws(bits: np.ndarray) -> tuple[np.ndarray]:
    """A ``prepare`` for :func:`run_walkers`: one uniform double per walker and step."""
    return (uniform_from_bits(bits),)


class SegmentSampler:
    """Sampling as independent stationary segments, all walkers stepped at once.

    A mixin for the chains that are sequential in time (Markov chains, graph
    walks, k-gram models): ``num_tokens`` tokens are cut into segments of
    ``segment_length`` (:func:`segment_layout`), one walker per segment, and
    :func:`run_walkers` steps them together. A class provides
    ``_walkers(n_seg, seg_len, rng) -> (state, head, step, prepare)``: the
    walkers' first states, the ``(n_seg, h)`` tokens that open each segment
    (already in the token dtype) and the step of :func:`run_walkers`;
    ``_sampled(tokens, offsets)`` may add to the result.
    """

    def _walkers(
        self, n_seg: int, seg_len: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, Step, Prepare]:
        raise NotImplementedError

    def _sampled(self, tokens: np.ndarray, offsets: np.ndarray) -> tuple[Any, ...]:
        return tokens, offsets

    def sample(
        self,
        num_tokens: int,
        *,
        seed: int | np.random.Generator | None = 0,
        segment_length: int = SEGMENT_LENGTH,
        progress: Progress = None,
    ) -> tuple[Any, ...]:
        """Draw ``num_tokens`` tokens as independent stationary segments.

        Returns
        -------
        tokens : (num_tokens,) uint16/uint32 array
        offsets : int64 start of each segment (segment b is one walker's path)
        (and what the class adds, e.g. the k-gram models' restarts)
        """
        rng = as_rng(seed)
        n_seg, offsets, seg_len = segment_layout(num_tokens, segment_length)
        state, head, step, prepare = self._walkers(n_seg, seg_len, rng)
        body = run_walkers(state, seg_len - head.shape[1], step, rng, head.dtype, progress, prepare)
        tokens = np.concatenate([head, body], axis=1).ravel()[: int(num_tokens)]
        return self._sampled(tokens, offsets)


def npy_bytes(arr: np.ndarray) -> bytes:
    """An array serialised in ``.npy`` format (for corpus side files)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_source(
    out: str | os.PathLike[str],
    source: Any,
    tokens: np.ndarray,
    *,
    kind: str,
    name: str,
    seed: int | None,
    truth: dict[str, Any],
):
    """Write one stream of a source given by a dataclass (vocabulary ``source.vocab_size``).

    The source's fields and the stream length are the recorded parameters.
    """
    params = {**dataclasses.asdict(source), "num_tokens": int(np.asarray(tokens).size)}
    return write_synthetic(
        out, tokens, source.vocab_size, kind=kind, name=name, params=params, seed=seed, truth=truth
    )


def write_synthetic(
    out: str | os.PathLike[str],
    tokens: np.ndarray,
    vocab_size: int,
    *,
    kind: str,
    name: str,
    params: dict[str, Any],
    seed: int | None,
    truth: dict[str, Any] | None,
    doc_offsets: np.ndarray | None = None,
    eod_token: int | None = None,
    train_tokens: int | None = None,
    side_files: Mapping[str, bytes | str] | None = None,
):
    """Write a generated token array as a TokenCorpus with ``truth.json`` beside it.

    ``meta.json`` records ``generator = {kind, params, seed}``; ``train_tokens``
    (when given) places the held-out split right after the training part so that
    ``corpus.train`` and ``corpus.heldout`` are the generator's disjoint sets.
    """
    from ..corpus import write_corpus

    extra: dict[str, Any] = {"generator": {"kind": kind, "params": params, "seed": seed}}
    n = int(np.asarray(tokens).size)
    if train_tokens is not None:
        extra["split"] = {
            "heldout_start": int(train_tokens),
            "heldout_tokens": int(n - train_tokens),
            "rule": "generator's train/test split",
        }
    files = dict(side_files or {})
    if truth is not None:
        files["truth.json"] = to_json_text(truth)
    return write_corpus(
        out,
        tokens,
        vocab_size,
        doc_offsets=doc_offsets,
        tokenizer={"spec": "synthetic", "eod_token": eod_token},
        source={"kind": "synthetic", "name": name},
        extra=extra,
        side_files=files,
    )
