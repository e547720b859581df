"""Robust objectives on log residuals and a batched multi-start L-BFGS.

Why batched, and why L-BFGS
---------------------------
A multi-start fit solves thousands of *independent* problems with five to a
dozen parameters and a few hundred points each. Looping
``scipy.optimize.minimize`` over them spends nearly all its time in per-call
and per-iteration interpreter overhead (about 40 iterations of ~1 ms each per
start on the Chinchilla data), not in arithmetic. Here every start is one row
of an array and all rows advance together: one objective evaluation is a
handful of NumPy operations over an ``(S, n)`` block, so the overhead is paid
once per iteration for all S starts. Rows that have converged are dropped
from the active set, so the work shrinks as starts finish.

Two alternatives were weighed. A single ``scipy.optimize.minimize`` call on
the stacked objective ``sum_s f_s(theta_s)`` (whose gradient is
block-separable) shares one line search and one curvature history across all
starts, so a slow start throttles every other one and the L-BFGS pairs mix
unrelated problems. A batched Gauss-Newton / Levenberg-Marquardt step is
natural for least squares but converges only linearly on the Huber loss with
the tiny delta of the recipe, whose residuals sit mostly on the linear part
(it needed ~2-4x more iterations than L-BFGS in our tests). So each row runs
its own L-BFGS (two-loop recursion with its own memory, its own Armijo
backtracking), vectorised across rows; box bounds are handled by projection.
The best few distinct optima are then polished with SciPy's L-BFGS-B with
tight tolerances, which is the optimiser of the published recipe.

Parallelism: rows are split into interleaved chunks solved in worker
processes (``fork``), which share the objective without pickling it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from .forms import Form

#: ``fun(theta (m, p), rows (m,), grad) -> (f (m,), g (m, p) or None)``; rows index the problems.
BatchObjective = Callable[[np.ndarray, np.ndarray, bool], tuple[np.ndarray, np.ndarray | None]]

RUNNING, CONVERGED, MAXITER, LINESEARCH, NONFINITE = 0, 1, 2, 3, 4
STATUS_NAMES = {
    CONVERGED: "converged",
    MAXITER: "maxiter",
    LINESEARCH: "line search stalled",
    NONFINITE: "non-finite start",
}


@dataclass(frozen=True)
class Loss:
    """Loss on log residuals ``r = log y - log f``.

    ``huber``: ``rho(r) = r^2 / 2`` for ``|r| <= delta`` else ``delta (|r| - delta / 2)``
    (Huber 1964; delta = 1e-3 in the Chinchilla recipe).
    ``least_squares``: ``rho(r) = r^2 / 2``.
    The objective is ``sum_i w_i rho(r_i)`` (``w_i`` are case weights, 1 unless bootstrapping).
    """

    name: str = "huber"
    delta: float = 1e-3

    def __post_init__(self) -> None:
        if self.name not in ("huber", "least_squares"):
            raise UserError(f"unknown loss {self.name!r}; use 'huber' or 'least_squares'")
        if self.name == "huber" and not (np.isfinite(self.delta) and self.delta > 0):
            raise UserError(f"Huber delta must be a positive number, got {self.delta}")

    @classmethod
    def parse(cls, loss: str | Loss, delta: float = 1e-3) -> Loss:
        if isinstance(loss, Loss):
            return loss
        key = str(loss).strip().lower().replace("-", "_")
        key = {"ls": "least_squares", "mse": "least_squares", "l2": "least_squares"}.get(key, key)
        return cls(key, float(delta))

    def rho_psi(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``rho(r)`` and its derivative ``psi(r) = rho'(r)``."""
        if self.name == "least_squares":
            return 0.5 * r * r, r
        # psi = clip(r, -delta, delta) and rho = psi (r - psi / 2) covers both branches.
        psi = np.clip(r, -self.delta, self.delta)
        return psi * (r - 0.5 * psi), psi

    def dpsi(self, r: np.ndarray) -> np.ndarray:
        """``psi'(r)``: 1 on the quadratic part, 0 on the linear part."""
        if self.name == "least_squares":
            return np.ones_like(r)
        return (np.abs(r) <= self.delta).astype(float)

    def to_dict(self) -> dict:
        d: dict = {"loss": self.name, "space": "log residuals"}
        if self.name == "huber":
            d["delta"] = self.delta
        return d


