"""Held-out points: which points a fit leaves out, and how well it extrapolates to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from .data import FitData

if TYPE_CHECKING:
    from .core import FitResult


def _rmsle(log_resid: np.ndarray) -> float:
    return float(np.sqrt(np.mean(log_resid**2))) if log_resid.size else float("nan")


def _holdout_mask(fd: FitData, holdout_last: int | None, holdout_above: Any) -> np.ndarray:
    """True for points to fit. See :func:`fit` for the meaning of the options."""
    mask = np.ones(fd.n, dtype=bool)
    if holdout_last is not None and holdout_above is not None:
        raise UserError("give holdout_last or holdout_above, not both")
    if holdout_last:
        k = int(holdout_last)
        if k < 0 or k >= fd.n:
            raise UserError(f"cannot hold out {k} of {fd.n} points")
        key = np.log(fd.X).sum(axis=0)  # x for one input, log(N D) ~ compute for two
        order = np.lexsort((np.arange(fd.n), key))
        mask[order[fd.n - k :]] = False
    elif holdout_above is not None:
        col, value = 0, holdout_above
        if isinstance(holdout_above, str) and "=" in holdout_above:
            name, _, value = holdout_above.rpartition("=")
            col = _column_index(fd, name.strip())
        elif isinstance(holdout_above, tuple):
            name, value = holdout_above
            col = _column_index(fd, str(name))
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            raise UserError(f"holdout_above needs a number, got {value!r}") from None
        mask = fd.X[col] <= threshold
        if mask.all():
            raise UserError(f"no point has {fd.x_names[col]} above {threshold:g}")
    return mask


def _column_index(fd: FitData, name: str) -> int:
    if name not in fd.x_names:
        raise UserError(f"holdout column {name!r} is not one of the x columns {fd.x_names}")
    return fd.x_names.index(name)


def _extrapolation(result: FitResult, train: FitData, test: FitData) -> dict:
    form = result.form
    pred = result.predict_inputs(test.X)
    log_resid = np.log(test.y) - np.log(pred.y)
    info: dict[str, Any] = {
        "rmsle": _rmsle(log_resid),
        "n_points": test.n,
        "window": test.window(),
        "fit_window": train.window(),
    }
    if result.boot_params is not None and len(result.boot_params) > 1:
        curves = np.atleast_2d(form.predict(result.boot_params, test.X))
        with np.errstate(divide="ignore", invalid="ignore"):
            boot_rmsle = np.sqrt(np.mean((np.log(test.y) - np.log(curves)) ** 2, axis=1))
        boot_rmsle = boot_rmsle[np.isfinite(boot_rmsle)]
        if boot_rmsle.size > 1:
            info["stderr"] = float(boot_rmsle.std(ddof=1))
            info["ci95"] = [float(v) for v in np.percentile(boot_rmsle, [2.5, 97.5])]
        inside = (test.y >= pred.lo) & (test.y <= pred.hi)
        info["in_band95"] = int(inside.sum())
    info["points"] = [
        {
            "row": int(test.rows[i]),
            "x": {nm: float(test.X[j, i]) for j, nm in enumerate(test.x_names)},
            "y": float(test.y[i]),
            "predicted": float(pred.y[i]),
            "stderr": None if pred.stderr is None else float(pred.stderr[i]),
            "lo": None if pred.lo is None else float(pred.lo[i]),
            "hi": None if pred.hi is None else float(pred.hi[i]),
        }
        for i in range(test.n)
    ]
    return info
