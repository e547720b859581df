"""Exact statistics of the flipping-facts source: entropies and truth (no sampling here).

With the index law ``p_k`` and the bit correlation ``lambda_k^d = exp(-d / tau_k)``
of fact k after d steps, a sighting at distance d carries
``g_k(d) = ln 2 - h2((1 + lambda_k^d) / 2)`` nats about the fact's current bit,
and (derivation in :mod:`scalinglab.synth.facts`)

    H_n - H_inf = sum_k p_k^2 sum_{d>n} (1 - p_k)^(d-1) g_k(d).

The tail is summed directly up to a distance ``D_k`` (:func:`direct_length`)
and beyond it in closed form from the series of g (:func:`series_tail`).
:func:`facts_truth` assembles ``truth.json``: these entropies, the exact
correlation norms, the exponents, their power-law windows and alpha_D.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from ..warns import coded
from ._common import check_int, nats_bits

if TYPE_CHECKING:
    from .facts import FactsSource

__all__ = [
    "MAX_LAG",
    "MAX_N",
    "MAX_TERMS",
    "SLOPES_PER_OCTAVE",
    "WINDOW_TOLERANCE",
    "alpha_d",
    "facts_truth",
    "binary_information",
    "direct_length",
    "entropy_excess",
    "information_at",
    "series_tail",
    "tail_plan",
]

#: Most terms of the direct entropy sums over all facts together.
MAX_TERMS = 1 << 26
#: Longest H_n list and largest lag of the truth.
MAX_N = 1 << 20
MAX_LAG = 1 << 40
#: Relative tolerance of the power-law windows.
WINDOW_TOLERANCE = 0.1
#: Grid lags per octave for the local slopes.
SLOPES_PER_OCTAVE = 8
_LN2 = math.log(2.0)
#: Terms of the series g(x) = sum_j x^(2j) / (2j (2j - 1)) (x <= 1/2: error < 4^-60).
_SERIES_TERMS = 60


def binary_information(x: np.ndarray | float) -> np.ndarray:
    """``g(x) = ln 2 - h2((1 + x) / 2)`` in nats, for ``0 <= x <= 1``.

    The information a sighting carries about a bit whose correlation with it
    is ``x`` (``x = lambda^d``): ``g = ((1+x) ln(1+x) + (1-x) ln(1-x)) / 2``,
    evaluated by its series ``sum_j x^(2j) / (2j (2j-1))`` below ``x = 0.1``.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = np.atleast_1d(x).ravel()
    out = np.empty_like(flat)
    small = flat < 0.1
    xs = flat[small]
    x2 = xs * xs
    term = np.ones_like(xs)
    acc = np.zeros_like(xs)
    for j in range(1, 16):  # x^30 / 870 < 1e-32 relative to x^2 / 2
        term *= x2
        acc += term / (2 * j * (2 * j - 1))
    out[small] = acc
    xl = flat[~small]
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = 0.5 * ((1 + xl) * np.log1p(xl) + (1 - xl) * np.log1p(-xl))
    out[~small] = np.where(xl >= 1.0, _LN2, direct)
    return out.reshape(x.shape)


def information_at(d: np.ndarray, tau: float) -> np.ndarray:
    """``g(lambda^d)`` with ``lambda = exp(-1/tau)``, precise also where ``lambda^d ~ 1``."""
    u = np.asarray(d, dtype=np.float64) / tau
    x = np.exp(-u)
    out = np.empty_like(x)
    near = x > 0.9
    y = -np.expm1(-u[near])  # 1 - x without cancellation
    # h2((1 + x) / 2) = h2(1 - y/2) = -(1 - y/2) ln(1 - y/2) - (y/2) ln(y/2)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(1 - y / 2) * np.log1p(-y / 2) - (y / 2) * np.log(y / 2)
    out[near] = np.where(y > 0, _LN2 - h, _LN2)
    out[~near] = binary_information(x[~near])
    return out


