"""Scaling-law forms: :class:`Param`, :class:`Form`, shared helpers and forms from callables.

The conventions (log predictions, internal coordinates, shapes) are those of
:mod:`scalinglab.fit.forms`, which also holds the catalogue.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

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
