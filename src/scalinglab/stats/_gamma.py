"""The decay exponent gamma of the conditional entropy: H_n ~ A n^-gamma (or with an offset)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._io import _jsonable
from ..errors import UserError

__all__ = ["GammaFit", "fit_gamma", "parse_window"]


@dataclass
class GammaFit:
    """A fitted decay exponent of the conditional entropy, with its uncertainty.

    ``H_n ~ amplitude * n^(-value)`` (or ``H_n - h_inf ~ amplitude * n^(-value)``)
    over ``window = [n_lo, n_hi]`` (inclusive).

    Attributes
    ----------
    value, stderr : float
        Exponent and its bootstrap standard error.
    ci95 : tuple of float
        2.5% and 97.5% bootstrap percentiles.
    window : tuple of int or None
        Context lengths fitted, inclusive (None when not fitted).
    """

    value: float
    stderr: float
    ci95: tuple[float, float]
    window: tuple[int, int] | None
    n_points: int
    amplitude: float
    method: str
    n_boot: int
    residual_rms: float
    h_inf: float | None = None
    h_inf_stderr: float | None = None
    h_inf_ci95: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (NaN as None)."""
        d: dict[str, Any] = {
            "value": self.value,
            "stderr": self.stderr,
            "ci95": list(self.ci95),
            "window": list(self.window) if self.window is not None else None,
            "n_points": self.n_points,
            "amplitude": self.amplitude,
            "method": self.method,
            "n_boot": self.n_boot,
            "residual_rms": self.residual_rms,
        }
        if self.h_inf is not None:
            d["h_inf"] = {
                "value": self.h_inf,
                "stderr": self.h_inf_stderr,
                "ci95": list(self.h_inf_ci95) if self.h_inf_ci95 else None,
            }
        return _jsonable(d)

    @classmethod
    def missing(cls, reason: str) -> GammaFit:
        """A placeholder when no fit is possible: numbers NaN (null in JSON), no window."""
        nan = float("nan")
        return cls(nan, nan, (nan, nan), None, 0, nan, f"not fitted: {reason}", 0, nan)


def parse_window(text: str | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    """Parse ``"lo,hi"`` (or a pair) into an inclusive window of context lengths."""
    if text is None:
        return None
    parts: list[str | int]
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace(":", ",").split(",") if p.strip()]
    else:
        parts = list(text)
    try:
        lo, hi = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise UserError(f"window must be two integers 'lo,hi', got {text!r}") from None
    if lo < 1 or hi <= lo:
        raise UserError(f"window must satisfy 1 <= lo < hi, got {lo},{hi}")
    return lo, hi


