"""The power-law family of forms: a power law, sums of power laws plus a constant, Kaplan's form."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import partial
from typing import TypedDict

import numpy as np

from ._forms_base import Form, Param, _col, _exponent_grid, _logsumexp, project_coefficients

# --------------------------------------------------------------------------- forms


def _power_law(theta: np.ndarray, lX: np.ndarray, grad: bool):
    """log f = a - alpha log x  (A = e^a)."""
    lx = lX[0]
    pred = _col(theta, 0) - _col(theta, 1) * lx
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 2, pred.shape[1]))
    J[:, 0] = 1.0
    J[:, 1] = -lx
    return pred, J


def _power_law_grid(lX: np.ndarray, logy: np.ndarray) -> np.ndarray:
    lx = lX[0]
    slope, icpt = np.polyfit(lx, logy, 1) if np.ptp(lx) > 0 else (0.0, float(np.mean(logy)))
    alphas = np.concatenate([[-slope], _exponent_grid(lx, 8)])
    return np.column_stack([np.mean(logy) + alphas * np.mean(lx), alphas])


class _OffsetSpec(TypedDict):
    """Keyword arguments shared by :func:`_offset_sum` and :func:`_offset_grid`."""

    e: int
    pairs: Sequence[tuple[int, int, int]]


def _offset_sum(theta, lX, grad, *, e: int, pairs: Sequence[tuple[int, int, int]]):
    """log f = logsumexp(e, c_j - alpha_j log x_j): E + sum_j C_j x_j^-alpha_j.

    ``pairs`` lists (index of log C_j, index of alpha_j, input column k).
    With softmax weights w_0 (offset) and w_j (terms):
    d log f / d e = w_0,  d/d c_j = w_j,  d/d alpha_j = -w_j log x_k.
    This is the hot loop of the Chinchilla fit, hence the in-place arithmetic.
    """
    S, n = theta.shape[0], lX.shape[1]
    T = np.empty((len(pairs), S, n))
    for j, (c, a, k) in enumerate(pairs):
        np.multiply(theta[:, a : a + 1], lX[k], out=T[j])
        np.subtract(theta[:, c : c + 1], T[j], out=T[j])
    off = theta[:, e : e + 1]
    m = np.maximum(T.max(axis=0), off)
    np.subtract(T, m, out=T)
    np.exp(T, out=T)
    w0 = np.exp(off - m)
    total = T.sum(axis=0)
    total += w0
    pred = np.log(total)
    pred += m
    if not grad:
        return pred, None
    np.reciprocal(total, out=total)
    J = np.empty((S, theta.shape[1], n))
    np.multiply(w0, total, out=J[:, e])
    for j, (c, a, k) in enumerate(pairs):
        np.multiply(T[j], total, out=J[:, c])
        np.multiply(J[:, c], -lX[k], out=J[:, a])
    return pred, J


def _offset_grid(lX, logy, *, e: int, pairs: Sequence[tuple[int, int, int]], p: int, n: int = 12):
    """Exponent grid per term; E and the C_j solved by non-negative least squares."""
    grids = [_exponent_grid(lX[k], n) for _, _, k in pairs]
    alphas = np.array(list(itertools.product(*grids)))  # (G, m)
    G = alphas.shape[0]
    logF = np.zeros((G, lX.shape[1], len(pairs) + 1))
    for j, (_, _, k) in enumerate(pairs):
        logF[:, :, j + 1] = -alphas[:, j : j + 1] * lX[k]
    logc = project_coefficients(logF, logy)
    theta = np.empty((G, p))
    theta[:, e] = logc[:, 0]
    for j, (c, a, _) in enumerate(pairs):
        theta[:, c] = logc[:, j + 1]
        theta[:, a] = alphas[:, j]
    return theta


# Epoch AI's grid for the Chinchilla fit (Besiroglu et al. 2024):
# a, b in {0, 5, .., 25}; e in {-1, -.5, .., 1}; alpha, beta in {0, .5, .., 2}.
_CHINCHILLA_GRID_AXES = {
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
    "e": np.arange(-1.0, 1.5, 0.5),
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
}


def _chinchilla_grid(lX: np.ndarray, logy: np.ndarray) -> np.ndarray:
    ax = _CHINCHILLA_GRID_AXES
    # internal order (a, b, e, alpha, beta) = (log A, log B, log E, alpha, beta)
    return np.array(list(itertools.product(ax["a"], ax["b"], ax["e"], ax["alpha"], ax["beta"])))


def _kaplan(theta, lX, grad):
    """log f = alpha_D logsumexp(u1, u2), u1 = (alpha_N / alpha_D)(n_c - log N), u2 = d_c - log D.

    Internal coordinates (n_c, d_c, log alpha_N, log alpha_D). With
    S = logsumexp and softmax weights w1, w2:
    d/dn_c = alpha_N w1,  d/dd_c = alpha_D w2,
    d/dlog alpha_N = alpha_N w1 (n_c - log N),  d/dlog alpha_D = alpha_D S - alpha_D w1 u1.
    """
    nc, dc = _col(theta, 0), _col(theta, 1)
    aN, aD = np.exp(_col(theta, 2)), np.exp(_col(theta, 3))
    xN = nc - lX[0]
    u1 = (aN / aD) * xN
    u2 = np.broadcast_to(dc - lX[1], u1.shape)
    S, (w1, w2) = _logsumexp([u1, u2])
    pred = aD * S
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 4, pred.shape[1]))
    J[:, 0] = aN * w1
    J[:, 1] = aD * w2
    J[:, 2] = J[:, 0] * xN
    J[:, 3] = aD * (S - w1 * u1)
    return pred, J


def _kaplan_grid(lX, logy, n: int = 10):
    """Grid over (alpha_N, alpha_D); N_c and D_c from L^(1/alpha_D) = c1 N^(-aN/aD) + c2 / D."""
    gN = _exponent_grid(lX[0], n)
    gD = _exponent_grid(lX[1], n)
    aN, aD = (a.ravel() for a in np.meshgrid(gN, gD, indexing="ij"))
    G = aN.size
    logF = np.empty((G, lX.shape[1], 2))
    logF[:, :, 0] = -(aN / aD)[:, None] * lX[0]
    logF[:, :, 1] = -lX[1]
    logc = project_coefficients(logF, logy[None, :] / aD[:, None])
    nc = logc[:, 0] * aD / aN
    dc = logc[:, 1]
    return np.column_stack([nc, dc, np.log(aN), np.log(aD)])


# --------------------------------------------------------------------------- catalogue


def _make_power_law() -> Form:
    return Form(
        "power_law",
        "L = A x^-alpha",
        ("x",),
        (Param("A", log=True), Param("alpha", exponent=True)),
        _power_law,
        _power_law_grid,
    )


def _make_power_law_offset() -> Form:
    spec: _OffsetSpec = {"e": 0, "pairs": ((1, 2, 0),)}
    return Form(
        "power_law_offset",
        "L = E + A x^-alpha",
        ("x",),
        (Param("E", log=True), Param("A", log=True), Param("alpha", exponent=True)),
        partial(_offset_sum, **spec),
        partial(_offset_grid, p=3, n=40, **spec),
    )


def _make_chinchilla() -> Form:
    return Form(
        "chinchilla",
        "L = E + A N^-alpha + B D^-beta",
        ("N", "D"),
        (
            Param("A", log=True),
            Param("B", log=True),
            Param("E", log=True),
            Param("alpha", exponent=True),
            Param("beta", exponent=True),
        ),
        partial(_offset_sum, e=2, pairs=((0, 3, 0), (1, 4, 1))),
        _chinchilla_grid,
    )


def _make_dynamical() -> Form:
    spec: _OffsetSpec = {"e": 0, "pairs": ((1, 2, 0), (3, 4, 1))}
    return Form(
        "dynamical",
        "L = L_inf + C_t t^-alpha_t + C_N N^-alpha_N",
        ("t", "N"),
        (
            Param("L_inf", log=True),
            Param("C_t", log=True),
            Param("alpha_t", exponent=True),
            Param("C_N", log=True),
            Param("alpha_N", exponent=True),
        ),
        partial(_offset_sum, **spec),
        partial(_offset_grid, p=5, n=16, **spec),
    )


def _make_kaplan() -> Form:
    return Form(
        "kaplan",
        "L = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D",
        ("N", "D"),
        (
            Param("N_c", log=True),
            Param("D_c", log=True),
            Param("alpha_N", log=True, exponent=True),
            Param("alpha_D", log=True, exponent=True),
        ),
        _kaplan,
        _kaplan_grid,
    )
