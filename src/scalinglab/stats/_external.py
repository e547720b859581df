"""Per-position losses of a trained model, read from a user's file (JSON or CSV)."""

from __future__ import annotations

import csv
import json
import math
import os
import warnings as _warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["load_external_losses"]


def _float_array(values: Any, where: str, what: str) -> np.ndarray:
    """``values`` as a float array (None -> NaN); a ragged list of lists is NaN-padded."""
    if isinstance(values, list) and values and all(isinstance(r, list) for r in values):
        width = max(len(r) for r in values)
        values = [r + [None] * (width - len(r)) for r in values]  # rows (models), not tokens
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {what}") from None


def _context_lengths(values: Any, where: str) -> np.ndarray:
    """Context lengths as integers; non-integer or non-finite values are user errors."""
    arr = np.atleast_1d(_float_array(values, where, "the context lengths n must be integers"))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise UserError(f"{where}: the context lengths n must be integers")
    return arr.astype(np.int64)


def _pairs(ns: Any, losses: Any, where: str) -> dict[int, float]:
    n_arr = _context_lengths(ns, where)
    l_arr = np.atleast_1d(_float_array(losses, where, "the losses must be numbers (or null)"))
    if l_arr.ndim != 1 or l_arr.size != n_arr.size:
        raise UserError(
            f"{where}: n and loss must be lists of the same length "
            f"(got {n_arr.size} and {l_arr.size})"
        )
    out: dict[int, float] = {}
    # entries, not tokens; a context length given twice (two models) keeps the lower bound
    for k, v in zip(n_arr.tolist(), l_arr.tolist(), strict=True):
        if math.isfinite(v):
            out[k] = min(v, out.get(k, math.inf))
    return out


def _losses_from_list(values: Any, where: str) -> dict[int, float]:
    # The trainer's convention: entry i is the loss at the position that has seen
    # i + 1 tokens, i.e. an upper bound on H_{i+1}.
    arr = _float_array(values, where, "per_position_loss must hold numbers (or null)")
    if arr.ndim == 2:  # one row per run: each is an upper bound, keep the lowest
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)
            arr = np.nanmin(arr, axis=0)
    if arr.ndim != 1:
        raise UserError(f"{where}: per_position_loss must be a list or a list of lists")
    return {i + 1: float(v) for i, v in enumerate(arr) if np.isfinite(v)}


def _losses_from_json(obj: Any, where: str) -> dict[int, float]:
    if isinstance(obj, list):
        return _losses_from_list(obj, where)
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object or list")
    if "per_position_loss" in obj:
        return _losses_from_list(obj["per_position_loss"], where)
    if "runs" in obj and isinstance(obj["runs"], list):
        rows = [
            r["per_position_loss"]
            for r in obj["runs"]
            if isinstance(r, dict) and isinstance(r.get("per_position_loss"), list)
        ]
        if not rows:
            raise UserError(f"{where}: no run has a per_position_loss list")
        return _losses_from_list(rows, where)
    if "n" in obj and "loss" in obj:
        return _pairs(obj["n"], obj["loss"], where)
    keys, vals = list(obj.keys()), list(obj.values())
    try:
        ns = [int(k) for k in keys]
    except (TypeError, ValueError):
        raise UserError(
            f"{where}: expected per_position_loss, runs, {{n: [..], loss: [..]}} or {{n: loss}}"
        ) from None
    return _pairs(ns, vals, where)


def load_external_losses(path: str | os.PathLike[str]) -> dict[int, float]:
    """Read per-position losses of a trained model as upper bounds on H_n (nats).

    Accepted files:

    * JSON with ``per_position_loss`` (a ``scalinglab train`` run.json): a list
      whose entry ``i`` is the held-out loss at the position that has seen
      ``i + 1`` tokens, hence a bound on ``H_{i+1}``; or a matrix (one row per
      model), of which the column-wise minimum is kept. A bare JSON list is read
      the same way;
    * a sweep JSON with ``runs``, each holding ``per_position_loss`` (minimum over runs);
    * JSON ``{"n": [..], "loss": [..]}`` or ``{"<n>": loss, ..}``;
    * CSV with a header and columns ``n`` and ``loss`` (or the first two columns).

    Context lengths must be integers; a length given twice keeps the lower loss.
    A malformed file is a :class:`UserError` naming it.

    Returns
    -------
    dict
        ``{n: loss}`` for every finite entry.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"external entropy file not found: {p}")
    if p.suffix.lower() == ".csv":
        try:
            with open(p, newline="") as f:
                rows = list(csv.reader(f))
        except (UnicodeDecodeError, csv.Error) as e:
            raise UserError(f"{p}: not a readable CSV text file ({e})") from None
        if len(rows) < 2:
            raise UserError(f"{p}: a CSV needs a header and at least one row")
        head = [h.strip().lower() for h in rows[0]]
        i_n = head.index("n") if "n" in head else 0
        i_l = head.index("loss") if "loss" in head else 1
        body = [r for r in rows[1:] if r]
        try:
            ns, ls = [float(r[i_n]) for r in body], [float(r[i_l]) for r in body]
        except (ValueError, IndexError):
            raise UserError(f"{p}: columns n and loss must be numbers") from None
        out = _pairs(ns, ls, str(p))
    else:
        try:
            obj = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
            raise UserError(f"{p}: not valid JSON ({e})") from None
        out = _losses_from_json(obj, str(p))
    return _checked_losses(out, str(p))


def _checked_losses(out: dict[int, float], where: str) -> dict[int, float]:
    out = {n: v for n, v in out.items() if math.isfinite(v)}
    if not out:
        raise UserError(f"{where}: no finite losses")
    if min(out) < 0 or min(out.values()) < 0:
        raise UserError(f"{where}: context lengths and losses must be non-negative")
    return out
