"""Figure of a sweep: the measured L(P) with its power-law fits, and L_n against n per P."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .sweep import SweepResult


def plot_sweep(sweep: SweepResult, path: str | os.PathLike[str]) -> Path:
    """Write a two-panel figure of a sweep to ``path``.

    Left: the loss curve (lower envelope over contexts, best learning rate,
    seed mean) with standard errors, every learning rate's curve faintly, and
    the fitted ``A P^-alpha`` and ``E + A P^-alpha``; open markers are points
    whose runs were still improving when their step budget ran out. Right: the
    per-position losses L_n against n (tokens seen) for every P.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from .._io import atomic_path
    from ..fit.alpha import AlphaFit

    curve = sweep.curve
    P = np.asarray(curve["P"], dtype=float)
    L = np.asarray(curve["loss"], dtype=float)
    err = np.asarray(curve["stderr"], dtype=float)
    conv = np.asarray(curve["converged"], dtype=bool)
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)

    for T, c in sweep.curves_by_context.items():
        lrs = sorted({lr for row in c["loss_by_lr"] for lr in row}, key=float)
        for lr in lrs:
            rows = zip(c["P"], c["loss_by_lr"], strict=True)
            pts = [(p, row[lr]) for p, row in rows if lr in row]
            xs, ys = zip(*pts, strict=True)
            ax[0].plot(xs, ys, "-", lw=0.8, alpha=0.35, label=f"T={T}, lr={lr}")
    ax[0].errorbar(P[conv], L[conv], yerr=err[conv], fmt="o", color="k", ms=5, label="measured")
    if (~conv).any():
        ax[0].errorbar(
            P[~conv],
            L[~conv],
            yerr=err[~conv],
            fmt="o",
            mfc="white",
            color="k",
            ms=5,
            label="measured (budget ran out)",
        )
    grid = np.geomspace(P.min(), P.max(), 200)
    styles = {"no_offset": ("--", "tab:red"), "with_offset": (":", "tab:blue")}
    for form, (ls, color) in styles.items():
        fit = sweep.alpha_D.get(form)
        if not fit:
            continue
        f = AlphaFit(**{k: v for k, v in fit.items() if k != "equation"})
        lo, hi = f.alpha_ci95
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        extra = f", E={f.E:.2f}" if form == "with_offset" else ""
        ax[0].plot(
            grid,
            f.predict(grid),
            ls,
            color=color,
            label=f"{f.equation}: alpha={f.alpha:.3f}{ci}{extra}",
        )
    ax[0].set_xscale("log")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("P (training tokens)")
    ax[0].set_ylabel("best held-out loss (nats/token)")
    ax[0].set_title(f"data-limited loss curve: {sweep.corpus.get('source', '')}")
    ax[0].legend(fontsize=7)

    block = max(sweep.per_position, key=lambda b: b["context"])
    n = np.asarray(block["n"])
    Pb = np.asarray(block["P"], dtype=float)
    cmap = plt.get_cmap("plasma")
    norm = LogNorm(vmin=Pb.min(), vmax=max(Pb.max(), Pb.min() * 1.01))
    for i, row in enumerate(block["loss"]):
        ax[1].plot(n, row, "-", color=cmap(norm(Pb[i])), lw=1)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax[1], label="P")
    ax[1].set_xscale("log")
    ax[1].set_xlabel("n (tokens of context)")
    ax[1].set_ylabel("L_n (nats)")
    ax[1].set_title(f"per-position held-out loss, T = {block['context']}")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path
