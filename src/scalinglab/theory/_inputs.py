"""The two statistics as theory reads them: typed views of correlations.json and entropy.json.

``predict`` works from either the engines' result objects
(:class:`~scalinglab.stats.CorrelationResult`, :class:`~scalinglab.stats.EntropyResult`)
or the JSON documents they save (a directory of earlier results, a cache
entry). Both are read here, once: every array the prediction needs is
converted to float/int NumPy arrays (``null`` becomes NaN), its length checked
against the lags or context lengths, and a missing field named in a
one-line :class:`UserError`. The rest of :mod:`scalinglab.theory` reads
attributes, never dictionary keys of the documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._io import _jsonable
from ..errors import UserError


def as_document(obj: Any, what: str) -> dict[str, Any]:
    """A result object or a JSON document as a plain JSON document."""
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return obj
    raise UserError(f"{what}: expected a result object or its JSON document, got {type(obj)}")


def _floats(d: dict[str, Any], key: str, size: int | None, where: str, default: Any = ...) -> Any:
    v = d.get(key)
    if v is None:
        if default is ...:
            raise UserError(f"{where}: the field '{key}' is missing")
        return default
    try:
        a = np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{where}: the field '{key}' is not a list of numbers") from None
    if a.ndim != 1 or (size is not None and a.size != size):
        raise UserError(f"{where}: the field '{key}' has {a.size} entries, expected {size}")
    return a


def _fit(d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise UserError(f"{where}: the field '{key}' (the fitted exponent) is missing")
    return dict(v)


@dataclass(frozen=True)
class CorrelationInputs:
    """What theory uses of a correlation result (arrays indexed like ``lags``)."""

    lags: np.ndarray
    operator_norm: np.ndarray
    operator_norm_stderr: np.ndarray
    noise_floor: np.ndarray
    pairs: np.ndarray | None
    beta: dict[str, Any]
    warnings: list[str]
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def read(cls, obj: Any, where: str = "correlations") -> CorrelationInputs:
        d = as_document(obj, where)
        lags = _floats(d, "lags", None, where)
        k = lags.size
        nan = np.full(k, np.nan)
        return cls(
            lags=lags,
            operator_norm=_floats(d, "operator_norm", k, where),
            operator_norm_stderr=_floats(d, "operator_norm_stderr", k, where, nan),
            noise_floor=_floats(d, "noise_floor", k, where),
            pairs=_floats(d, "pairs", k, where, None),
            beta=_fit(d, "beta", where),
            warnings=[str(w) for w in d.get("warnings") or []],
            document=d,
        )

    def block(self) -> dict[str, Any]:
        """The correlations block of prediction.json (the arrays the figure needs)."""
        keys: tuple[str, ...] = ("lags", "operator_norm", "frobenius", "noise_floor")
        keys += ("resolvable", "operator_norm_stderr", "frobenius_floor")
        return {k: self.document.get(k) for k in keys}


@dataclass(frozen=True)
class EntropyInputs:
    """What theory uses of an entropy result (arrays indexed by context length ``n``)."""

    n: np.ndarray
    estimate: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    #: the smoothed n-gram model's held-out loss alone (``upper`` may hold a model's too)
    upper_ngram: np.ndarray
    upper_stderr: np.ndarray
    #: paired standard error of upper_ngram[n-1] - upper_ngram[n] (NaN where unknown)
    upper_ngram_drop_stderr: np.ndarray
    upper_external: np.ndarray | None
    reliable: np.ndarray
    converged: np.ndarray
    coverage: np.ndarray
    gamma: dict[str, Any]
    #: inclusive (lo, hi) of the count-based reliable window, or None
    reliable_window: tuple[int, int] | None
    warnings: list[str]
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def read(cls, obj: Any, where: str = "entropy") -> EntropyInputs:
        d = as_document(obj, where)
        n = _floats(d, "n", None, where)
        k = n.size
        if k == 0 or np.any(np.diff(n) <= 0):
            raise UserError(f"{where}: the context lengths 'n' must be increasing")
        upper = _floats(d, "upper", k, where)
        reliable = _floats(d, "reliable", k, where, np.ones(k)).astype(bool)
        rw = (d.get("reliability_rule") or {}).get("reliable_window")
        return cls(
            n=n.astype(np.int64),
            estimate=_floats(d, "estimate", k, where),
            upper=upper,
            lower=_floats(d, "lower", k, where),
            upper_ngram=_floats(d, "upper_ngram", k, where, upper),
            upper_stderr=_floats(d, "upper_stderr", k, where, np.full(k, np.nan)),
            upper_ngram_drop_stderr=_floats(
                d, "upper_ngram_drop_stderr", k, where, np.full(k, np.nan)
            ),
            upper_external=_floats(d, "upper_external", k, where, None),
            reliable=reliable,
            converged=_floats(d, "converged", k, where, reliable).astype(bool),
            coverage=_floats(d, "coverage", k, where, np.ones(k)),
            gamma=_fit(d, "gamma", where),
            reliable_window=(int(rw[0]), int(rw[1])) if rw else None,
            warnings=[str(w) for w in d.get("warnings") or []],
            document=d,
        )

    @property
    def reliable_points(self) -> int:
        """Context lengths n >= 1 in the count-based reliable window."""
        w = self.reliable_window
        return w[1] - w[0] + 1 if w else 0

    def block(self) -> dict[str, Any]:
        """The entropy block of prediction.json (the arrays the figure needs)."""
        d = self.document
        out = {k: d.get(k) for k in ("n", "estimate", "upper", "lower", "reliable", "coverage")}
        out["estimator"] = d.get("estimator")
        out["method"] = d.get("method", d.get("estimator"))
        return out
