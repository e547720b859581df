"""Norms of the lag-n covariance ``C = J / M - pL pR^T`` from sparse pair counts.

``J`` is the sparse joint count matrix, ``M`` the number of pairs and ``pL``,
``pR`` the left and right marginals. Rows and columns of symbols that never
occur are zero in ``C`` and are dropped first. The operator norm comes from a
dense SVD when the active block is small (exact to rounding), and otherwise
from ARPACK Lanczos (``scipy.sparse.linalg.svds``) on the implicit operator
``x -> J x / M - pL (pR . x)``: a sparse product plus a rank-one correction,
never a dense ``V x V`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._corr_count import CountPlan, LagCounts, PairCounts, TokenSource, exact_bincount

#: Dense SVD when ``rows * cols * min(rows, cols)`` is at most this (a 256^3 flop scale).
DENSE_SVD_WORK = 1 << 24


@dataclass
class Spectrum:
    """Top of the singular spectrum of ``C`` and the Frobenius norm.

    Attributes
    ----------
    values : np.ndarray
        The largest singular values, descending (at least the top one).
    u, v : np.ndarray
        Top left / right singular vectors, length ``V`` (zero on absent symbols).
    frobenius : float
        ``||C||_F``.
    pairs : int
        ``M``.
    method : str
        ``"dense"`` (LAPACK) or ``"arpack"``.
    converged : bool
        False when ARPACK stopped before its tolerance (the values are then its
        best Ritz estimates).
    """

    values: np.ndarray
    u: np.ndarray
    v: np.ndarray
    frobenius: float
    pairs: int
    method: str
    converged: bool = True

    @property
    def operator_norm(self) -> float:
        return float(self.values[0]) if self.values.size else 0.0


def marginals(table: PairCounts) -> tuple[np.ndarray, np.ndarray, int]:
    """Left and right symbol frequencies ``pL``, ``pR`` (length ``V``) and ``M``."""
    m = table.pairs
    if m == 0:
        z = np.zeros(table.vocab_size)
        return z, z.copy(), 0
    return table.left_counts() / m, table.right_counts() / m, m


def sparse_matrix(rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]):
    """CSR matrix from entries sorted by row (as sorted keys are): no COO round trip."""
    from scipy.sparse import csr_matrix

    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return csr_matrix((data, cols, indptr), shape=shape)


def frobenius_norm(
    table: PairCounts,
    pl: np.ndarray,
    pr: np.ndarray,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> float:
    """``||J/M - pL pR^T||_F`` from the sparse counts.

    Split over the cells that occur and those that do not::

        ||C||_F^2 = sum_{(i,j) in nz} (J_ij / M - pL_i pR_j)^2
                  + sum_i pL_i^2 (sum_j pR_j^2 - sum_{j : (i,j) in nz} pR_j^2)

    The first sum has no cancellation; the second is the mass of the
    rank-one term on the empty cells, accumulated row by row. A row that
    occupies every column with ``pR_j > 0`` has no empty cell that carries
    mass: its term is exactly 0 (the subtraction would leave a rounding
    residue of order 1e-17, whose square root, 1e-8, would be read as a norm).
    """
    m = table.pairs
    if m == 0:
        return 0.0
    rows = table.rows if rows is None else rows
    cols = table.cols if cols is None else cols
    vsz = table.vocab_size
    prc = pr[cols]
    diff = table.counts / m - pl[rows] * prc
    occupied = float(np.dot(diff, diff))
    row_mass = np.bincount(rows, weights=prc * prc, minlength=vsz)
    # Occupied cells are distinct and each lies in a column with pR_j > 0.
    full = np.bincount(rows, minlength=vsz) == int(np.count_nonzero(pr > 0))
    missing = np.where(full, 0.0, np.maximum(np.dot(pr, pr) - row_mass, 0.0))
    empty = float(np.dot(pl * pl, missing))
    return float(np.sqrt(occupied + empty))


def spectrum(
    table: PairCounts,
    k: int = 1,
    *,
    tol: float = 0.0,
    seed: int = 0,
    vectors: bool = True,
    dense_work: int = DENSE_SVD_WORK,
) -> Spectrum:
    """Top ``k`` singular values and vectors of ``C`` plus ``||C||_F``.

    Parameters
    ----------
    table : PairCounts
        Joint counts of one lag.
    k : int
        Number of singular values wanted (``>= 1``).
    tol : float
        ARPACK relative tolerance (0: machine precision).
    seed : int
        Seeds ARPACK's starting vector (results are deterministic).
    vectors : bool
        Compute the top singular vectors (else ``u`` and ``v`` are zero).
    dense_work : int
        Use a dense SVD when ``rows * cols * min(rows, cols) <= dense_work``
        (counted on the symbols that occur).
    """
    vsz = table.vocab_size
    rows, cols = table.rows, table.cols
    m = table.pairs
    if m:
        pl = exact_bincount(rows, table.counts, vsz) / m
        pr = exact_bincount(cols, table.counts, vsz) / m
    else:
        pl, pr = np.zeros(vsz), np.zeros(vsz)
    fro = frobenius_norm(table, pl, pr, rows, cols)
    ra, ca = np.flatnonzero(pl > 0), np.flatnonzero(pr > 0)
    nr, nc = ra.size, ca.size
    u_full, v_full = np.zeros(vsz), np.zeros(vsz)
    if m == 0 or nr == 0 or nc == 0:
        return Spectrum(np.zeros(max(k, 1)), u_full, v_full, fro, m, "dense")
    rmap = np.full(vsz, -1, dtype=np.int32)
    rmap[ra] = np.arange(nr)
    cmap = np.full(vsz, -1, dtype=np.int32)
    cmap[ca] = np.arange(nc)
    rows = table.rows
    ri, ci = rmap[rows], cmap[table.cols]
    del rows
    data = table.counts / m
    pla, pra = pl[ra], pr[ca]
    kk = max(int(k), 1)
    converged = True
    if nr * nc * min(nr, nc) <= dense_work or kk >= min(nr, nc) - 1:
        dense = -np.outer(pla, pra)
        dense[ri, ci] += data
        # Values from LAPACK without vectors. A LAPACK SVD *with* vectors of even a
        # 65 x 65 matrix enters multithreaded BLAS-3, which stalls for a scheduler
        # time slice per call on a busy machine; the top vectors are taken from
        # ARPACK on the same dense matrix instead (BLAS-1/2 only).
        vals = np.linalg.svd(dense, compute_uv=False)[:kk]
        if not vectors:
            u, v = np.zeros(nr), np.zeros(nc)
        elif min(nr, nc) < 3:
            uu, _, vt = np.linalg.svd(dense)
            u, v = uu[:, 0], vt[0]
        else:
            from scipy.sparse.linalg import svds

            uu, ss, vt = svds(dense, k=1, tol=0, random_state=seed)
            u, v = uu[:, 0], vt[0]
        method = "dense"
    else:
        vals, u, v, converged = _arpack_top(ri, ci, data, pla, pra, kk, tol, seed)
        method = "arpack"
    if len(vals) < kk:
        vals = np.concatenate([vals, np.zeros(kk - len(vals))])
    # Fix the sign so that u . 1 >= 0 (singular vectors are defined up to a common sign).
    if u.sum() < 0:
        u, v = -u, -v
    u_full[ra], v_full[ca] = u, v
    return Spectrum(np.asarray(vals, float), u_full, v_full, fro, m, method, converged)


def _arpack_top(ri, ci, data, pla, pra, k, tol, seed):
    """Top ``k`` singular triplets of ``J/M - pL pR^T`` by Lanczos on the implicit operator."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, svds

    nr, nc = pla.size, pra.size
    jm = sparse_matrix(ri, ci, data, (nr, nc))
    jt = jm.T  # a CSC view: no second copy of the counts

    def matvec(x):
        x = np.ravel(x)
        return jm @ x - pla * (pra @ x)

    def rmatvec(y):
        y = np.ravel(y)
        return jt @ y - pra * (pla @ y)

    def matmat(x):
        return jm @ x - np.outer(pla, pra @ x)

    def rmatmat(y):
        return jt @ y - np.outer(pra, pla @ y)

    op = LinearOperator(
        (nr, nc), matvec=matvec, rmatvec=rmatvec, matmat=matmat, rmatmat=rmatmat, dtype=float
    )
    converged = True
    try:
        u, s, vt = svds(op, k=k, tol=tol, random_state=seed)
    except ArpackNoConvergence:
        converged = False
        ncv = min(min(nr, nc), max(4 * k + 40, 60))
        try:
            u, s, vt = svds(
                op, k=k, tol=max(tol, 1e-8), ncv=ncv, maxiter=50 * min(nr, nc), random_state=seed
            )
            converged = True
        except ArpackNoConvergence as e:
            # Best Ritz pairs of C^T C (or C C^T) that ARPACK reached.
            lam, vec = np.asarray(e.eigenvalues), np.asarray(e.eigenvectors)
            if lam.size == 0:
                raise RuntimeError("ARPACK found no singular value of the covariance") from e
            order = np.argsort(lam)[::-1][:k]
            s = np.sqrt(np.maximum(lam[order], 0))
            vec = vec[:, order]
            if vec.shape[0] == nc:
                vt = vec.T
                u = np.column_stack([matvec(vt[i]) / max(s[i], 1e-300) for i in range(s.size)])
            else:
                u = vec
                vt = np.vstack([rmatvec(u[:, i]) / max(s[i], 1e-300) for i in range(s.size)])
    order = np.argsort(s)[::-1]
    s, u, vt = s[order], u[:, order], vt[order]
    return s, u[:, 0], vt[0], converged


