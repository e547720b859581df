"""Profile-likelihood intervals from the robust likelihood-ratio test."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .. import warns
from ..errors import UserError
from ._settings import _Settings
from .optim import LogResidualObjective, minimize_many

#: chi-square quantile with one degree of freedom at 0.95.
CHI2_1_95 = 3.841458820694124


class _FixedObjective:
    """The objective with coordinate ``j`` pinned to ``fixed[row]`` (gradient without column j)."""

    def __init__(self, obj: LogResidualObjective, j: int, fixed: np.ndarray):
        self.obj, self.j, self.fixed = obj, j, fixed

    def full(self, theta_red: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.insert(theta_red, self.j, self.fixed[rows], axis=1)

    def __call__(self, theta_red, rows, grad=True):
        f, g = self.obj(self.full(theta_red, rows), rows, grad)
        return f, (None if g is None else np.delete(g, self.j, axis=1))

    def system(self, theta_red, rows):
        f, g, H = self.obj.system(self.full(theta_red, rows), rows)
        H = np.delete(np.delete(H, self.j, axis=1), self.j, axis=2)
        return f, np.delete(g, self.j, axis=1), H


def _robust_lr_scale(obj: LogResidualObjective, theta: np.ndarray) -> float:
    """c = sum psi'(r) / sum psi(r)^2, so that 2 c (F_profile - F_min) ~ chi2_1.

    The drop-in-dispersion test for M-estimators (Schrader and Hettmansperger
    1980); for least squares it is n (RSS_p - RSS) / RSS, the Gaussian
    likelihood-ratio statistic to first order.
    """
    pred, _ = obj.form.log_predict(theta[None], obj.log_X, False)
    r = obj.logy - pred[0]
    _, psi = obj.loss.rho_psi(r)
    num = float(np.sum(obj.loss.dpsi(r)))
    den = float(np.sum(psi**2))
    return num / den if den > 0 else np.inf


def _profile(form, obj, theta, f_min, names, boot_vals, st: _Settings, warnings: list[str]):
    unknown = [n for n in names if n not in form.param_names]
    if unknown:
        raise UserError(f"cannot profile unknown parameter(s): {', '.join(unknown)}")
    lower, upper = form.internal_bounds()
    c = _robust_lr_scale(obj, theta)
    out: dict[str, Any] = {
        "method": "profile of the objective; 2 c (F - F_min) <= chi2_1(0.95) = 3.84 with "
        "c = sum psi' / sum psi^2 (robust likelihood ratio)",
        "scale_c": c,
    }
    if not np.isfinite(c):
        warnings.append(
            warns.coded(
                "fit-profile-skipped", "profile skipped: the fit interpolates the data exactly"
            )
        )
        return out
    for name in names:
        j = form.param_names.index(name)
        # start width: 4 bootstrap standard errors (internal units) or 2% of the value
        width = 0.02 * max(abs(theta[j]), 0.05)
        if boot_vals is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                tb = np.log(boot_vals[:, j]) if form.params[j].log else boot_vals[:, j]
            tb = tb[np.isfinite(tb)]
            if tb.size > 1 and tb.std() > 0:
                width = 4 * float(tb.std(ddof=1))
        # Widen the grid until both crossings lie inside it, narrow it while a
        # crossing is within a few grid steps of the optimum (poorly resolved).
        lo_r = hi_r = None
        for _ in range(8):
            grid = theta[j] + width * np.linspace(-1, 1, 41)
            grid = grid[(grid >= lower[j]) & (grid <= upper[j])]
            stat = _profile_stat(
                obj, theta, j, grid, f_min, c, np.delete(lower, j), np.delete(upper, j), st
            )
            lo_r, hi_r = _crossings(grid, stat, theta[j])
            if lo_r is None or hi_r is None:
                width *= 3
            elif min(theta[j] - lo_r, hi_r - theta[j]) < 4 * width / 20:
                width = 1.5 * max(theta[j] - lo_r, hi_r - theta[j])
            else:
                break
        if np.min(stat) < -1e-6:
            warnings.append(
                warns.coded(
                    "fit-profile-lower-objective",
                    f"profile of {name} found a lower objective than the fit",
                )
            )
        to_nat = (lambda v: float(np.exp(v))) if form.params[j].log else float
        out[name] = {
            "grid": [to_nat(v) for v in grid],
            "statistic": [float(s) for s in stat],
            "ci95": [
                None if lo_r is None else to_nat(lo_r),
                None if hi_r is None else to_nat(hi_r),
            ],
        }
        if lo_r is None or hi_r is None:
            warnings.append(
                warns.coded(
                    "fit-profile-open",
                    f"the profile interval of {name} is open on one side within the grid",
                )
            )
    return out


def _profile_stat(obj, theta, j, grid, f_min, c, lo_red, hi_red, st: _Settings):
    fixed = np.asarray(grid, dtype=float)
    fobj = _FixedObjective(obj, j, fixed)
    x0 = np.tile(np.delete(theta, j), (fixed.size, 1))
    res = minimize_many(fobj, x0, lo_red, hi_red, n_jobs=1, maxiter=st.maxiter)
    return 2 * c * (res.fun - f_min)


def _crossings(grid, stat, center):
    """Where stat rises through chi2_1(0.95) on each side of ``center`` (linear interpolation)."""

    def cross(idx):
        for a, b in itertools.pairwise(idx):
            if stat[a] < CHI2_1_95 <= stat[b]:
                t = (CHI2_1_95 - stat[a]) / (stat[b] - stat[a])
                return grid[a] + t * (grid[b] - grid[a])
        return None

    i0 = int(np.argmin(np.abs(grid - center)))
    return cross(list(range(i0, -1, -1))), cross(list(range(i0, grid.size)))
