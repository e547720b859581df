"""Collapse of per-position losses: L_n(P) n^gamma against P / n^(2 beta).

If the horizon picture holds (reference section 1.4), the per-position losses
of a data-limited sweep obey L_n(P) = n^(-gamma) f(P / n^(2 beta)) for one
function f, so the rescaled curves of every n fall on one master curve.

Collapse quality. In log coordinates every n gives a curve

    x = ln P - 2 beta ln n,     y = ln L_n(P) + gamma ln n.

For each point (x, y) of curve n, the master curve there is the mean of the
other curves m != n whose x-range covers x, each linearly interpolated at x.
The score is the root-mean-square of y - master over all covered points, a
relative spread (0.01 = curves 1% apart). ``coverage`` is the fraction of
points that have at least one other curve above them; a score from little
overlap says little (a large 2 beta pulls the curves apart until they no
longer overlap), so the grid reports it alongside.
(Pairwise interpolation between rescaled curves is the measure of
Bhattacharjee and Seno, J. Phys. A 34, 6375 (2001); no library implements it.)
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

#: Below this coverage a score is reported but not used for the grid optimum.
MIN_COVERAGE = 0.5


@dataclass
class CollapseScore:
    """Spread of the rescaled curves around their master curve.

    Attributes
    ----------
    score : float
        RMS deviation of ln(L_n n^gamma) from the master curve (dimensionless).
    coverage : float
        Fraction of points with at least one overlapping other curve.
    points : int
        Points that entered the score.
    """

    score: float
    coverage: float
    points: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rescale(
    P: np.ndarray, n: np.ndarray, L: np.ndarray, beta: float, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Collapse coordinates x = P / n^(2 beta) and y = L_n n^gamma, both of shape (len(n), len(P)).

    ``L`` has one row per P and one column per n (the layout of sweep.json).
    """
    P = np.asarray(P, dtype=float)
    n = np.asarray(n, dtype=float)
    L = np.asarray(L, dtype=float)
    x = P[None, :] / n[:, None] ** (2.0 * beta)
    y = L.T * n[:, None] ** gamma
    return x, y


def collapse_score(
    P: np.ndarray, n: np.ndarray, L: np.ndarray, beta: float, gamma: float
) -> CollapseScore:
    """Collapse quality of ``L[i, j] = L_{n_j}(P_i)`` under exponents beta and gamma.

    See the module docstring for the definition; lower is better, 0 is a perfect
    collapse.
    """
    P = np.asarray(P, dtype=float)
    n = np.asarray(n, dtype=float)
    L = np.asarray(L, dtype=float)
    if L.shape != (P.size, n.size):
        raise UserError(f"loss matrix of shape {L.shape} does not match {P.size} P x {n.size} n")
    if np.any(~np.isfinite(L)) or np.any(L <= 0):
        raise UserError("per-position losses must be finite and positive")
    order = np.argsort(P)
    lx = np.log(P[order])[None, :] - 2.0 * beta * np.log(n)[:, None]  # (m curves, K points)
    ly = np.log(L[order].T) + gamma * np.log(n)[:, None]
    m, K = lx.shape
    X, Y = lx.ravel(), ly.ravel()
    owner = np.repeat(np.arange(m), K)
    total = np.zeros(X.size)
    count = np.zeros(X.size)
    # One vectorised interpolation of all points per curve (a loop over n, not over tokens).
    for j in range(m):
        cover = (X >= lx[j, 0]) & (X <= lx[j, -1]) & (owner != j)
        total[cover] += np.interp(X[cover], lx[j], ly[j])
        count[cover] += 1
    ok = count > 0
    if not ok.any():
        return CollapseScore(score=float("nan"), coverage=0.0, points=0)
    dev = Y[ok] - total[ok] / count[ok]
    return CollapseScore(
        score=float(np.sqrt(np.mean(dev**2))), coverage=float(ok.mean()), points=int(ok.sum())
    )


