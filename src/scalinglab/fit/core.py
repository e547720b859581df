"""Fitting scaling laws: multi-start robust fits and their results.

The bootstrap is in ``_bootstrap``, held-out points and extrapolation checks
in ``_extrapolate``, profile-likelihood intervals in ``_profile`` and the
ranking of several forms in ``_compare``.
"""

from __future__ import annotations

import itertools
import os
import warnings as pywarnings
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import warns
from .._io import write_json
from ..errors import UserError
from ._bootstrap import _bootstrap, _summarise
from ._compare import rank
from ._extrapolate import _extrapolation, _holdout_mask, _rmsle
from ._profile import _profile
from ._settings import _minimize, _Settings
from .data import FitData, prepare
from .forms import Form, auto_forms, get_form
from .optim import CONVERGED, LogResidualObjective, Loss, polish


@dataclass
class FitPrediction:
    """Predicted y at inputs ``x`` (k, m) with a bootstrap band at ``level``.

    The band is the percentile interval of the fitted curve over bootstrap
    resamples and ``stderr`` the standard deviation of the curve over them
    (same units as y): both cover parameter uncertainty, not the scatter of
    new points. All three are ``None`` without a bootstrap.
    """

    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    level: float
    stderr: np.ndarray | None = None

    def to_dict(self) -> dict:
        none = [None] * self.y.size
        return {
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "stderr": self.stderr.tolist() if self.stderr is not None else none,
            "lo": self.lo.tolist() if self.lo is not None else none,
            "hi": self.hi.tolist() if self.hi is not None else none,
            "level": self.level,
        }