def series_tail(n: np.ndarray, p: float, tau: float) -> np.ndarray:
    """``sum_{d>n} (1-p)^(d-1) g(lambda^d)`` from the series of g (exact where
    ``lambda^(n+1) <= 1/2``; where it is not, ``(1-p)^n`` is below 1e-20)."""
    n = np.asarray(n, dtype=np.float64)
    q = 1.0 - p
    out = np.zeros_like(n)
    qn = np.power(q, n)
    log1mp = math.log1p(-p) if p < 1 else -math.inf
    for j in range(1, _SERIES_TERMS + 1):
        denom = -math.expm1(log1mp - 2 * j / tau)
        out += qn * np.exp(-2 * j * (n + 1) / tau) / (denom * 2 * j * (2 * j - 1))
    return out


def direct_length(p: float, tau: float) -> int:
    """A distance D with ``lambda^(D+1) <= 1/2`` or ``(1-p)^D <= 1e-20`` (at least 1).

    Beyond it the series of :func:`series_tail` is exact to rounding.
    """
    by_tau = math.ceil(tau * _LN2)  # lambda^(D+1) <= 1/2
    by_p = math.ceil(46.06 / p) if p > 0 else math.inf  # (1-p)^D <= e^-46 ~ 1e-20
    return int(max(1, min(by_tau, by_p)))


def tail_plan(probs: np.ndarray, taus: np.ndarray) -> list[int]:
    """Terms of the direct sum of each fact's entropy tail (the rest in closed form)."""
    lengths = [direct_length(float(p), float(t)) for p, t in zip(probs, taus, strict=True)]
    if sum(lengths) > MAX_TERMS:
        raise UserError(
            f"the exact entropies need {sum(lengths):.3g} terms (limit {MAX_TERMS:.3g}): "
            "the rare facts flip too slowly; lower tau0, c or the number of facts"
        )
    return lengths


