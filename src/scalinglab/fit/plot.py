"""The figure of a fit: data, fitted curve, bootstrap band, held-out points."""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_path

if TYPE_CHECKING:
    from .core import FitResult


def _label(result: FitResult) -> str:
    parts = []
    for name, value in result.params.items():
        se = result.stderr.get(name)
        parts.append(f"{name} = {value:.4g}" + (f" ± {se:.2g}" if se is not None else ""))
    return textwrap.fill(", ".join(parts), 95)


def plot_fit(result: FitResult, path: str | os.PathLike[str]) -> None:
    """Save the figure of ``result`` as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, mask = result.data, result.train_mask
    if data.X.shape[0] == 1:
        fig, ax = plt.subplots(figsize=(7, 4.8))
        _plot_1d(ax, result)
    else:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        _plot_nd(axes, result)
    title = f"{result.form.formula}   (n = {int(mask.sum())}"
    title += f", RMSLE fit {result.train['rmsle']:.3g}"
    if result.extrapolation is not None:
        title += f", held out {result.extrapolation['rmsle']:.3g}"
    fig.suptitle(title + ")", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _plot_1d(ax, result: FitResult) -> None:
    data, mask = result.data, result.train_mask
    x, y = data.X[0], data.y
    lo, hi = x.min(), x.max()
    grid = np.geomspace(lo / 1.15, hi * 1.15, 300)
    pred = result.predict(grid)
    if pred.lo is not None:
        ax.fill_between(grid, pred.lo, pred.hi, color="C0", alpha=0.25, lw=0, label="95% band")
    ax.plot(grid, pred.y, color="C0", lw=1.8, label=result.form.name)
    ax.set_title(_label(result), fontsize=7)
    colours = ["C1", "C2", "C4", "C5", "C6", "C8", "C9"]  # C0: the fit, C3: held-out points
    for k, (name, alt) in enumerate(result.alternatives.items()):
        ax.plot(grid, alt.predict(grid).y, lw=1, ls="--", color=colours[k % 7], label=name)
    ax.scatter(x[mask], y[mask], s=18, color="k", zorder=3, label="fitted")
    if (~mask).any():
        ax.scatter(
            x[~mask],
            y[~mask],
            s=30,
            facecolor="none",
            edgecolor="C3",
            lw=1.5,
            zorder=3,
            label="held out",
        )
        ax.axvline(x[mask].max(), color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(data.x_names[0])
    ax.set_ylabel(data.y_name)
    ax.legend(fontsize=7)


def _plot_nd(axes, result: FitResult) -> None:
    data, mask = result.data, result.train_mask
    pred = result.predict_inputs(data.X)
    ax = axes[0]
    if pred.lo is not None and pred.hi is not None:  # set together, by a bootstrap
        ax.errorbar(
            pred.y[mask],
            data.y[mask],
            xerr=[pred.y[mask] - pred.lo[mask], pred.hi[mask] - pred.y[mask]],
            fmt="none",
            ecolor="0.7",
            lw=0.8,
        )
    ax.scatter(pred.y[mask], data.y[mask], s=12, color="k", label="fitted")
    if (~mask).any():
        ax.scatter(
            pred.y[~mask], data.y[~mask], s=26, facecolor="none", edgecolor="C3", label="held out"
        )
    lims = [min(pred.y.min(), data.y.min()), max(pred.y.max(), data.y.max())]
    ax.plot(lims, lims, color="C0", lw=1)
    if lims[1] > 10 * lims[0]:  # log axes only where the range spans a decade
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(f"predicted {data.y_name}")
    ax.set_ylabel(f"observed {data.y_name}")
    ax.set_title(_label(result), fontsize=8)
    ax.legend(fontsize=8)
    ax = axes[1]
    resid = np.log(data.y) - np.log(pred.y)
    sc = ax.scatter(
        data.X[0],
        resid,
        c=np.log10(data.X[1]),
        s=14,
        cmap="viridis",
        marker="o",
        edgecolors=np.where(mask, "none", "C3"),
    )
    fig = ax.figure
    fig.colorbar(sc, ax=ax, label=f"log10 {data.x_names[1]}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(data.x_names[0])
    ax.set_ylabel(f"log residual of {data.y_name}")
