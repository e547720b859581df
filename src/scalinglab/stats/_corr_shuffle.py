"""Shuffled surrogates of a corpus for the correlation noise floor.

A :class:`ShuffledSource` is a uniformly random permutation of the content
tokens (separators stay in place in within-document mode), generated block by
block so that a corpus of any length is shuffled with one block in memory; it
is read through the same ``segment`` interface as the corpus itself
(:class:`~._corr_count.TokenSource`), so the counting code is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._corr_count import Layout, TokenSource

__all__ = ["ShuffledSource", "content_counts"]


class ShuffledSource:
    """A uniformly random permutation of a corpus's content tokens, made block by block.

    Block ``b`` draws its composition from the tokens not yet placed
    (multivariate hypergeometric) and shuffles it, which yields an exactly
    uniform permutation of the multiset of content tokens while holding one
    block in memory. Non-content positions (document separators in
    within-document mode) keep their token. Segments must be requested in
    increasing order; the same seed regenerates the same permutation. When
    ``materialize`` the whole permuted array is built once and kept.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        layout: Layout,
        content_counts: np.ndarray,
        seed: int | list[int],
        block_tokens: int,
        materialize: bool = False,
    ):
        self.tokens = tokens
        self.layout = layout
        self.content_counts = content_counts
        self.seed = seed
        self.block = max(int(block_tokens), 1)
        self._full: np.ndarray | None = None
        self._reset()
        if materialize:
            full = np.empty(layout.n_tokens, dtype=tokens.dtype)
            for b in range(-(-layout.n_tokens // self.block)):
                full[b * self.block : (b + 1) * self.block] = self._make_block(b)
            self._full = full

    def _reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._remaining = self.content_counts.astype(np.int64).copy()
        self._next = 0
        self._cache: dict[int, np.ndarray] = {}

    def _make_block(self, b: int) -> np.ndarray:
        if b != self._next:
            raise RuntimeError("shuffled blocks must be generated in order")
        s = b * self.block
        e = min(s + self.block, self.layout.n_tokens)
        out = np.array(self.tokens[s:e])
        mask = self.layout.content_mask(s, e)
        c = (e - s) if mask is None else int(mask.sum())
        if c:
            comp = self._rng.multivariate_hypergeometric(self._remaining, c, method="marginals")
            self._remaining -= comp
            vals = np.repeat(np.arange(comp.size, dtype=out.dtype), comp)
            self._rng.shuffle(vals)
            if mask is None:
                out[:] = vals
            else:
                out[mask] = vals
        self._next += 1
        return out

    def _get_block(self, b: int) -> np.ndarray:
        if b not in self._cache:
            if b < self._next:  # an earlier block again: regenerate from the start
                self._reset()
            while self._next <= b:
                blk = self._make_block(self._next)
                self._cache = {k: v for k, v in self._cache.items() if k >= self._next - 2}
                self._cache[self._next - 1] = blk
        return self._cache[b]

    def segment(self, start: int, stop: int) -> np.ndarray:
        if self._full is not None:
            return self._full[start:stop]
        if stop <= start:
            return self.tokens[:0]
        b0, b1 = start // self.block, (stop - 1) // self.block
        parts = [self._get_block(b) for b in range(b0, b1 + 1)]
        arr = parts[0] if len(parts) == 1 else np.concatenate(parts)
        off = b0 * self.block
        return arr[start - off : stop - off]


def content_counts(source: TokenSource, layout: Layout, chunk_tokens: int) -> np.ndarray:
    """Occurrences of each symbol among the content positions (int64, length ``V``)."""
    out = np.zeros(layout.vocab_size, dtype=np.int64)
    for s, e in layout.chunks(chunk_tokens):
        seg = source.segment(s, e)
        mask = layout.content_mask(s, e)
        out += np.bincount(seg if mask is None else seg[mask], minlength=layout.vocab_size)
    return out
