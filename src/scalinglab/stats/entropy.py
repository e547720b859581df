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
import time
from typing import Any

import numpy as np

from .._progress import make_progress, warn
from ..warns import coded
from ._entropy_result import ABS_TOL, RELIABILITY_RULE, EntropyResult, _reliable_window
from ._external import load_external_losses
from ._gamma import GammaFit, fit_gamma, parse_window
from .config import (
    DEFAULT_MAX_N,
    DEFAULT_MAX_TOKENS,
    ESTIMATORS,
    EntropyConfig,
    as_corpus,
    build_config,
    check_split_sizes,
)

__all__ = [
    "ABS_TOL",
    "DEFAULT_MAX_N",
    "DEFAULT_MAX_TOKENS",
    "ESTIMATORS",
    "RELIABILITY_RULE",
    "EntropyConfig",
    "EntropyResult",
    "GammaFit",
    "check_corpus_size",
    "entropy",
    "fit_gamma",
    "load_external_losses",
    "parse_window",
    "reliability",
]

#: Size of the pseudo-documents used to subsample a single-document corpus.
_BLOCK = 1 << 20


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
    from ._ngram_bits import _batch_stderr

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


# --------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------
def check_corpus_size(corpus: Any, max_n: int, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
    """Raise the :class:`UserError` that :func:`entropy` would raise for a corpus whose
    splits are too short for ``max_n``, without counting anything
    (:meth:`EntropyConfig.check`)."""
    EntropyConfig(max_n=max_n, max_tokens=max_tokens).check(corpus)


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
    max_n: int | None = None,
    *,
    config: EntropyConfig | None = None,
    progress: bool = True,
    **settings: Any,
) -> EntropyResult:
    """Estimate H_n = H(x_{n+1} | x_1..x_n) for n = 0..max_n, with bounds and reliability.

    The settings are those of :class:`~scalinglab.stats.EntropyConfig`: pass
    ``config=``, keywords, or both.

    Parameters
    ----------
    corpus : TokenCorpus, 1-D integer array, path or None
        The corpus; its training split gives the counts and its held-out split
        the upper bound (an array is split like a one-document corpus: the
        last 1% is held out). A path or None goes through ``corpus.resolve``.
    max_n : int, optional
        Longest context length (tokens); default :data:`DEFAULT_MAX_N`.
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
    max_tokens : int
        Larger training splits are subsampled by documents (with a warning).
    config : EntropyConfig, optional
        All of the above at once (keywords given too replace its values).
    progress : bool
        Show progress bars.

    Returns
    -------
    EntropyResult
    """
    if max_n is not None:
        settings["max_n"] = max_n
    cfg = build_config(EntropyConfig, config, settings, "entropy")
    c = as_corpus(corpus)
    cfg.check(c)
    return run_entropy(c, cfg, progress=progress)


def run_entropy(
    corpus: Any, cfg: EntropyConfig, *, progress: bool = True, sweep_fn: Any = None
) -> EntropyResult:
    """The engine on a corpus that passed ``cfg.check``.

    ``sweep_fn`` replaces :func:`._ngram.count_sweep` (same arguments and result;
    ``scalinglab.cluster`` passes one that counts on a Dask cluster).
    """
    from ._ngram import count_sweep as engine_sweep

    count_sweep = sweep_fn or engine_sweep

    t0 = time.perf_counter()
    est_name, max_n, seed, n_boot = cfg.estimator, cfg.max_n, cfg.seed, cfg.n_boot
    reliability_tol, coverage_k, fit_offset = cfg.reliability_tol, cfg.coverage_k, cfg.fit_offset
    window, external = cfg.gamma_window, cfg.external_losses

    warnings: list[str] = []
    heldout = np.asarray(corpus.heldout)
    if corpus.split_index > cfg.max_tokens:
        train, msg = _subsample_documents(corpus, cfg.max_tokens, seed)
        warnings.append(coded("entropy-subsampled", msg))
        warn(warnings[-1])
        # whole documents are kept, so the subsample may fall short of max_tokens
        check_split_sizes(int(len(train)), int(heldout.size), max_n)
    else:
        train = corpus.train
    n_train = int(len(train))
    if heldout.size - max_n < 1000:
        warnings.append(coded(
            "entropy-few-heldout",
            f"only {heldout.size - max_n} held-out targets: the upper bound is noisy",
        ))  # fmt: skip

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
            warnings.append(coded(
                "entropy-external-out-of-range",
                f"external losses cover no context length in 0..{max_n}",
            ))  # fmt: skip
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
        warnings.append(coded(
            "entropy-no-reliable-window", "no reliable window with n >= 1: gamma not fitted"
        ))  # fmt: skip
    else:
        npts = fit_win[1] - fit_win[0] + 1
        if npts < 2:
            gamma = GammaFit.missing(f"reliable window n = {fit_win[0]} has one point")
            warnings.append(coded(
                "entropy-single-point-window",
                f"reliable window is the single context length n = {fit_win[0]}: "
                "gamma not fitted (set a window with --gamma-window / gamma_window)",
            ))  # fmt: skip
        else:
            if window is not None and not reliable[fit_win[0] : fit_win[1] + 1].all():
                warnings.append(coded(
                    "entropy-window-unreliable",
                    f"gamma window n = {fit_win[0]}..{fit_win[1]} includes unreliable points",
                ))  # fmt: skip
            win_h = estimate[fit_win[0] : fit_win[1] + 1]
            if not np.all(win_h > 0):
                # a deterministic source (or an estimate collapsed to 0): no power law to fit
                which = "the reliable window" if window is None else "the gamma window"
                gamma = GammaFit.missing(f"H_n <= 0 in {which} n = {fit_win[0]}..{fit_win[1]}")
                warnings.append(coded(
                    "entropy-zero-estimate",
                    f"estimate is zero in {which} n = {fit_win[0]}..{fit_win[1]}: gamma not fitted",
                ))  # fmt: skip
            else:
                gamma = fit_gamma(n, estimate, sigma, window=fit_win, n_boot=n_boot, seed=seed)
                warnings += gamma.warnings  # the fitter's own (coded gamma-...)
                if npts < 4:
                    warnings.append(
                        coded("entropy-few-points", f"gamma fitted on only {npts} context lengths")
                    )
            if fit_offset and np.isfinite(gamma.value):
                if npts >= 4:
                    gamma_offset = fit_gamma(
                        n, estimate, sigma, window=fit_win, offset=True, n_boot=n_boot, seed=seed
                    )
                    warnings += gamma_offset.warnings
                else:
                    warnings.append(coded(
                        "entropy-offset-skipped",
                        "fit_offset needs 4 or more context lengths: skipped",
                    ))  # fmt: skip

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
