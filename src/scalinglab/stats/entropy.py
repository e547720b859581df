"""Conditional entropy versus context length, with bounds and a map of where to trust it.

    H_n = H(x_{n+1} | x_1 .. x_n)        (nats), n = 0 .. max_n

From the corpus alone: all n-gram counts for every n come from one sweep over
the suffix array of the training split (:mod:`._ngram`), giving

* ``lower``: the plug-in estimate. The plug-in conditional entropy is a
  concave function of the empirical (n+1)-gram distribution, whose mean is
  the true one, so its expectation is at most the truth (Jensen);
* ``miller_madow``, ``grassberger``: bias-corrected estimates; ``estimate`` is
  the recommended one (``estimator`` names it);
* ``upper``: the held-out cross-entropy of an interpolated modified
  Kneser-Ney (n+1)-gram model trained on the training split (:mod:`._kn`: raw
  counts at the top order, continuation counts below, three discounts per
  order; normalised over the V tokens), and, with ``entropy_from``, of a
  trained network: any model's held-out loss is an upper bound in expectation.
  The lower of the two is kept.

NSB is not offered. The reference implementation (``ndd``, last released
2021) does not build on the Python here (it needs numpy.distutils and a
Fortran compiler), and the maintained alternative (``infomeasure``) takes raw
samples rather than count-of-counts and leaves the unobserved cells out of its
posterior mean, which matters for n-gram spaces of V^n cells.

``reliable[n]`` holds where the bounds agree and the estimate has converged::

    upper[n] - lower[n] <= max(tol * upper[n], abs_tol)                        (bounds agree)
    |estimate_{P/2}[n] - estimate_{P/4}[n]| <= max(tol * estimate_{P/2}[n], abs_tol)  and
    |estimate_P[n] - estimate_{P/2}[n]| <= max(tol * estimate_P[n], abs_tol)      (converged)

with ``P`` the training tokens and ``estimate_{P/2}``, ``estimate_{P/4}`` the same
estimator on the first half and quarter of them. ``converged`` (the last step
alone) is reported too. ``gamma`` is fitted on the
estimate over the reliable window, H_n ~ A n^(-gamma) (log-log least squares,
as published), or H_n - H_inf ~ A n^(-gamma) with ``fit_offset``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import _jsonable, atomic_path, write_json
from .._progress import make_progress, warn, warning_line
from ..errors import UserError
from ._external import _checked_losses, _pairs, load_external_losses
from ._gamma import GammaFit, fit_gamma, parse_window

__all__ = [
    "ESTIMATORS",
    "EntropyResult",
    "GammaFit",
    "entropy",
    "fit_gamma",
    "load_external_losses",
    "DEFAULT_MAX_N",
    "check_corpus_size",
    "parse_window",
    "reliability",
]

#: Count-based estimators of H_n; "auto" picks the first.
ESTIMATORS = ("grassberger", "miller-madow", "plugin")

#: Default cap on training tokens: the suffix array of 1e8 tokens needs about
#: 21 bytes per token at peak (benchmarks/entropy.py: 20.9-21.5 B/token at 1e7 with the
#: Kneser-Ney bound), 2.2 GB.
DEFAULT_MAX_TOKENS = 100_000_000
# Largest context length n of H_n when none is given (the stats verb's default too).
DEFAULT_MAX_N = 32

#: Absolute floor of the reliability tolerances (nats), for near-deterministic sources
#: where a relative tolerance on H_n ~ 0 can never be met.
ABS_TOL = 0.005

#: How ``reliable[n]`` is decided (recorded in entropy.json).
RELIABILITY_RULE = (
    "reliable[n] = (upper - lower <= max(tol * upper, abs_tol)) and, for each step between "
    "the nested training prefixes P/4 -> P/2 -> P, |estimate(larger) - estimate(smaller)| "
    "<= max(tol * estimate(larger), abs_tol); converged[n] is the last step (P/2 -> P) alone"
)

#: Size of the pseudo-documents used to subsample a single-document corpus.
_BLOCK = 1 << 20


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
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
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = self.n
        pos = n >= 1
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        ax.fill_between(
            n[pos], self.lower[pos], self.upper[pos], color="0.85", label="between bounds"
        )
        ax.plot(n[pos], self.lower[pos], "-", color="tab:blue", lw=1, label="lower (plug-in)")
        ax.plot(
            n[pos],
            self.upper_ngram[pos],
            "-",
            color="tab:red",
            lw=1,
            label="upper (held-out Kneser-Ney model)",
        )
        if self._has_external:
            ax.plot(
                n[pos],
                self.upper_external[pos],
                "-",
                color="tab:purple",
                lw=1,
                label="upper (external model)",
            )
        ax.plot(
            n[pos],
            self.estimate[pos],
            "o-",
            ms=3,
            color="k",
            lw=1,
            label=f"estimate ({self.estimator})",
        )
        rel = pos & self.reliable
        ax.plot(
            n[rel], self.estimate[rel], "o", ms=7, mfc="none", color="tab:green", label="reliable"
        )
        g = self.gamma
        if np.isfinite(g.value) and g.window is not None:
            xs = np.linspace(g.window[0], g.window[1], 50)
            ax.plot(
                xs,
                g.amplitude * xs ** (-g.value),
                "--",
                color="tab:orange",
                label=f"gamma = {g.value:.3f} ± {g.stderr:.3f} (n {g.window[0]}..{g.window[1]})",  # noqa: E501
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("context length n (tokens)")
        ax.set_ylabel("H_n (nats)")
        ax.set_title(
            f"{self.corpus.get('source', '')}: {self.train_tokens:,} training tokens, "
            f"H_0 = {self.estimate[0]:.3f}",
            fontsize=9,
        )
        ax.legend(fontsize=7)
        gap = (self.upper - self.lower) / self.upper
        ax2.plot(
            n, self.coverage, "o-", ms=3, label=f"coverage (context seen >= {self.coverage_k}x)"
        )
        ax2.plot(n, gap, "s-", ms=3, label="(upper - lower) / upper")
        ax2.axhline(self.reliability_tol, color="0.5", ls=":", label="tolerance")
        ax2.set_xlabel("context length n (tokens)")
        ax2.set_ylim(-0.05, 1.05)
        ax2.legend(fontsize=7)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
        plt.close(fig)
        return Path(path)

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


def reliability(
    prefix_rows: np.ndarray, upper: np.ndarray, lower: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The reliability map (:data:`RELIABILITY_RULE`) from the estimates on nested prefixes.

    Parameters
    ----------
    prefix_rows : array (views, max_n + 1)
        The estimate on nested training prefixes, the last row on all ``P`` tokens
        (``P/4, P/2, P`` from :func:`entropy`).
    upper, lower : array (max_n + 1,)
        The bounds (nats).
    tol : float
        Relative tolerance; :data:`ABS_TOL` nats is its absolute floor.

    Returns
    -------
    agree, converged, converged_prefixes, reliable : bool arrays
        ``converged`` compares ``P/2`` with ``P`` only; ``converged_prefixes``
        requires every step between successive prefixes to be within tolerance.
    """
    rows = np.asarray(prefix_rows, dtype=np.float64)
    est = rows[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        agree = (upper - lower) <= np.maximum(tol * upper, ABS_TOL)
        steps = [
            np.abs(rows[i + 1] - rows[i]) <= np.maximum(tol * np.abs(rows[i + 1]), ABS_TOL)
            for i in range(rows.shape[0] - 1)  # prefixes, not tokens
        ]
    none = np.zeros(est.shape, dtype=bool)  # a single prefix cannot show convergence
    converged = steps[-1] if steps else none
    converged_prefixes = np.logical_and.reduce(steps) if steps else none
    reliable = agree & converged_prefixes & np.isfinite(est) & np.isfinite(upper)
    return agree, converged, converged_prefixes, reliable


def _paired_drop_stderr(probs: np.ndarray | None, arg: np.ndarray) -> np.ndarray:
    """Standard error of ``upper_ngram[n-1] - upper_ngram[n]``, paired over held-out targets.

    Both bounds score the same targets, so most of their sampling noise is common:
    the error of their difference (batch means of the per-target differences) is
    far below either error. ``arg[n]`` is the context length whose loss the running
    minimum kept at n (a flat step has difference 0 and error 0).
    """
    out = np.full(arg.size, np.nan)
    if probs is None:
        return out
    from ._ngram import _batch_stderr

    for k in range(1, arg.size):  # context lengths, not tokens
        a, b = int(arg[k - 1]), int(arg[k])
        if a == b:
            out[k] = 0.0
            continue
        pa, pb = probs[a], probs[b]
        ok = np.isfinite(pa) & np.isfinite(pb) & (pa > 0) & (pb > 0)
        if ok.sum() > 1:
            out[k] = _batch_stderr(np.log(pb[ok]) - np.log(pa[ok]))
    return out


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


# --------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------
def _check_split_sizes(n_train: int, n_heldout: int, max_n: int) -> None:
    if n_train < 4 * (max_n + 2):
        raise UserError(f"training split has {n_train} tokens, too few for max_n = {max_n}")
    if n_heldout <= max_n:
        raise UserError(
            f"held-out split has {n_heldout} tokens; it needs more than max_n = {max_n} "
            "(lower --max-n or use a larger corpus)"
        )


def check_corpus_size(corpus: Any, max_n: int, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
    """Raise the :class:`UserError` that :func:`entropy` would raise for a corpus whose
    splits are too short for ``max_n``, without counting anything."""
    n_train = min(int(corpus.split_index), int(max_tokens))
    _check_split_sizes(n_train, int(corpus.num_tokens) - int(corpus.split_index), int(max_n))


def _subsample_documents(corpus, max_tokens: int, seed: int) -> tuple[np.ndarray, str]:
    """Random documents of the training split, in corpus order, up to ``max_tokens``."""
    split = corpus.split_index
    offs = np.asarray(corpus.doc_offsets, dtype=np.int64)
    offs = offs[offs < split]
    if offs.size <= 1:  # one document: cut it into pseudo-documents
        offs = np.arange(0, split, _BLOCK, dtype=np.int64)
    ends = np.append(offs[1:], split)
    lengths = ends - offs
    order = np.random.default_rng(seed).permutation(offs.size)
    keep_sorted = order[np.cumsum(lengths[order]) <= max_tokens]
    keep = np.zeros(offs.size, dtype=bool)
    keep[keep_sorted] = True
    mask = np.repeat(keep, lengths)
    train = np.asarray(corpus.train)[mask]
    msg = (
        f"training split of {split:,} tokens exceeds max_tokens = {max_tokens:,}: "
        f"used {int(keep.sum()):,} of {offs.size:,} documents ({train.size:,} tokens), "
        f"drawn at random with seed {seed}"
    )
    return train, msg


def entropy(
    corpus: Any,
    max_n: int = DEFAULT_MAX_N,
    *,
    estimator: str = "auto",
    reliability_tol: float = 0.05,
    coverage_k: int = 10,
    gamma_window: tuple[int, int] | str | None = None,
    fit_offset: bool = False,
    entropy_from: str | os.PathLike[str] | dict[int, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> EntropyResult:
    """Estimate H_n = H(x_{n+1} | x_1..x_n) for n = 0..max_n, with bounds and reliability.

    Parameters
    ----------
    corpus : TokenCorpus, 1-D integer array, path or None
        The corpus; its training split gives the counts and its held-out split
        the upper bound (an array is split like a one-document corpus: the
        last 1% is held out). A path or None goes through ``corpus.resolve``.
    max_n : int
        Longest context length (tokens).
    estimator : {"auto", "grassberger", "miller-madow", "plugin"}
        Which count-based estimate becomes ``estimate`` ("auto": grassberger).
    reliability_tol : float
        Relative tolerance of the reliability rule (module docstring).
    coverage_k : int
        A held-out context is covered when seen at least ``k`` times in training.
    gamma_window : (lo, hi) or "lo,hi", optional
        Fit window; by default the reliable window.
    fit_offset : bool
        Also fit ``H_n - H_inf ~ n^-gamma`` with ``H_inf`` free.
    entropy_from : path or dict, optional
        Per-position losses of a trained model (:func:`load_external_losses`),
        used as upper bounds.
    n_boot, seed : int
        Bootstrap replicates for gamma and the random seed (also for subsampling).
    progress : bool
        Show progress bars.
    max_tokens : int
        Larger training splits are subsampled by documents (with a warning).

    Returns
    -------
    EntropyResult
    """
    import time

    from .. import corpus as _corpus
    from ._ngram import count_sweep

    t0 = time.perf_counter()
    est_name = "grassberger" if estimator == "auto" else str(estimator).lower()
    if est_name == "nsb":
        raise UserError(
            "the NSB estimator is not available: no maintained implementation installs here "
            "(ndd does not build; infomeasure's needs raw samples) "
            f"- choose one of {', '.join(ESTIMATORS)}"
        )
    if est_name not in ESTIMATORS:
        raise UserError(f"unknown estimator {estimator!r}; choose auto or {', '.join(ESTIMATORS)}")
    max_n = int(max_n)
    if max_n < 1:
        raise UserError(f"max_n must be at least 1, got {max_n}")
    if not 0 < reliability_tol < 1:
        raise UserError(f"reliability_tol must be in (0, 1), got {reliability_tol}")
    if coverage_k < 1:
        raise UserError(f"coverage_k must be at least 1, got {coverage_k}")
    if n_boot < 2:
        raise UserError(f"n_boot must be at least 2, got {n_boot}")
    window = parse_window(gamma_window)
    if window is not None and window[1] > max_n:
        raise UserError(f"gamma window {window} reaches beyond max_n = {max_n}")
    external = None
    if entropy_from is not None:
        if isinstance(entropy_from, dict):
            ns, ls = list(entropy_from), list(entropy_from.values())
            external = _checked_losses(_pairs(ns, ls, "entropy_from"), "entropy_from")
        else:
            external = load_external_losses(entropy_from)
    if isinstance(corpus, np.ndarray | list | tuple):
        corpus = _corpus.TokenCorpus.from_array(np.asarray(corpus))
    elif not isinstance(corpus, _corpus.TokenCorpus):
        corpus = _corpus.resolve(corpus)

    warnings: list[str] = []
    heldout = np.asarray(corpus.heldout)
    if corpus.split_index > max_tokens:
        train, msg = _subsample_documents(corpus, int(max_tokens), seed)
        warnings.append(msg)
        warn(msg)
    else:
        train = corpus.train
    n_train = int(len(train))
    _check_split_sizes(n_train, int(heldout.size), max_n)
    if heldout.size - max_n < 1000:
        warnings.append(f"only {heldout.size - max_n} held-out targets: the upper bound is noisy")

    prog = make_progress(transient=True) if progress else None
    with prog if prog is not None else contextlib.nullcontext():
        stage = prog.add_task("suffix array", total=None) if prog else None
        levels = prog.add_task("n-gram levels", total=max_n + 1, visible=False) if prog else None

        def on_stage(name: str) -> None:
            if prog is None or stage is None or levels is None:  # all three or none
                return
            if name == "n-gram levels":
                prog.update(stage, visible=False)
                prog.update(levels, visible=True)
            else:
                prog.update(stage, description=name)

        def on_level(m: int) -> None:
            if prog is not None and levels is not None:
                prog.update(levels, completed=m)

        sweep = count_sweep(
            train,
            heldout,
            max_n,
            corpus.vocab_size,
            views=(n_train // 4, n_train // 2),
            coverage_k=int(coverage_k),
            on_level=on_level,
            on_stage=on_stage,
            keep_probs=True,
        )

    n = np.arange(max_n + 1)
    by_name = {
        "plugin": sweep.plugin,
        "miller-madow": sweep.miller_madow,
        "grassberger": sweep.grassberger,
    }
    rows = by_name[est_name]
    estimate = rows[-1].copy()
    lower = sweep.plugin[-1].copy()
    # H_n never increases with n, so the loss of a model that uses only n' <= n tokens
    # of context bounds H_n too: keep the running minimum over context lengths.
    best = np.fmin.accumulate(np.where(np.isfinite(sweep.upper), sweep.upper, np.inf))
    arg = np.maximum.accumulate(np.where(sweep.upper <= best, np.arange(max_n + 1), 0))
    upper_ngram = np.where(np.isfinite(best), best, np.nan)
    ngram_stderr = sweep.upper_stderr[arg]
    drop_stderr = _paired_drop_stderr(sweep.heldout_probs, arg)
    sweep.heldout_probs = None  # (max_n + 1) x targets: not kept beyond this point
    upper_external = np.full(max_n + 1, np.nan)
    if external:
        for k, v in external.items():
            if 0 <= k <= max_n:
                upper_external[k] = v
        if not np.isfinite(upper_external).any():
            warnings.append(f"external losses cover no context length in 0..{max_n}")
    upper = np.fmin(upper_ngram, upper_external)
    from_ext = np.isfinite(upper_external) & (upper_external < upper_ngram)
    upper_stderr = np.where(from_ext, np.nan, ngram_stderr)

    agree, converged, converged_prefixes, reliable = reliability(
        rows, upper, lower, reliability_tol
    )

    # uncertainty of each point for the gamma bootstrap: half the bound gap, the noise of
    # the held-out upper bound and the statistical error of the estimate
    band = np.clip(upper - lower, 0.0, None) / 2
    sigma = np.sqrt(
        band**2 + np.nan_to_num(upper_stderr) ** 2 + np.nan_to_num(sweep.plugin_stderr) ** 2
    )
    auto_window = _reliable_window(reliable)
    fit_win = window or auto_window
    gamma_offset = None
    if fit_win is None:
        gamma = GammaFit.missing(
            "no reliable context length n >= 1 (set a window with --gamma-window / gamma_window)"
        )
        warnings.append("no reliable window with n >= 1: gamma not fitted")
    elif fit_win[1] > max_n:
        raise UserError(f"gamma window {fit_win} reaches beyond max_n = {max_n}")
    else:
        npts = fit_win[1] - fit_win[0] + 1
        if npts < 2:
            gamma = GammaFit.missing(f"reliable window n = {fit_win[0]} has one point")
            warnings.append(
                f"reliable window is the single context length n = {fit_win[0]}: "
                "gamma not fitted (set a window with --gamma-window / gamma_window)"
            )
        else:
            if window is not None and not reliable[fit_win[0] : fit_win[1] + 1].all():
                warnings.append(
                    f"gamma window n = {fit_win[0]}..{fit_win[1]} includes unreliable points"
                )
            win_h = estimate[fit_win[0] : fit_win[1] + 1]
            if not np.all(win_h > 0):
                # a deterministic source (or an estimate collapsed to 0): no power law to fit
                which = "the reliable window" if window is None else "the gamma window"
                gamma = GammaFit.missing(f"H_n <= 0 in {which} n = {fit_win[0]}..{fit_win[1]}")
                warnings.append(
                    f"estimate is zero in {which} n = {fit_win[0]}..{fit_win[1]}: gamma not fitted"
                )
            else:
                gamma = fit_gamma(n, estimate, sigma, window=fit_win, n_boot=n_boot, seed=seed)
                if npts < 4:
                    warnings.append(f"gamma fitted on only {npts} context lengths")
            if fit_offset and np.isfinite(gamma.value):
                if npts >= 4:
                    gamma_offset = fit_gamma(
                        n, estimate, sigma, window=fit_win, offset=True, n_boot=n_boot, seed=seed
                    )
                else:
                    warnings.append("fit_offset needs 4 or more context lengths: skipped")

    return EntropyResult(
        n=n,
        plugin=sweep.plugin[-1],
        miller_madow=sweep.miller_madow[-1],
        grassberger=sweep.grassberger[-1],
        estimate=estimate,
        estimate_stderr=sweep.plugin_stderr,
        estimator=est_name,
        upper=upper,
        upper_stderr=upper_stderr,
        upper_ngram=upper_ngram,
        upper_drop_stderr=drop_stderr,
        ngram_loss=sweep.upper,
        upper_external=upper_external,
        lower=lower,
        coverage=sweep.coverage,
        coverage_k=int(coverage_k),
        converged=converged,
        converged_prefixes=converged_prefixes,
        agree=agree,
        reliable=reliable,
        reliability_tol=float(reliability_tol),
        prefix_tokens=list(sweep.views),
        prefix_estimates=rows,
        discount=sweep.discount,
        discounts={
            "top": sweep.discounts,
            "continuation": sweep.continuation_discounts,
            "note": (
                "(D1, D2, D3+) per context length n: 'top' from the raw counts of the "
                "(n+1)-grams (the top order of the model for n; kn_discount is its D1), "
                "'continuation' from the continuation counts of the (n+1)-grams (the order "
                "below the top of longer models); (0.5, 1, 1.5) where the count-of-counts "
                "give no valid estimate"
            ),
        },
        distinct_ngrams=sweep.distinct,
        block_entropy=sweep.block_entropy,
        gamma=gamma,
        gamma_offset=gamma_offset,
        train_tokens=n_train,
        heldout_targets=sweep.n_targets,
        corpus=corpus.describe(),
        warnings=warnings,
        seconds=time.perf_counter() - t0,
    )
