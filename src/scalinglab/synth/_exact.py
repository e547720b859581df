"""Exact-statistics helpers shared by the generators (no sampling here).

Linear algebra of the exact statistics: stationary laws of large sparse chains
and operator norms of stacks of correlation matrices; and the local log-log
slopes, power-law windows and window fits that ``truth.json`` records for the
sources with power-law correlations or entropies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = [
    "log_secant_slopes",
    "longest_window",
    "operator_norms",
    "power_law_windows",
    "secant_grid",
    "secant_points",
    "sparse_stationary",
    "true_runs",
    "window_fit",
]

LogCurve = Callable[[np.ndarray], np.ndarray]


def true_runs(ok: np.ndarray) -> np.ndarray:
    """Runs of consecutive True in a boolean vector: (R, 2) array of ``[start, stop)``.

    >>> true_runs(np.array([True, True, False, True])).tolist()
    [[0, 2], [3, 4]]
    """
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(ok).astype(int), [0]])))
    return edges.reshape(-1, 2)


def operator_norms(mats: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix of a stack (exact)."""
    if mats.shape[-1] <= 512:
        return np.linalg.svd(mats, compute_uv=False)[..., 0]
    from scipy.sparse.linalg import svds

    out = np.empty(mats.shape[0])
    for t, m in enumerate(mats):
        try:
            out[t] = svds(m, k=1, return_singular_vectors=False, random_state=0)[0]
        except Exception:  # ARPACK failed to converge: fall back to a full SVD
            out[t] = np.linalg.svd(m, compute_uv=False)[0]
    return out


def sparse_stationary(p: Any, *, power_steps: int = 300, tol: float = 1e-13) -> np.ndarray:
    """Stationary law of a sparse row-stochastic matrix ``p`` with many states.

    A direct sparse LU of ``P^T - I`` fills in badly on the de Bruijn-like
    graph of the contexts of an order-k chain (minutes and gigabytes already at
    16384 contexts). Instead: the strongly connected components must hold
    exactly one closed class (else the stationary law is not unique); power
    iterations from the uniform law follow, finished if needed by BiCGSTAB on
    the non-singular ``I - P^T + 1 1^T / r``, whose solution for the
    right-hand side ``1 / r`` is ``pi``. The result satisfies
    ``||P^T pi - pi||_1 < 1e-10`` (about 1e-13 in practice).
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import LinearOperator, bicgstab

    p = p.tocsr(copy=True)
    p.eliminate_zeros()
    r = p.shape[0]
    n_comp, labels = connected_components(p, directed=True, connection="strong")
    if n_comp > 1:
        coo = p.tocoo()
        leaving = labels[coo.row] != labels[coo.col]
        closed = n_comp - np.unique(labels[coo.row[leaving]]).size
        if closed != 1:
            raise UserError(
                f"the chain has no unique stationary distribution ({closed} closed classes "
                "of contexts: transition matrix not irreducible)"
            )
    pt = p.T.tocsr()
    x = np.full(r, 1.0 / r)
    for _ in range(power_steps):
        nxt = pt @ x
        err = float(np.abs(nxt - x).sum())
        x = nxt
        if err < tol:
            return x
    op = LinearOperator((r, r), matvec=lambda y: y - pt @ y + y.sum() / r, dtype=np.float64)
    x, _info = bicgstab(op, np.full(r, 1.0 / r), x0=x, rtol=tol, maxiter=5000)
    residual = float(np.abs(pt @ x - x).sum())
    if not np.isfinite(residual) or residual > 1e-10:
        raise UserError(
            f"the stationary distribution of {r} contexts did not converge "
            f"(residual {residual:.1e}); the chain mixes too slowly"
        )
    return x


def log_secant_slopes(logf: LogCurve, grid: np.ndarray) -> np.ndarray:
    """``-d ln f / d ln n`` as the secant over ``floor(n/sqrt2) .. ceil(n sqrt2)``."""
    lo = np.maximum(1, np.floor(grid / math.sqrt(2))).astype(np.int64)
    hi = np.ceil(grid * math.sqrt(2)).astype(np.int64)
    with np.errstate(invalid="ignore"):
        return -(logf(hi) - logf(lo)) / np.log(hi / lo)


def longest_window(
    grid: np.ndarray, slope: np.ndarray, target: float | None, tol: float
) -> tuple[int, int] | None:
    """Longest run (3 grid lags or more) whose local slope is within ``tol * target`` of target."""
    if target is None or not np.isfinite(target) or target <= 0:
        return None
    ok = np.isfinite(slope) & (np.abs(slope - target) <= tol * target)
    if not ok.any():
        return None
    runs = true_runs(ok)
    ratio = grid[runs[:, 1] - 1] / grid[runs[:, 0]]
    best = runs[int(np.argmax(ratio))]
    if best[1] - best[0] < 3:
        return None
    return int(grid[best[0]]), int(grid[best[1] - 1])


def window_fit(grid: np.ndarray, logf: LogCurve, window: tuple[int, int] | None) -> float | None:
    """Least-squares slope ``-d ln f / d ln n`` over the grid lags inside the window."""
    if window is None:
        return None
    sel = grid[(grid >= window[0]) & (grid <= window[1])]
    if sel.size < 3:
        return None
    y = logf(sel)
    if not np.all(np.isfinite(y)):
        return None
    return float(-np.polyfit(np.log(sel), y, 1)[0])


def secant_grid(max_lag: int, per_octave: int) -> np.ndarray:
    """Log-spaced integer lags (``per_octave`` per octave) from 2 to ``max_lag / sqrt 2``."""
    hi = max(2.0, max_lag / math.sqrt(2))
    pts = max(2, int(math.log2(hi / 2) * per_octave) + 1)
    return np.unique(np.round(np.geomspace(2, hi, pts)).astype(np.int64))


def secant_points(grid: np.ndarray) -> np.ndarray:
    """Every lag the secant slopes over ``grid`` use: the grid and the ends of its secants."""
    ends = [grid, np.maximum(1, np.floor(grid / math.sqrt(2))), np.ceil(grid * math.sqrt(2))]
    return np.unique(np.concatenate(ends).astype(np.int64))


def power_law_windows(
    grid: np.ndarray, curves: dict[str, tuple[LogCurve, float | None]], tol: float
) -> dict[str, dict[str, Any]]:
    """Local slopes, power-law windows and window fits of named curves ``ln f(n)``.

    ``curves`` maps a name to ``(ln f, asymptotic exponent or None)``. Returns
    ``{"slopes": {name: (G,) array}, "windows": {name: (lo, hi) or None},
    "fits": {name: float or None}}``: the secant slopes on ``grid``
    (:func:`log_secant_slopes`), the longest run within ``tol`` of the exponent
    (:func:`longest_window`) and the least-squares slope over it (:func:`window_fit`).
    """
    out: dict[str, dict[str, Any]] = {"slopes": {}, "windows": {}, "fits": {}}
    for name, (logf, target) in curves.items():
        s = log_secant_slopes(logf, grid)
        win = longest_window(grid, s, target, tol)
        out["slopes"][name] = s
        out["windows"][name] = win
        out["fits"][name] = window_fit(grid, logf, win)
    return out
