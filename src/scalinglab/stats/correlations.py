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
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from .._progress import make_progress
from ..errors import UserError
from ._corr_count import (
    ArraySource,
    CountPlan,
    LagCounts,
    Layout,
    PairCounts,
    ShuffledSource,
    TokenSource,
    content_counts,
    count_pairs,
)
from ._corr_fit import BrokenPowerLaw, PowerLawFit, fit_power_law
from ._corr_linalg import Spectrum, sparse_matrix, spectrum

__all__ = [
    "BrokenPowerLaw",
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

#: Most lags one call measures (each costs a counting pass).
MAX_LAGS = 100_000
DEFAULT_SHUFFLES = 3
DEFAULT_BOOT = 200
#: ARPACK tolerance for the shuffled surrogates (the floor needs a few digits only).
_SURROGATE_TOL = 1e-8
#: Tokens generated at once by the streamed shuffles.
_SHUFFLE_BLOCK = 1 << 20
#: Keep the shuffled copies in memory when they take at most this many bytes.
_MATERIALIZE_BYTES = 1 << 28


# ----------------------------------------------------------------------------------------
# Lags
def default_lags(n_tokens: int) -> list[int]:
    """Lags 1..16, then about 8 per decade up to ``min(1024, N / 1000)``.

    Lags above ``N / 2`` are dropped so that every lag keeps at least half of
    the pairs.
    """
    hi = min(1024, n_tokens // 1000)
    lags = list(range(1, 17))
    if hi > 16:
        steps = np.arange(1, int(np.ceil(8 * np.log10(hi / 16))) + 1)
        geo = np.unique(np.round(16 * 10 ** (steps / 8)).astype(int))
        lags += [int(g) for g in geo if 16 < g < hi]
        lags.append(int(hi))
    cap = max(1, n_tokens // 2)
    return [lag for lag in lags if lag <= cap]


def parse_lags(text: str | list[int] | tuple[int, ...] | np.ndarray | None) -> list[int] | None:
    """Lags from ``"1,2,4,8"`` or ``"1-16,32,64"`` (ranges inclusive), or a list of integers."""
    if text is None:
        return None
    if isinstance(text, str):
        out: list[int] = []
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is None:
                raise UserError(f"bad lag list {text!r}: use positive integers like 1,2,4 or 1-16")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise UserError(f"bad lag range {part!r} in {text!r}: write it low-high")
            if len(out) + hi - lo + 1 > MAX_LAGS:
                raise UserError(f"lag list {text!r} holds more than {MAX_LAGS:,} lags")
            out.extend(range(lo, hi + 1))
        return out
    return [int(v) if float(v).is_integer() else _bad_lag(v) for v in np.asarray(text).ravel()]


def _bad_lag(v: Any) -> int:
    raise UserError(f"lags must be positive integers, got {v!r}")


def _check_lags(lags: Any, n_tokens: int) -> np.ndarray:
    if isinstance(lags, str):
        lags = parse_lags(lags)
    arr = np.asarray(list(lags) if not isinstance(lags, np.ndarray) else lags).ravel()
    if arr.size == 0:
        raise UserError("no lags given")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise UserError(f"lags must be positive integers, got {arr.tolist()}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise UserError(f"lags must be positive integers, got {arr.tolist()}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 1) | (arr >= n_tokens)]
    if bad.size:
        raise UserError(
            f"lag {int(bad[0])} is out of range: lags must be integers in 1..{n_tokens - 1} "
            f"for a corpus of {n_tokens} tokens"
        )
    return np.unique(arr)


# ----------------------------------------------------------------------------------------
# Results
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

    def save(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write ``correlations.json`` and ``correlations.png`` into ``out_dir`` (atomically)."""
        from ._corr_plot import plot_correlations

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_json(out / "correlations.json", self.to_dict())]
        paths.append(plot_correlations(self, out / "correlations.png"))
        return paths

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


# ----------------------------------------------------------------------------------------
# Norms from counts
def covariance_norms(table: PairCounts, top_k: int = 1) -> dict[str, Any]:
    """Operator and Frobenius norms of ``C`` from a (possibly chunk-summed) pair table.

    Returns ``{"operator_norm", "frobenius", "singular_values", "pairs", "method"}``.
    """
    sp = spectrum(table, k=max(int(top_k), 1))
    return {
        "operator_norm": sp.operator_norm,
        "frobenius": sp.frobenius,
        "singular_values": sp.values.tolist(),
        "pairs": sp.pairs,
        "method": sp.method,
    }


def _bootstrap_replicates(
    plan: CountPlan,
    source: TokenSource,
    lag: int,
    lc: LagCounts,
    sp: Spectrum,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Linearised block-bootstrap replicates of ``||C||_op`` and ``||C||_F``.

    With multiplicities ``w_b`` of the blocks, the resampled covariance is
    ``C* = J*/M* - L* R*^T / M*^2`` with ``J* = sum_b w_b J_b`` (and likewise
    ``L*``, ``R*``, ``M*``). The norms are replaced by their first-order
    expansions around the full-data ``C``, exact functions of per-block sums::

        ||C*||_op ~ u^T C* v          (u, v: top singular vectors of C)
        ||C*||_F  ~ <C, C*> / ||C||_F

    so each replicate costs ``O(K^2)`` instead of a new SVD, and every lag uses
    the same block multiplicities (replicates of beta keep the correlations
    between lags). Both expansions agree with the norm itself to second order
    in ``C* - C``; they are lower bounds of it.
    """
    table = lc.table
    v, k = table.vocab_size, plan.n_blocks
    m = sp.pairs
    if m == 0:
        z = np.zeros(weights.shape[0])
        return z, z.copy()
    pl = lc.left_blocks.sum(axis=0) / m
    pr = lc.right_blocks.sum(axis=0) / m
    u, vv = sp.u, sp.v
    a = np.zeros(k)  # sum over the block's pairs of u[x_i] v[x_{i+n}]
    g = np.zeros(k)  # sum over the block's pairs of C[x_i, x_{i+n}]
    for comp, cnt in plan.block_tables(source, lag, lc):
        key = comp // k
        blk = comp - key * k
        rows = key // v
        cols = key - rows * v
        jc = table.counts[np.searchsorted(table.keys, key)]
        a += np.bincount(blk, weights=cnt * u[rows] * vv[cols], minlength=k)
        g += np.bincount(blk, weights=cnt * (jc / m - pl[rows] * pr[cols]), minlength=k)
    mw = weights @ lc.pairs_blocks
    lu, rv = lc.left_blocks @ u, lc.right_blocks @ vv
    op = (weights @ a) / mw - (weights @ lu) * (weights @ rv) / mw**2
    fro = sp.frobenius
    if fro <= 0:
        return op, np.zeros_like(op)
    jm = sparse_matrix(table.rows, table.cols, table.counts / m, (v, v))
    rb = lc.right_blocks.T  # V x K
    c_rb = jm @ rb - np.outer(pl, pr @ rb)
    h = lc.left_blocks @ c_rb  # K x K: L_b^T C R_b'
    quad = np.einsum("rk,kl,rl->r", weights, h, weights)
    fr = ((weights @ g) / mw - quad / mw**2) / fro
    return op, fr


# ----------------------------------------------------------------------------------------
def _resolve_corpus(corpus: Any):
    from ..corpus import TokenCorpus, resolve

    if isinstance(corpus, TokenCorpus):
        return corpus
    if isinstance(corpus, str | os.PathLike):
        return resolve(corpus)
    if corpus is None:
        return resolve(None)
    arr = np.asarray(corpus)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise UserError("tokens must be a one-dimensional integer array (or a TokenCorpus)")
    return TokenCorpus.from_array(arr)


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
        inside = (lags >= lo) & (lags <= hi)
        if inside.sum() < 3:
            raise UserError(
                f"beta window {lo}..{hi} holds {int(inside.sum())} of the measured lags; "
                "a fit needs at least 3"
            )
        if not ok[inside].all():
            bad = lags[inside & ~ok]
            warnings.append(
                f"{name}: the window {lo}..{hi} includes lags at the noise floor "
                f"({', '.join(map(str, bad[:8].tolist()))}{'...' if bad.size > 8 else ''})"
            )
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
            warnings.append(f"{name} is undefined: {reason}")
            return PowerLawFit.undefined(reason)
        n_in = int(((lags >= window[0]) & (lags <= window[1])).sum())
        if n_in < 3:
            reason = (
                f"only {n_in} resolvable lag(s) ({window[0]}..{window[1]}) before the floor; "
                "a fit needs 3"
            )
            warnings.append(f"{name} is undefined: {reason}")
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
    except UserError as e:
        warnings.append(f"{name} is undefined: {e}")
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
        warnings.append(
            f"{name}: broken power law at lag {b.at:g} (p = {b.p_value:.2g}): "
            f"{_fit_text(b.left)}; {_fit_text(b.right)}. The single fit over "
            f"{fit.window[0]:g}..{fit.window[1]:g} is reported; choose a window with "  # type: ignore[index]
            "--beta-window lo,hi"
        )
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
    within_documents: bool = False,
    floor_factor: float = 2.0,
    n_shuffles: int = DEFAULT_SHUFFLES,
    n_boot: int = DEFAULT_BOOT,
    beta_window: tuple[int, int] | list[int] | None = None,
    first_lag: int = 1,
    debias_beta: bool = True,
    top_k: int = 0,
    max_pairs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    n_blocks: int | None = None,
    chunk_tokens: int = 1 << 22,
) -> CorrelationResult:
    """Measure ``||C(n)||`` at every lag with its noise floor and fit ``beta``.

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
    progress : bool
        Show a progress bar over lags.
    n_blocks : int, optional
        Bootstrap blocks (default ``clip(N / (10 max_lag), 10, 100)``).
    chunk_tokens : int
        Left positions counted at once (bounds memory on very long corpora).

    Returns
    -------
    CorrelationResult
    """
    t0 = time.perf_counter()
    c = _resolve_corpus(corpus)
    tokens = c.tokens
    n_tok = int(tokens.shape[0])
    if n_tok < 3:
        raise UserError(f"a corpus of {n_tok} tokens is too short to measure correlations")
    vsz = c.vocab_size
    lag_arr = _check_lags(lags, n_tok) if lags is not None else np.asarray(default_lags(n_tok))
    if not np.isfinite(floor_factor) or floor_factor <= 0:
        raise UserError(f"floor_factor must be positive, got {floor_factor}")
    for name, val in (("n_shuffles", n_shuffles), ("n_boot", n_boot), ("top_k", top_k)):
        if int(val) != val or val < 0:
            raise UserError(f"{name} must be a non-negative integer, got {val}")
    if first_lag < 1:
        raise UserError(f"first_lag must be >= 1, got {first_lag}")
    if max_pairs is not None and max_pairs < 1:
        raise UserError(f"max_pairs must be positive, got {max_pairs}")
    if top_k >= vsz:
        raise UserError(f"top_k must be below the vocabulary size {vsz}")
    bw: tuple[int, int] | None = None
    if beta_window is not None:
        if len(beta_window) != 2 or beta_window[0] >= beta_window[1] or beta_window[0] < 1:
            raise UserError(f"beta window must be lo,hi with 1 <= lo < hi, got {beta_window}")
        bw = (int(beta_window[0]), int(beta_window[1]))
        inside = int(((lag_arr >= bw[0]) & (lag_arr <= bw[1])).sum())
        if inside < 3:
            raise UserError(
                f"beta window {bw[0]}..{bw[1]} holds {inside} of the measured lags; "
                "a fit needs at least 3"
            )

    layout = Layout.build(tokens, vsz, c.doc_offsets, c.eod_token, within_documents)
    max_lag = int(lag_arr.max())
    if n_blocks is None:
        k = int(np.clip(n_tok // (10 * max_lag), 10, 100))
    else:
        k = int(n_blocks)
        if k < 1:
            raise UserError(f"n_blocks must be positive, got {n_blocks}")
    # Without a bootstrap the blocks are not needed: one block covers everything.
    bounds = layout.block_bounds(k) if n_boot >= 2 else np.array([0, n_tok], dtype=np.int64)
    chunk = max(int(chunk_tokens), max_lag)
    plan = CountPlan(layout, layout.chunks(chunk), bounds, max_pairs=max_pairs, seed=seed)
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
        warnings.append(
            f"no pairs were counted at lags {lag_arr[no_pairs][:10].tolist()}"
            f"{' ...' if no_pairs.sum() > 10 else ''} ("
            + ("every document is shorter than the lag" if within_documents else "subsampling")
            + "): their norms are undefined (null)"
        )
    if max_pairs is not None and any(plan.rate(int(lag)) < 1 for lag in lag_arr):
        warnings.append(
            f"subsampled: about {max_pairs} random pairs per lag were counted; floors and "
            "errors refer to the pairs counted"
        )
    if m.unconverged:
        warnings.append(f"ARPACK did not reach its tolerance at lags {m.unconverged[:10]}")
    if weights is not None and kb < 10:
        warnings.append(f"only {kb} bootstrap blocks: standard errors are rough")
    if weights is None:
        warnings.append("no bootstrap (n_boot < 2 or a single block): no standard errors")
    near = ok & np.isfinite(op_se) & (op - second < 2 * op_se)
    if near.any():
        warnings.append(
            "top two singular values within two standard errors at lags "
            f"{lag_arr[near][:10].tolist()}: the operator-norm errors may be underestimated"
        )
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
        "lags": lag_arr.tolist() if lags is not None else None,
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