# ----------------------------------------------------------------------------------------
# Norms from counts
def covariance_norms(table: PairCounts, top_k: int = 1) -> dict[str, Any]:
    """Operator and Frobenius norms of ``C`` from a (possibly chunk-summed) pair table.

    Returns ``{"operator_norm", "frobenius", "singular_values", "pairs", "method"}``.
    """
    sp = spectrum(table, k=max(int(top_k), 1))
    return {
        "operator_norm": sp.operator_norm,
        "frobenius": sp.frobenius,
        "singular_values": sp.values.tolist(),
        "pairs": sp.pairs,
        "method": sp.method,
    }


def _bootstrap_replicates(
    plan: CountPlan,
    source: TokenSource,
    lag: int,
    lc: LagCounts,
    sp: Spectrum,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Linearised block-bootstrap replicates of ``||C||_op`` and ``||C||_F``.

    With multiplicities ``w_b`` of the blocks, the resampled covariance is
    ``C* = J*/M* - L* R*^T / M*^2`` with ``J* = sum_b w_b J_b`` (and likewise
    ``L*``, ``R*``, ``M*``). The norms are replaced by their first-order
    expansions around the full-data ``C``, exact functions of per-block sums::

        ||C*||_op ~ u^T C* v          (u, v: top singular vectors of C)
        ||C*||_F  ~ <C, C*> / ||C||_F

    so each replicate costs ``O(K^2)`` instead of a new SVD, and every lag uses
    the same block multiplicities (replicates of beta keep the correlations
    between lags). Both expansions agree with the norm itself to second order
    in ``C* - C``; they are lower bounds of it.
    """
    table = lc.table
    v, k = table.vocab_size, plan.n_blocks
    m = sp.pairs
    if m == 0:
        z = np.zeros(weights.shape[0])
        return z, z.copy()
    pl = lc.left_blocks.sum(axis=0) / m
    pr = lc.right_blocks.sum(axis=0) / m
    u, vv = sp.u, sp.v
    a = np.zeros(k)  # sum over the block's pairs of u[x_i] v[x_{i+n}]
    g = np.zeros(k)  # sum over the block's pairs of C[x_i, x_{i+n}]
    for comp, cnt in plan.block_tables(source, lag, lc):
        key = comp // k
        blk = comp - key * k
        rows = key // v
        cols = key - rows * v
        jc = table.counts[np.searchsorted(table.keys, key)]
        a += np.bincount(blk, weights=cnt * u[rows] * vv[cols], minlength=k)
        g += np.bincount(blk, weights=cnt * (jc / m - pl[rows] * pr[cols]), minlength=k)
    mw = weights @ lc.pairs_blocks
    lu, rv = lc.left_blocks @ u, lc.right_blocks @ vv
    op = (weights @ a) / mw - (weights @ lu) * (weights @ rv) / mw**2
    fro = sp.frobenius
    if fro <= 0:
        return op, np.zeros_like(op)
    jm = sparse_matrix(table.rows, table.cols, table.counts / m, (v, v))
    rb = lc.right_blocks.T  # V x K
    c_rb = jm @ rb - np.outer(pl, pr @ rb)
    h = lc.left_blocks @ c_rb  # K x K: L_b^T C R_b'
    quad = np.einsum("rk,kl,rl->r", weights, h, weights)
    fr = ((weights @ g) / mw - quad / mw**2) / fro
    return op, fr
