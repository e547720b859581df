"""Figures of report's own results (the collapse of a sweep's per-position losses)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .collapse import SweepCollapse


def plot_collapse(collapsed: SweepCollapse, path: str | os.PathLike[str]) -> Path:
    """Three panels: raw L_n(P); L_n n^gamma against P / n^(2 beta); the score map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from .._io import atomic_path

    res = collapsed.result
    P = np.asarray(collapsed.P, dtype=float)
    n = np.asarray(collapsed.n, dtype=float)
    L = np.asarray(collapsed.loss, dtype=float)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    norm = LogNorm(vmin=n.min(), vmax=n.max())
    x, y = collapsed.coordinates()
    for j in range(n.size):
        c = cmap(norm(n[j]))
        ax[0].plot(P, L[:, j], "-", color=c, lw=0.9, marker=".", ms=3)
        ax[1].plot(x[j], y[j], "-", color=c, lw=0.9, marker=".", ms=3)
    for a in ax[:2]:
        a.set_xscale("log")
        a.set_yscale("log")
    ax[0].set_xlabel("P (training tokens)")
    ax[0].set_ylabel("L_n (nats)")
    ax[0].set_title("per-position held-out loss")
    ax[1].set_xlabel(f"P / n^(2 beta),  beta = {res.beta:.3g}")
    ax[1].set_ylabel(f"L_n n^gamma,  gamma = {res.gamma:.3g}")
    ax[1].set_title(
        f"collapse: spread {res.at_given.score:.4f} (coverage {res.at_given.coverage:.0%})"
    )
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax[1], label="n (tokens of context)")
    s = np.array(res.grid_score, dtype=float)
    im = ax[2].imshow(
        s.T,
        origin="lower",
        aspect="auto",
        cmap="magma_r",
        extent=_extent(res.grid_beta, res.grid_gamma),
    )
    fig.colorbar(im, ax=ax[2], label="collapse spread (RMS of ln)")
    ax[2].plot(res.beta, res.gamma, "o", mfc="none", mec="cyan", ms=12, label="given")
    if math.isfinite(res.best_on_grid["beta"]):
        ax[2].plot(
            res.best_on_grid["beta"],
            res.best_on_grid["gamma"],
            "x",
            color="cyan",
            ms=10,
            label="grid minimum",
        )
    ax[2].set_xlabel("beta")
    ax[2].set_ylabel("gamma")
    ax[2].set_title("collapse spread near the given exponents")
    ax[2].legend(loc="upper right", fontsize=8)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def _extent(xs: list[float], ys: list[float]) -> tuple[float, float, float, float]:
    def edges(v: list[float]) -> tuple[float, float]:
        if len(v) == 1:
            return v[0] - 0.5, v[0] + 0.5
        h = (v[-1] - v[0]) / (len(v) - 1) / 2
        return v[0] - h, v[-1] + h

    return (*edges(xs), *edges(ys))