@dataclass
class LogResidualObjective:
    """``F_s(theta) = sum_i w_si rho(log y_i - log f(x_i; theta))`` for a batch of problems.

    ``weights`` is ``None`` (every problem uses every point once) or ``(S, n)``
    case weights, one row per problem (bootstrap resample counts).
    """

    form: Form
    log_X: np.ndarray
    logy: np.ndarray
    loss: Loss
    weights: np.ndarray | None = None

    #: Rows per block: ~32k elements per temporary keeps the arithmetic in cache,
    #: which makes an evaluation about twice as fast as one pass over all rows.
    block_elements: int = 1 << 15

    def __call__(self, theta: np.ndarray, rows: np.ndarray, grad: bool = True):
        m, p = theta.shape
        step = max(8, self.block_elements // max(1, self.logy.size))
        if m <= step:
            return self._block(theta, rows, grad)
        f = np.empty(m)
        g = np.empty((m, p)) if grad else None
        for i in range(0, m, step):
            fb, gb = self._block(theta[i : i + step], rows[i : i + step], grad)
            f[i : i + step] = fb
            if g is not None:
                g[i : i + step] = gb
        return f, g

    def _block(self, theta: np.ndarray, rows: np.ndarray, grad: bool):
        # Wild trial points overflow harmlessly: they get f = inf and are rejected.
        with np.errstate(all="ignore"):
            return self._evaluate(theta, rows, grad)

    def _evaluate(self, theta: np.ndarray, rows: np.ndarray, grad: bool):
        pred, J = self.form.log_predict(theta, self.log_X, grad)
        r = self.logy - pred
        rho, psi = self.loss.rho_psi(r)
        if self.weights is not None:
            w = self.weights[rows]
            rho, psi = rho * w, psi * w
        f = rho.sum(axis=1)
        bad = ~np.isfinite(f)
        f[bad] = np.inf
        if not grad:
            return f, None
        assert J is not None  # log_predict returns the Jacobian when grad is True
        g = -np.einsum("spn,sn->sp", J, psi)
        g[bad] = 0.0
        g[~np.isfinite(g)] = 0.0
        return f, g

    def system(self, theta: np.ndarray, rows: np.ndarray):
        """Value, gradient and Gauss-Newton matrix ``H = sum_i w_i c_i J_i J_i^T``.

        ``c_i = psi(r_i) / r_i`` are the iteratively-reweighted-least-squares
        weights (1 for least squares, ``min(1, delta / |r_i|)`` for Huber).
        """
        with np.errstate(all="ignore"):
            pred, J = self.form.log_predict(theta, self.log_X, True)
            assert J is not None  # log_predict returns the Jacobian when grad is True
            r = self.logy - pred
            rho, psi = self.loss.rho_psi(r)
            c = np.where(np.abs(r) > 0, psi / np.where(r == 0, 1.0, r), 1.0)
            if self.weights is not None:
                w = self.weights[rows]
                rho, psi, c = rho * w, psi * w, c * w
            f = rho.sum(axis=1)
            g = -np.einsum("spn,sn->sp", J, psi)
            H = np.einsum("spn,sqn->spq", J * c[:, None, :], J)
        bad = ~(
            np.isfinite(f) & np.all(np.isfinite(g), axis=1) & np.all(np.isfinite(H), axis=(1, 2))
        )
        f[bad] = np.inf
        return f, g, H


def gauss_newton_batched(
    objective: Any,
    x0: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    *,
    maxiter: int = 200,
    ftol: float = 1e-12,
) -> BatchResult:
    """Levenberg-Marquardt on every row, with IRLS weights for the Huber loss.

    ``objective.system(theta, rows)`` must return value, gradient and the
    Gauss-Newton matrix (see :meth:`LogResidualObjective.system`).
    Used to finish rows that L-BFGS leaves unconverged: on ill-conditioned
    problems whose residuals sit on the quadratic part of the loss (small
    noise, few points, many parameters: a BNSL bootstrap resample) the
    Gauss-Newton model is close to the true Hessian and converges in a few
    steps where L-BFGS crawls. Step: ``(H + lambda diag H) d = -g``; lambda
    shrinks 3x on success and grows 4x on failure; a row stops when a step
    lowers f by at most ``ftol |f|`` or lambda exceeds 1e10.
    """
    x = np.array(x0, dtype=float, copy=True)
    S, p = x.shape
    rows = np.arange(S) if rows is None else np.asarray(rows)
    lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, float)
    hi = np.full(p, np.inf) if upper is None else np.asarray(upper, float)
    f, g, H = objective.system(x, rows)
    lam = np.full(S, 1e-3)
    status = np.where(np.isfinite(f), RUNNING, NONFINITE)
    nit = np.zeros(S, dtype=int)
    eye = np.eye(p)
    for _ in range(maxiter):
        ia = np.flatnonzero(status == RUNNING)
        if ia.size == 0:
            break
        diag = np.diagonal(H[ia], axis1=1, axis2=2)
        diag = np.maximum(diag, 1e-12 * np.max(diag, axis=1, keepdims=True) + 1e-300)
        A = H[ia] + (lam[ia, None] * diag)[:, :, None] * eye
        try:
            d = np.linalg.solve(A, -g[ia][..., None])[..., 0]
        except np.linalg.LinAlgError:
            d = -g[ia] / diag
        xt = np.clip(x[ia] + d, lo, hi)
        ft, gt, Ht = objective.system(xt, rows[ia])
        ok = ft < f[ia]
        acc = ia[ok]
        decrease = f[acc] - ft[ok]
        x[acc], f[acc], g[acc], H[acc] = xt[ok], ft[ok], gt[ok], Ht[ok]
        nit[acc] += 1
        lam[acc] = np.maximum(lam[acc] / 3, 1e-12)
        lam[ia[~ok]] *= 4
        status[acc[decrease <= ftol * np.abs(f[acc])]] = CONVERGED
        status[ia[~ok][lam[ia[~ok]] > 1e10]] = CONVERGED
    status[status == RUNNING] = MAXITER
    return BatchResult(x, f, nit, status)


