"""Case-resampling bootstrap of a fitted form, and the summary of its replicates."""

from __future__ import annotations

import numpy as np

from ._settings import _minimize, _Settings
from .optim import CONVERGED, LogResidualObjective


def _summarise(samples: np.ndarray, names: list[str]):
    ok = np.all(np.isfinite(samples), axis=1)
    s = samples[ok]
    if s.shape[0] < 2:
        return {n: None for n in names}, {n: None for n in names}
    se = s.std(axis=0, ddof=1)
    lo, hi = np.percentile(s, [2.5, 97.5], axis=0)
    return (
        {n: float(v) for n, v in zip(names, se, strict=True)},
        {n: [float(a), float(b)] for n, a, b in zip(names, lo, hi, strict=True)},
    )


def _bootstrap(form, obj, optima, lower, upper, st: _Settings):
    """Case resampling: refit on multinomial resamples, each started from every optimum."""
    n = obj.logy.size
    rng = np.random.default_rng(st.seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=st.n_boot).astype(float)
    K = optima.shape[0]
    weights = np.repeat(counts, K, axis=0)
    x0 = np.tile(optima, (st.n_boot, 1))
    bobj = LogResidualObjective(form, obj.log_X, obj.logy, obj.loss, weights)
    res = _minimize(st, bobj, x0, lower, upper, f"{form.name}: bootstrap")
    f = res.fun.reshape(st.n_boot, K)
    pick = np.argmin(np.where(np.isfinite(f), f, np.inf), axis=1)
    idx = np.arange(st.n_boot) * K + pick
    theta = form.canonicalize(res.x[idx])
    converged = float(np.mean(res.status[idx] == CONVERGED))
    info = {
        "n": st.n_boot,
        "seed": st.seed,
        "method": "case resampling; refits start from the best distinct optima of the full fit",
        "converged": converged,
    }
    return theta, info
