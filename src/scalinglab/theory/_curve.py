"""The pieces of the predicted curve: noise-floor constant, amplitudes, the upper-bound
entropy curve, its floor, and the inverse (tokens for a target loss)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UserError
from ..stats.model_losses import ModelLosses
from ._inputs import CorrelationInputs, EntropyInputs
from .law import tokens_for_horizon


def floor_constant(ci: CorrelationInputs, num_tokens: int) -> float:
    """``c`` in floor(M) = c / sqrt(M): the median of floor_n * sqrt(M_n) over lags."""
    pairs = ci.pairs if ci.pairs is not None else num_tokens - ci.lags
    ok = np.isfinite(ci.noise_floor) & (ci.noise_floor > 0) & (pairs > 0)
    if not ok.any():
        raise UserError("the correlation results hold no finite noise floor")
    return float(np.median(ci.noise_floor[ok] * np.sqrt(pairs[ok])))


def amplitudes(
    ci: CorrelationInputs,
    window: list[int],
    betas: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
) -> np.ndarray:
    """``A`` of ``||C(n)|| = A n^-beta`` given beta, central value then replicates.

    log A is the weighted mean of log||C(n)|| + beta log n over the beta window
    (weights: inverse variance of log||C(n)||); replicates perturb the norms by
    their bootstrap standard errors.
    """
    lags, y, se = ci.lags, ci.operator_norm, ci.operator_norm_stderr
    lo, hi = window
    m = (lags >= lo) & (lags <= hi) & np.isfinite(y) & (y > 0)
    rel = np.where(np.isfinite(se[m]) & (se[m] > 0), se[m] / y[m], np.nan)
    rel = np.where(np.isfinite(rel), rel, np.nanmedian(rel) if np.isfinite(rel).any() else 0.05)
    w = 1.0 / np.maximum(rel, 1e-6) ** 2
    logy = np.log(y[m])[None, :]
    noise = np.concatenate([np.zeros((1, m.sum())), rng.standard_normal((n_boot, m.sum()))])
    logy = logy + noise * rel[None, :]
    loga = ((logy + betas[:, None] * np.log(lags[m])[None, :]) * w).sum(1) / w.sum()
    return np.exp(loga)


def upper_curve(
    ei: EntropyInputs, gamma_d: dict[str, Any], model: ModelLosses | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(n, U_n, n_last)``: the upper-bound entropy curve and its last trusted n.

    ``U_n`` is the entropy engine's ``upper`` at n = 0 and, for n >= 1, the
    combined bound of :func:`.model_gamma.combine_with_counts` when a model's
    losses are given (``model`` is that combination), else ``upper``; then its
    running minimum over n (H_n never increases with n). ``n_last`` is the
    model's horizon when gamma came from the model, otherwise the end of the
    gamma window (or of the reliable window, if longer).
    """
    n_c = ei.n.astype(float)
    top = int(max(n_c.max(), model.context if model is not None else 0))
    n = np.arange(top + 1, dtype=float)
    u = np.full(top + 1, np.inf)
    u[ei.n] = np.where(np.isfinite(ei.upper), ei.upper, np.inf)
    if model is not None:  # the combination already holds the n-gram bound at n >= 1
        u[1:] = np.inf
        u[model.n] = np.where(np.isfinite(model.loss), model.loss, np.inf)
    u = np.fmin.accumulate(u)
    u = np.where(np.isfinite(u), u, np.nan)
    if gamma_d.get("source") == "model":
        n_last = float(gamma_d["horizon"]["n"])
    else:
        gw = gamma_d.get("window") or [1, int(n_c[-1])]
        rel_n = n_c[ei.reliable & (n_c >= 1)]
        n_last = float(max(gw[1], rel_n.max() if rel_n.size else 0.0))
    n_last = float(min(n_last, n[np.isfinite(u)].max()))
    return n, u, n_last


def h_inf_of(gamma_d: dict[str, Any]) -> tuple[float, float]:
    """``H_inf`` and its error from the offset form of the gamma fit (0, 0 when none)."""
    off = (gamma_d.get("forms") or {}).get("offset") or {}
    h = off.get("h_inf")
    if not isinstance(h, dict) or h.get("value") is None:
        return 0.0, 0.0
    return max(float(h["value"]), 0.0), float(h["stderr"]) if h.get("stderr") else 0.0


def tokens_for_target(
    x: float,
    curve_at: Callable[[np.ndarray], np.ndarray],
    h_meas: np.ndarray,
    amps: np.ndarray,
    betas: np.ndarray,
    factor: np.ndarray,
    c_floor: float,
) -> dict[str, Any]:
    """Tokens needed for the predicted loss to reach ``x`` nats (per replicate)."""
    h0 = float(h_meas[0])
    if x >= h0:
        return {
            "loss": x,
            "P": None,
            "note": f"target loss {x} is not below H_0 = {h0:.4f}: any amount of data reaches it",
        }
    # Invert H(n) = x on a fine log grid of n (H is decreasing), then P from n*(P) = n.
    n_grid = np.logspace(-3, 12, 3001)
    h = curve_at(np.broadcast_to(n_grid, (amps.size, n_grid.size)))
    n_x = np.array([np.interp(-x, -row, n_grid) if row[-1] < x else np.nan for row in h])
    P = tokens_for_horizon(n_x / factor, amps, betas, c_floor, 1.0)
    fin = P[1:][np.isfinite(P[1:])]
    if not np.isfinite(P[0]):
        return {
            "loss": x,
            "P": None,
            "note": f"target loss {x} lies below the predicted curve's floor (H_inf): "
            "no amount of data reaches it",
        }
    return {
        "loss": x,
        "P": float(P[0]),
        "ci95": np.percentile(fin, [2.5, 97.5]).tolist() if fin.size else [None, None],
        "n_star": float(n_x[0]),
        "note": "tokens at which the predicted L(P) reaches the target",
    }
