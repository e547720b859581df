"""The correlations figure: norms against lag on log-log axes, floors and fitted laws."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_path

if TYPE_CHECKING:
    from ._corr_fit import PowerLawFit
    from .correlations import CorrelationResult


def _fit_line(ax, fit: PowerLawFit, color: str, label: str) -> None:
    if fit.value is None or fit.window is None:
        return
    lo, hi = fit.window
    xs = np.geomspace(lo, hi, 50)
    se = f" $\\pm$ {fit.stderr:.2f}" if fit.stderr is not None else ""
    ax.plot(
        xs,
        fit(xs),
        "-",
        color=color,
        lw=2,
        alpha=0.8,
        label=f"{label} = {fit.value:.2f}{se} (lags {lo:g}..{hi:g})",
    )
    if fit.broken is not None:
        for side in (fit.broken.left, fit.broken.right):
            if side.value is not None and side.window is not None:
                xb = np.geomspace(side.window[0], side.window[1], 30)
                ax.plot(xb, side(xb), ":", color=color, lw=1.5)


def plot_correlations(res: CorrelationResult, path: str | Path) -> Path:
    """Write the log-log plot of ``||C(n)||_op`` and ``||C(n)||_F`` against ``n`` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lags = np.asarray(res.lags, float)
    fig, ax = plt.subplots(figsize=(7, 4.8))
    series = (
        ("operator norm", res.operator_norm, res.operator_norm_stderr, res.resolvable, "C0"),
        ("Frobenius norm", res.frobenius, res.frobenius_stderr, res.resolvable_frobenius, "C1"),
    )
    for name, y, se, ok, color in series:
        yerr = np.where(np.isfinite(se), se, 0.0)
        ax.errorbar(
            lags[ok], y[ok], yerr=yerr[ok], fmt="o", ms=4, color=color, capsize=2, label=f"{name}"
        )
        if (~ok).any():
            ax.errorbar(
                lags[~ok],
                y[~ok],
                yerr=yerr[~ok],
                fmt="o",
                ms=4,
                mfc="none",
                color=color,
                capsize=2,
                alpha=0.6,
                label=f"{name} (at the floor)",
            )
    if np.isfinite(res.noise_floor).any():
        ax.plot(
            lags, res.noise_floor, "--", color="C0", lw=1, label="operator-norm floor (shuffled)"
        )
    ax.plot(lags, res.frobenius_floor, "--", color="C1", lw=1, label="Frobenius floor (analytic)")
    _fit_line(ax, res.beta, "C3", r"$\beta$")
    _fit_line(ax, res.beta_frobenius, "C2", r"$\beta_F$")
    if res.beta.window is not None:
        ax.axvspan(res.beta.window[0], res.beta.window[1], color="C3", alpha=0.06)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lag n (tokens)")
    ax.set_ylabel(r"$\|C(n)\|$")
    c = res.corpus
    ax.set_title(
        f"{c.get('source', 'tokens')}: {c.get('tokens')} tokens, "
        f"V = {c.get('vocab_size')} ({c.get('tokenizer')})",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)