@dataclass
class CollapseResult:
    """Collapse at the given exponents and on a grid of neighbours.

    Attributes
    ----------
    beta, gamma : float
        Exponents the collapse uses.
    context : int
        Context length T of the sweep's per-position matrix.
    n_range : list of int
        Smallest and largest n (tokens seen) included.
    P : list of int
        Training sizes of the sweep.
    at_given : CollapseScore
        Score at (beta, gamma).
    grid_beta, grid_gamma : list of float
        Neighbouring values.
    grid_score, grid_coverage : list of list of float
        Score and coverage, indexed [i_beta][i_gamma].
    best_on_grid : dict
        Grid point of lowest score among those with coverage >= MIN_COVERAGE.
    """

    beta: float
    gamma: float
    context: int
    n_range: list[int]
    P: list[int]
    at_given: CollapseScore
    grid_beta: list[float]
    grid_gamma: list[float]
    grid_score: list[list[float]]
    grid_coverage: list[list[float]]
    best_on_grid: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collapse(
    P: np.ndarray,
    n: np.ndarray,
    L: np.ndarray,
    beta: float,
    gamma: float,
    rel_step: float = 0.1,
    steps: int = 3,
    context: int | None = None,
) -> CollapseResult:
    """Score the collapse at (beta, gamma) and on a grid of neighbours.

    The grid is beta (1 + k rel_step) by gamma (1 + k rel_step), k = -steps..steps.

    Parameters
    ----------
    P : array of int
        Training sizes (tokens).
    n : array of int
        Tokens seen by each position (1..T).
    L : array, shape (len(P), len(n))
        Per-position losses (nats).
    beta, gamma : float
        Correlation and entropy exponents (gamma >= 0, beta > 0).
    rel_step, steps : float, int
        The grid has k = -steps..steps on each axis.
    """
    if not (math.isfinite(beta) and beta > 0):
        raise UserError(f"beta must be a positive number, got {beta}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise UserError(f"gamma must be a non-negative number, got {gamma}")
    if len(P) < 2:
        raise UserError("a collapse needs per-position losses at two or more P")
    if len(n) < 2:
        raise UserError("a collapse needs two or more positions n")
    given = collapse_score(P, n, L, beta, gamma)
    ks = np.arange(-steps, steps + 1)
    betas = beta * (1 + rel_step * ks)
    betas = betas[betas > 0]
    gammas = gamma * (1 + rel_step * ks) if gamma > 0 else rel_step * ks[ks >= 0]
    gammas = gammas[gammas >= 0]
    score = np.full((betas.size, gammas.size), np.nan)
    cov = np.zeros_like(score)
    for i, b in enumerate(betas):
        for k, g in enumerate(gammas):
            s = collapse_score(P, n, L, float(b), float(g))
            score[i, k], cov[i, k] = s.score, s.coverage
    usable = np.where(cov >= MIN_COVERAGE, score, np.nan)
    if np.all(np.isnan(usable)):
        best = {"beta": float("nan"), "gamma": float("nan"), "score": float("nan")}
    else:
        ib, ig = np.unravel_index(np.nanargmin(usable), usable.shape)
        best = {"beta": float(betas[ib]), "gamma": float(gammas[ig]), "score": float(score[ib, ig])}
    return CollapseResult(
        beta=float(beta),
        gamma=float(gamma),
        context=int(context if context is not None else max(n)),
        n_range=[int(min(n)), int(max(n))],
        P=[int(p) for p in P],
        at_given=given,
        grid_beta=betas.tolist(),
        grid_gamma=gammas.tolist(),
        grid_score=score.tolist(),
        grid_coverage=cov.tolist(),
        best_on_grid=best,
    )


def per_position_block(sweep: dict[str, Any], context: int | None = None) -> dict[str, Any]:
    """The per-position matrix of ``sweep.json`` for ``context`` (default: the largest T)."""
    blocks = sweep.get("per_position") or []
    if not blocks:
        raise UserError("sweep.json holds no per-position losses")
    if not all(isinstance(b, dict) and "context" in b for b in blocks):
        raise UserError("sweep.json: a per_position entry has no context")
    if context is None:
        return _checked_block(max(blocks, key=lambda b: b["context"]))
    for b in blocks:
        if b["context"] == context:
            return _checked_block(b)
    have = ", ".join(str(b["context"]) for b in blocks)
    raise UserError(f"the sweep has no context {context} (it has {have})")


def _checked_block(block: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("n", "P", "loss") if k not in block]
    if missing:
        raise UserError(
            f"sweep.json: the per_position entry of context {block['context']} "
            f"has no {', '.join(missing)}"
        )
    return block


def plot_collapse(
    res: CollapseResult, P: np.ndarray, n: np.ndarray, L: np.ndarray, path: str | os.PathLike[str]
) -> Path:
    """Three panels: raw L_n(P); L_n n^gamma against P / n^(2 beta); the score map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from .._io import atomic_path

    P = np.asarray(P, dtype=float)
    n = np.asarray(n, dtype=float)
    L = np.asarray(L, dtype=float)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    norm = LogNorm(vmin=n.min(), vmax=n.max())
    x, y = rescale(P, n, L, res.beta, res.gamma)
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
