"""The decay exponent gamma of the conditional entropy: H_n ~ A n^-gamma (or with an offset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._io import _jsonable
from ..errors import UserError
from ..fit.powerlaw import fit_power_law, relabel

#: Bounds of gamma in the offset form.
GAMMA_BOUNDS = (1e-4, 20.0)

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
    warnings: list[str] = field(default_factory=list)

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
        if self.warnings:
            d["warnings"] = list(self.warnings)
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
    published procedure), or of ``log H_n = log(H_inf + A n^-gamma)`` (``0 <=
    H_inf < min H_n``, ``gamma`` in :data:`GAMMA_BOUNDS`), both by
    :func:`scalinglab.fit.powerlaw.fit_power_law` (unweighted). Each
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
    sig = None if sigma is None else np.asarray(sigma, float)[sel]
    fit = fit_power_law(
        x,
        y,
        sig,
        offset=offset,
        weight=False,
        exponent_bounds=GAMMA_BOUNDS,
        bootstrap="residual+noise",
        n_boot=n_boot,
        seed=seed,
    )
    method = (
        "least squares of log H_n = log(H_inf + A n^-gamma)"
        if offset
        else "log-log least squares of H_n = A n^-gamma"
    )
    nan = float("nan")
    out = GammaFit(
        value=fit.exponent,
        stderr=_or_nan(fit.stderr()),
        ci95=fit.ci() or (nan, nan),
        window=(lo, hi),
        n_points=fit.n_points,
        amplitude=fit.amplitude,
        method=method,
        n_boot=int(n_boot),
        residual_rms=fit.rms_log_residual,
        warnings=relabel(fit.warnings, "gamma"),
    )
    if offset:
        out.h_inf = fit.offset
        out.h_inf_stderr = _or_nan(fit.stderr("offset"))
        out.h_inf_ci95 = fit.ci("offset")
    return out


def _or_nan(v: float | None) -> float:
    return float("nan") if v is None else v
