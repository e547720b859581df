"""A measured learning curve to overlay on a prediction (a sweep.json)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError


def load_measured(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A measured learning curve from a sweep (its directory or sweep.json): ``curve``
    {P, loss} and the measured alpha_D."""
    from ..train.sweep import load_sweep

    p = Path(path)
    d = load_sweep(p)  # a sweep directory or its sweep.json; one-line errors
    curve = d.get("curve")
    if not isinstance(curve, dict) or "P" not in curve or "loss" not in curve:
        raise UserError(f"{p}: no 'curve' with 'P' and 'loss' (expected a sweep.json)")
    try:
        P = np.asarray(curve["P"], float)
        L = np.asarray(curve["loss"], float)
    except (TypeError, ValueError):
        raise UserError(f"{p}: the curve's 'P' and 'loss' must be lists of numbers") from None
    if P.ndim != 1 or P.shape != L.shape:
        raise UserError(f"{p}: the curve's 'P' and 'loss' must be lists of equal length")
    if P.size < 2 or not (np.isfinite(P).all() and np.isfinite(L).all()):
        raise UserError(f"{p}: the measured curve needs at least 2 finite points")
    out: dict[str, Any] = {"source": str(p), "P": P.tolist(), "loss": L.tolist()}
    a = d.get("alpha_D")
    if isinstance(a, dict):
        out["alpha_D"] = a.get("value")
        out["alpha_D_stderr"] = a.get("stderr")
        out["alpha_D_ci95"] = a.get("ci95")
        out["window"] = a.get("window")
    return out
