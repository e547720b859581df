"""Power-law fits of a loss curve L(P), with and without an offset, with bootstrap intervals.

Forms (P in tokens, L in nats per token):

- ``no_offset``:   L = A (P / P0)^(-alpha)
- ``with_offset``: L = E + A (P / P0)^(-alpha),   0 <= E < min L

P0 is the geometric mean of the fitted P (it only conditions A). Both fits
minimise the squared residuals of log L (relative errors, as in log-log
plots) with ``scipy.optimize.least_squares``; the standard errors come from
the Jacobian, s^2 (J^T J)^-1 with s^2 = SSR / (n - k), and the 95% interval
from a case bootstrap over the (P, L) points (percentile method).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError

FORMS = {"no_offset": "L = A (P/P0)^-alpha", "with_offset": "L = E + A (P/P0)^-alpha"}
# The fits keep |alpha| within this bound (a fit that reaches it is not determined).
ALPHA_LIMIT = 10.0


@dataclass
class PowerLawFit:
    """Result of one power-law fit of L(P).

    Attributes
    ----------
    form : str
        ``no_offset`` or ``with_offset``.
    alpha, alpha_stderr : float
        Exponent and its asymptotic standard error.
    alpha_ci95 : list of float
        Bootstrap 95% percentile interval of alpha.
    A, E : float
        Amplitude at P = P0 and offset (0 for ``no_offset``), nats.
    P0 : float
        Reference P (geometric mean of the fitted points).
    window : list of int
        Smallest and largest fitted P.
    n_points : int
        Points fitted.
    rms_log_residual : float
        Root-mean-square residual of log L.
    n_boot : int
        Bootstrap resamples that gave a fit.
    """

    form: str
    alpha: float
    alpha_stderr: float
    alpha_ci95: list[float]
    A: float
    E: float
    P0: float
    window: list[int]
    n_points: int
    rms_log_residual: float
    n_boot: int
    equation: str = field(init=False)

    def __post_init__(self) -> None:
        self.equation = FORMS[self.form]

    def predict(self, P: np.ndarray | float) -> np.ndarray:
        """Fitted loss at ``P`` (nats)."""
        return self.E + self.A * (np.asarray(P, dtype=float) / self.P0) ** (-self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _model(theta: np.ndarray, x: np.ndarray, offset: bool) -> np.ndarray:
    """log L at x = log(P / P0); theta = (log A, alpha[, E])."""
    power = theta[0] - theta[1] * x
    if not offset:
        return power
    return np.logaddexp(np.log(max(theta[2], 1e-300)), power)


def _jacobian(theta: np.ndarray, x: np.ndarray, offset: bool) -> np.ndarray:
    """d log L / d theta: with u = A (P/P0)^-alpha and D = E + u, (u/D, -x u/D, 1/D)."""
    if not offset:
        return np.column_stack([np.ones_like(x), -x])
    u = np.exp(theta[0] - theta[1] * x)
    d = theta[2] + u
    return np.column_stack([u / d, -x * u / d, 1.0 / d])


def _solve(x: np.ndarray, y: np.ndarray, offset: bool, starts: list[np.ndarray]):
    from scipy.optimize import least_squares

    lo = np.array([-np.inf, -ALPHA_LIMIT] + ([0.0] if offset else []))
    hi = np.array([np.inf, ALPHA_LIMIT] + ([float(np.exp(y.min())) * (1 - 1e-9)] if offset else []))
    best = None
    for start in starts:
        start = np.clip(start, lo + 1e-12, hi - 1e-12)
        try:
            res = least_squares(
                lambda t: _model(t, x, offset) - y,
                start,
                jac=lambda t: _jacobian(t, x, offset),
                bounds=(lo, hi),
                method="trf",
                x_scale="jac",
            )
        except ValueError:
            continue
        if np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
            best = res
    return best


def _ols_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of the rows of y on the rows of x (closed form, vectorised)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=1) / (xc * xc).sum(axis=1)


def _starts(x: np.ndarray, y: np.ndarray, offset: bool) -> list[np.ndarray]:
    slope, icpt = np.polyfit(x, y, 1)
    if not offset:
        return [np.array([icpt, -slope])]
    lmin = float(np.exp(y.min()))
    out = []
    for frac in (0.0, 0.5, 0.9):
        E = frac * lmin
        z = np.log(np.exp(y) - E)
        s, c = np.polyfit(x, z, 1)
        out.append(np.array([c, max(-s, 1e-3), E]))
    return out


def fit_power_law(
    P: np.ndarray,
    loss: np.ndarray,
    offset: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> PowerLawFit:
    """Fit L(P) with a power law, optionally plus a constant, and bootstrap alpha.

    Parameters
    ----------
    P, loss : array_like
        Training-set sizes (tokens, > 0) and losses (nats, > 0).
    offset : bool
        Fit ``E + A (P/P0)^-alpha`` instead of ``A (P/P0)^-alpha``.
    n_boot : int
        Case-bootstrap resamples for the 95% interval (0: no interval). Resamples
        with fewer distinct P than the form needs are dropped; with only that many
        points (3 without offset, 4 with) no interval is given (NaN).
    seed : int
        Seed of the bootstrap.

    Raises
    ------
    UserError
        Non-finite or non-positive input, or fewer distinct P than the form
        needs (3 without offset, 4 with).
    """
    P = np.asarray(P, dtype=float)
    L = np.asarray(loss, dtype=float)
    if P.shape != L.shape or P.ndim != 1:
        raise UserError("P and loss must be one-dimensional arrays of the same length")
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(L))):
        raise UserError("P and loss must be finite (NaN or inf in the loss curve)")
    if np.any(P <= 0) or np.any(L <= 0):
        raise UserError("P and loss must be positive for a power-law fit")
    if n_boot < 0:
        raise UserError(f"bootstrap resamples must be >= 0, got {n_boot}")
    k = 3 if offset else 2
    if np.unique(P).size < k + 1:
        raise UserError(
            f"a power law{' with offset' if offset else ''} needs at least {k + 1} distinct P, "
            f"got {np.unique(P).size}"
        )
    P0 = float(np.exp(np.log(P).mean()))
    x, y = np.log(P / P0), np.log(L)
    res = _solve(x, y, offset, _starts(x, y, offset))
    if res is None:
        raise UserError("the power-law fit failed to converge")
    n = x.size
    ssr = float(np.sum(res.fun**2))
    dof = n - k
    try:
        cov = np.linalg.pinv(res.jac.T @ res.jac) * (ssr / dof)
        alpha_err = float(math.sqrt(max(cov[1, 1], 0.0)))
    except np.linalg.LinAlgError:
        alpha_err = float("nan")

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n))
    distinct = (np.diff(np.sort(idx, axis=1), axis=1) > 0).sum(axis=1) + 1
    idx = idx[distinct >= k + 1]
    if n < k + 2:
        # With k + 1 points every usable resample is the data set itself: an interval of
        # width zero that would claim a precision the points do not have. None is given.
        idx = idx[:0]
    if not offset:
        # Least squares of log L on log P is linear: every resample in one vectorised step.
        boots = list(-_ols_slopes(x[idx], y[idx]))
    else:
        boots = []
        for row in idx:
            r = _solve(x[row], y[row], offset, [res.x])  # warm start from the full fit
            if r is None:
                r = _solve(x[row], y[row], offset, _starts(x[row], y[row], offset))
            if r is not None:
                boots.append(r.x[1])
    ci = (
        [float(v) for v in np.percentile(boots, [2.5, 97.5])]
        if len(boots) >= 20
        else [float("nan"), float("nan")]
    )
    return PowerLawFit(
        form="with_offset" if offset else "no_offset",
        alpha=float(res.x[1]),
        alpha_stderr=alpha_err,
        alpha_ci95=ci,
        A=float(np.exp(res.x[0])),
        E=float(res.x[2]) if offset else 0.0,
        P0=P0,
        window=[int(P.min()), int(P.max())],
        n_points=int(n),
        rms_log_residual=float(math.sqrt(ssr / n)),
        n_boot=len(boots),
    )
