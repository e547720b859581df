"""Token-token correlations ``||C(n)||`` at every lag, their noise floor, and beta.

For a token stream ``x_0 .. x_{N-1}`` over ``V`` symbols and a lag ``n``, the
``M = N - n`` pairs ``(x_i, x_{i+n})`` give the covariance (REFERENCE 1.1)::

    C(n)[mu, nu] = #{i : x_i = mu, x_{i+n} = nu} / M  -  pL[mu] pR[nu]

with ``pL`` / ``pR`` the symbol frequencies among the left / right members.
:func:`correlations` measures, at every requested lag,

* the operator norm ``||C(n)||_op`` (largest singular value) and the Frobenius
  norm, exactly from all pairs (sparse counts; dense SVD for small active
  vocabularies, ARPACK on the implicit operator ``J/M - pL pR^T`` otherwise);
* the noise floor: the analytic Frobenius floor
  ``sqrt((1 - sum pL^2)(1 - sum pR^2) / M)`` and the norms of shuffled
  surrogates (the same tokens randomly permuted, same lag) for both norms;
* standard errors from a block bootstrap over contiguous chunks (or groups of
  documents), shared by every lag;
* ``beta`` of ``||C(n)||_op ~ n^-beta`` by weighted log-log least squares over
  the resolvable lags, with a bootstrap standard error, 95% interval and window,
  and a warning with fits on each side when the power law is broken.

All norms are dimensionless (differences of probabilities).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._progress import make_progress
from ..errors import UserError
from ..warns import coded
from ._corr_count import (
    ArraySource,
    CountPlan,
    Layout,
    PairCounts,
    TokenSource,
    count_pairs,
)
from ._corr_fit import BrokenPowerLaw, PowerLawFit, fit_power_law
from ._corr_linalg import _bootstrap_replicates, covariance_norms, spectrum
from ._corr_result import CorrelationResult, _fit_text
from ._corr_shuffle import ShuffledSource, content_counts
from .config import (
    MAX_LAGS,
    CorrelationConfig,
    as_corpus,
    build_config,
    default_lags,
    parse_lags,
)

__all__ = [
    "MAX_LAGS",
    "BrokenPowerLaw",
    "CorrelationConfig",
    "CorrelationResult",
    "PairCounts",
    "PowerLawFit",
    "correlations",
    "count_pairs",
    "covariance_norms",
    "default_lags",
    "fit_power_law",
    "parse_lags",
]

#: ARPACK tolerance for the shuffled surrogates (the floor needs a few digits only).
_SURROGATE_TOL = 1e-8
#: Tokens generated at once by the streamed shuffles.
_SHUFFLE_BLOCK = 1 << 20
#: Keep the shuffled copies in memory when they take at most this many bytes.
_MATERIALIZE_BYTES = 1 << 28


# ----------------------------------------------------------------------------------------
def _auto_window(lags: np.ndarray, ok: np.ndarray, first_lag: int) -> tuple[int, int] | None:
    start = int(np.searchsorted(lags, first_lag))
    if start >= lags.size or not ok[start]:
        return None
    end = start
    while end + 1 < lags.size and ok[end + 1]:
        end += 1
    return int(lags[start]), int(lags[end])


def _beta_fit(
    name: str,
    lags: np.ndarray,
    y: np.ndarray,
    se: np.ndarray,
    reps: np.ndarray | None,
    ok: np.ndarray,
    warnings: list[str],
    floor_name: str,
    *,
    window: tuple[int, int] | None,
    first_lag: int,
    n_boot: int,
    seed: int,
    floor: np.ndarray | None = None,
) -> PowerLawFit:
    """Fit beta over the given window or the automatic one; undefined fits warn.

    The automatic window runs from ``first_lag`` to the last resolvable lag
    before the floor. With ``floor``, the fit uses the noise-debiased norms
    ``sqrt(y^2 - floor^2)`` (lags with ``y <= floor`` drop out): sampling noise
    adds to the squared norm about ``floor^2``, which inflates the norms near
    the floor and flattens the fitted slope.
    """
    beta_window = window
    if beta_window is not None:
        lo, hi = beta_window
        inside = (lags >= lo) & (lags <= hi)  # at least 3 lags (CorrelationConfig.check)
        if not ok[inside].all():
            bad = lags[inside & ~ok]
            warnings.append(coded(
                "corr-window-at-floor",
                f"{name}: the window {lo}..{hi} includes lags at the noise floor "
                f"({', '.join(map(str, bad[:8].tolist()))}{'...' if bad.size > 8 else ''})",
            ))  # fmt: skip
        window = (lo, hi)
    else:
        window = _auto_window(lags, ok, first_lag)
        if window is None:
            start = int(np.searchsorted(lags, first_lag))
            if not ok.any():
                reason = f"nothing is resolvable ({floor_name})"
            elif start >= lags.size:
                reason = f"no lag >= first_lag = {first_lag} was measured"
            else:
                reason = f"the first lag of the window, {int(lags[start])}, is not resolvable"
            warnings.append(coded("corr-beta-undefined", f"{name} is undefined: {reason}"))
            return PowerLawFit.undefined(reason)
        n_in = int(((lags >= window[0]) & (lags <= window[1])).sum())
        if n_in < 3:
            reason = (
                f"only {n_in} resolvable lag(s) ({window[0]}..{window[1]}) before the floor; "
                "a fit needs 3"
            )
            warnings.append(coded("corr-beta-undefined", f"{name} is undefined: {reason}"))
            return PowerLawFit.undefined(reason)
    use_se = se if np.isfinite(se).any() else None
    yf, sef, repf = y, use_se, reps
    # Without any floor (no shuffles: the operator norm) the raw norms are fitted.
    debiased = False
    if floor is not None and np.isfinite(floor).any():
        yf, sef, repf = _debias(y, use_se, reps, floor)
        debiased = True
    try:
        if sef is not None:
            # The error of log y is sigma / E[y]: relative errors taken from the
            # noisy y itself give upward fluctuations more weight (flattening the
            # slope where the errors are large), so they come from a first fit,
            # of which only the fitted norms are used (no bootstrap).
            first = fit_power_law(lags, yf, sef, window=window, n_boot=0, detect_break=False)
            sef = sef * yf / first(lags)
        fit = fit_power_law(lags, yf, sef, window=window, n_boot=n_boot, seed=seed, replicates=repf)
        warnings += fit.warnings  # the fitter's own (coded corr-fit-...)
    except UserError as e:
        warnings.append(coded("corr-beta-undefined", f"{name} is undefined: {e}"))
        return PowerLawFit.undefined(str(e))
    if debiased:
        fit.method += (
            "; norms debiased for the noise floor, sqrt(norm^2 - floor^2), with their "
            "errors and replicates linearised"
        )
    if sef is not None:
        fit.method += "; relative errors sigma / fitted norm (a second pass)"
    if reps is not None:
        fit.method += "; block bootstrap shared by all lags"
    if fit.broken is not None:
        b = fit.broken
        warnings.append(coded(
            "corr-broken-power-law",
            f"{name}: broken power law at lag {b.at:g} (p = {b.p_value:.2g}): "
            f"{_fit_text(b.left)}; {_fit_text(b.right)}. The single fit over "
            f"{fit.window[0]:g}..{fit.window[1]:g} is reported; choose a window with "  # type: ignore[index]
            "--beta-window lo,hi",
        ))  # fmt: skip
    return fit


def _beta_rule(
    window: tuple[int, int] | None,
    first_lag: int,
    factor: float,
    debias: bool,
    shuffled: bool,
) -> str:
    """How beta and beta_frobenius were fitted, in words (``beta_rule`` in the JSON)."""
    if window is not None:
        win = f"lags {window[0]}..{window[1]} (--beta-window)"
    else:
        win = (
            f"lags from first_lag = {first_lag} to the last resolvable lag before the floor "
            f"(norm > {factor:g} x floor, raw norms)"
        )
    rel = "; with standard errors, weights 1 / ((sigma / fitted norm)^2 + tau^2)"
    if not debias:
        return f"weighted least squares of log norm on log lag over {win}; raw norms{rel}"
    op_floor = "noise_floor" if shuffled else "none (no shuffles: operator norm raw)"
    return (
        f"weighted least squares of log norm on log lag over {win}; fitted to the "
        f"noise-debiased norms sqrt(norm^2 - floor^2), floor = {op_floor} for the operator "
        f"norm and frobenius_floor for the Frobenius norm{rel}"
    )


def _debias(
    y: np.ndarray, se: np.ndarray | None, reps: np.ndarray | None, floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``sqrt(y^2 - f^2)`` (NaN where ``y <= f``), its standard errors and replicates.

    Errors and bootstrap replicates are carried through the first-order
    expansion ``d yd = (y / yd) d y``; ``f`` is treated as known. Lags without a
    floor are left as they are.
    """
    f = np.where(np.isfinite(floor), floor, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        d2 = y * y - f * f
        yd = np.where(d2 > 0, np.sqrt(np.where(d2 > 0, d2, 1.0)), np.nan)
        gain = y / yd
        sed = None if se is None else se * gain
        repd = None if reps is None else yd + gain * (reps - y)
    return yd, sed, repd


@dataclass
class _Measured:
    """Per-lag measurements (arrays indexed like the lags)."""

    op: np.ndarray
    fro: np.ndarray
    second: np.ndarray
    pairs: np.ndarray
    fro_floor: np.ndarray
    shuf_op: np.ndarray
    shuf_fro: np.ndarray
    reps_op: np.ndarray | None
    reps_fro: np.ndarray | None
    topv: np.ndarray | None
    methods: set[str]
    unconverged: list[int]


def _measure_lags(
    plan: CountPlan,
    source: TokenSource,
    surrogates: list[ShuffledSource],
    lag_arr: np.ndarray,
    weights: np.ndarray | None,
    top_k: int,
    seed: int,
    progress: bool,
) -> _Measured:
    """Count every lag, take its norms, bootstrap replicates and shuffled floors."""
    nl, n_boot, n_sh = lag_arr.size, 0 if weights is None else weights.shape[0], len(surrogates)
    kk = max(2, top_k)
    m = _Measured(
        op=np.zeros(nl),
        fro=np.zeros(nl),
        second=np.zeros(nl),
        pairs=np.zeros(nl, dtype=np.int64),
        fro_floor=np.zeros(nl),
        shuf_op=np.full((max(n_sh, 1), nl), np.nan),
        shuf_fro=np.full((max(n_sh, 1), nl), np.nan),
        reps_op=np.full((n_boot, nl), np.nan) if weights is not None else None,
        reps_fro=np.full((n_boot, nl), np.nan) if weights is not None else None,
        topv=np.zeros((nl, top_k)) if top_k else None,
        methods=set(),
        unconverged=[],
    )
    with make_progress() if progress else contextlib.nullcontext() as prog:
        task = prog.add_task("correlations", total=nl) if prog is not None else None
        for i, lag in enumerate(lag_arr.tolist()):
            if prog is not None and task is not None:
                prog.update(task, description=f"correlations (lag {lag})")
            lc = plan.count(source, lag)
            sp = spectrum(lc.table, k=kk, seed=seed, vectors=weights is not None)
            m.methods.add(sp.method)
            if not sp.converged:
                m.unconverged.append(lag)
            m.op[i], m.fro[i], m.second[i] = sp.operator_norm, sp.frobenius, sp.values[1]
            m.pairs[i] = sp.pairs
            if m.topv is not None:
                m.topv[i] = sp.values[:top_k]
            if sp.pairs:
                pl = lc.left_blocks.sum(0) / sp.pairs
                pr = lc.right_blocks.sum(0) / sp.pairs
                m.fro_floor[i] = np.sqrt(max(1 - pl @ pl, 0.0) * max(1 - pr @ pr, 0.0) / sp.pairs)
            if weights is not None:
                assert m.reps_op is not None and m.reps_fro is not None
                m.reps_op[:, i], m.reps_fro[:, i] = _bootstrap_replicates(
                    plan, source, lag, lc, sp, weights
                )
            for s, sur in enumerate(surrogates):
                tab = plan.count_plain(sur, lag, stream=s + 1)
                ssp = spectrum(tab, k=1, tol=_SURROGATE_TOL, seed=seed, vectors=False)
                m.shuf_op[s, i], m.shuf_fro[s, i] = ssp.operator_norm, ssp.frobenius
            del lc
            if prog is not None and task is not None:
                prog.advance(task)
    return m


def _blank_lags_without_pairs(m: _Measured) -> np.ndarray:
    """Set every measurement of a lag that has no pairs to NaN (a norm of nothing is not 0)."""
    empty = m.pairs == 0
    if empty.any():
        for arr in (m.op, m.fro, m.second, m.fro_floor):
            arr[empty] = np.nan
        for mat in (m.shuf_op, m.shuf_fro, m.reps_op, m.reps_fro):
            if mat is not None:
                mat[:, empty] = np.nan
        if m.topv is not None:
            m.topv[empty] = np.nan
    return empty


def _stderr(reps: np.ndarray | None, nl: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviation and 95% percentile interval of bootstrap replicates per lag."""
    if reps is None:
        return np.full(nl, np.nan), np.full((nl, 2), np.nan)
    return reps.std(axis=0, ddof=1), np.percentile(reps, [2.5, 97.5], axis=0).T


def _floors(m: _Measured, n_shuffles: int, factor: float):
    """Operator-norm floor (mean of the shuffles), its spread, the shuffled Frobenius
    floor, which lags are resolvable, and the rule applied."""
    nl = m.op.size
    if n_shuffles:
        floor = m.shuf_op.mean(axis=0)
        floor_sd = m.shuf_op.std(axis=0, ddof=1) if n_shuffles > 1 else np.full(nl, np.nan)
        rule = (
            f"operator_norm > {factor:g} x noise_floor, the mean operator norm of "
            f"{n_shuffles} shuffled surrogate(s) (same tokens randomly permuted, same lag)"
        )
        return floor, floor_sd, m.shuf_fro.mean(axis=0), m.op > factor * floor, rule
    rule = (
        f"frobenius > {factor:g} x frobenius_floor (analytic); no shuffled surrogates were "
        "drawn, so there is no operator-norm floor"
    )
    nan = np.full(nl, np.nan)
    return nan, nan.copy(), nan.copy(), m.fro > factor * m.fro_floor, rule


def correlations(
    corpus: Any,
    lags: Any = None,
    *,
    config: CorrelationConfig | None = None,
    progress: bool = True,
    **settings: Any,
) -> CorrelationResult:
    """Measure ``||C(n)||`` at every lag with its noise floor and fit ``beta``.

    The settings are those of :class:`~scalinglab.stats.CorrelationConfig`: pass
    ``config=``, keywords, or both (keywords then replace the config's values).

    Parameters
    ----------
    corpus : TokenCorpus, 1-D integer array, or path
        The token stream (a path or None goes through ``scalinglab.corpus.resolve``).
    lags : list of int or str, optional
        Lags ``1 <= n < N`` (``"1,2,4"`` or ``"1-16"`` accepted). Default:
        :func:`default_lags` (1..16, then ~8 per decade up to ``min(1024, N/1000)``).
    within_documents : bool
        Count only pairs inside one document (separators excluded). Default: the
        documents form one stream with their separator tokens (the published
        convention).
    floor_factor : float
        A lag is resolvable when ``||C(n)||_op > floor_factor * noise_floor(n)``.
    n_shuffles : int
        Shuffled surrogates per lag for the empirical floors (0: the
        resolvability rule falls back to the analytic Frobenius floor).
    n_boot : int
        Block-bootstrap replicates (0: no standard errors).
    beta_window : (lo, hi), optional
        Fit beta over these lags (inclusive) instead of the automatic window.
    first_lag : int
        First lag of the automatic window.
    debias_beta : bool
        Fit beta to the noise-debiased norms ``sqrt(norm^2 - floor^2)`` (the
        shuffled floor for the operator norm, the analytic floor for the
        Frobenius norm) instead of the raw ones; the reported norms stay raw.
        The rule is recorded as ``beta_rule`` in the JSON.
    top_k : int
        Also report the ``top_k`` largest singular values at every lag.
    max_pairs : int, optional
        Count a random subset of about ``max_pairs`` pairs per lag (each pair
        kept with probability ``max_pairs / M``); floors and errors then refer
        to the pairs counted.
    seed : int
        Seeds the shuffles, the bootstrap and the subsampling.
    n_blocks : int, optional
        Bootstrap blocks (default ``clip(N / (10 max_lag), 10, 100)``).
    chunk_tokens : int
        Left positions counted at once (bounds memory on very long corpora).
    config : CorrelationConfig, optional
        All of the above at once.
    progress : bool
        Show a progress bar over lags.

    Returns
    -------
    CorrelationResult
    """
    if lags is not None:
        settings["lags"] = lags
    cfg = build_config(CorrelationConfig, config, settings, "correlations")
    c = as_corpus(corpus)
    return run_correlations(c, cfg, cfg.check(c), progress=progress)


def run_correlations(
    c: Any,
    cfg: CorrelationConfig,
    lag_arr: np.ndarray,
    *,
    progress: bool = True,
    count_plan: Any = CountPlan,
) -> CorrelationResult:
    """The engine on a checked corpus: ``lag_arr`` from ``cfg.check(c)``.

    ``count_plan`` builds the counting plan (``scalinglab.cluster`` passes one that
    counts on a Dask cluster); it takes :class:`CountPlan`'s arguments.
    """
    t0 = time.perf_counter()
    tokens = c.tokens
    n_tok = int(tokens.shape[0])
    within_documents, floor_factor, seed = cfg.within_documents, cfg.floor_factor, cfg.seed
    n_boot, n_shuffles, max_pairs, top_k = cfg.n_boot, cfg.n_shuffles, cfg.max_pairs, cfg.top_k
    bw, first_lag, debias_beta = cfg.beta_window, cfg.first_lag, cfg.debias_beta

    layout = Layout.build(tokens, c.vocab_size, c.doc_offsets, c.eod_token, within_documents)
    max_lag = int(lag_arr.max())
    k = cfg.n_blocks if cfg.n_blocks is not None else int(np.clip(n_tok // (10 * max_lag), 10, 100))
    # Without a bootstrap the blocks are not needed: one block covers everything.
    bounds = layout.block_bounds(k) if n_boot >= 2 else np.array([0, n_tok], dtype=np.int64)
    chunk = max(cfg.chunk_tokens, max_lag)
    plan = count_plan(layout, layout.chunks(chunk), bounds, max_pairs=max_pairs, seed=seed)
    kb = plan.n_blocks
    k_msg = f"{kb} groups of whole documents" if within_documents else f"{kb} contiguous chunks"
    if layout.total_pairs(int(lag_arr[0])) == 0:
        raise UserError("no pairs to count at the smallest lag (documents shorter than the lag?)")

    source = ArraySource(tokens)
    rng = np.random.default_rng([seed, 0xB007])
    weights = (
        rng.multinomial(kb, np.full(kb, 1.0 / kb), size=n_boot).astype(float)
        if (n_boot >= 2 and kb >= 2)
        else None
    )
    surrogates: list[ShuffledSource] = []
    if n_shuffles:
        counts = content_counts(source, layout, chunk)
        keep = n_tok * tokens.dtype.itemsize * n_shuffles <= _MATERIALIZE_BYTES
        # The permutation depends on the seed only (not on the chunking or on memory).
        block = max(_SHUFFLE_BLOCK, max_lag)
        surrogates = [
            ShuffledSource(tokens, layout, counts, [seed, s, 0x5EED], block, materialize=keep)
            for s in range(n_shuffles)
        ]

    m = _measure_lags(plan, source, surrogates, lag_arr, weights, top_k, seed, progress)
    no_pairs = _blank_lags_without_pairs(m)
    nl = lag_arr.size
    op, fro, second, fro_floor = m.op, m.fro, m.second, m.fro_floor
    reps_op, reps_fro = m.reps_op, m.reps_fro

    op_se, op_ci = _stderr(reps_op, nl)
    fro_se, _ = _stderr(reps_fro, nl)
    floor, floor_sd, fro_shuf, ok, rule = _floors(m, n_shuffles, floor_factor)
    ok_fro = fro > floor_factor * fro_floor

    warnings: list[str] = []
    if no_pairs.any():
        warnings.append(coded(
            "corr-no-pairs",
            f"no pairs were counted at lags {lag_arr[no_pairs][:10].tolist()}"
            f"{' ...' if no_pairs.sum() > 10 else ''} ("
            + ("every document is shorter than the lag" if within_documents else "subsampling")
            + "): their norms are undefined (null)",
        ))  # fmt: skip
    if max_pairs is not None and any(plan.rate(int(lag)) < 1 for lag in lag_arr):
        warnings.append(coded(
            "corr-subsampled",
            f"subsampled: about {max_pairs} random pairs per lag were counted; floors and "
            "errors refer to the pairs counted",
        ))  # fmt: skip
    if m.unconverged:
        warnings.append(coded(
            "corr-arpack-unconverged",
            f"ARPACK did not reach its tolerance at lags {m.unconverged[:10]}",
        ))  # fmt: skip
    if weights is not None and kb < 10:
        warnings.append(
            coded("corr-few-blocks", f"only {kb} bootstrap blocks: standard errors are rough")
        )
    if weights is None:
        warnings.append(coded(
            "corr-no-bootstrap", "no bootstrap (n_boot < 2 or a single block): no standard errors"
        ))  # fmt: skip
    near = ok & np.isfinite(op_se) & (op - second < 2 * op_se)
    if near.any():
        warnings.append(coded(
            "corr-close-singular-values",
            "top two singular values within two standard errors at lags "
            f"{lag_arr[near][:10].tolist()}: the operator-norm errors may be underestimated",
        ))  # fmt: skip
    floor_name = (
        f"operator norm never exceeds {floor_factor:g} x the shuffled floor"
        if n_shuffles
        else f"Frobenius norm never exceeds {floor_factor:g} x its analytic floor"
    )
    fit_kw: dict[str, Any] = {"window": bw, "first_lag": first_lag, "n_boot": n_boot, "seed": seed}
    beta = _beta_fit(
        "beta", lag_arr, op, op_se, reps_op, ok, warnings, floor_name,
        floor=floor if debias_beta else None, **fit_kw,
    )  # fmt: skip
    fro_floor_name = f"Frobenius norm never exceeds {floor_factor:g} x its analytic floor"
    beta_f = _beta_fit(
        "beta_frobenius", lag_arr, fro, fro_se, reps_fro, ok_fro, warnings, fro_floor_name,
        floor=fro_floor if debias_beta else None, **fit_kw,
    )  # fmt: skip
    beta_rule = _beta_rule(bw, first_lag, floor_factor, debias_beta, n_shuffles > 0)
    desc = c.describe() if c.path is not None or c.meta else {}
    settings = {
        "lags": lag_arr.tolist() if cfg.lags is not None else None,
        "within_documents": within_documents,
        "floor_factor": floor_factor,
        "n_shuffles": n_shuffles,
        "n_boot": n_boot,
        "n_blocks": kb,
        "beta_window": list(bw) if bw else None,
        "first_lag": first_lag,
        "debias_beta": debias_beta,
        "top_k": top_k,
        "max_pairs": max_pairs,
        "seed": seed,
    }
    method = {
        "counting": "exact sparse pair counts (sorted int64 keys; np.bincount for small "
        f"tables), chunks of {chunk} left positions whose tables add up",
        "operator_norm": " / ".join(
            sorted(
                {"dense": "dense LAPACK SVD", "arpack": "ARPACK on J/M - pL pR^T"}[name]
                for name in m.methods
            )
        ),
        "bootstrap": f"linearised block bootstrap over {k_msg}, {n_boot} replicates shared by "
        "all lags",
        "documents": "pairs within documents only"
        if within_documents
        else "documents concatenated with their separator tokens",
    }
    return CorrelationResult(
        lags=lag_arr,
        pairs=m.pairs,
        operator_norm=op,
        operator_norm_stderr=op_se,
        operator_norm_ci95=op_ci,
        frobenius=fro,
        frobenius_stderr=fro_se,
        noise_floor=floor,
        noise_floor_sd=floor_sd,
        frobenius_floor=fro_floor,
        frobenius_floor_shuffled=fro_shuf,
        resolvable=ok,
        resolvable_frobenius=ok_fro,
        resolvable_rule=rule,
        floor_factor=float(floor_factor),
        second_singular_value=second,
        beta=beta,
        beta_frobenius=beta_f,
        beta_rule=beta_rule,
        warnings=warnings,
        corpus=desc,
        settings=settings,
        method=method,
        top_singular_values=m.topv,
        elapsed_s=time.perf_counter() - t0,
        replicates={"operator_norm": reps_op, "frobenius": reps_fro} if reps_op is not None else {},
    )
