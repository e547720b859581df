"""Power-law fits ``y ~ A x^-beta`` on log-log axes with bootstrap errors and break detection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..fit.powerlaw import Bootstrap, relabel
from ..fit.powerlaw import fit_power_law as _fit


@dataclass
class PowerLawFit:
    """``y = A x^-value`` fitted by weighted least squares of ``log y`` on ``log x``.

    Attributes
    ----------
    value : float or None
        The exponent ``beta`` (None when undefined).
    stderr : float or None
        Bootstrap standard error of ``value``.
    ci95 : tuple of float or None
        95% percentile interval of the bootstrap replicates.
    window : tuple or None
        ``(x_lo, x_hi)``, the first and last ``x`` used (inclusive).
    amplitude : float or None
        ``A``.
    n_points : int
        Number of points in the window.
    chi2_dof : float or None
        Residual sum of squares per degree of freedom weighted by the standard
        errors alone (about 1 when the power law and the errors describe the data).
    scatter : float or None
        ``tau``, the scatter of ``log y`` about the power law beyond the standard
        errors (0 when ``chi2_dof <= 1``; None without standard errors).
    stderr_sampling : float or None
        The part of ``stderr`` due to the sampling errors of ``y`` alone.
    fit_stderr : float or None
        The least-squares standard error with the final weights (without ``sigma``:
        the ordinary least-squares error from the residual variance).
    n_boot : int
        Bootstrap replicates used.
    method : str
        How the value and its errors were obtained.
    reason : str or None
        Why the fit is undefined.
    broken : BrokenPowerLaw or None
        Set when the residuals show a break.
    warnings : list of str
        Coded warnings of the fit (``corr-fit-...``).
    """

    value: float | None
    stderr: float | None
    ci95: tuple[float, float] | None
    window: tuple[float, float] | None
    amplitude: float | None = None
    n_points: int = 0
    chi2_dof: float | None = None
    scatter: float | None = None
    stderr_sampling: float | None = None
    fit_stderr: float | None = None
    n_boot: int = 0
    method: str = ""
    reason: str | None = None
    broken: BrokenPowerLaw | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def undefined(cls, reason: str) -> PowerLawFit:
        """A fit that could not be made (``value`` is None, never a number)."""
        return cls(None, None, None, None, reason=reason)

    @property
    def defined(self) -> bool:
        return self.value is not None

    def __call__(self, x: Any) -> np.ndarray:
        """The fitted law ``A x^-value``."""
        if self.value is None or self.amplitude is None:
            raise ValueError("undefined power-law fit")
        return self.amplitude * np.asarray(x, float) ** (-self.value)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form; ``warnings`` only when there are some."""
        win = None
        if self.window is not None:
            win = [_intlike(self.window[0]), _intlike(self.window[1])]
        return {
            "value": self.value,
            "stderr": self.stderr,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "window": win,
            "amplitude": self.amplitude,
            "n_points": self.n_points,
            "chi2_dof": self.chi2_dof,
            "scatter": self.scatter,
            "stderr_sampling": self.stderr_sampling,
            "fit_stderr": self.fit_stderr,
            "n_boot": self.n_boot,
            "method": self.method,
            "reason": self.reason,
            "break": self.broken.to_dict() if self.broken is not None else None,
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }


@dataclass
class BrokenPowerLaw:
    """A break in a power law at ``x = at``: separate fits on each side.

    ``p_value`` tests the continuous two-slope model against one slope (F test,
    Bonferroni-corrected over the candidate breaks); ``delta`` is
    ``beta_right - beta_left`` with its bootstrap standard error.
    """

    at: float
    left: PowerLawFit
    right: PowerLawFit
    p_value: float
    delta: float
    delta_stderr: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": _intlike(self.at),
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
            "p_value": self.p_value,
            "delta": self.delta,
            "delta_stderr": self.delta_stderr,
        }


