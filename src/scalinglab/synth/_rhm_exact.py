"""Exact statistics of the Random Hierarchy Model (no sampling here).

Laws of a rule's children, the law of the token at each position of a
sequence, and the exact correlations of a sequence and of the
separator-delimited stream (the FFT construction is described in
:mod:`scalinglab.synth.rhm`). Every function takes the model, whose drawn rules
it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UserError
from ._common import check_int

if TYPE_CHECKING:
    from .rhm import RandomHierarchyModel

__all__ = [
    "EXACT_MAX_LEN",
    "EXACT_MAX_V",
    "child_laws",
    "leaf_marginals",
    "pair_law",
    "sequence_correlations",
    "stream_correlations",
    "within_sequence",
]

#: Largest vocabulary and sequence length for which exact correlations are computed.
EXACT_MAX_V = 128
EXACT_MAX_LEN = 1 << 16


def child_laws(model: RandomHierarchyModel, h: int) -> np.ndarray:
    """``M_h^(p)[a, b] = P(child p = b | parent a)`` at height h: (s, parents, v)."""
    r = model.rules[h - 1]
    parents = r.shape[0]
    out = np.empty((model.s, parents, model.v))
    base = np.arange(parents)[:, None] * model.v
    for p in range(model.s):
        cnt = np.bincount((base + r[:, :, p]).ravel(), minlength=parents * model.v)
        out[p] = cnt.reshape(parents, model.v) / model.m
    return out


def pair_law(model: RandomHierarchyModel, h: int, p: int, q: int) -> np.ndarray:
    """``J_h^(p,q)[a, y, z] = P(child p = y, child q = z | parent a)``."""
    r = model.rules[h - 1]
    parents, v = r.shape[0], model.v
    code = (np.arange(parents)[:, None] * v + r[:, :, p]) * v + r[:, :, q]
    cnt = np.bincount(code.ravel(), minlength=parents * v * v)
    return cnt.reshape(parents, v, v) / model.m


def leaf_marginals(model: RandomHierarchyModel) -> np.ndarray:
    """Law of the token at each position of a sequence: (s^L, v)."""
    d = np.ones((1, 1, 1)) * np.eye(model.v)[None]
    for h in range(1, model.L + 1):
        m_h = child_laws(model, h)
        if h < model.L:
            d = np.concatenate([m_h[p] @ d for p in range(model.s)])
    u = np.full(model.n_c, 1.0 / model.n_c)
    m_top = child_laws(model, model.L)
    return np.concatenate([np.einsum("x,xy,oyb->ob", u, m_top[p], d) for p in range(model.s)])


def within_sequence(model: RandomHierarchyModel) -> tuple[np.ndarray, np.ndarray]:
    """Summed same-sequence covariances by lag, and the positional marginals.

    ``within[n] = sum_i [P(x_i, x_{i+n}) - p_i p_{i+n}^T]`` over the ``s^L - n``
    pairs of positions n apart in one sequence: (s^L, v, v).
    """
    v, s, big_l = model.v, model.s, model.L
    if v > EXACT_MAX_V or model.seq_len > EXACT_MAX_LEN:
        raise UserError(f"exact correlations need v <= {EXACT_MAX_V} and s^L <= {EXACT_MAX_LEN}")
    seq = model.seq_len
    joint = np.zeros((seq, v, v))  # sum over same-sequence pairs at lag n of P(x_i, x_j)
    w = np.full(model.n_c, 1.0 / model.n_c)  # summed law of the nodes at height h
    laws = [child_laws(model, h) for h in range(1, big_l + 1)]
    downs = [np.eye(v)[None]]  # D_h[o]: leaf laws under a node at height h, h < L
    for h in range(1, big_l):
        downs.append(np.concatenate([laws[h - 1][p] @ downs[-1] for p in range(s)]))
    for h in range(big_l, 0, -1):
        d = downs[h - 1]
        t = d.shape[0]
        f = 2 * t
        fa = np.conj(np.fft.rfft(d, n=f, axis=0)).transpose(0, 2, 1)  # [k, a, y]
        shift = np.concatenate([np.arange(0, t), np.arange(-t, 0)])
        for p in range(s):
            for q in range(p + 1, s):
                k = np.einsum("x,xyz->yz", w, pair_law(model, h, p, q))
                fe = np.fft.rfft(np.einsum("yz,ozb->oyb", k, d), n=f, axis=0)
                g = np.fft.irfft(fa @ fe, n=f, axis=0)  # g[d] = sum_o D[o]^T K D[o+d]
                lag = (q - p) * t + shift
                ok = (lag >= 1) & (lag < seq)
                np.add.at(joint, lag[ok], g[ok])
        w = w @ laws[h - 1].sum(axis=0)
    marg = np.concatenate(
        [
            np.einsum("x,xy,oyb->ob", np.full(model.n_c, 1.0 / model.n_c), laws[-1][p], downs[-1])
            for p in range(s)
        ]
    )
    fm = np.fft.rfft(marg, n=2 * seq, axis=0)
    prod = np.fft.irfft(np.conj(fm)[:, :, None] * fm[:, None, :], n=2 * seq, axis=0)[:seq]
    return joint - prod, marg


def sequence_correlations(model: RandomHierarchyModel, max_lag: int | None = None) -> np.ndarray:
    """Exact position-averaged covariance inside one sequence, lags 1..max_lag.

    ``C_seq(n) = (1/(s^L - n)) sum_i [P(x_i, x_{i+n}) - p_i p_{i+n}^T]`` with the
    law ``p_i`` of each position (the correlation studied for the RHM in the
    literature); (max_lag, v, v), ``max_lag < s^L``.
    """
    seq = model.seq_len
    max_lag = seq - 1 if max_lag is None else check_int("max_lag", max_lag, maximum=seq - 1)
    within, _ = within_sequence(model)
    lags = np.arange(1, max_lag + 1)
    return within[lags] / (seq - lags)[:, None, None]


def stream_correlations(model: RandomHierarchyModel, max_lag: int | None = None) -> np.ndarray:
    """Exact ``C(n)`` of the separator-delimited stream for ``n = 1..max_lag``.

    Returns an array (max_lag, v+1, v+1); index v is the separator. The
    default ``max_lag`` is one period, ``s^L + 1``. Besides the covariances
    inside a sequence, it holds the part due to positions having different
    laws, which does not decay with n (it vanishes with balanced rules).
    """
    v = model.v
    within, marg = within_sequence(model)
    seq, period = model.seq_len, model.seq_len + 1
    max_lag = period if max_lag is None else check_int("max_lag", max_lag)
    mp = np.zeros((period, v + 1))
    mp[:seq, :v] = marg
    mp[seq, v] = 1.0
    pbar = mp.mean(axis=0)
    fp = np.fft.fft(mp, axis=0)
    cyc = np.fft.ifft(np.conj(fp)[:, :, None] * fp[:, None, :], axis=0).real / period
    lags = np.arange(1, max_lag + 1)
    out = cyc[lags % period] - np.outer(pbar, pbar)[None]
    inside = lags < seq
    out[inside, :v, :v] += within[lags[inside]] / period
    return out
