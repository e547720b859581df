"""Scaling-law forms: the functions a fit can use, with analytic Jacobians.

Every form predicts the *natural log* of the target (the loss) because every
objective in :mod:`scalinglab.fit` is built on log residuals
``r_i = log y_i - log f(x_i; theta)``. Positive scale parameters (A, B, E,
d_i, ...) are optimised as their logarithms, which keeps them positive without
bounds and makes the problem far better conditioned; exponents are optimised
as they are. ``theta`` below always means these *internal* coordinates and
``values`` the natural ones reported to the user.

Shapes: ``theta`` is ``(S, p)`` for S problems solved at once (starts,
bootstrap resamples), ``log_X`` is ``(k, n)`` (logs of k input columns at n
points); predictions are ``(S, n)`` and Jacobians ``(S, p, n)`` with
``J[s, j, i] = d log f(x_i) / d theta_sj`` (parameter-major, so that each
column is contiguous).

Built-in forms (``get_form(name)``):

==================  ==========================================================
``power_law``        L = A x^-alpha
``power_law_offset`` L = E + A x^-alpha
``chinchilla``       L = E + A N^-alpha + B D^-beta   (Hoffmann et al. 2022)
``kaplan``           L = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D
``dynamical``        L = L_inf + C_t t^-alpha_t + C_N N^-alpha_N
``bnsl``, ``bnsl2``, ``bnsl3``
                     y = a + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)
                     with 1, 2 or 3 breaks (Caballero et al. 2022)
==================  ==========================================================
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypedDict

import numpy as np

from ..errors import UserError

LogPredict = Callable[[np.ndarray, np.ndarray, bool], tuple[np.ndarray, np.ndarray | None]]
StartFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Param:
    """One parameter of a form.

    Attributes
    ----------
    name
        Name reported in ``fit.json``.
    log
        Optimise ``log(value)`` instead of ``value`` (the value must be > 0).
    bounds
        ``(lo, hi)`` in natural units; infinite by default.
    exponent
        Whether this parameter is an exponent (profiled by ``profile=True``).
    """

    name: str
    log: bool = False
    bounds: tuple[float, float] = (-np.inf, np.inf)
    exponent: bool = False


@dataclass(frozen=True)
class Form:
    """A scaling-law form ``y = f(x; params)`` with its log-prediction and Jacobian.

    Attributes
    ----------
    name, formula
        Identifier and human-readable formula.
    inputs
        Names of the input variables, in the order of the columns of ``X``.
    params
        The parameters, in the order of the columns of ``theta``.
    log_predict
        ``log_predict(theta, log_X, grad) -> (log f (S, n), d log f / d theta (S, p, n) or None)``
        where ``log_X`` is ``(k, n)``: the natural logs of the inputs.
    start_grid
        ``start_grid(log_X, logy) -> (G, p)`` internal starting points derived from the data.
    refine
        How many of the best grid points the local optimiser refines (``None``: all).
    canonical
        ``canonical(theta (S, p)) -> theta`` maps internal points to one
        representative of the points that give the same curve (the BNSL is
        unchanged when its breaks are permuted; they are reported sorted by
        ``d_i``), so that reported optima and bootstrap samples do not switch
        labels. ``None``: every point is its own representative.
    """

    name: str
    formula: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    log_predict: LogPredict = field(repr=False, compare=False)
    start_grid: StartFn = field(repr=False, compare=False)
    refine: int | None = None
    canonical: Callable[[np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    def canonicalize(self, theta: np.ndarray) -> np.ndarray:
        """Internal points (S, p) in canonical order (see ``canonical``)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        return theta if self.canonical is None else self.canonical(theta)

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def _log_mask(self) -> np.ndarray:
        return np.array([p.log for p in self.params])

    def to_internal(self, values: np.ndarray) -> np.ndarray:
        """Natural parameter values (..., p) -> internal coordinates."""
        values = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._log_mask, np.log(values), values)

    def to_natural(self, theta: np.ndarray) -> np.ndarray:
        """Internal coordinates (..., p) -> natural parameter values."""
        theta = np.asarray(theta, dtype=float)
        with np.errstate(over="ignore"):
            return np.where(self._log_mask, np.exp(theta), theta)

    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in internal coordinates."""
        lo = np.array([p.bounds[0] for p in self.params], dtype=float)
        hi = np.array([p.bounds[1] for p in self.params], dtype=float)
        with np.errstate(divide="ignore"):
            lo = np.where(self._log_mask, np.log(np.maximum(lo, 0.0)), lo)
            hi = np.where(self._log_mask, np.log(np.maximum(hi, 0.0)), hi)
        return lo, hi

    def predict(self, values: Mapping[str, float] | np.ndarray, X: np.ndarray) -> np.ndarray:
        """Evaluate ``f(x; values)`` at inputs ``X`` (k, n); several parameter rows give (S, n)."""
        if isinstance(values, Mapping):
            values = np.array([values[name] for name in self.param_names], dtype=float)
        values = np.atleast_2d(np.asarray(values, dtype=float))
        X = np.atleast_2d(np.asarray(X, dtype=float))
        with np.errstate(all="ignore"):
            pred, _ = self.log_predict(self.to_internal(values), np.log(X), False)
            out = np.exp(pred)
        return out[0] if out.shape[0] == 1 else out

    @classmethod
    def from_callable(
        cls,
        func: Callable[..., np.ndarray],
        bounds: Mapping[str, tuple[float, float]],
        *,
        n_inputs: int = 1,
        log: Sequence[str] | None = None,
        grid: Mapping[str, Sequence[float]] | None = None,
        points_per_param: int = 5,
        max_starts: int = 3000,
        name: str | None = None,
    ) -> Form:
        """Build a form from a Python function ``func(x1, .., xk, p1, .., pm) -> y``.

        The first ``n_inputs`` arguments are the inputs, the rest are parameters.
        ``func`` should broadcast: it is called with inputs of shape ``(n,)`` and
        parameters of shape ``(S, 1)`` and should return ``(S, n)`` (a function
        that does not broadcast is called once per parameter row). Gradients are
        central finite differences in the internal coordinates.

        Parameters
        ----------
        func
            The law; must return positive values where it is defined.
        bounds
            ``{param: (lo, hi)}`` for every parameter, in natural units.
        log
            Parameters optimised on a log scale; by default those whose bounds
            are positive and span more than two decades.
        grid
            Starting values per parameter; by default ``points_per_param`` values
            spread over the bounds (log-spaced for log parameters).
        max_starts
            Cap on the number of grid points (a seeded subsample beyond it).

        Examples
        --------
        >>> def law(x, E, A, alpha):
        ...     return E + A * x**-alpha
        >>> form = Form.from_callable(law, {"E": (1e-3, 10), "A": (1e-3, 1e4), "alpha": (0, 2)})
        >>> form.param_names
        ['E', 'A', 'alpha']
        """
        try:
            sig_params = list(inspect.signature(func).parameters)
        except (TypeError, ValueError) as e:
            raise UserError(f"cannot read the parameters of {func!r}: {e}") from e
        if len(sig_params) <= n_inputs:
            raise UserError(f"{func!r} must take {n_inputs} input(s) followed by parameters")
        inputs, names = tuple(sig_params[:n_inputs]), sig_params[n_inputs:]
        missing = [n for n in names if n not in bounds and not (grid and n in grid)]
        if missing:
            raise UserError(f"give bounds (or a start grid) for parameter(s): {', '.join(missing)}")
        params = []
        for n in names:
            lo, hi = (float(b) for b in bounds.get(n, (-np.inf, np.inf)))
            if not lo < hi:
                raise UserError(f"bounds for {n!r} must satisfy lo < hi, got ({lo}, {hi})")
            is_log = (
                (n in log) if log is not None else (lo > 0 and np.isfinite(hi) and hi / lo > 100)
            )
            if is_log and lo < 0:
                raise UserError(
                    f"parameter {n!r} is on a log scale but its bounds include negatives"
                )
            params.append(Param(n, log=is_log, bounds=(lo, hi)))
        form_name: str = name if name else getattr(func, "__name__", "custom")
        params_t = tuple(params)
        return cls(
            name=form_name,
            formula=f"{form_name}({', '.join(sig_params)})",
            inputs=inputs,
            params=params_t,
            log_predict=partial(_callable_log_predict, func, params_t),
            start_grid=partial(
                _callable_grid, params_t, dict(grid or {}), points_per_param, max_starts
            ),
        )


# --------------------------------------------------------------------------- helpers


def _logsumexp(terms: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """log(sum_k exp(t_k)) elementwise and the softmax weights exp(t_k) / sum (stable)."""
    m = terms[0]
    for t in terms[1:]:
        m = np.maximum(m, t)
    m = np.where(np.isfinite(m), m, 0.0)
    ex = [np.exp(t - m) for t in terms]
    total = ex[0]
    for e in ex[1:]:
        total = total + e
    inv = 1.0 / total
    return m + np.log(total), [e * inv for e in ex]


def _col(theta: np.ndarray, j: int) -> np.ndarray:
    return theta[:, j : j + 1]


def _exponent_grid(lx: np.ndarray, n: int = 12) -> np.ndarray:
    """Exponents alpha whose factor (x_max / x_min)^alpha spans 1.02 .. e^8 over the data."""
    span = max(float(np.ptp(lx)), 1e-3)
    return np.geomspace(0.02, 8.0, n) / span


def project_coefficients(log_features: np.ndarray, logy: np.ndarray) -> np.ndarray:
    """Best non-negative coefficients c of y ~ sum_k c_k F_k in relative error, as log c.

    Solves, for every grid point g independently,
    ``min_{c >= 0} sum_i (sum_k c_k F_gik / y_i - 1)^2``
    by enumerating the active sets (exact for the few coefficients a
    scaling law has; every subset is solved as a batched normal-equation
    system). Coefficients that come out zero get a floor 1e-3 times the
    typical size of y over that feature, so that their log is finite.

    Parameters
    ----------
    log_features
        ``(G, n, m)`` logs of the features F_k at each point.
    logy
        ``(n,)`` or ``(G, n)`` log targets.

    Returns
    -------
    ``(G, m)`` log coefficients.
    """
    G, n, m = log_features.shape
    logy = np.broadcast_to(logy, (G, n))
    rel = log_features - logy[:, :, None]
    shift = np.max(rel, axis=1, keepdims=True)  # column scaling keeps exp() in range
    Z = np.exp(rel - shift)  # (G, n, m)
    best_rss = np.full(G, np.inf)
    best = np.zeros((G, m))
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            Zs = Z[:, :, subset]
            A = np.einsum("gni,gnj->gij", Zs, Zs) + 1e-12 * np.eye(size)
            b = Zs.sum(axis=1)
            c = np.linalg.solve(A, b[..., None])[..., 0]
            resid = np.einsum("gni,gi->gn", Zs, c) - 1.0
            rss = np.einsum("gn,gn->g", resid, resid)
            ok = np.all(c > 0, axis=1) & (rss < best_rss)
            best_rss = np.where(ok, rss, best_rss)
            full = np.zeros((G, m))
            full[:, subset] = c
            best = np.where(ok[:, None], full, best)
    floor = np.log(1e-3) - np.median(rel - shift, axis=1)  # term ~ 1e-3 y
    with np.errstate(divide="ignore"):
        logc = np.where(best > 0, np.log(np.maximum(best, 1e-300)), floor)
    return logc - shift[:, 0, :]


# --------------------------------------------------------------------------- forms


def _power_law(theta: np.ndarray, lX: np.ndarray, grad: bool):
    """log f = a - alpha log x  (A = e^a)."""
    lx = lX[0]
    pred = _col(theta, 0) - _col(theta, 1) * lx
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 2, pred.shape[1]))
    J[:, 0] = 1.0
    J[:, 1] = -lx
    return pred, J


def _power_law_grid(lX: np.ndarray, logy: np.ndarray) -> np.ndarray:
    lx = lX[0]
    slope, icpt = np.polyfit(lx, logy, 1) if np.ptp(lx) > 0 else (0.0, float(np.mean(logy)))
    alphas = np.concatenate([[-slope], _exponent_grid(lx, 8)])
    return np.column_stack([np.mean(logy) + alphas * np.mean(lx), alphas])


class _OffsetSpec(TypedDict):
    """Keyword arguments shared by :func:`_offset_sum` and :func:`_offset_grid`."""

    e: int
    pairs: Sequence[tuple[int, int, int]]


def _offset_sum(theta, lX, grad, *, e: int, pairs: Sequence[tuple[int, int, int]]):
    """log f = logsumexp(e, c_j - alpha_j log x_j): E + sum_j C_j x_j^-alpha_j.

    ``pairs`` lists (index of log C_j, index of alpha_j, input column k).
    With softmax weights w_0 (offset) and w_j (terms):
    d log f / d e = w_0,  d/d c_j = w_j,  d/d alpha_j = -w_j log x_k.
    This is the hot loop of the Chinchilla fit, hence the in-place arithmetic.
    """
    S, n = theta.shape[0], lX.shape[1]
    T = np.empty((len(pairs), S, n))
    for j, (c, a, k) in enumerate(pairs):
        np.multiply(theta[:, a : a + 1], lX[k], out=T[j])
        np.subtract(theta[:, c : c + 1], T[j], out=T[j])
    off = theta[:, e : e + 1]
    m = np.maximum(T.max(axis=0), off)
    np.subtract(T, m, out=T)
    np.exp(T, out=T)
    w0 = np.exp(off - m)
    total = T.sum(axis=0)
    total += w0
    pred = np.log(total)
    pred += m
    if not grad:
        return pred, None
    np.reciprocal(total, out=total)
    J = np.empty((S, theta.shape[1], n))
    np.multiply(w0, total, out=J[:, e])
    for j, (c, a, k) in enumerate(pairs):
        np.multiply(T[j], total, out=J[:, c])
        np.multiply(J[:, c], -lX[k], out=J[:, a])
    return pred, J


def _offset_grid(lX, logy, *, e: int, pairs: Sequence[tuple[int, int, int]], p: int, n: int = 12):
    """Exponent grid per term; E and the C_j solved by non-negative least squares."""
    grids = [_exponent_grid(lX[k], n) for _, _, k in pairs]
    alphas = np.array(list(itertools.product(*grids)))  # (G, m)
    G = alphas.shape[0]
    logF = np.zeros((G, lX.shape[1], len(pairs) + 1))
    for j, (_, _, k) in enumerate(pairs):
        logF[:, :, j + 1] = -alphas[:, j : j + 1] * lX[k]
    logc = project_coefficients(logF, logy)
    theta = np.empty((G, p))
    theta[:, e] = logc[:, 0]
    for j, (c, a, _) in enumerate(pairs):
        theta[:, c] = logc[:, j + 1]
        theta[:, a] = alphas[:, j]
    return theta


# Epoch AI's grid for the Chinchilla fit (Besiroglu et al. 2024):
# a, b in {0, 5, .., 25}; e in {-1, -.5, .., 1}; alpha, beta in {0, .5, .., 2}.
_CHINCHILLA_GRID_AXES = {
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
    "e": np.arange(-1.0, 1.5, 0.5),
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
}


def _chinchilla_grid(lX: np.ndarray, logy: np.ndarray) -> np.ndarray:
    ax = _CHINCHILLA_GRID_AXES
    # internal order (a, b, e, alpha, beta) = (log A, log B, log E, alpha, beta)
    return np.array(list(itertools.product(ax["a"], ax["b"], ax["e"], ax["alpha"], ax["beta"])))


def _kaplan(theta, lX, grad):
    """log f = alpha_D logsumexp(u1, u2), u1 = (alpha_N / alpha_D)(n_c - log N), u2 = d_c - log D.

    Internal coordinates (n_c, d_c, log alpha_N, log alpha_D). With
    S = logsumexp and softmax weights w1, w2:
    d/dn_c = alpha_N w1,  d/dd_c = alpha_D w2,
    d/dlog alpha_N = alpha_N w1 (n_c - log N),  d/dlog alpha_D = alpha_D S - alpha_D w1 u1.
    """
    nc, dc = _col(theta, 0), _col(theta, 1)
    aN, aD = np.exp(_col(theta, 2)), np.exp(_col(theta, 3))
    xN = nc - lX[0]
    u1 = (aN / aD) * xN
    u2 = np.broadcast_to(dc - lX[1], u1.shape)
    S, (w1, w2) = _logsumexp([u1, u2])
    pred = aD * S
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 4, pred.shape[1]))
    J[:, 0] = aN * w1
    J[:, 1] = aD * w2
    J[:, 2] = J[:, 0] * xN
    J[:, 3] = aD * (S - w1 * u1)
    return pred, J


def _kaplan_grid(lX, logy, n: int = 10):
    """Grid over (alpha_N, alpha_D); N_c and D_c from L^(1/alpha_D) = c1 N^(-aN/aD) + c2 / D."""
    gN = _exponent_grid(lX[0], n)
    gD = _exponent_grid(lX[1], n)
    aN, aD = (a.ravel() for a in np.meshgrid(gN, gD, indexing="ij"))
    G = aN.size
    logF = np.empty((G, lX.shape[1], 2))
    logF[:, :, 0] = -(aN / aD)[:, None] * lX[0]
    logF[:, :, 1] = -lX[1]
    logc = project_coefficients(logF, logy[None, :] / aD[:, None])
    nc = logc[:, 0] * aD / aN
    dc = logc[:, 1]
    return np.column_stack([nc, dc, np.log(aN), np.log(aD)])


def _bnsl(theta, lX, grad, *, k: int):
    """Broken neural scaling law with k breaks, in log space.

    Internal coordinates (log a, log b, c0, [c_i, log d_i, log f_i] for i = 1..k).
    log y = logsumexp(log a, t),  t = log b - c0 log x - sum_i c_i f_i softplus(z_i),
    z_i = (log x - log d_i) / f_i. With sigma = logistic:
    dt/dc_i = -f_i softplus(z_i),  dt/dlog d_i = c_i sigma(z_i),
    dt/dlog f_i = -c_i f_i (softplus(z_i) - z_i sigma(z_i)).
    """
    lx = lX[0]
    t = _col(theta, 1) - _col(theta, 2) * lx
    parts = []
    for i in range(k):
        j = 3 + 3 * i
        c, ld, f = _col(theta, j), _col(theta, j + 1), np.exp(_col(theta, j + 2))
        z = (lx - ld) / f
        sp = np.logaddexp(0.0, z)
        t = t - c * f * sp
        parts.append((c, f, z, sp))
    la = np.broadcast_to(_col(theta, 0), t.shape)
    pred, (wa, wt) = _logsumexp([la, t])
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 3 + 3 * k, pred.shape[1]))
    J[:, 0] = wa
    J[:, 1] = wt
    J[:, 2] = -wt * lx
    for i, (c, f, z, sp) in enumerate(parts):
        j = 3 + 3 * i
        sig = np.exp(z - sp)  # logistic(z) = e^z / (1 + e^z)
        J[:, j] = -wt * f * sp
        J[:, j + 1] = wt * c * sig
        J[:, j + 2] = -wt * c * f * (sp - z * sig)
    return pred, J


def _bnsl_sort_breaks(theta: np.ndarray, *, k: int) -> np.ndarray:
    """Reorder the break triples (c_i, log d_i, log f_i) of every row by increasing d_i.

    The product over breaks commutes, so this leaves the curve unchanged.
    """
    theta = np.array(theta, dtype=float, copy=True)
    if k < 2:
        return theta
    triples = theta[:, 3:].reshape(theta.shape[0], k, 3)
    order = np.argsort(triples[:, :, 1], axis=1, kind="stable")
    theta[:, 3:] = np.take_along_axis(triples, order[:, :, None], axis=1).reshape(-1, 3 * k)
    return theta


def _bnsl_grid(lX, logy, *, k: int, max_points: int = 20000, seed: int = 0):
    """Coarse BNSL grid with every range taken from the data.

    Breaks d_i: log-spaced over the observed x range (ordered d_1 < .. < d_k);
    sharpness f_i: fractions of the log-x span; slopes c0, c_i: multiples of the
    steepest local log-log slope in the data. a and b enter linearly, so each
    grid point gets the best non-negative (a, b) by least squares in relative
    error (an exact line search over log b instead of a grid over it). Grids
    larger than ``max_points`` are subsampled with a fixed seed.
    """
    lx = lX[0]
    order = np.argsort(lx, kind="stable")
    dlx, dly = np.diff(lx[order]), np.diff(logy[order])
    keep = dlx > 1e-12
    slopes = np.abs(dly[keep] / dlx[keep]) if keep.any() else np.array([1.0])
    s_max = max(float(np.max(slopes)), 1e-3)
    span = max(float(np.ptp(lx)), 1e-3)
    d_axis = np.linspace(lx.min(), lx.max(), 10 if k == 1 else 8)
    f_axis = np.log(span * np.array([0.003, 0.01, 0.03, 0.1, 0.3]))
    c0_axis = s_max * np.array([0.0, 0.05, 0.2, 0.5, 1.0])
    c_axis = s_max * np.array([-1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 2.0])
    d_combos = np.array(list(itertools.combinations(d_axis, k)))
    sizes = [len(c0_axis), len(d_combos)] + [len(c_axis), len(f_axis)] * k
    total = int(np.prod(sizes))
    if total > max_points:
        flat = np.random.default_rng(seed).choice(total, size=max_points, replace=False)
    else:
        flat = np.arange(total)
    idx = np.unravel_index(flat, sizes)
    G = flat.size
    theta = np.empty((G, 3 + 3 * k))
    theta[:, 2] = c0_axis[idx[0]]
    ds = d_combos[idx[1]]
    for i in range(k):
        theta[:, 3 + 3 * i] = c_axis[idx[2 + 2 * i]]
        theta[:, 4 + 3 * i] = ds[:, i]
        theta[:, 5 + 3 * i] = f_axis[idx[3 + 2 * i]]
    # log of the broken power law with b = 1 and a = 0; (a, b) are solved for below
    theta[:, 0] = -np.inf
    theta[:, 1] = 0.0
    log_g, _ = _bnsl(theta, lX, False, k=k)
    logF = np.stack([np.zeros_like(log_g), log_g], axis=-1)
    logc = project_coefficients(logF, logy)
    theta[:, 0:2] = logc
    return theta


# --------------------------------------------------------------------------- callables


def _call_form(func: Callable[..., np.ndarray], X: np.ndarray, values: np.ndarray) -> np.ndarray:
    """func(x1..xk, p1..pm) for every row of ``values``; broadcast if it can, else loop rows."""
    S, n = values.shape[0], X.shape[1]
    cols = [values[:, j : j + 1] for j in range(values.shape[1])]
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(func(*X, *cols), dtype=float)
        if out.shape == (S, n):
            return out
        if out.shape in ((n,), (1, n)) and S == 1:
            return out.reshape(1, n)
    except (TypeError, ValueError):
        pass
    rows = []
    for s in range(S):  # a function that does not broadcast: one call per parameter row
        with np.errstate(all="ignore"):
            rows.append(np.broadcast_to(np.asarray(func(*X, *values[s]), dtype=float), (n,)))
    return np.array(rows)


def _callable_log_predict(func, params: tuple[Param, ...], theta, lX, grad):
    """log func(x; theta) and its Jacobian by central differences in internal coordinates."""
    X = np.exp(lX)
    log_mask = np.array([p.log for p in params])

    def logf(th: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            vals = np.where(log_mask, np.exp(th), th)
            y = _call_form(func, X, vals)
            return np.where(y > 0, np.log(np.where(y > 0, y, 1.0)), np.nan)

    pred = logf(theta)
    if not grad:
        return pred, None
    S, p = theta.shape
    h = np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(theta))  # (S, p)
    J = np.empty((S, p, pred.shape[1]))
    for j in range(p):
        step = np.zeros_like(theta)
        step[:, j] = h[:, j]
        J[:, j] = (logf(theta + step) - logf(theta - step)) / (2 * h[:, j : j + 1])
    return pred, J


def _callable_grid(params, grid, points, max_starts, lX, logy):
    axes = []
    for p in params:
        if p.name in grid:
            ax = np.asarray(grid[p.name], dtype=float)
            axes.append(np.log(ax) if p.log else ax)
            continue
        lo, hi = p.bounds
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise UserError(f"parameter {p.name!r} needs finite bounds or an explicit start grid")
        if p.log:
            axes.append(np.linspace(np.log(lo), np.log(hi), points + 2)[1:-1])
        else:
            axes.append(np.linspace(lo, hi, points + 2)[1:-1])
    sizes = [len(a) for a in axes]
    total = int(np.prod(sizes))
    flat = np.arange(total)
    if total > max_starts:
        flat = np.random.default_rng(0).choice(total, size=max_starts, replace=False)
    idx = np.unravel_index(flat, sizes)
    return np.column_stack([a[i] for a, i in zip(axes, idx, strict=True)])


# --------------------------------------------------------------------------- registry


def _make_power_law() -> Form:
    return Form(
        "power_law",
        "L = A x^-alpha",
        ("x",),
        (Param("A", log=True), Param("alpha", exponent=True)),
        _power_law,
        _power_law_grid,
    )


def _make_power_law_offset() -> Form:
    spec: _OffsetSpec = {"e": 0, "pairs": ((1, 2, 0),)}
    return Form(
        "power_law_offset",
        "L = E + A x^-alpha",
        ("x",),
        (Param("E", log=True), Param("A", log=True), Param("alpha", exponent=True)),
        partial(_offset_sum, **spec),
        partial(_offset_grid, p=3, n=40, **spec),
    )


def _make_chinchilla() -> Form:
    return Form(
        "chinchilla",
        "L = E + A N^-alpha + B D^-beta",
        ("N", "D"),
        (
            Param("A", log=True),
            Param("B", log=True),
            Param("E", log=True),
            Param("alpha", exponent=True),
            Param("beta", exponent=True),
        ),
        partial(_offset_sum, e=2, pairs=((0, 3, 0), (1, 4, 1))),
        _chinchilla_grid,
    )


def _make_dynamical() -> Form:
    spec: _OffsetSpec = {"e": 0, "pairs": ((1, 2, 0), (3, 4, 1))}
    return Form(
        "dynamical",
        "L = L_inf + C_t t^-alpha_t + C_N N^-alpha_N",
        ("t", "N"),
        (
            Param("L_inf", log=True),
            Param("C_t", log=True),
            Param("alpha_t", exponent=True),
            Param("C_N", log=True),
            Param("alpha_N", exponent=True),
        ),
        partial(_offset_sum, **spec),
        partial(_offset_grid, p=5, n=16, **spec),
    )


def _make_kaplan() -> Form:
    return Form(
        "kaplan",
        "L = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D",
        ("N", "D"),
        (
            Param("N_c", log=True),
            Param("D_c", log=True),
            Param("alpha_N", log=True, exponent=True),
            Param("alpha_D", log=True, exponent=True),
        ),
        _kaplan,
        _kaplan_grid,
    )


def _make_bnsl(k: int) -> Form:
    params = [Param("a", log=True), Param("b", log=True), Param("c0", exponent=True)]
    for i in range(1, k + 1):
        params += [
            Param(f"c{i}", exponent=True),
            Param(f"d{i}", log=True),
            Param(f"f{i}", log=True),
        ]
    prod = " ".join(f"(1 + (x/d{i})^(1/f{i}))^(-c{i} f{i})" for i in range(1, k + 1))
    return Form(
        "bnsl" if k == 1 else f"bnsl{k}",
        f"y = a + b x^-c0 {prod}",
        ("x",),
        tuple(params),
        partial(_bnsl, k=k),
        partial(_bnsl_grid, k=k),
        refine=600,
        canonical=partial(_bnsl_sort_breaks, k=k),
    )


_FACTORIES: dict[str, Callable[[], Form]] = {
    "power_law": _make_power_law,
    "power_law_offset": _make_power_law_offset,
    "chinchilla": _make_chinchilla,
    "kaplan": _make_kaplan,
    "dynamical": _make_dynamical,
    "bnsl": partial(_make_bnsl, 1),
    "bnsl2": partial(_make_bnsl, 2),
    "bnsl3": partial(_make_bnsl, 3),
}
_ALIASES = {"offset": "power_law_offset", "bnsl1": "bnsl", "pure_power_law": "power_law"}

#: Names of the built-in forms.
FORMS: tuple[str, ...] = tuple(_FACTORIES)


def get_form(form: str | Form) -> Form:
    """The built-in form called ``form`` (a :class:`Form` passes through)."""
    if isinstance(form, Form):
        return form
    key = _ALIASES.get(str(form).strip().lower(), str(form).strip().lower())
    if key not in _FACTORIES:
        raise UserError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    return _FACTORIES[key]()


def auto_forms(n_inputs: int) -> list[str]:
    """Candidate forms compared by ``form="auto"`` for data with ``n_inputs`` columns."""
    if n_inputs == 1:
        return ["power_law", "power_law_offset", "bnsl", "bnsl2", "bnsl3"]
    if n_inputs == 2:
        return ["chinchilla", "kaplan"]
    raise UserError(f"no built-in form takes {n_inputs} input columns; pass a custom Form")
