"""The data-limited scaling law from corpus statistics (REFERENCE sections 1.4-1.5).

All functions broadcast over leading axes, so that bootstrap replicates of
``(amplitude, beta)`` and ``(H_n, gamma)`` are evaluated in one vectorised call.

Conventions
-----------
- Correlation strength ``||C(n)||_op ~ A n^-beta`` (operator norm, lags in tokens).
- Sampling-noise floor of the operator norm from ``M`` pairs: ``f(M) = f_ref sqrt(M_ref / M)``
  (the noise of a covariance estimate falls as ``M^-1/2``; ``f_ref`` is the floor
  measured on the corpus itself with ``M_ref`` pairs).
- Horizon ``n*(P)``: the lag at which the fitted correlation meets the floor that
  ``P`` training tokens would have, ``A n^-beta = f(P)``, i.e.
  ``n*(P) = (A / f(P))^(1/beta) = n*(M_ref) (P / M_ref)^(1/(2 beta))``.
- Loss at ``P`` tokens: ``L(P) = H_{n*(P)}``, with ``H_n`` interpolated (log-log) on
  the measured values and continued beyond the last trusted ``n`` by the fitted
  law ``H_n ~ n^-gamma`` anchored at that point, so that
  ``L(P) ~ P^-alpha_D`` with ``alpha_D = gamma / (2 beta)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def alpha_from(beta: float, gamma: float, d_beta: float, d_gamma: float) -> tuple[float, float]:
    """alpha_D = gamma / (2 beta) and its propagated error (REFERENCE 1.4).

    ``d_alpha = sqrt((d_gamma / (2 beta))^2 + (gamma d_beta / (2 beta^2))^2)``.
    """
    alpha = gamma / (2.0 * beta)
    d_alpha = float(np.hypot(d_gamma / (2.0 * beta), gamma * d_beta / (2.0 * beta**2)))
    return float(alpha), d_alpha


def noise_floor_at(P: ArrayLike, floor_ref: float, m_ref: float) -> np.ndarray:
    """Operator-norm noise floor an estimate from ``P`` pairs would have."""
    return floor_ref * np.sqrt(m_ref / np.asarray(P, dtype=float))


def horizon(
    P: ArrayLike, amplitude: ArrayLike, beta: ArrayLike, floor_ref: float, m_ref: float
) -> np.ndarray:
    """Prediction horizon ``n*(P) = (A / f(P))^(1/beta)`` in tokens.

    ``amplitude`` and ``beta`` may carry a leading replicate axis (shape ``(B, 1)``)
    to broadcast against a grid of ``P``.
    """
    amp = np.asarray(amplitude, dtype=float)
    b = np.asarray(beta, dtype=float)
    return (amp / noise_floor_at(P, floor_ref, m_ref)) ** (1.0 / b)


def tokens_for_horizon(
    n: ArrayLike, amplitude: ArrayLike, beta: ArrayLike, floor_ref: float, m_ref: float
) -> np.ndarray:
    """Inverse of :func:`horizon`: ``P = M_ref (f_ref n^beta / A)^2``."""
    n = np.asarray(n, dtype=float)
    return m_ref * (floor_ref * n ** np.asarray(beta, float) / np.asarray(amplitude, float)) ** 2


def entropy_at(
    n: ArrayLike,
    n_meas: ArrayLike,
    h_meas: ArrayLike,
    n_last: float,
    gamma: ArrayLike,
    h_inf: ArrayLike = 0.0,
    offset: bool = False,
) -> np.ndarray:
    """``H`` at real-valued context lengths ``n``, for each replicate.

    Parameters
    ----------
    n : array, shape ``(B, G)`` or ``(G,)``
        Context lengths in tokens (>= 0), per replicate or shared.
    n_meas : array, shape ``(K,)``
        Measured context lengths, increasing, starting at 0.
    h_meas : array, shape ``(B, K)`` or ``(K,)``
        Measured entropies in nats, per replicate or shared.
    n_last : float
        Last context length whose measured entropy is trusted; beyond it
        ``H_n = H_{n_last} (n / n_last)^-gamma``.
    gamma : float or array ``(B,)``
        Exponent of ``H_n ~ n^-gamma``.
    h_inf : float or array ``(B,)``
        Entropy rate ``H_inf`` (nats): the extrapolation never falls below it.
    offset : bool
        Extrapolate ``H_n = H_inf + (H_{n_last} - H_inf) (n / n_last)^-gamma`` (the
        law with an offset) instead of ``H_{n_last} (n / n_last)^-gamma``; either way
        the result is at least ``H_inf``.

    Returns
    -------
    array, shape ``(B, G)``

    Notes
    -----
    Between measured points the interpolation is linear in ``(log n, log H)``
    for ``n >= 1`` and linear in ``(n, H)`` between ``n = 0`` and ``n = 1``.
    """
    n_meas = np.asarray(n_meas, dtype=float)
    h = np.atleast_2d(np.asarray(h_meas, dtype=float))[:, n_meas <= n_last]
    nm = n_meas[n_meas <= n_last]
    g = np.atleast_1d(np.asarray(gamma, dtype=float))
    hinf = np.atleast_1d(np.asarray(h_inf, dtype=float))
    x_all = np.atleast_2d(np.asarray(n, dtype=float))
    rows = max(h.shape[0], g.shape[0], x_all.shape[0])
    out = np.empty((rows, x_all.shape[1]))
    pos = nm >= 1
    for r in range(rows):  # a loop over bootstrap replicates, not over tokens
        hr = h[r % h.shape[0]]
        x = x_all[r % x_all.shape[0]]
        gr = g[r % g.shape[0]]
        fl = float(hinf[r % hinf.shape[0]])
        val = np.empty_like(x)
        small = x < 1
        h1 = hr[pos][0] if pos.any() else hr[-1]
        val[small] = hr[0] + (h1 - hr[0]) * np.clip(x[small], 0.0, 1.0)
        mid = ~small & (x <= nm[-1])
        if mid.any():
            val[mid] = np.exp(np.interp(np.log(x[mid]), np.log(nm[pos]), np.log(hr[pos])))
        beyond = ~small & ~mid
        decay = (x[beyond] / max(nm[-1], 1.0)) ** (-gr)
        if offset:
            val[beyond] = fl + (hr[-1] - fl) * decay
        else:
            val[beyond] = np.maximum(hr[-1] * decay, fl)
        out[r] = val
    return out


def local_exponent(P: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """``-d log L / d log P`` along a curve (central differences on the log grid)."""
    return -np.gradient(np.log(loss), np.log(P), axis=-1)