@dataclass
class BatchResult:
    """Outcome of a batched minimisation: one row per problem."""

    x: np.ndarray
    fun: np.ndarray
    nit: np.ndarray
    status: np.ndarray

    @property
    def success(self) -> np.ndarray:
        return self.status == CONVERGED

    @staticmethod
    def concat(parts: list[tuple[np.ndarray, BatchResult]], size: int, p: int) -> BatchResult:
        out = BatchResult(
            np.empty((size, p)), np.empty(size), np.empty(size, int), np.empty(size, int)
        )
        for rows, res in parts:
            out.x[rows], out.fun[rows], out.nit[rows], out.status[rows] = (
                res.x,
                res.fun,
                res.nit,
                res.status,
            )
        return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("sp,sp->s", a, b)


def _two_loop(g, s_hist, y_hist, rho_hist):
    """L-BFGS two-loop recursion for every row: returns -H g. Empty slots have rho = 0."""
    q = -g.copy()
    m = s_hist.shape[1]
    alpha = np.empty(rho_hist.shape)
    for j in range(m - 1, -1, -1):
        alpha[:, j] = rho_hist[:, j] * _dot(s_hist[:, j], q)
        q -= alpha[:, j, None] * y_hist[:, j]
    yy = _dot(y_hist[:, -1], y_hist[:, -1])
    have = rho_hist[:, -1] > 0
    gamma = np.where(have, 1.0 / np.maximum(rho_hist[:, -1] * yy, 1e-300), 1.0)
    q *= gamma[:, None]
    for j in range(m):
        beta = rho_hist[:, j] * _dot(y_hist[:, j], q)
        q += (alpha[:, j] - beta)[:, None] * s_hist[:, j]
    return q


