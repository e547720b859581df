"""The broken neural scaling laws (Caballero et al. 2022) with 1, 2 or 3 breaks."""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np

from ._forms_base import Form, Param, _col, _logsumexp, project_coefficients


def _bnsl(theta, lX, grad, *, k: int):
    """Broken neural scaling law with k breaks, in log space.

    Internal coordinates (log a, log b, c0, [c_i, log d_i, log f_i] for i = 1..k).
    log y = logsumexp(log a, t),  t = log b - c0 log x - sum_i c_i f_i softplus(z_i),
    z_i = (log x - log d_i) / f_i. With sigma = logistic:
    dt/dc_i = -f_i softplus(z_i),  dt/dlog d_i = c_i sigma(z_i),
    dt/dlog f_i = -c_i f_i (softplus(z_i) - z_i sigma(z_i)).
    """
    lx = lX[0]
    t = _col(theta, 1) - _col(theta, 2) * lx
    parts = []
    for i in range(k):
        j = 3 + 3 * i
        c, ld, f = _col(theta, j), _col(theta, j + 1), np.exp(_col(theta, j + 2))
        z = (lx - ld) / f
        sp = np.logaddexp(0.0, z)
        t = t - c * f * sp
        parts.append((c, f, z, sp))
    la = np.broadcast_to(_col(theta, 0), t.shape)
    pred, (wa, wt) = _logsumexp([la, t])
    if not grad:
        return pred, None
    J = np.empty((pred.shape[0], 3 + 3 * k, pred.shape[1]))
    J[:, 0] = wa
    J[:, 1] = wt
    J[:, 2] = -wt * lx
    for i, (c, f, z, sp) in enumerate(parts):
        j = 3 + 3 * i
        sig = np.exp(z - sp)  # logistic(z) = e^z / (1 + e^z)
        J[:, j] = -wt * f * sp
        J[:, j + 1] = wt * c * sig
        J[:, j + 2] = -wt * c * f * (sp - z * sig)
    return pred, J


def _bnsl_sort_breaks(theta: np.ndarray, *, k: int) -> np.ndarray:
    """Reorder the break triples (c_i, log d_i, log f_i) of every row by increasing d_i.

    The product over breaks commutes, so this leaves the curve unchanged.
    """
    theta = np.array(theta, dtype=float, copy=True)
    if k < 2:
        return theta
    triples = theta[:, 3:].reshape(theta.shape[0], k, 3)
    order = np.argsort(triples[:, :, 1], axis=1, kind="stable")
    theta[:, 3:] = np.take_along_axis(triples, order[:, :, None], axis=1).reshape(-1, 3 * k)
    return theta


def _bnsl_grid(lX, logy, *, k: int, max_points: int = 20000, seed: int = 0):
    """Coarse BNSL grid with every range taken from the data.

    Breaks d_i: log-spaced over the observed x range (ordered d_1 < .. < d_k);
    sharpness f_i: fractions of the log-x span; slopes c0, c_i: multiples of the
    steepest local log-log slope in the data. a and b enter linearly, so each
    grid point gets the best non-negative (a, b) by least squares in relative
    error (an exact line search over log b instead of a grid over it). Grids
    larger than ``max_points`` are subsampled with a fixed seed.
    """
    lx = lX[0]
    order = np.argsort(lx, kind="stable")
    dlx, dly = np.diff(lx[order]), np.diff(logy[order])
    keep = dlx > 1e-12
    slopes = np.abs(dly[keep] / dlx[keep]) if keep.any() else np.array([1.0])
    s_max = max(float(np.max(slopes)), 1e-3)
    span = max(float(np.ptp(lx)), 1e-3)
    d_axis = np.linspace(lx.min(), lx.max(), 10 if k == 1 else 8)
    f_axis = np.log(span * np.array([0.003, 0.01, 0.03, 0.1, 0.3]))
    c0_axis = s_max * np.array([0.0, 0.05, 0.2, 0.5, 1.0])
    c_axis = s_max * np.array([-1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 2.0])
    d_combos = np.array(list(itertools.combinations(d_axis, k)))
    sizes = [len(c0_axis), len(d_combos)] + [len(c_axis), len(f_axis)] * k
    total = int(np.prod(sizes))
    if total > max_points:
        flat = np.random.default_rng(seed).choice(total, size=max_points, replace=False)
    else:
        flat = np.arange(total)
    idx = np.unravel_index(flat, sizes)
    G = flat.size
    theta = np.empty((G, 3 + 3 * k))
    theta[:, 2] = c0_axis[idx[0]]
    ds = d_combos[idx[1]]
    for i in range(k):
        theta[:, 3 + 3 * i] = c_axis[idx[2 + 2 * i]]
        theta[:, 4 + 3 * i] = ds[:, i]
        theta[:, 5 + 3 * i] = f_axis[idx[3 + 2 * i]]
    # log of the broken power law with b = 1 and a = 0; (a, b) are solved for below
    theta[:, 0] = -np.inf
    theta[:, 1] = 0.0
    log_g, _ = _bnsl(theta, lX, False, k=k)
    logF = np.stack([np.zeros_like(log_g), log_g], axis=-1)
    logc = project_coefficients(logF, logy)
    theta[:, 0:2] = logc
    return theta


def _make_bnsl(k: int) -> Form:
    params = [Param("a", log=True), Param("b", log=True), Param("c0", exponent=True)]
    for i in range(1, k + 1):
        params += [
            Param(f"c{i}", exponent=True),
            Param(f"d{i}", log=True),
            Param(f"f{i}", log=True),
        ]
    prod = " ".join(f"(1 + (x/d{i})^(1/f{i}))^(-c{i} f{i})" for i in range(1, k + 1))
    return Form(
        "bnsl" if k == 1 else f"bnsl{k}",
        f"y = a + b x^-c0 {prod}",
        ("x",),
        tuple(params),
        partial(_bnsl, k=k),
        partial(_bnsl_grid, k=k),
        refine=600,
        canonical=partial(_bnsl_sort_breaks, k=k),
    )