def _power_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``log y = a - gamma log x`` for every row of ``y``; returns (gamma, a)."""
    lx = np.log(x)
    X = np.column_stack([np.ones_like(lx), -lx])
    coef = np.linalg.lstsq(X, np.log(y).T, rcond=None)[0]
    return coef[1], coef[0]


def _offset_fit(
    x: np.ndarray, y: np.ndarray, start: tuple[float, float] | None = None
) -> tuple[float, float, float, np.ndarray]:
    """Fit ``log y = log(h_inf + A x^-gamma)``; returns (gamma, A, h_inf, residuals).

    ``start`` is an initial (gamma, h_inf).
    """
    from scipy.optimize import least_squares

    ymin = float(y.min())
    g0, _ = _power_fit(x, y)
    p0 = start or (float(np.clip(g0, 0.05, 5.0)), 0.5 * ymin)
    x0 = np.array([p0[0], math.log(max(ymin - p0[1], 1e-6) * x.min() ** p0[0]), p0[1]])

    def resid(p):
        g, la, hinf = p
        return np.log(hinf + np.exp(la) * x ** (-g)) - np.log(y)

    hi_inf = ymin * (1 - 1e-9)
    x0[2] = min(max(x0[2], 0.0), hi_inf * 0.999)
    r = least_squares(resid, x0, bounds=([1e-4, -50.0, 0.0], [20.0, 50.0, hi_inf]))
    g, la, hinf = r.x
    return float(g), float(math.exp(la)), float(hinf), r.fun


def fit_gamma(
    n: np.ndarray,
    h: np.ndarray,
    sigma: np.ndarray | None = None,
    *,
    window: tuple[int, int],
    offset: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> GammaFit:
    """Fit ``H_n ~ A n^(-gamma)`` (or ``H_n - H_inf ~ A n^(-gamma)``) over a window.

    Parameters
    ----------
    n, h : array
        Context lengths and conditional entropies (nats).
    sigma : array, optional
        One-standard-deviation uncertainty of each ``h`` (nats).
    window : (int, int)
        Inclusive range of ``n`` to fit; ``n >= 1``.
    offset : bool
        Fit ``H_inf`` too (needs 4 points or more).
    n_boot : int
        Bootstrap replicates.

    Returns
    -------
    GammaFit

    Notes
    -----
    The value is the least-squares fit of ``log H_n = log A - gamma log n`` (the
    published procedure), or of ``log H_n = log(H_inf + A n^-gamma)``. Each
    bootstrap replicate refits ``log H*_n = fit_n + e*_n + d_n``, with ``e*``
    drawn with replacement from the residuals (scaled by ``sqrt(k / (k - p))``
    for ``k`` points and ``p`` parameters: lack of fit) and ``d_n ~ N(0,
    sigma_n / H_n)`` (uncertainty of each point). The standard error is the
    standard deviation of the replicates, the interval their 2.5 and 97.5
    percentiles.
    """
    n = np.asarray(n, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    lo, hi = int(window[0]), int(window[1])
    sel = (n >= lo) & (n <= hi) & np.isfinite(h)
    x, y = n[sel], h[sel]
    if np.any(x < 1):
        raise UserError("the gamma window must start at n >= 1 (log n)")
    need = 4 if offset else 2
    if x.size < need:
        raise UserError(
            f"gamma fit over n = {lo}..{hi} has {x.size} usable points; it needs {need}"
        )
    if np.any(y <= 0):
        raise UserError(f"gamma fit needs positive entropies; n = {lo}..{hi} has H_n <= 0")
    s = np.zeros_like(y) if sigma is None else np.nan_to_num(np.asarray(sigma, float)[sel])
    rng = np.random.default_rng(seed)
    k = x.size
    h_inf: float | None
    if not offset:
        g_fit, a = _power_fit(x, y)
        g = float(g_fit)
        fitted = a - g * np.log(x)
        res = np.log(y) - fitted
        p = 2
    else:
        g, amp, hinf, res = _offset_fit(x, y)
        fitted = np.log(y) + res
        res = -res
        p = 3
    scale = math.sqrt(k / (k - p)) if k > p else 0.0
    draws = rng.integers(0, k, size=(n_boot, k))
    ystar = fitted[None, :] + scale * (res - res.mean())[draws]
    ystar = ystar + rng.standard_normal((n_boot, k)) * (s / y)[None, :]
    if not offset:
        gb, _ = _power_fit(x, np.exp(ystar))
        hb = None
        method = "log-log least squares of H_n = A n^-gamma"
        h_inf = None
        amp = float(math.exp(a))
    else:
        refits = [_offset_fit(x, np.exp(row), start=(g, hinf)) for row in ystar]
        gb = np.array([r[0] for r in refits])
        hb = np.array([r[2] for r in refits])
        method = "least squares of log H_n = log(H_inf + A n^-gamma)"
        h_inf = hinf
    q = np.percentile(gb, [2.5, 97.5])
    fit = GammaFit(
        value=float(g),
        stderr=float(np.std(gb, ddof=1)),
        ci95=(float(q[0]), float(q[1])),
        window=(lo, hi),
        n_points=k,
        amplitude=float(amp),
        method=method,
        n_boot=int(n_boot),
        residual_rms=float(np.sqrt(np.mean(res**2))),
    )
    if hb is not None:
        assert h_inf is not None  # both come from the offset fit
        qh = np.percentile(hb, [2.5, 97.5])
        fit.h_inf = float(h_inf)
        fit.h_inf_stderr = float(np.std(hb, ddof=1))
        fit.h_inf_ci95 = (float(qh[0]), float(qh[1]))
    return fit