def lbfgs_batched(
    fun: BatchObjective,
    x0: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    *,
    memory: int = 10,
    maxiter: int = 300,
    ftol: float = 1e-10,
    gtol: float = 1e-10,
    stall: tuple[int, float] = (25, 1e-8),
    max_backtrack: int = 40,
    callback: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Minimise S independent problems at once with a row-wise L-BFGS.

    Each row keeps its own curvature memory and does its own Armijo
    backtracking (sufficient decrease ``f(x + t d) <= f(x) + 1e-4 g.(x_t - x)``
    along the projected path). A row stops when its projected gradient is below
    ``gtol`` (max norm), when an accepted step lowers f by at most
    ``ftol * |f|``, when ``stall = (k, tol)`` iterations in a row lowered f
    by at most ``tol * |f|`` altogether (a row creeping along a flat valley,
    typically towards a parameter at infinity), or after ``maxiter`` iterations.

    Parameters
    ----------
    fun
        ``fun(theta, rows, grad)`` returning values ``(m,)`` and gradients ``(m, p)``.
    x0
        ``(S, p)`` starting points.
    lower, upper
        ``(p,)`` box bounds (``-inf`` / ``inf`` for none); equal bounds fix a coordinate.
    callback
        Called as ``callback(n_done, S)`` after every iteration.
    """
    x = np.array(x0, dtype=float, copy=True)
    S, p = x.shape
    lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, float)
    hi = np.full(p, np.inf) if upper is None else np.asarray(upper, float)
    x = np.clip(x, lo, hi)
    rows = np.arange(S)
    f, g = fun(x, rows, True)
    assert g is not None  # a BatchObjective returns the gradient when asked
    status = np.where(np.isfinite(f), RUNNING, NONFINITE)
    nit = np.zeros(S, dtype=int)
    s_hist = np.zeros((S, memory, p))
    y_hist = np.zeros((S, memory, p))
    rho_hist = np.zeros((S, memory))
    checkpoint = f.copy()
    window, stall_tol = stall

    def projected(xa, ga):
        pg = ga.copy()
        pg[(xa <= lo) & (ga > 0)] = 0.0
        pg[(xa >= hi) & (ga < 0)] = 0.0
        return pg

    for it in range(maxiter):
        ia = np.flatnonzero(status == RUNNING)
        if ia.size == 0:
            break
        xa, fa, ga = x[ia], f[ia], g[ia]
        pg = projected(xa, ga)
        small = np.max(np.abs(pg), axis=1) <= gtol
        if small.any():
            status[ia[small]] = CONVERGED
            ia, xa, fa, ga, pg = ia[~small], xa[~small], fa[~small], ga[~small], pg[~small]
            if ia.size == 0:
                break
        # Direction from the projected gradient, then kept off the active bounds.
        d = _two_loop(pg, s_hist[ia], y_hist[ia], rho_hist[ia])
        d[((xa <= lo) & (d < 0)) | ((xa >= hi) & (d > 0))] = 0.0
        fresh = rho_hist[ia, -1] == 0
        uphill = ~(_dot(ga, d) < 0) | fresh
        if uphill.any():  # no usable memory: a unit-length projected steepest-descent step
            norm = np.maximum(np.linalg.norm(pg[uphill], axis=1), 1e-300)
            d[uphill] = -pg[uphill] / norm[:, None]
            rho_hist[ia[uphill]] = 0.0

        t = np.ones(ia.size)
        xt = np.clip(xa + d, lo, hi)
        ft, gt = fun(xt, ia, True)
        assert gt is not None
        ok = ft <= fa + 1e-4 * _dot(ga, xt - xa)
        pend = np.flatnonzero(~ok)
        late = []
        for _ in range(max_backtrack):
            if pend.size == 0:
                break
            # minimiser of the quadratic through f(0), f'(0) and f(t), kept in [t/10, t/2]
            slope = _dot(ga[pend], d[pend])
            curv = ft[pend] - fa[pend] - slope * t[pend]
            with np.errstate(all="ignore"):
                t_q = -slope * t[pend] ** 2 / (2 * curv)
            t_q = np.where(np.isfinite(t_q), t_q, 0.5 * t[pend])
            t[pend] = np.clip(t_q, 0.1 * t[pend], 0.5 * t[pend])
            xt[pend] = np.clip(xa[pend] + t[pend, None] * d[pend], lo, hi)
            ft[pend], _unused = fun(xt[pend], ia[pend], False)
            okp = ft[pend] <= fa[pend] + 1e-4 * _dot(ga[pend], xt[pend] - xa[pend])
            late.append(pend[okp])
            pend = pend[~okp]
        if late:
            acc_late = np.concatenate(late)
            if acc_late.size:
                ft[acc_late], gt[acc_late] = fun(xt[acc_late], ia[acc_late], True)
        failed = np.zeros(ia.size, dtype=bool)
        failed[pend] = True
        # A stalled line search: retry once from steepest descent, else stop the row.
        retry = failed & ~fresh
        rho_hist[ia[retry]] = 0.0
        status[ia[failed & fresh]] = LINESEARCH

        acc = np.flatnonzero(~failed)
        ja = ia[acc]
        s = xt[acc] - xa[acc]
        y = gt[acc] - ga[acc]
        sy = _dot(s, y)
        upd = sy > 1e-12 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1)
        ju = ja[upd]
        s_hist[ju] = np.concatenate([s_hist[ju, 1:], s[upd, None]], axis=1)
        y_hist[ju] = np.concatenate([y_hist[ju, 1:], y[upd, None]], axis=1)
        rho_hist[ju] = np.concatenate([rho_hist[ju, 1:], (1.0 / sy[upd])[:, None]], axis=1)
        decrease = fa[acc] - ft[acc]
        # a step cut short by a bound changes the active set: never a reason to stop
        clipped = np.any(xt[acc] != xa[acc] + t[acc, None] * d[acc], axis=1)
        x[ja], f[ja], g[ja] = xt[acc], ft[acc], gt[acc]
        nit[ja] += 1
        tiny = (decrease <= ftol * np.maximum(np.abs(fa[acc]), 1e-300)) & ~clipped
        status[ja[tiny]] = CONVERGED
        if (it + 1) % window == 0:
            run = np.flatnonzero(status == RUNNING)
            flat = checkpoint[run] - f[run] <= stall_tol * np.abs(f[run])
            status[run[flat]] = CONVERGED
            checkpoint[run] = f[run]
        if callback is not None:
            callback(int(np.sum(status != RUNNING)), S)
    status[status == RUNNING] = MAXITER
    return BatchResult(x, f, nit, status)


# --------------------------------------------------------------------------- parallel driver

_TASKS: dict[int, tuple] = {}


def _solve_chunk(key: int, j: int, rows: np.ndarray) -> BatchResult:
    fun, x0, lower, upper, options, counters = _TASKS[key]

    def sub(theta, idx, grad):
        return fun(theta, rows[idx], grad)

    def tick(done: int, total: int) -> None:
        counters[j] = done

    return _solve(fun, sub, x0[rows], rows, lower, upper, tick, options)


def _solve(fun, sub, x0, rows, lower, upper, callback, options) -> BatchResult:
    """L-BFGS on every row, then Gauss-Newton on the rows it left at maxiter."""
    res = lbfgs_batched(sub, x0, lower, upper, callback=callback, **options)
    slow = np.flatnonzero(res.status == MAXITER)
    if slow.size and hasattr(fun, "system"):
        gn = gauss_newton_batched(
            fun, res.x[slow], lower, upper, rows[slow], maxiter=options.get("maxiter", 300)
        )
        better = gn.fun <= res.fun[slow]
        idx = slow[better]
        res.x[idx], res.fun[idx] = gn.x[better], gn.fun[better]
        res.nit[idx] += gn.nit[better]
        res.status[idx] = gn.status[better]
    return res


def _worker_init() -> None:
    """Keep block temporaries on the heap in worker processes (glibc only).

    With glibc's default 128 KiB mmap threshold every temporary of an
    objective block is a fresh mmap, and a forked worker spends more time in
    page faults than in arithmetic (measured: 2M faults and 4 s of system time
    for the Chinchilla grid). Raising the mmap and trim thresholds in the
    workers (processes this module owns) removes that.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def default_jobs() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def minimize_many(
    fun: BatchObjective,
    x0: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    *,
    n_jobs: int | None = None,
    min_chunk: int = 200,
    progress: Callable[[int], None] | None = None,
    **options,
) -> BatchResult:
    """:func:`lbfgs_batched` over many problems, split across worker processes.

    Rows are dealt round-robin into one chunk per job (so hard and easy starts
    mix) of at least ``min_chunk`` rows; with one job, too few rows or no
    ``fork``, everything runs in this process. ``progress(n_done)`` reports the
    number of finished rows as it grows.
    """
    x0 = np.asarray(x0, dtype=float)
    S, p = x0.shape
    jobs = default_jobs() if n_jobs is None else max(1, int(n_jobs))
    n_chunks = min(jobs, S // min_chunk)
    if n_chunks < 2 or "fork" not in multiprocessing.get_all_start_methods():
        cb = (lambda done, total: progress(done)) if progress is not None else None
        return _solve(fun, fun, x0, np.arange(S), lower, upper, cb, options)
    ctx = multiprocessing.get_context("fork")
    counters = ctx.Array("l", n_chunks, lock=False)
    key = id(x0)
    # Workers are forked after this point and inherit the task, so nothing
    # (not even a closure or a lambda form) has to be pickled.
    _TASKS[key] = (fun, x0, lower, upper, options, counters)
    parts: list[tuple[np.ndarray, BatchResult]] = []
    try:
        chunks = [np.arange(j, S, n_chunks) for j in range(n_chunks)]
        with ProcessPoolExecutor(
            max_workers=n_chunks, mp_context=ctx, initializer=_worker_init
        ) as pool:
            futures = {
                pool.submit(_solve_chunk, key, j, rows): rows for j, rows in enumerate(chunks)
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for fut in done:
                    parts.append((futures[fut], fut.result()))
                if progress is not None:
                    progress(int(sum(counters)))
    finally:
        _TASKS.pop(key, None)
    return BatchResult.concat(parts, S, p)


def polish(
    fun: BatchObjective,
    x0: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Refine one point with SciPy's L-BFGS-B (tight tolerances, analytic gradient)."""
    from scipy.optimize import minimize

    row = np.zeros(1, dtype=int)

    def single(theta: np.ndarray):
        f, g = fun(theta[None, :], row, True)
        assert g is not None
        return float(f[0]), g[0]

    p = x0.size
    bounds = None
    if lower is not None or upper is not None:
        lo = np.full(p, -np.inf) if lower is None else lower
        hi = np.full(p, np.inf) if upper is None else upper
        bounds = [
            (None if not np.isfinite(a) else a, None if not np.isfinite(b) else b)
            for a, b in zip(lo, hi, strict=True)
        ]
    res = minimize(
        single,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 20000, "maxcor": 20},
    )
    f0 = single(x0)[0]
    if not np.isfinite(res.fun) or res.fun > f0:
        return np.asarray(x0, float), f0
    return np.asarray(res.x, float), float(res.fun)