@dataclass
class FitResult:
    """A fitted scaling law.

    ``params``, ``stderr`` and ``ci95`` are in natural units (A, not log A);
    ``stderr`` and ``ci95`` come from the bootstrap (case resampling).
    ``objective`` is the minimised ``sum_i rho(log y_i - log f(x_i))``.
    ``train`` / ``extrapolation`` hold the RMSLE, sqrt(mean((log y - log f)^2)),
    on the fitted and the held-out points with the input windows they cover.
    """

    form: Form
    loss: Loss
    params: dict[str, float]
    stderr: dict[str, float | None]
    ci95: dict[str, list[float] | None]
    objective: float
    data: FitData
    train_mask: np.ndarray
    train: dict
    extrapolation: dict | None
    starts: dict
    bootstrap: dict
    information: dict
    boot_params: np.ndarray | None = field(default=None, repr=False)
    profile: dict | None = None
    ranking: list[dict] | None = None
    alternatives: dict[str, FitResult] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return int(self.train_mask.sum())

    @property
    def values(self) -> np.ndarray:
        return np.array([self.params[n] for n in self.form.param_names])

    def predict(self, x: Any, level: float = 0.95) -> FitPrediction:
        """Predict y at ``x``: an array (m,), (m, k), a list of k arrays, or a column mapping.

        Returns the best-fit curve and, when the fit was bootstrapped, the
        ``level`` percentile band of the curve over resamples.
        """
        return self.predict_inputs(self._inputs(x), level)

    def predict_inputs(self, X: np.ndarray, level: float = 0.95) -> FitPrediction:
        """:meth:`predict` at inputs already arranged as ``(k, m)``."""
        X = np.asarray(X, dtype=float)
        y = np.atleast_1d(self.form.predict(self.values, X))
        lo = hi = se = None
        if not 0 < level < 1:
            raise UserError(f"the band level must lie in (0, 1), got {level}")
        if self.boot_params is not None and len(self.boot_params) > 1:
            curves = np.atleast_2d(self.form.predict(self.boot_params, X))
            q = 50 * (1 - level)
            with np.errstate(invalid="ignore"), pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
                lo, hi = np.nanpercentile(curves, [q, 100 - q], axis=0)
                se = np.nanstd(curves, axis=0, ddof=1)
        return FitPrediction(X, y, lo, hi, level, se)

    def _inputs(self, x: Any) -> np.ndarray:
        k = len(self.data.x_names)
        if isinstance(x, Mapping):
            missing = [n for n in self.data.x_names if n not in x]
            if missing:
                raise UserError(f"predict needs column(s) {', '.join(missing)}")
            X = np.vstack([np.asarray(x[n], dtype=float).ravel() for n in self.data.x_names])
        elif isinstance(x, Sequence) and len(x) == k and k > 1 and np.ndim(x[0]) == 1:
            X = np.vstack([np.asarray(c, dtype=float) for c in x])
        else:
            arr = np.asarray(x, dtype=float)
            X = arr.reshape(1, -1) if k == 1 else np.atleast_2d(arr).T
        if X.shape[0] != k:
            raise UserError(f"the form takes {k} input column(s), got {X.shape[0]}")
        return X

    def to_dict(self) -> dict:
        """The keys of ``fit.json``."""
        d: dict[str, Any] = {
            "form": self.form.name,
            "formula": self.form.formula,
            "x": dict(zip(self.form.inputs, self.data.x_names, strict=False)),
            "y": self.data.y_name,
            "params": self.params,
            "stderr": self.stderr,
            "ci95": self.ci95,
            "objective": self.objective,
            "loss": self.loss.to_dict(),
            "n_points": self.n_points,
            "n_params": self.form.n_params,
            "train": self.train,
        }
        if self.extrapolation is not None:
            d["extrapolation"] = self.extrapolation
        d["information_criteria"] = self.information
        d["starts"] = self.starts
        d["bootstrap"] = self.bootstrap
        if self.profile is not None:
            d["profile"] = self.profile
        if self.ranking is not None:
            d["ranking"] = self.ranking
        if self.data.dropped:
            d["dropped"] = self.data.dropped
        d["warnings"] = self.warnings
        return d

    def save(self, out_dir: str | os.PathLike[str], plot: bool = True) -> Path:
        """Write ``out_dir/fit.json`` (and ``fit.png``); returns the JSON path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = write_json(out / "fit.json", self.to_dict())
        if plot:
            from .plot import plot_fit

            plot_fit(self, out / "fit.png")
        return path


# --------------------------------------------------------------------------- helpers


def _distinct(theta: np.ndarray, f: np.ndarray, k: int, tol: float = 1e-3) -> list[int]:
    """Indices of up to k lowest-objective rows that differ from each other by > tol."""
    order = np.argsort(np.where(np.isfinite(f), f, np.inf), kind="stable")
    chosen: list[int] = []
    for i in order[: max(200, 20 * k)]:
        if not np.isfinite(f[i]):
            break
        scale = np.maximum(1.0, np.abs(theta[i]))
        if all(np.max(np.abs(theta[i] - theta[j]) / scale) > tol for j in chosen):
            chosen.append(int(i))
        if len(chosen) == k:
            break
    return chosen


def _user_starts(form: Form, starts: Any) -> np.ndarray:
    if isinstance(starts, Mapping):
        unknown = set(starts) - set(form.param_names)
        if unknown:
            raise UserError(f"start grid names unknown parameter(s): {', '.join(sorted(unknown))}")
        missing = [n for n in form.param_names if n not in starts]
        if missing:
            raise UserError(f"start grid misses parameter(s): {', '.join(missing)}")
        axes = [np.atleast_1d(np.asarray(starts[n], dtype=float)) for n in form.param_names]
        values = np.array(list(itertools.product(*axes)))
    else:
        values = np.atleast_2d(np.asarray(starts, dtype=float))
        if values.shape[1] != form.n_params:
            raise UserError(f"starts need {form.n_params} columns ({', '.join(form.param_names)})")
    return form.to_internal(values)


# --------------------------------------------------------------------------- the fit


def fit(
    data: Any,
    y: Any = None,
    *,
    x: str | Sequence[str] | None = None,
    form: str | Form | Sequence[str | Form] = "auto",
    loss: str | Loss = "huber",
    delta: float = 1e-3,
    holdout_last: int | None = None,
    holdout_above: float | str | tuple[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    profile: bool | Sequence[str] = False,
    starts: np.ndarray | Mapping[str, Sequence[float]] | None = None,
    drop_highest: int = 0,
    drop_invalid: bool = False,
    n_jobs: int | None = None,
    maxiter: int = 300,
    progress: bool = True,
) -> FitResult:
    """Fit a scaling law robustly and report uncertainties.

    The recipe (Besiroglu et al. 2024, Epoch AI's Chinchilla replication):
    parameters in log space where positive, prediction of ``log y`` by
    log-sum-exp, objective ``sum_i rho(log y_i - log f(x_i))`` with the Huber
    ``rho`` (``delta``) or least squares, L-BFGS from every point of a start
    grid (all starts run together as one batched problem), the best distinct
    optima polished with SciPy's L-BFGS-B. Uncertainty comes from a seeded
    case-resampling bootstrap whose refits start from those optima.

    Parameters
    ----------
    data, y, x
        Either a table (path to a CSV / Parquet file, a mapping of columns, a
        pyarrow Table or a DataFrame) with ``y`` and ``x`` naming columns (or
        arithmetic expressions of columns), or arrays ``data`` = x of shape
        (n,), (n, k) or a list of k arrays, and ``y`` of shape (n,).
    form
        A built-in form name, a :class:`Form`, ``"auto"`` (every built-in form
        for this many inputs), or several forms (a list or comma-separated
        names): all are fitted and ranked; the best is returned with
        ``ranking`` and the others in ``alternatives``.
    loss, delta
        ``"huber"`` (default, delta 1e-3) or ``"least_squares"``.
    holdout_last
        Hold out the K points with the largest product of the inputs (the
        largest x for one input; the largest N D, i.e. compute, for two).
    holdout_above
        Hold out the points whose first input exceeds this value, or
        ``"COLUMN=VALUE"`` / ``(column, value)`` for another input column.
    n_boot, seed
        Bootstrap resamples (0 to skip) and their seed.
    profile
        ``True`` profiles every exponent, or a list of parameter names:
        profile-likelihood 95% intervals from the robust likelihood-ratio test.
    starts
        Override the start grid: natural values ``(G, p)`` or ``{param: values}``.
    drop_highest
        Remove the points with the largest y first (the recipe drops 5).
    drop_invalid
        Drop rows with NaN, inf or non-positive values instead of failing.
    n_jobs
        Worker processes (default: all cores this process may use).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import scalinglab as sl                                        # doctest: +SKIP
    >>> r = sl.fit.fit("chinchilla.csv", "loss", x=["Model Size",
    ...                "Training FLOP / (6 * Model Size)"], form="chinchilla",
    ...                drop_highest=5)                                 # doctest: +SKIP
    >>> r.params["alpha"], r.ci95["alpha"]                             # doctest: +SKIP
    """
    fd = prepare(data, y, x, drop_invalid=drop_invalid, drop_highest=drop_highest)
    mask = _holdout_mask(fd, holdout_last, holdout_above)
    if isinstance(form, str) and "," in form:
        form = [f for f in form.split(",") if f.strip()]
    if isinstance(form, str) and form.strip().lower() == "auto":
        forms: list[str | Form] = list(auto_forms(fd.X.shape[0]))
    elif isinstance(form, str | Form):
        forms = [form]
    else:
        forms = list(form)
    resolved = [get_form(f) for f in forms]
    if not resolved:
        raise UserError("no form to fit")
    for f in resolved:
        if len(f.inputs) != fd.X.shape[0]:
            if len(resolved) == 1:
                raise UserError(
                    f"form {f.name!r} takes {len(f.inputs)} input(s) ({', '.join(f.inputs)}), "
                    f"got {fd.X.shape[0]} column(s)"
                )
    resolved = [f for f in resolved if len(f.inputs) == fd.X.shape[0]]
    if not resolved:
        raise UserError(f"none of the forms takes {fd.X.shape[0]} input column(s)")
    settings = _Settings(
        Loss.parse(loss, delta), int(n_boot), int(seed), profile, starts, n_jobs, maxiter, None
    )
    if n_boot < 0:
        raise UserError("n_boot must be >= 0")
    from .._progress import make_progress, progress_enabled

    with make_progress(transient=True) if progress and progress_enabled() else nullcontext() as bar:
        settings.progress = bar
        if len(resolved) == 1:
            return _fit_one(resolved[0], fd, mask, settings)
        return _compare(resolved, fd, mask, settings)


def _compare(forms: list[Form], fd: FitData, mask: np.ndarray, st: _Settings) -> FitResult:
    """Fit every form (those that cannot be fitted are skipped) and rank them."""
    results: dict[str, FitResult] = {}
    skipped: list[str] = []
    for form in forms:
        try:
            results[form.name] = _fit_one(form, fd, mask, st)
        except UserError as err:
            skipped.append(f"{form.name}: {err}")
    if not results:
        raise UserError("no form could be fitted: " + "; ".join(skipped))
    return rank(results, skipped, held_out=not mask.all())


def _fit_one(form: Form, fd: FitData, mask: np.ndarray, st: _Settings) -> FitResult:
    train, test = fd.subset(mask), fd.subset(~mask)
    p = form.n_params
    if train.n < p:
        raise UserError(f"form {form.name!r} has {p} parameters but only {train.n} point(s) to fit")
    warnings: list[str] = []
    if train.n == p:
        warnings.append(
            warns.coded(
                "fit-saturated",
                "as many parameters as points: the fit interpolates and intervals are unreliable",
            )
        )
    lX, ly = np.log(train.X), np.log(train.y)
    lower, upper = form.internal_bounds()
    obj = LogResidualObjective(form, lX, ly, st.loss)

    grid = _user_starts(form, st.starts) if st.starts is not None else form.start_grid(lX, ly)
    grid = np.clip(grid[np.all(np.isfinite(grid), axis=1)], lower, upper)
    if grid.shape[0] == 0:
        raise UserError(f"no finite start for form {form.name!r}")
    f0, _ = obj(grid, np.arange(grid.shape[0]), False)
    finite = np.isfinite(f0)
    if not finite.any():
        raise UserError(f"no start of form {form.name!r} gives a finite prediction on these data")
    grid, f0 = grid[finite], f0[finite]
    if form.refine is not None and st.starts is None and grid.shape[0] > form.refine:
        grid = grid[np.argsort(f0, kind="stable")[: form.refine]]

    res = _minimize(st, obj, grid, lower, upper, f"{form.name}: {grid.shape[0]} starts")
    # Points that give the same curve (permuted BNSL breaks) count as one optimum.
    res.x = form.canonicalize(res.x)
    cand = _distinct(res.x, res.fun, 3)
    # The best optimum is finished by SciPy's L-BFGS-B (the recipe's optimiser);
    # the others only seed the bootstrap.
    best_theta, best_f = polish(obj, res.x[cand[0]], lower, upper)
    best_theta = form.canonicalize(best_theta)[0]
    optima = np.vstack([best_theta, res.x[cand[1:]]])
    at_best = int(np.sum(res.fun <= best_f + 1e-6 * max(abs(best_f), 1e-12)))
    starts_info = {
        "n": int(f0.size),
        "refined": int(grid.shape[0]),
        "converged": int(np.sum(res.status == CONVERGED)),
        "at_best": at_best,
        "distinct_optima": [float(best_f), *(float(res.fun[i]) for i in cand[1:])],
    }
    values = form.to_natural(best_theta)
    params = {n: float(v) for n, v in zip(form.param_names, values, strict=True)}

    pred_train = np.atleast_1d(form.log_predict(best_theta[None], lX, False)[0][0])
    resid = ly - pred_train
    train_info = {"rmsle": _rmsle(resid), "n_points": train.n, "window": train.window()}
    rss = float(np.sum(resid**2))
    n = train.n
    loglik = -0.5 * n * (np.log(2 * np.pi * max(rss, 1e-300) / n) + 1)
    k = p + 1
    information = {
        "aic": 2 * k - 2 * loglik,
        "aicc": 2 * k - 2 * loglik + 2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else None,
        "bic": k * np.log(n) - 2 * loglik,
        "log_likelihood": loglik,
        "note": "Gaussian likelihood of the log residuals at the fitted parameters (p + 1 "
        "parameters counting the noise scale)",
    }

    boot_vals, boot_info = None, {"n": 0}
    stderr: dict[str, float | None] = {nm: None for nm in form.param_names}
    ci95: dict[str, list[float] | None] = {nm: None for nm in form.param_names}
    if st.n_boot > 0:
        boot_theta, boot_info = _bootstrap(form, obj, optima, lower, upper, st)
        boot_vals = form.to_natural(boot_theta)
        stderr, ci95 = _summarise(boot_vals, form.param_names)
        if boot_info["converged"] < 0.8:
            warnings.append(
                warns.coded(
                    "fit-boot-iteration-limit",
                    f"{1 - boot_info['converged']:.0%} of bootstrap refits stopped at the "
                    "iteration limit (often a parameter drifting to 0 or infinity on a resample)",
                )
            )

    result = FitResult(
        form=form,
        loss=st.loss,
        params=params,
        stderr=stderr,
        ci95=ci95,
        objective=float(best_f),
        data=fd,
        train_mask=mask,
        train=train_info,
        extrapolation=None,
        starts=starts_info,
        bootstrap=boot_info,
        information=information,
        boot_params=boot_vals,
        warnings=warnings,
    )
    if test.n:
        result.extrapolation = _extrapolation(result, train, test)
    if st.profile:
        names = (
            [q.name for q in form.params if q.exponent] if st.profile is True else list(st.profile)
        )
        result.profile = _profile(form, obj, best_theta, best_f, names, boot_vals, st, warnings)
    return result
