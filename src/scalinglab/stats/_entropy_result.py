"""The result of :func:`~scalinglab.stats.entropy`: H_n, its bounds, reliability and gamma.

``EntropyResult.to_dict`` is the ``entropy.json`` document and
:meth:`EntropyResult.from_dict` reads it back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import _jsonable, write_json
from .._progress import warning_line
from ._gamma import GammaFit

__all__ = ["ABS_TOL", "RELIABILITY_RULE", "EntropyResult", "gamma_from_dict"]

#: Absolute floor of the reliability tolerances (nats), for near-deterministic sources
#: where a relative tolerance on H_n ~ 0 can never be met.
ABS_TOL = 0.005

#: How ``reliable[n]`` is decided (recorded in entropy.json).
RELIABILITY_RULE = (
    "reliable[n] = (upper - lower <= max(tol * upper, abs_tol)) and, for each step between "
    "the nested training prefixes P/4 -> P/2 -> P, |estimate(larger) - estimate(smaller)| "
    "<= max(tol * estimate(larger), abs_tol); converged[n] is the last step (P/2 -> P) alone"
)


@dataclass
class EntropyResult:
    """Conditional entropies H_n for n = 0 .. max_n (nats), bounds and reliability.

    The arrays are indexed by context length ``n``. ``to_dict`` gives the
    entropy.json document; ``save`` writes it with a figure.
    """

    n: np.ndarray
    plugin: np.ndarray
    miller_madow: np.ndarray
    grassberger: np.ndarray
    estimate: np.ndarray
    estimate_stderr: np.ndarray
    estimator: str
    upper: np.ndarray
    upper_stderr: np.ndarray
    upper_ngram: np.ndarray
    ngram_loss: np.ndarray
    upper_external: np.ndarray
    lower: np.ndarray
    coverage: np.ndarray
    coverage_k: int
    converged: np.ndarray
    converged_prefixes: np.ndarray
    agree: np.ndarray
    reliable: np.ndarray
    reliability_tol: float
    prefix_tokens: list[int]
    prefix_estimates: np.ndarray
    discount: np.ndarray
    distinct_ngrams: np.ndarray
    block_entropy: np.ndarray
    gamma: GammaFit
    gamma_offset: GammaFit | None
    train_tokens: int
    heldout_targets: int
    corpus: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = float("nan")
    discounts: dict[str, Any] | None = None
    #: standard error of upper_ngram[n-1] - upper_ngram[n], paired over held-out targets
    upper_drop_stderr: np.ndarray | None = None

    @property
    def max_n(self) -> int:
        return int(self.n[-1])

    @property
    def reliable_window(self) -> tuple[int, int] | None:
        """The contiguous reliable run of context lengths starting at n >= 1."""
        return _reliable_window(self.reliable)

    def to_dict(self) -> dict[str, Any]:
        """The entropy.json document (nats; plain lists, NaN as None)."""
        return _jsonable(self._document())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EntropyResult:
        """The result back from its :meth:`to_dict` or ``entropy.json`` (null as NaN)."""
        size = len(d["n"])

        def arr(key: Any, shape: tuple[int, ...] = (size,)) -> np.ndarray:
            v = d.get(key) if isinstance(key, str) else key
            if v is None:
                return np.full(shape, np.nan)
            return np.asarray(v, dtype=float)

        def flags(key: str) -> np.ndarray:
            return np.asarray(d[key], dtype=bool)

        rule = d.get("reliability_rule") or {}
        prefix = d.get("prefix_estimates") or {}
        p_tokens = [int(t) for t in prefix.get("tokens") or []]
        drop = d.get("upper_ngram_drop_stderr")
        gamma_offset = d.get("gamma_offset")
        return cls(
            n=np.asarray(d["n"], dtype=np.int64),
            plugin=arr("plugin"),
            miller_madow=arr("miller_madow"),
            grassberger=arr("grassberger"),
            estimate=arr("estimate"),
            estimate_stderr=arr("estimate_stderr"),
            estimator=str(d["estimator"]),
            upper=arr("upper"),
            upper_stderr=arr("upper_stderr"),
            upper_ngram=arr("upper_ngram"),
            ngram_loss=arr("ngram_heldout_loss"),
            upper_external=arr("upper_external"),
            lower=arr("lower"),
            coverage=arr("coverage"),
            coverage_k=int(d["coverage_k"]),
            converged=flags("converged"),
            converged_prefixes=flags("converged_prefixes"),
            agree=flags("bounds_agree"),
            reliable=flags("reliable"),
            reliability_tol=float(rule.get("tol", float("nan"))),
            prefix_tokens=p_tokens,
            prefix_estimates=np.asarray(prefix["estimate"], dtype=float).reshape(-1, size),
            discount=arr("kn_discount"),
            distinct_ngrams=np.asarray(d["distinct_ngrams"]),
            block_entropy=arr("block_entropy"),
            gamma=gamma_from_dict(d["gamma"]),
            gamma_offset=gamma_from_dict(gamma_offset) if gamma_offset is not None else None,
            train_tokens=int(d["train_tokens"]),
            heldout_targets=int(d["heldout_targets"]),
            corpus=dict(d.get("corpus") or {}),
            warnings=[str(w) for w in d.get("warnings") or []],
            seconds=float("nan") if d.get("seconds") is None else float(d["seconds"]),
            discounts=d.get("discounts"),
            upper_drop_stderr=None if drop is None else arr(drop),
        )

    def _document(self) -> dict[str, Any]:
        return {
            "n": self.n.tolist(),
            "plugin": self.plugin,
            "estimate": self.estimate,
            "estimate_stderr": self.estimate_stderr,
            "estimator": self.estimator,
            "upper": self.upper,
            "lower": self.lower,
            "coverage": self.coverage,
            "reliable": [bool(b) for b in self.reliable],
            "gamma": self.gamma.to_dict(),
            "warnings": list(self.warnings),
            "method": (
                f"{self.estimator} estimate from suffix-array n-gram counts; lower = plug-in; "
                "upper = held-out cross-entropy of interpolated modified Kneser-Ney"
                + (" or of the external model, whichever is lower" if self._has_external else "")
            ),
            "units": "nats",
            "miller_madow": self.miller_madow,
            "grassberger": self.grassberger,
            "upper_stderr": self.upper_stderr,
            "upper_ngram": self.upper_ngram,
            "upper_ngram_drop_stderr": self.upper_drop_stderr,
            "ngram_heldout_loss": self.ngram_loss,
            "upper_external": self.upper_external if self._has_external else None,
            "coverage_k": self.coverage_k,
            "converged": [bool(b) for b in self.converged],
            "converged_prefixes": [bool(b) for b in self.converged_prefixes],
            "bounds_agree": [bool(b) for b in self.agree],
            "reliability_rule": {
                "tol": self.reliability_tol,
                "abs_tol": ABS_TOL,
                "rule": RELIABILITY_RULE,
                "reliable_window": list(self.reliable_window) if self.reliable_window else None,
            },
            "prefix_estimates": {
                "tokens": self.prefix_tokens,
                "estimate": self.prefix_estimates,
            },
            "kn_discount": self.discount,
            "discounts": self.discounts,
            "distinct_ngrams": self.distinct_ngrams,
            "block_entropy": self.block_entropy,
            "gamma_offset": self.gamma_offset.to_dict() if self.gamma_offset else None,
            "train_tokens": self.train_tokens,
            "heldout_targets": self.heldout_targets,
            "corpus": self.corpus,
            "seconds": self.seconds,
        }

    @property
    def _has_external(self) -> bool:
        return bool(np.isfinite(self.upper_external).any())

    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``entropy.json`` and ``entropy.png`` into ``out_dir`` (atomically)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = write_json(out / "entropy.json", self.to_dict())
        self.plot(out / "entropy.png")
        return path

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Figure: H_n with its bounds and the gamma fit; coverage and bound gap."""
        from ._plot import plot_entropy

        return plot_entropy(self, path)

    def summary(self) -> str:
        """A few lines for the terminal (Rich markup)."""
        lines = [
            f"[bold]conditional entropy[/bold] of {self.corpus.get('source', 'corpus')}: "
            f"{self.train_tokens:,} training tokens, {self.heldout_targets:,} held-out targets "
            f"(nats; estimator {self.estimator})",
            "     n   lower  estimate   upper  coverage  reliable",
        ]
        show = sorted({0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, self.max_n})
        for i in [k for k in show if k <= self.max_n]:
            lines.append(
                f"  {i:4d}  {self.lower[i]:6.3f}  {self.estimate[i]:8.3f}  {self.upper[i]:6.3f}"
                f"  {self.coverage[i]:8.3f}  {'yes' if self.reliable[i] else 'no'}"
            )
        w = self.reliable_window
        lines.append(f"reliable window: {'none' if w is None else f'n = {w[0]}..{w[1]}'}")
        g = self.gamma
        if np.isfinite(g.value) and g.window is not None:
            lines.append(
                f"[bold]gamma[/bold] = {g.value:.3f} ± {g.stderr:.3f} "
                f"(95% CI {g.ci95[0]:.3f}..{g.ci95[1]:.3f}, n = {g.window[0]}..{g.window[1]})"
            )
        else:
            lines.append(f"gamma: {g.method}")
        if self.gamma_offset is not None and np.isfinite(self.gamma_offset.value):
            go = self.gamma_offset
            lines.append(
                f"gamma (H_inf fitted) = {go.value:.3f} ± {go.stderr:.3f}, "
                f"H_inf = {go.h_inf:.3f} ± {go.h_inf_stderr:.3f}"
            )
        lines += [warning_line(w) for w in self.warnings]
        return "\n".join(lines)


