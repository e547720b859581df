"""The figures of the stats results, each drawn from a result object.

- :func:`plot_correlations`: norms against lag on log-log axes, floors and fitted laws;
- :func:`plot_entropy`: H_n with its bounds and the gamma fit; coverage and bound gap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_path

if TYPE_CHECKING:
    from ._corr_fit import PowerLawFit
    from ._corr_result import CorrelationResult
    from ._entropy_result import EntropyResult

__all__ = ["plot_correlations", "plot_entropy"]


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


def plot_entropy(res: EntropyResult, path: str | os.PathLike[str]) -> Path:
    """Figure: H_n with its bounds and the gamma fit; coverage and bound gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = res.n
    pos = n >= 1
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax.fill_between(n[pos], res.lower[pos], res.upper[pos], color="0.85", label="between bounds")
    ax.plot(n[pos], res.lower[pos], "-", color="tab:blue", lw=1, label="lower (plug-in)")
    ax.plot(
        n[pos],
        res.upper_ngram[pos],
        "-",
        color="tab:red",
        lw=1,
        label="upper (held-out Kneser-Ney model)",
    )
    if res._has_external:
        ax.plot(
            n[pos],
            res.upper_external[pos],
            "-",
            color="tab:purple",
            lw=1,
            label="upper (external model)",
        )
    ax.plot(
        n[pos],
        res.estimate[pos],
        "o-",
        ms=3,
        color="k",
        lw=1,
        label=f"estimate ({res.estimator})",
    )
    rel = pos & res.reliable
    ax.plot(n[rel], res.estimate[rel], "o", ms=7, mfc="none", color="tab:green", label="reliable")
    g = res.gamma
    if np.isfinite(g.value) and g.window is not None:
        xs = np.linspace(g.window[0], g.window[1], 50)
        ax.plot(
            xs,
            g.amplitude * xs ** (-g.value),
            "--",
            color="tab:orange",
            label=f"gamma = {g.value:.3f} ± {g.stderr:.3f} (n {g.window[0]}..{g.window[1]})",  # noqa: E501
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context length n (tokens)")
    ax.set_ylabel("H_n (nats)")
    ax.set_title(
        f"{res.corpus.get('source', '')}: {res.train_tokens:,} training tokens, "
        f"H_0 = {res.estimate[0]:.3f}",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    gap = (res.upper - res.lower) / res.upper
    ax2.plot(n, res.coverage, "o-", ms=3, label=f"coverage (context seen >= {res.coverage_k}x)")
    ax2.plot(n, gap, "s-", ms=3, label="(upper - lower) / upper")
    ax2.axhline(res.reliability_tol, color="0.5", ls=":", label="tolerance")
    ax2.set_xlabel("context length n (tokens)")
    ax2.set_ylim(-0.05, 1.05)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return Path(path)
