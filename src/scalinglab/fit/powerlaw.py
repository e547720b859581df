"""The power-law fitter behind every exponent: ``y = E + A (x / x_ref)^-exponent``.

One function, :func:`fit_power_law`, fits ``log y`` by (weighted) least
squares, without an offset (``E = 0``: a straight line on log-log axes, solved
in closed form) or with one (``0 <= E < min y``: ``log(E + A (x/x_ref)^-k)``,
solved by bounded nonlinear least squares from several starts). Its result,
:class:`PowerLaw`, holds the point estimates, the asymptotic standard error
and the bootstrap replicates. The decay exponent of the correlations (beta),
of the conditional entropy (gamma) and of a loss curve (alpha_D) all come from
it; each has its report: ``stats._corr_fit`` (beta, with its break test),
``stats._gamma`` (:class:`GammaFit`) and :mod:`scalinglab.fit.alpha` (alpha_D).

Weights. With standard errors ``sigma`` of ``y``, ``s_i = sigma_i / y_i`` is
the error of ``log y_i`` (delta method) and ``w_i = 1 / s_i^2``; with
``scatter=True`` the weights become ``1 / (s_i^2 + tau^2)``, ``tau`` the
scatter of the points about the law beyond their errors (Paule-Mandel: 0 when
``chi2_dof <= 1``, else chosen so that the weighted residual sum of squares
equals its degrees of freedom). Without ``sigma`` (or with ``weight=False``)
every point weighs 1.

Bootstrap (``bootstrap=``):

- ``"noise"``: ``log y* = log y + s e``, ``e ~ N(0, 1)`` (needs ``sigma``);
- ``"residual"``: ``log y* = fit + r*``, ``r*`` drawn with replacement from the
  centred residuals scaled by ``sqrt(k / (k - p))`` (``k`` points, ``p``
  parameters: raw residuals under-estimate the error variance);
- ``"residual+noise"``: both (lack of fit plus the error of each point);
- ``"cases"``: resample the ``(x, y)`` points (resamples with fewer than
  ``p + 1`` distinct ``x`` are dropped, and none are made from ``p + 1``
  points, where every usable resample is the data set itself);
- ``"replicates"``: refit supplied replicates of ``y`` (rows), e.g. a block
  bootstrap that keeps the correlations between points;
- ``"none"``.

Replicates of ``log y`` are refitted with the weights of the fit (the line in
closed form, all rows at once; the offset form warm-started from the fit).
With ``tau > 0`` every replicate also gets independent scatter ``tau e``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import warns
from ..errors import UserError

__all__ = ["BOOTSTRAPS", "EXPONENT_LIMIT", "PowerLaw", "fit_power_law", "relabel"]

Bootstrap = Literal["none", "noise", "residual", "residual+noise", "cases", "replicates"]
BOOTSTRAPS: tuple[str, ...] = ("none", "noise", "residual", "residual+noise", "cases", "replicates")
#: Default bound on ``|exponent|`` of the offset form (a fit that reaches it is not determined).
EXPONENT_LIMIT = 10.0


@dataclass
class PowerLaw:
    """A fitted ``y = offset + amplitude (x / x_ref)^-exponent``.

    Attributes
    ----------
    exponent, amplitude, offset : float
        The fitted law (``offset`` 0 without an offset).
    x_ref : float
        Where ``amplitude`` is the value of the power-law term.
    x, y : ndarray
        The fitted points.
    log_sigma : ndarray or None
        Errors of ``log y`` (``sigma / y``; non-positive or non-finite ones
        replaced by the median of the others when they weight the fit, by 0
        when they are bootstrap noise only); None without ``sigma``.
    weights : ndarray
        The final least-squares weights.
    log_residuals : ndarray
        ``log y - log(fitted law)``.
    chi2_dof : float or None
        Weighted residual sum of squares per degree of freedom with the weights
        of the errors alone (before ``scatter``); None without degrees of freedom.
    scatter : float or None
        ``tau`` (0 when not estimated; None without ``sigma``).
    fit_stderr : float or None
        Asymptotic standard error of ``exponent``: ``sqrt(scale^2 (J^T W J)^-1)``
        with ``scale^2`` the weighted residual variance, at least 1 when the
        weights come from standard errors.
    n_params : int
        2, or 3 with an offset.
    bootstrap : str
        How the replicates were made (English).
    boot_exponent, boot_amplitude, boot_offset : ndarray
        Refitted values over the usable replicates.
    boot_exponent_sampling : ndarray or None
        ``boot_exponent`` without the scatter ``tau`` (the sampling errors alone).
    boot_logy : ndarray or None
        The replicates of ``log y`` (rows, without the scatter), except for ``cases``.
    warnings : list of str
        Coded warnings (``fit-offset-at-bound``, ``fit-exponent-at-bound``,
        ``fit-boot-too-few``, ``fit-boot-failed-refits``).
    """

    exponent: float
    amplitude: float
    offset: float
    x_ref: float
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    log_sigma: np.ndarray | None = field(repr=False)
    weights: np.ndarray = field(repr=False)
    log_residuals: np.ndarray = field(repr=False)
    chi2_dof: float | None
    scatter: float | None
    fit_stderr: float | None
    n_params: int
    bootstrap: str = "none"
    boot_exponent: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    boot_amplitude: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    boot_offset: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    boot_exponent_sampling: np.ndarray | None = field(default=None, repr=False)
    boot_logy: np.ndarray | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return int(self.x.size)

    @property
    def n_boot(self) -> int:
        return int(self.boot_exponent.size)

    @property
    def window(self) -> tuple[float, float]:
        """Smallest and largest fitted ``x``."""
        return float(self.x.min()), float(self.x.max())

    @property
    def rms_log_residual(self) -> float:
        return float(np.sqrt(np.mean(self.log_residuals**2)))

    def __call__(self, x: Any) -> np.ndarray:
        """The fitted law at ``x``."""
        x = np.asarray(x, dtype=float)
        return self.offset + self.amplitude * (x / self.x_ref) ** (-self.exponent)

    def _boot(self, name: str) -> np.ndarray:
        if name not in ("exponent", "amplitude", "offset"):
            raise ValueError(f"no bootstrap of {name!r}")
        return np.asarray(getattr(self, f"boot_{name}"))

    def stderr(self, name: str = "exponent") -> float | None:
        """Bootstrap standard deviation of ``name`` (None with fewer than 2 replicates)."""
        b = self._boot(name)
        return float(np.std(b, ddof=1)) if b.size >= 2 else None

    def ci(self, name: str = "exponent", level: float = 0.95) -> tuple[float, float] | None:
        """Bootstrap percentile interval of ``name`` at ``level`` (None with < 2 replicates)."""
        b = self._boot(name)
        if b.size < 2:
            return None
        q = 50 * (1 - level)
        lo, hi = np.percentile(b, [q, 100 - q])
        return float(lo), float(hi)


def relabel(warnings: list[str], prefix: str) -> list[str]:
    """The fitter's ``fit-...`` warnings under the codes of the part that asked for the fit.

    >>> relabel([warns.coded("fit-offset-at-bound", "text")], "gamma")
    ['[gamma-offset-at-bound] text']
    """
    out = []
    for w in warnings:
        code = warns.code_of(w) or "fit-warning"
        out.append(warns.coded(f"{prefix}-{code.removeprefix('fit-')}", warns.text_of(w)))
    return out


# --------------------------------------------------------------------------- the line


def _line_maps(t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear maps of the weighted least-squares line of ``z`` on ``t``.

    ``slope = c_slope @ z`` and ``intercept = c_icpt @ z`` (for ``z`` of shape
    (k,) or rows of (m, k): ``z @ c``).
    """
    sw = w.sum()
    tbar = (w * t).sum() / sw
    d = t - tbar
    c_slope = w * d / (w * d * d).sum()
    return c_slope, w / sw - tbar * c_slope


