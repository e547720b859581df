"""Walker's alias method for many discrete laws at once.

One table per row of a row-stochastic matrix, packed so that a draw from row
``r`` costs one gather and one comparison: the Markov chains (one row per
context) and the biased graph walks (one row per node) step all their walkers
with it.

>>> import numpy as np
>>> packed = packed_alias(np.array([[0.25, 0.75], [1.0, 0.0]])).ravel()
>>> col, key = alias_draws(np.random.default_rng(0).bit_generator.random_raw(4), 2)
>>> alias_draw(packed, np.array([1, 1, 1, 1]), col, key, 2).tolist()
[0, 0, 0, 0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["alias_draw", "alias_draws", "alias_tables", "packed_alias"]

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def alias_tables(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker alias tables for every row of a row-stochastic matrix.

    For row ``r`` and a column ``j`` drawn uniformly from ``V``, the draw is ``j``
    with probability ``accept[r, j]`` and ``alias[r, j]`` otherwise; the result
    has distribution ``prob[r]`` exactly (up to rounding).

    The construction is Vose's pairing of "small" and "large" cells run on each
    row's sorted probabilities, one cell finalised per iteration in every row at
    once (V iterations of NumPy operations over all rows). Sorting makes the
    pairing a two-pointer sweep: small cells are taken from the left, the current
    large cell sits at the right pointer and, once its residual drops below 1,
    becomes small itself and is paired with its left neighbour, which is the
    largest remaining cell and therefore large. No library offers alias tables
    for many rows at once, hence this hand-written version.

    Parameters
    ----------
    prob : (R, V) array
        Non-negative rows summing to 1.

    Returns
    -------
    accept : (R, V) float64 array in [0, 1]
    alias : (R, V) int64 array of column indices
    """
    prob = np.asarray(prob, dtype=np.float64)
    n_rows, v = prob.shape
    q = prob * v
    order = np.argsort(q, axis=1, kind="stable")
    qs = np.take_along_axis(q, order, axis=1)
    acc = np.ones((n_rows, v))
    ali = np.broadcast_to(np.arange(v), (n_rows, v)).copy()
    i = np.zeros(n_rows, dtype=np.int64)
    j = np.full(n_rows, v - 1, dtype=np.int64)
    r = qs[:, v - 1].copy()
    done = np.zeros(n_rows, dtype=bool)
    for _ in range(v):
        last = ~done & (i >= j)  # every other cell is final: this one keeps itself
        small = ~done & ~last & (r >= 1.0)  # pair the next small cell with the large one
        shrink = ~done & ~last & (r < 1.0)  # the large cell became small
        if last.any():
            rows = np.flatnonzero(last)
            acc[rows, j[rows]] = 1.0
            done[rows] = True
        if small.any():
            rows = np.flatnonzero(small)
            ii = i[rows]
            qi = np.minimum(qs[rows, ii], 1.0)
            acc[rows, ii] = qi
            ali[rows, ii] = np.where(qi < 1.0, j[rows], ii)
            r[rows] -= 1.0 - qi
            i[rows] += 1
        if shrink.any():
            rows = np.flatnonzero(shrink)
            jj = j[rows]
            acc[rows, jj] = np.maximum(r[rows], 0.0)
            ali[rows, jj] = jj - 1
            r[rows] = qs[rows, jj - 1] - (1.0 - r[rows])
            j[rows] -= 1
        if done.all():
            break
    accept = np.empty_like(acc)
    alias = np.empty_like(ali)
    np.put_along_axis(accept, order, acc, axis=1)
    np.put_along_axis(alias, order, np.take_along_axis(order, ali, axis=1), axis=1)
    return accept, alias


def packed_alias(prob: np.ndarray) -> np.ndarray:
    """Alias tables packed as ``threshold << 32 | alias`` in one int64 per cell.

    The threshold is the acceptance probability in units of 2^-31 (at most
    2^31 - 1); a cell that always keeps its column gets itself as alias, so its
    threshold does not matter. One gather per token then serves both the
    comparison and the alias (see :func:`alias_draws`).
    """
    accept, alias = alias_tables(prob)
    thr = np.floor(accept * 2147483648.0)
    cols = np.broadcast_to(np.arange(prob.shape[1]), prob.shape)
    alias = np.where(thr >= 2147483648.0, cols, alias)
    thr = np.minimum(thr, 2147483647.0).astype(np.int64)
    return (thr << 32) | alias.astype(np.int64)


def alias_draws(bits: np.ndarray, v: int) -> tuple[np.ndarray, np.ndarray]:
    """Split 64 random bits into a uniform column and a comparison key.

    The column is ``floor(hi32 * v / 2^32)``; with ``f`` the next 31 bits,
    ``f < threshold`` holds exactly when the packed cell exceeds
    ``key = f << 32 | (2^32 - 1)``, so a draw is ``col if cell > key else alias``.
    """
    col = ((bits >> _S32) * np.uint64(v)) >> _S32
    key = (((bits >> np.uint64(1)) & np.uint64(0x7FFFFFFF)) << _S32) | _M32
    return col.view(np.int64), key.view(np.int64)  # both < 2^63: same values


def alias_draw(
    packed: np.ndarray, rows: np.ndarray, col: np.ndarray, key: np.ndarray, v: int
) -> np.ndarray:
    """One alias draw from row ``rows[i]`` of the flattened packed table, for every i."""
    cell = packed.take(rows * v + col)
    return np.where(cell > key, col, cell & 0xFFFFFFFF)