def _reliable_window(reliable: np.ndarray) -> tuple[int, int] | None:
    r = np.asarray(reliable, dtype=bool)
    idx = np.flatnonzero(r[1:]) + 1
    if idx.size == 0:
        return None
    lo = int(idx[0])
    hi = lo
    while hi + 1 < r.size and r[hi + 1]:  # over context lengths, not tokens
        hi += 1
    return lo, hi


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def gamma_from_dict(d: dict[str, Any]) -> GammaFit:
    """A :class:`GammaFit` back from its ``to_dict`` (null as NaN)."""
    win = d.get("window")
    ci = d.get("ci95") or [None, None]
    h = d.get("h_inf")
    h_ci = (h or {}).get("ci95")
    return GammaFit(
        value=_num(d.get("value")),
        stderr=_num(d.get("stderr")),
        ci95=(_num(ci[0]), _num(ci[1])),
        window=(int(win[0]), int(win[1])) if win is not None else None,
        n_points=int(d.get("n_points") or 0),
        amplitude=_num(d.get("amplitude")),
        method=str(d.get("method") or ""),
        n_boot=int(d.get("n_boot") or 0),
        residual_rms=_num(d.get("residual_rms")),
        h_inf=None if h is None else _num(h.get("value")),
        h_inf_stderr=None if h is None else _num(h.get("stderr")),
        h_inf_ci95=None if h_ci is None else (_num(h_ci[0]), _num(h_ci[1])),
        warnings=[str(w) for w in d.get("warnings") or []],
    )