def _intlike(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def fit_power_law(
    x: Any,
    y: Any,
    sigma: Any = None,
    *,
    window: tuple[float, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    replicates: Any = None,
    detect_break: bool = True,
    min_points: int = 3,
    break_min_side: int = 4,
    break_alpha: float = 0.01,
    break_min_change: float = 0.2,
) -> PowerLawFit:
    """Fit ``y = A x^-beta`` over a window, with bootstrap errors.

    The fit minimises ``sum_i w_i (log y_i - log A + beta log x_i)^2``. With
    standard errors, ``s_i = sigma_i / y_i`` is the error of ``log y_i`` (delta
    method) and ``w_i = 1 / (s_i^2 + tau^2)``: ``tau`` is the scatter of the
    points about the power law beyond their errors, 0 when the weighted
    residuals are consistent with the errors (``chi2_dof <= 1``), else chosen so
    that the weighted residual sum of squares equals its degrees of freedom
    (the Paule-Mandel estimator of a random-effects model). Real correlation
    curves are not exact power laws; without ``tau`` their very precise
    short-lag points would dominate the fit and its error would ignore the
    misfit. Without ``sigma``, ``w_i = 1``.

    Errors come from bootstrap replicates of ``log y``, in order of preference
    ``replicates`` (an ``n_boot x len(x)`` array of replicates of ``y``, e.g. a
    block bootstrap shared by every ``x`` so that correlations between points
    are kept), else a parametric bootstrap ``log y* = log y + s e`` with
    ``e ~ N(0, 1)``, else a residual bootstrap (centred residuals scaled by
    ``sqrt(k / (k - 2))``); with ``tau > 0`` every replicate also gets
    independent scatter ``tau e``. Each replicate is refitted with the same
    weights; ``stderr`` is the standard deviation of the refitted exponents and
    ``ci95`` their 2.5 and 97.5 percentiles. The fit and the bootstrap are
    :func:`scalinglab.fit.powerlaw.fit_power_law` (``scatter=True``).

    With ``detect_break`` a continuous two-slope model (a hinge at one of the
    interior points, at least ``break_min_side`` points on each side) is
    compared with the single power law by an F test. A break is reported when
    the Bonferroni-corrected p-value is below ``break_alpha`` and the two
    exponents differ by more than three bootstrap standard errors and by more
    than ``break_min_change`` relative to the larger one.

    Parameters
    ----------
    x, y : array_like
        Positive abscissae (e.g. lags) and values (e.g. norms).
    sigma : array_like, optional
        Standard errors of ``y``.
    window : (lo, hi), optional
        Inclusive range of ``x`` to fit (default: all points).
    n_boot : int
        Parametric/residual replicates when no ``replicates`` are given.
    seed : int
        Seed of the parametric/residual bootstrap.

    Returns
    -------
    PowerLawFit

    Raises
    ------
    UserError
        When fewer than ``min_points`` usable points lie in the window, or the
        input holds NaN or non-positive ``x``.
    """
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise UserError("x and y must have the same length")
    if np.isnan(x).any() or (x <= 0).any():
        raise UserError("power-law fit: x must be positive numbers")
    sig = None if sigma is None else np.asarray(sigma, float).ravel()
    if sig is not None and sig.shape != x.shape:
        raise UserError("sigma must have the same length as x")
    mask = np.isfinite(y) & (y > 0)
    if window is not None:
        lo, hi = window
        if lo > hi:
            raise UserError(f"bad window {lo}..{hi}")
        mask &= (x >= lo) & (x <= hi)
    idx = np.flatnonzero(mask)
    if idx.size < min_points:
        where = f" in the window {window[0]}..{window[1]}" if window is not None else ""
        raise UserError(
            f"a power-law fit needs at least {min_points} positive points{where}, got {idx.size}"
        )
    if np.ptp(x[idx]) == 0:
        raise UserError("a power-law fit needs at least two distinct x values")
    reps = None
    if replicates is not None:
        reps = np.asarray(replicates, float)
        if reps.ndim != 2 or reps.shape[1] <= idx.max():
            raise UserError("replicates must be an (n_boot, len(x)) array")
        reps = reps[:, idx]
    mode: Bootstrap = "noise" if sig is not None else "residual"
    if reps is not None:
        mode = "replicates"
    pl = _fit(
        x[idx],
        y[idx],
        None if sig is None else sig[idx],
        scatter=sig is not None,
        bootstrap=mode,
        n_boot=n_boot,
        seed=seed,
        replicates=reps,
    )
    ci = pl.ci()
    fit = PowerLawFit(
        value=pl.exponent,
        stderr=pl.stderr(),
        ci95=ci,
        window=pl.window,
        amplitude=pl.amplitude,
        n_points=pl.n_points,
        chi2_dof=pl.chi2_dof,
        scatter=pl.scatter,
        stderr_sampling=(
            float(np.std(pl.boot_exponent_sampling, ddof=1))
            if pl.boot_exponent_sampling is not None and pl.boot_exponent_sampling.size >= 2
            else None
        ),
        fit_stderr=pl.fit_stderr,
        n_boot=pl.n_boot,
        method=f"weighted least squares of log y on log x; {pl.bootstrap}",
        warnings=relabel(pl.warnings, "corr-fit"),
    )
    if detect_break and idx.size >= 2 * break_min_side - 1:
        w0 = 1.0 / pl.log_sigma**2 if pl.log_sigma is not None else np.ones(idx.size)
        zs = pl.boot_logy if pl.boot_logy is not None else np.zeros((0, idx.size))
        fit.broken = _find_break(
            x,
            y,
            sig,
            idx,
            np.log(pl.x),
            np.log(pl.y),
            w0,
            zs,
            replicates,
            n_boot,
            seed,
            rss1=(pl.chi2_dof or 0.0) * (idx.size - 2),  # dof > 0 here
            min_side=break_min_side,
            alpha=break_alpha,
            min_change=break_min_change,
        )
    return fit


def _hinge_design(t: np.ndarray, tb: float) -> np.ndarray:
    return np.column_stack([np.ones_like(t), np.minimum(t - tb, 0.0), np.maximum(t - tb, 0.0)])


def _find_break(
    x, y, sig, idx, t, z, w, zr, replicates, n_boot, seed, *, rss1, min_side, alpha, min_change
) -> BrokenPowerLaw | None:
    """Best continuous two-slope fit; a BrokenPowerLaw when the break is significant.

    ``rss1`` is the weighted residual sum of squares of the single power law.
    """
    from scipy.special import fdtrc

    n = t.size
    sw = np.sqrt(w)
    candidates = range(min_side - 1, n - min_side + 1)
    best = None
    for j in candidates:
        a2 = _hinge_design(t, t[j])
        coef, *_ = np.linalg.lstsq(a2 * sw[:, None], z * sw, rcond=None)
        rss2 = float((w * (z - a2 @ coef) ** 2).sum())
        if best is None or rss2 < best[1]:
            best = (j, rss2, coef)
    if best is None or n <= 3:
        return None
    j, rss2, coef = best
    if rss2 <= 0:
        fstat, p = np.inf, 0.0
    else:
        fstat = (rss1 - rss2) / (rss2 / (n - 3))
        p = float(fdtrc(1, n - 3, fstat))
    p_adj = min(1.0, p * len(candidates))
    beta_l, beta_r = -float(coef[1]), -float(coef[2])
    delta = beta_r - beta_l
    # Bootstrap of the slope difference at the chosen break.
    a2 = _hinge_design(t, t[j])
    pinv = np.linalg.pinv(a2 * sw[:, None]) * sw[None, :]  # coef = pinv @ z
    d_rep = -(zr @ pinv[2]) + (zr @ pinv[1]) if zr.shape[0] >= 2 else np.zeros(0)
    d_se = float(np.std(d_rep, ddof=1)) if d_rep.size >= 2 else None
    big = max(abs(beta_l), abs(beta_r), 1e-12)
    significant = (
        p_adj < alpha and (d_se is None or abs(delta) > 3 * d_se) and abs(delta) > min_change * big
    )
    if not significant:
        return None
    at = float(x[idx[j]])
    side = {
        "sigma": sig,
        "n_boot": n_boot,
        "seed": seed,
        "replicates": replicates,
        "detect_break": False,
    }
    left = fit_power_law(x, y, window=(float(x[idx[0]]), at), **side)
    right = fit_power_law(x, y, window=(at, float(x[idx[-1]])), **side)
    return BrokenPowerLaw(at, left, right, p_adj, delta, d_se)