def _line_resid(t: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    c_slope, c_icpt = _line_maps(t, w)
    return z - ((c_icpt @ z) + (c_slope @ z) * t)


def _scatter2(t: np.ndarray, z: np.ndarray, s2: np.ndarray, dof: int) -> float:
    """``tau^2`` solving ``sum_i r_i^2 / (s_i^2 + tau^2) = dof`` (Paule-Mandel)."""
    from scipy.optimize import brentq

    def excess(tau2: float) -> float:
        w = 1.0 / (s2 + tau2)
        r = _line_resid(t, z, w)
        return float((w * r * r).sum()) - dof

    hi = max(float(np.var(z)), 1e-12)
    while excess(hi) > 0:
        hi *= 4
    return float(brentq(excess, 0.0, hi, xtol=1e-14, rtol=1e-10))


def _case_lines(t: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares slopes and intercepts of the rows of ``z`` on the rows of ``t``."""
    sw = w.sum(axis=1, keepdims=True)
    tbar = (w * t).sum(axis=1, keepdims=True) / sw
    zbar = (w * z).sum(axis=1, keepdims=True) / sw
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (w * (t - tbar) * (z - zbar)).sum(axis=1) / (w * (t - tbar) ** 2).sum(axis=1)
    return slope, zbar[:, 0] - slope * tbar[:, 0]


# --------------------------------------------------------------------------- the offset form


def _offset_model(theta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``log(E + A e^(-k t))`` for ``theta = (log A, k, E)``."""
    power = theta[0] - theta[1] * t
    return np.logaddexp(np.log(max(theta[2], 1e-300)), power)


def _offset_jac(theta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """With ``u = A e^(-k t)`` and ``D = E + u``: ``(u / D, -t u / D, 1 / D)``."""
    u = np.exp(theta[0] - theta[1] * t)
    d = theta[2] + u
    return np.column_stack([u / d, -t * u / d, 1.0 / d])


def _offset_starts(t: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """Lines through ``log(y - E)`` for ``E`` = 0, 0.5 and 0.9 of ``min y``."""
    ymin = float(np.exp(z.min()))
    out = []
    for frac in (0.0, 0.5, 0.9):
        e = frac * ymin
        s, c = np.polyfit(t, np.log(np.exp(z) - e), 1)
        out.append(np.array([c, max(-s, 1e-3), e]))
    return out


def _offset_solve(
    t: np.ndarray,
    z: np.ndarray,
    sw: np.ndarray,
    starts: list[np.ndarray],
    bounds: tuple[float, float],
) -> Any:
    """Best bounded least-squares fit of ``sqrt(w) (model - z)`` over ``starts`` (None if none)."""
    from scipy.optimize import least_squares

    lo = np.array([-np.inf, bounds[0], 0.0])
    hi = np.array([np.inf, bounds[1], float(np.exp(z.min())) * (1 - 1e-9)])
    best = None
    for start in starts:
        start = np.clip(start, lo + 1e-12, hi - 1e-12)
        try:
            res = least_squares(
                lambda p: sw * (_offset_model(p, t) - z),
                start,
                jac=lambda p: sw[:, None] * _offset_jac(p, t),
                bounds=(lo, hi),
                method="trf",
                x_scale="jac",
            )
        except ValueError:
            continue
        if np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
            best = res
    return best


# --------------------------------------------------------------------------- the fit


def fit_power_law(
    x: Any,
    y: Any,
    sigma: Any = None,
    *,
    offset: bool = False,
    weight: bool = True,
    scatter: bool = False,
    x_ref: float | Literal["geomean"] = 1.0,
    exponent_bounds: tuple[float, float] = (-EXPONENT_LIMIT, EXPONENT_LIMIT),
    bootstrap: Bootstrap = "residual",
    n_boot: int = 1000,
    seed: int = 0,
    replicates: Any = None,
) -> PowerLaw:
    """Fit ``y = E + A (x / x_ref)^-exponent`` by least squares of ``log y``.

    Parameters
    ----------
    x, y : array_like
        Positive, finite abscissae and values, one-dimensional, same length.
    sigma : array_like, optional
        Standard errors of ``y``: the weights (unless ``weight=False``) and the
        ``noise`` bootstrap.
    offset : bool
        Fit ``E`` too (``0 <= E < min y``).
    weight : bool
        Weight the points by ``(y / sigma)^2``; False keeps ``sigma`` for the
        bootstrap noise only.
    scatter : bool
        Estimate the scatter ``tau`` beyond the errors (needs ``sigma``, no offset).
    x_ref : float or "geomean"
        Reference abscissa of the amplitude (``"geomean"``: the geometric mean of ``x``).
    exponent_bounds : (lo, hi)
        Bounds of the exponent of the offset form (the line is unbounded).
    bootstrap : str
        One of :data:`BOOTSTRAPS` (see the module documentation).
    n_boot, seed : int
        Replicates made by the ``noise``, ``residual`` and ``cases`` bootstraps, and their seed.
    replicates : array_like, optional
        ``(m, len(x))`` replicates of ``y`` for ``bootstrap="replicates"`` (rows
        with a non-finite or non-positive value are left out).

    Returns
    -------
    PowerLaw

    Raises
    ------
    UserError
        Non-finite or non-positive input, fewer distinct ``x`` than parameters,
        or options that do not go together.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    p = 3 if offset else 2
    _check(x, y, p, bootstrap, n_boot, sigma, scatter, offset, replicates)
    if x_ref == "geomean":
        ref = float(np.exp(np.log(x).mean()))
    else:
        ref = float(x_ref)
        if not (np.isfinite(ref) and ref > 0):
            raise UserError(f"x_ref must be a positive number, got {x_ref!r}")
    t, z = np.log(x / ref), np.log(y)
    k = x.size
    dof = k - p
    s = _log_sigma(sigma, y, weight)
    w0 = 1.0 / s**2 if (s is not None and weight) else np.ones(k)

    if not offset:
        r0 = _line_resid(t, z, w0)
        tau2 = 0.0
        chi2 = float((w0 * r0**2).sum() / dof) if dof > 0 else None
        if scatter and s is not None and chi2 is not None and chi2 > 1:
            tau2 = _scatter2(t, z, s**2, dof)
        w = 1.0 / (s**2 + tau2) if (s is not None and weight) else w0
        c_slope, c_icpt = c_maps = _line_maps(t, w)
        theta = np.array([float(c_icpt @ z), -float(c_slope @ z), 0.0])
        fitted = theta[0] - theta[1] * t
        jac = np.column_stack([np.ones_like(t), -t])
    else:
        tau2 = 0.0
        w = w0
        c_maps = None
        res = _offset_solve(t, z, np.sqrt(w), _offset_starts(t, z), exponent_bounds)
        if res is None:
            raise UserError("the power-law fit with an offset failed to converge")
        theta = np.asarray(res.x, dtype=float)
        fitted = _offset_model(theta, t)
        jac = _offset_jac(theta, t)
        chi2 = float((w * (z - fitted) ** 2).sum() / dof) if dof > 0 else None
    resid = z - fitted
    fit_se = _asymptotic_se(jac, w, resid, dof, weighted=s is not None and weight)

    fit = PowerLaw(
        exponent=float(theta[1]),
        amplitude=float(np.exp(theta[0])),
        offset=float(theta[2]),
        x_ref=ref,
        x=x,
        y=y,
        log_sigma=s,
        weights=w,
        log_residuals=resid,
        chi2_dof=chi2,
        scatter=float(np.sqrt(tau2)) if s is not None else None,
        fit_stderr=fit_se,
        n_params=p,
    )
    if offset:
        fit.warnings.extend(_bound_warnings(theta, float(y.min()), exponent_bounds))
    if bootstrap == "none" or (n_boot == 0 and bootstrap != "replicates"):
        return fit
    rng = np.random.default_rng(seed)
    if bootstrap == "cases":
        _cases(fit, t, z, theta, rng, n_boot, exponent_bounds)
    else:
        logs = _Logs(t, z, fitted, resid, theta, tau2, c_maps)
        _refit_logs(fit, logs, bootstrap, replicates, n_boot, seed, rng, exponent_bounds)
    if fit.n_boot < 2:
        fit.warnings.append(
            warns.coded(
                "fit-boot-too-few",
                f"{fit.n_boot} usable bootstrap replicate(s): no bootstrap error or interval",
            )
        )
    return fit


@dataclass
class _Logs:
    """The fit in log space: ``t = log(x / x_ref)``, ``z = log y``, and what replicates need."""

    t: np.ndarray
    z: np.ndarray
    fitted: np.ndarray
    resid: np.ndarray
    theta: np.ndarray
    tau2: float
    c_maps: tuple[np.ndarray, np.ndarray] | None


def _refit_logs(fit: PowerLaw, lg: _Logs, mode, replicates, n_boot, seed, rng, bounds) -> None:
    """Replicates of ``log y`` (every mode but ``cases``), refitted with the fit's weights."""
    s, p, w = fit.log_sigma, fit.n_params, fit.weights
    t, z, fitted, resid, theta, tau2 = lg.t, lg.z, lg.fitted, lg.resid, lg.theta, lg.tau2
    zs, fit.bootstrap = _replicate_logs(mode, z, fitted, resid, s, p, replicates, n_boot, rng)
    zr = zs
    if tau2 > 0:
        noise = np.random.default_rng([seed, 0x7A0]).standard_normal(zs.shape)
        zr = zs + np.sqrt(tau2) * noise
        fit.bootstrap += "; plus the scatter about the power law (tau)"
    fit.boot_logy = zs
    if lg.c_maps is not None:
        c_slope, c_icpt = lg.c_maps
        fit.boot_exponent = -(zr @ c_slope)
        fit.boot_amplitude = np.exp(zr @ c_icpt)
        fit.boot_offset = np.zeros(zr.shape[0])
        fit.boot_exponent_sampling = -(zs @ c_slope) if tau2 > 0 else fit.boot_exponent
        return
    refits = np.array([_offset_refit(t, row, w, theta, bounds) for row in zr]).reshape(-1, 3)
    _take_refits(fit, refits)


def _take_refits(fit: PowerLaw, refits: np.ndarray) -> None:
    """Keep the offset refits that converged; warn when more than 10% did not."""
    ok = np.all(np.isfinite(refits), axis=1)
    fit.boot_exponent, fit.boot_offset = refits[ok, 1], refits[ok, 2]
    fit.boot_amplitude = np.exp(refits[ok, 0])
    fit.boot_exponent_sampling = fit.boot_exponent
    if ok.size and ok.mean() < 0.9:
        fit.warnings.append(
            warns.coded(
                "fit-boot-failed-refits",
                f"{1 - ok.mean():.0%} of the bootstrap refits of the offset form failed",
            )
        )


def _bound_warnings(theta: np.ndarray, ymin: float, bounds: tuple[float, float]) -> list[str]:
    """Warnings for an offset fit that ended on a bound (the form is not determined there)."""
    out = []
    if theta[2] >= (1 - 1e-6) * ymin:
        out.append(
            warns.coded(
                "fit-offset-at-bound",
                f"the offset reached the smallest y ({ymin:.4g}): the points do not "
                "determine a power law with an offset",
            )
        )
    lo, hi = bounds
    tol = 1e-6 * max(1.0, abs(lo), abs(hi))
    if theta[1] <= lo + tol or theta[1] >= hi - tol:
        out.append(
            warns.coded(
                "fit-exponent-at-bound",
                f"the exponent reached its bound ({theta[1]:.4g} in [{lo:g}, {hi:g}])",
            )
        )
    return out


def _check(x, y, p, bootstrap, n_boot, sigma, scatter, offset, replicates) -> None:
    if x.shape != y.shape:
        raise UserError("x and y must have the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise UserError("a power-law fit needs finite x and y (NaN or inf in the input)")
    if np.any(x <= 0) or np.any(y <= 0):
        raise UserError("a power-law fit needs positive x and y")
    if np.unique(x).size < p:
        raise UserError(f"a power-law fit with {p} parameters needs at least {p} distinct x")
    if bootstrap not in BOOTSTRAPS:
        raise UserError(f"bootstrap must be one of {', '.join(BOOTSTRAPS)}, got {bootstrap!r}")
    if n_boot < 0:
        raise UserError(f"bootstrap replicates must be >= 0, got {n_boot}")
    if bootstrap == "noise" and sigma is None:
        raise UserError("the noise bootstrap needs standard errors (sigma)")
    if bootstrap == "replicates" and replicates is None:
        raise UserError("the replicates bootstrap needs replicates")
    if scatter and (sigma is None or offset):
        raise UserError("the scatter term needs standard errors and no offset")
    if sigma is not None and np.asarray(sigma).size != x.size:
        raise UserError("sigma must have the same length as x")


def _log_sigma(sigma: Any, y: np.ndarray, weight: bool) -> np.ndarray | None:
    """``sigma / y`` with its unusable entries (NaN, <= 0) replaced.

    As weights they take the median of the others (a zero error would give an
    infinite weight); as bootstrap noise only, they add none (0).
    """
    if sigma is None:
        return None
    rel = np.asarray(sigma, dtype=float).ravel() / y
    good = np.isfinite(rel) & (rel > 0)
    if not weight:
        return np.where(good, rel, 0.0)
    fill = np.median(rel[good]) if good.any() else 1.0
    return np.where(good, rel, fill)


def _asymptotic_se(jac, w, resid, dof, *, weighted: bool) -> float | None:
    """Standard error of the exponent (column 1) from ``scale^2 (J^T W J)^-1``."""
    if dof <= 0:
        return None
    chi2_w = float((w * resid**2).sum() / dof)
    # With standard errors the residual scale is at least the one they imply (chi2 >= 1);
    # without them the weights are 1 and the scale is the residual variance itself.
    scale2 = max(chi2_w, 1.0) if weighted else chi2_w
    try:
        cov = np.linalg.pinv(jac.T @ (w[:, None] * jac)) * scale2
    except np.linalg.LinAlgError:
        return None
    return float(math.sqrt(max(cov[1, 1], 0.0)))


def _replicate_logs(mode, z, fitted, resid, s, p, replicates, n_boot, rng):
    """Rows of replicates of ``log y`` and how they were made."""
    if mode == "replicates":
        rep = np.asarray(replicates, dtype=float)
        if rep.ndim != 2 or rep.shape[1] != z.size:
            raise UserError("replicates must be an (n_boot, len(x)) array")
        ok = np.all(np.isfinite(rep) & (rep > 0), axis=1)
        return np.log(rep[ok]), f"bootstrap over {int(ok.sum())} supplied replicates"
    k = z.size
    if mode == "noise":
        zs = z + s * rng.standard_normal((n_boot, k))
        return zs, f"parametric bootstrap ({n_boot} replicates) from the standard errors"
    scale = math.sqrt(k / (k - p)) if k > p else 0.0
    draws = rng.integers(0, k, size=(n_boot, k))
    zs = fitted[None, :] + scale * (resid - resid.mean())[draws]
    if mode == "residual+noise" and s is not None:
        zs = zs + rng.standard_normal((n_boot, k)) * s[None, :]
        return zs, f"residual bootstrap ({n_boot} replicates) plus the error of each point"
    return zs, f"residual bootstrap ({n_boot} replicates)"


def _offset_refit(t, z, w, theta, bounds) -> np.ndarray:
    """The offset form refitted to ``z``, warm-started from ``theta`` (NaN if it fails)."""
    sw = np.sqrt(w)
    r = _offset_solve(t, z, sw, [theta], bounds)
    if r is None:
        r = _offset_solve(t, z, sw, _offset_starts(t, z), bounds)
    return np.full(3, np.nan) if r is None else np.asarray(r.x, dtype=float)


def _cases(fit: PowerLaw, t, z, theta, rng, n_boot, bounds) -> None:
    """Case resampling: refit on resamples of the points with at least p + 1 distinct x."""
    k, p = t.size, fit.n_params
    idx = rng.integers(0, k, (n_boot, k))
    distinct = (np.diff(np.sort(idx, axis=1), axis=1) > 0).sum(axis=1) + 1
    idx = idx[distinct >= p + 1]
    if k < p + 2:
        # With p + 1 points every usable resample is the data set itself: an interval of
        # width zero that would claim a precision the points do not have. None is made.
        idx = idx[:0]
    fit.bootstrap = f"case bootstrap ({idx.shape[0]} usable resamples of {n_boot})"
    if p == 2:
        slope, icpt = _case_lines(t[idx], z[idx], fit.weights[idx])
        ok = np.isfinite(slope)
        fit.boot_exponent, fit.boot_amplitude = -slope[ok], np.exp(icpt[ok])
        fit.boot_offset = np.zeros(int(ok.sum()))
    else:
        refits = np.array(
            [_offset_refit(t[row], z[row], fit.weights[row], theta, bounds) for row in idx]
        ).reshape(-1, 3)
        _take_refits(fit, refits)
    fit.boot_exponent_sampling = fit.boot_exponent
