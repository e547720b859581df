"""The result of :func:`~scalinglab.stats.correlations`: norms per lag, floors, errors, beta.

:class:`CorrelationResult` is what the engine returns; ``to_dict`` is the
``correlations.json`` document and :meth:`CorrelationResult.from_dict` reads it
back (the bootstrap replicates are not saved, so they do not come back).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from ._corr_fit import BrokenPowerLaw, PowerLawFit

__all__ = ["CorrelationResult", "fit_from_dict"]


@dataclass
class CorrelationResult:
    """Correlation norms per lag, their errors and floors, and the fitted exponents.

    Arrays are indexed like ``lags``. ``noise_floor`` is the operator-norm
    floor (mean norm of the shuffled surrogates); ``resolvable`` follows
    ``resolvable_rule``. ``beta`` and ``beta_frobenius`` are
    :class:`PowerLawFit` objects (``value`` None when undefined).
    """

    lags: np.ndarray
    pairs: np.ndarray
    operator_norm: np.ndarray
    operator_norm_stderr: np.ndarray
    operator_norm_ci95: np.ndarray
    frobenius: np.ndarray
    frobenius_stderr: np.ndarray
    noise_floor: np.ndarray
    noise_floor_sd: np.ndarray
    frobenius_floor: np.ndarray
    frobenius_floor_shuffled: np.ndarray
    resolvable: np.ndarray
    resolvable_frobenius: np.ndarray
    resolvable_rule: str
    floor_factor: float
    second_singular_value: np.ndarray
    beta: PowerLawFit
    beta_frobenius: PowerLawFit
    warnings: list[str]
    corpus: dict[str, Any]
    settings: dict[str, Any]
    method: dict[str, Any]
    top_singular_values: np.ndarray | None = None
    beta_rule: str = ""
    elapsed_s: float = 0.0
    replicates: dict[str, np.ndarray | None] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The contents of ``correlations.json``."""
        d: dict[str, Any] = {
            "lags": [int(v) for v in self.lags],
            "operator_norm": self.operator_norm,
            "frobenius": self.frobenius,
            "noise_floor": self.noise_floor,
            "frobenius_floor": self.frobenius_floor,
            "resolvable": [bool(v) for v in self.resolvable],
            "operator_norm_stderr": self.operator_norm_stderr,
            "beta": self.beta.to_dict(),
            "beta_frobenius": self.beta_frobenius.to_dict(),
            "warnings": list(self.warnings),
            "pairs": [int(v) for v in self.pairs],
            "operator_norm_ci95": self.operator_norm_ci95,
            "frobenius_stderr": self.frobenius_stderr,
            "noise_floor_sd": self.noise_floor_sd,
            "frobenius_floor_shuffled": self.frobenius_floor_shuffled,
            "resolvable_frobenius": [bool(v) for v in self.resolvable_frobenius],
            "resolvable_rule": self.resolvable_rule,
            "beta_rule": self.beta_rule,
            "floor_factor": self.floor_factor,
            "second_singular_value": self.second_singular_value,
            "corpus": self.corpus,
            "settings": self.settings,
            "method": self.method,
            "elapsed_s": self.elapsed_s,
        }
        if self.top_singular_values is not None:
            d["top_singular_values"] = self.top_singular_values
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorrelationResult:
        """The result back from its :meth:`to_dict` or ``correlations.json`` (null as NaN)."""
        nl = len(d["lags"])

        def arr(key: str, shape: tuple[int, ...] = (nl,)) -> np.ndarray:
            v = d.get(key)
            if v is None:
                return np.full(shape, np.nan)
            return np.asarray(v, dtype=float).reshape(shape)

        top = d.get("top_singular_values")
        return cls(
            lags=np.asarray(d["lags"], dtype=np.int64),
            pairs=np.asarray(d["pairs"], dtype=np.int64),
            operator_norm=arr("operator_norm"),
            operator_norm_stderr=arr("operator_norm_stderr"),
            operator_norm_ci95=arr("operator_norm_ci95", (nl, 2)),
            frobenius=arr("frobenius"),
            frobenius_stderr=arr("frobenius_stderr"),
            noise_floor=arr("noise_floor"),
            noise_floor_sd=arr("noise_floor_sd"),
            frobenius_floor=arr("frobenius_floor"),
            frobenius_floor_shuffled=arr("frobenius_floor_shuffled"),
            resolvable=np.asarray(d["resolvable"], dtype=bool),
            resolvable_frobenius=np.asarray(d["resolvable_frobenius"], dtype=bool),
            resolvable_rule=str(d["resolvable_rule"]),
            floor_factor=float(d["floor_factor"]),
            second_singular_value=arr("second_singular_value"),
            beta=fit_from_dict(d["beta"]),
            beta_frobenius=fit_from_dict(d["beta_frobenius"]),
            warnings=[str(w) for w in d.get("warnings") or []],
            corpus=dict(d.get("corpus") or {}),
            settings=dict(d.get("settings") or {}),
            method=dict(d.get("method") or {}),
            top_singular_values=None
            if top is None
            else np.asarray(top, dtype=float).reshape(nl, -1),
            beta_rule=str(d.get("beta_rule", "")),
            elapsed_s=float(d.get("elapsed_s") or 0.0),
        )

    def save(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write ``correlations.json`` and ``correlations.png`` into ``out_dir`` (atomically)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_json(out / "correlations.json", self.to_dict())]
        paths.append(self.plot(out / "correlations.png"))
        return paths

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Figure: the norms with their floors and the beta fit."""
        from ._plot import plot_correlations

        return plot_correlations(self, Path(path))

    def summary(self) -> str:
        """A few lines for the terminal: corpus, lags, beta with its interval and window."""
        lines = []
        c = self.corpus
        lines.append(
            f"correlations of {c.get('source')} ({c.get('tokens')} tokens, V = "
            f"{c.get('vocab_size')}, {c.get('tokenizer')}), {len(self.lags)} lags "
            f"{int(self.lags[0])}..{int(self.lags[-1])}"
        )
        lines.append(
            f"  ||C({int(self.lags[0])})||_op = {_fmt(self.operator_norm[0])} +- "
            f"{_fmt(self.operator_norm_stderr[0])}; floor {_fmt(self.noise_floor[0])}; "
            f"resolvable lags: {_ranges(self.lags, self.resolvable)}"
        )
        for name, fit in (("beta", self.beta), ("beta (Frobenius)", self.beta_frobenius)):
            lines.append(f"  {name}: {_fit_text(fit)}")
            if fit.broken is not None:
                b = fit.broken
                lines.append(
                    f"    break at lag {b.at:g}: {_fit_text(b.left)} | {_fit_text(b.right)}"
                )
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def _fmt(v: float) -> str:
    return "nan" if v is None or not np.isfinite(v) else f"{v:.3g}"


def _fit_text(fit: PowerLawFit) -> str:
    if fit.value is None:
        return f"undefined ({fit.reason})"
    if fit.stderr is not None:
        se = f" +- {fit.stderr:.3f}"
    elif fit.fit_stderr is not None:  # no bootstrap: the least-squares error, named as such
        se = f" +- {fit.fit_stderr:.3f} (least-squares error; no bootstrap)"
    else:
        se = ""
    ci = f", 95% CI [{fit.ci95[0]:.3f}, {fit.ci95[1]:.3f}]" if fit.ci95 is not None else ""
    assert fit.window is not None
    return f"{fit.value:.3f}{se}{ci} over lags {fit.window[0]:g}..{fit.window[1]:g}"


def _ranges(lags: np.ndarray, ok: np.ndarray) -> str:
    """Runs of consecutive measured lags where ``ok`` holds, e.g. ``1..28, 51..90``."""
    if not ok.any():
        return "none"
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    runs = [(int(lags[a]), int(lags[b - 1])) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in runs)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _pair(v: Any) -> tuple[float, float] | None:
    return None if v is None else (float(v[0]), float(v[1]))


def fit_from_dict(d: dict[str, Any]) -> PowerLawFit:
    """A :class:`PowerLawFit` back from its ``to_dict`` (a break included)."""
    fit = PowerLawFit(
        value=_opt_float(d.get("value")),
        stderr=_opt_float(d.get("stderr")),
        ci95=_pair(d.get("ci95")),
        window=_pair(d.get("window")),
        amplitude=_opt_float(d.get("amplitude")),
        n_points=int(d.get("n_points") or 0),
        chi2_dof=_opt_float(d.get("chi2_dof")),
        scatter=_opt_float(d.get("scatter")),
        stderr_sampling=_opt_float(d.get("stderr_sampling")),
        fit_stderr=_opt_float(d.get("fit_stderr")),
        n_boot=int(d.get("n_boot") or 0),
        method=str(d.get("method") or ""),
        reason=d.get("reason"),
        warnings=[str(w) for w in d.get("warnings") or []],
    )
    b = d.get("break")
    if b is not None:
        fit.broken = BrokenPowerLaw(
            at=float(b["at"]),
            left=fit_from_dict(b["left"]),
            right=fit_from_dict(b["right"]),
            p_value=float(b["p_value"]),
            delta=float(b["delta"]),
            delta_stderr=_opt_float(b.get("delta_stderr")),
        )
    return fit