def entropy_excess(probs: np.ndarray, taus: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Exact ``H_n - H_inf = sum_k p_k^2 sum_{d>n} (1-p_k)^(d-1) g_k(d)`` (nats).

    Parameters
    ----------
    probs, taus : (K,) arrays
        Index law ``p_k`` and timescales ``tau_k`` of the facts.
    ns : array of int
        Context lengths ``n >= 0``.
    """
    ns = np.asarray(ns, dtype=np.int64)
    if ns.size and ns.min() < 0:
        raise UserError("context lengths must be >= 0")
    out = np.zeros(ns.shape, dtype=np.float64)
    for p, tau, dlen in zip(probs, taus, tail_plan(probs, taus), strict=True):
        p, tau = float(p), float(tau)
        d = np.arange(1, dlen + 1, dtype=np.float64)
        f = np.power(1.0 - p, d - 1) * information_at(d, tau)
        rest = float(series_tail(np.array([dlen]), p, tau)[0])
        suffix = np.concatenate([np.cumsum(f[::-1])[::-1], [0.0]]) + rest  # index n: d > n
        inside = ns <= dlen
        part = np.empty(ns.shape)
        part[inside] = suffix[ns[inside]]
        if (~inside).any():
            part[~inside] = series_tail(ns[~inside], p, tau)
        out += p * p * part
    return out


def alpha_d(gamma: float | None, beta: float | None) -> float | None:
    """The data exponent ``alpha_D = gamma / (2 beta)`` (REFERENCE 1.4); None without both."""
    return gamma / (2 * beta) if gamma is not None and beta else None


def facts_truth(src: FactsSource, max_n: int, max_lag: int) -> dict[str, Any]:
    """The ``truth.json`` of a facts source (see :meth:`FactsSource.truth`)."""
    max_n = check_int("max_n", max_n, minimum=1, maximum=MAX_N)
    max_lag = check_int("max_lag", max_lag, minimum=4, maximum=MAX_LAG)
    ns = np.unique(np.concatenate([np.arange(max_n + 1), src.slope_points(max_lag)]))
    excess = dict(zip(ns.tolist(), src.entropy_excess(ns).tolist(), strict=True))
    h_inf = src.index_entropy() + _LN2 - excess[0]
    hn = h_inf + np.array([excess[n] for n in range(max_n + 1)])
    lags = np.unique(
        np.concatenate(
            [
                np.arange(1, min(256, max_lag) + 1),
                np.round(np.geomspace(1, max_lag, 200)).astype(np.int64),
            ]
        )
    )
    ex = src.exponents()
    loc = src.local_slopes(max_lag, excess)
    fits = loc["fits"]

    rule = (
        "local slope = secant -d ln f / d ln n over floor(n/sqrt2)..ceil(n sqrt2); window = "
        f"longest run of grid lags where it is within {WINDOW_TOLERANCE:.0%} of the "
        "asymptotic exponent; window fit = least-squares slope of ln f on ln n over the "
        "grid lags inside the window; f = H_n - H_inf (gamma), ||C(n)||_op, ||C(n)||_F"
    )
    return {
        "kind": "facts",
        "vocab_size": src.vocab_size,
        "num_facts": src.num_facts,
        "a": src.a,
        "tau0": src.tau0,
        "c": src.c,
        "token": "x = 2 (k - 1) + z_k(t), k = 1..K drawn iid with P(k) = p_k",
        "probs": src.probs.tolist(),
        "taus": src.taus.tolist(),
        "lambdas": src.lambdas.tolist(),
        "flip_probs": src.flip_probs.tolist(),
        "unigram": src.token_marginal().tolist(),
        "H_index": nats_bits(src.index_entropy()),
        "H_n": {
            "n": list(range(max_n + 1)),
            "nats": hn.tolist(),
            "note": "exact; H_0 = H(p) + ln 2",
        },
        "H_inf": nats_bits(h_inf),
        "entropy_excess": {
            "n": loc["n"].tolist(),
            "nats": [excess[int(n)] for n in loc["n"]],
            "formula": "H_n - H_inf = sum_k p_k^2 sum_{d>n} (1-p_k)^(d-1) "
            "[ln 2 - h2((1 + lambda_k^d)/2)]",
        },
        "correlations": {
            **src.norms(lags),
            "formula": "C(n) block diagonal, block k = p_k^2 lambda_k^n / 4 [[1,-1],[-1,1]]; "
            "||C||_op = max_k p_k^2 lambda_k^n / 2, "
            "||C||_F = sqrt(sum_k p_k^4 lambda_k^(2n)) / 2",
        },
        "exponents": ex,
        "power_law_window": {k: (list(v) if v else None) for k, v in loc["windows"].items()},
        "window_rule": rule,
        "window_fit": fits,
        "local_slopes": {"n": loc["n"].tolist(), **{k: v for k, v in loc["slopes"].items()}},
        "alpha_D": {
            "formula": "alpha_D = gamma / (2 beta)",
            "asymptotic_operator": ex["alpha_D_operator"],
            "asymptotic_frobenius": ex["alpha_D_frobenius"],
            "window_fit_operator": alpha_d(fits["gamma"], fits["beta_operator"]),
            "window_fit_frobenius": alpha_d(fits["gamma"], fits["beta_frobenius"]),
        },
        "warnings": [
            coded(
                "synth-facts-no-window",
                f"no lag window where the exact local slope of {name} stays within "
                f"{WINDOW_TOLERANCE:.0%} of its asymptote up to lag {max_lag}: no window "
                "fit (raise --max-lag or the number of facts)"
                if ex[name] is not None
                else f"{name} has no asymptotic power law at these parameters "
                "(module docstring): no window fit",
            )
            for name in ("gamma", "beta_operator")
            if loc["windows"][name] is None
        ],
    }
