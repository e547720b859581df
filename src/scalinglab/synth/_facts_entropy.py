"""Exact conditional entropies of the flipping-facts source (no sampling here).

With the index law ``p_k`` and the bit correlation ``lambda_k^d = exp(-d / tau_k)``
of fact k after d steps, a sighting at distance d carries
``g_k(d) = ln 2 - h2((1 + lambda_k^d) / 2)`` nats about the fact's current bit,
and (derivation in :mod:`scalinglab.synth.facts`)

    H_n - H_inf = sum_k p_k^2 sum_{d>n} (1 - p_k)^(d-1) g_k(d).

The tail is summed directly up to a distance ``D_k`` (:func:`direct_length`)
and beyond it in closed form from the series of g (:func:`series_tail`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UserError

__all__ = [
    "MAX_TERMS",
    "binary_information",
    "direct_length",
    "entropy_excess",
    "information_at",
    "series_tail",
    "tail_plan",
]

#: Most terms of the direct entropy sums over all facts together.
MAX_TERMS = 1 << 26
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
