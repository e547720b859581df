"""Building blocks shared by the n-gram sweep (:mod:`._ngram`) and the Kneser-Ney
bound (:mod:`._kn`): bit-vector rank queries, batch-means standard errors, the
chunk size. Kept apart so that neither of the two imports the other's module."""

from __future__ import annotations

import numpy as np

#: Positions processed per step when building index arrays (bounds temporaries).
_CHUNK = 1 << 22


def _popcount(words: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words).astype(np.int64)
    w = words.astype(np.uint64)  # SWAR popcount for NumPy < 2
    w = w - ((w >> np.uint64(1)) & np.uint64(0x5555555555555555))
    w = (w & np.uint64(0x3333333333333333)) + ((w >> np.uint64(2)) & np.uint64(0x3333333333333333))
    w = (w + (w >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((w * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


class _RankBits:
    """Rank queries on a bit vector: ``rank(x)`` = number of set bits below ``x``.

    1/8 byte per bit plus 1/8 byte of cumulative counts per 64 bits.
    """

    def __init__(self, bits: np.ndarray):
        packed = np.packbits(bits, bitorder="little")
        pad = (-packed.size) % 8 + 8
        self.words = np.concatenate([packed, np.zeros(pad, np.uint8)]).view(np.uint64)
        self.cum = np.concatenate([[0], np.cumsum(_popcount(self.words))])

    def rank(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        w = x >> 6
        mask = (np.left_shift(np.uint64(1), (x & 63).astype(np.uint64))) - np.uint64(1)
        return self.cum[w] + _popcount(self.words[w] & mask)


def _batch_stderr(x: np.ndarray, max_batches: int = 50) -> float:
    """Standard error of the mean of a serially correlated series by batch means."""
    nb = min(max_batches, x.size // 20)
    if nb < 2:
        return float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    size = x.size // nb
    means = x[: nb * size].reshape(nb, size).mean(axis=1)
    return float(np.std(means, ddof=1) / np.sqrt(nb))
