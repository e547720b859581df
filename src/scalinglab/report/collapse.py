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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io import read_json, write_json
from ..errors import UserError
from ..warns import coded

if TYPE_CHECKING:
    from ..train.sweep import SweepResult

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


# -- the pipeline: a sweep (and a prediction) in, collapse.json and collapse.png out ---------


@dataclass
class SweepCollapse:
    """The collapse of a sweep's per-position losses, with what it was computed from.

    Attributes
    ----------
    result : CollapseResult
        Score at the given exponents and on the grid of neighbours.
    P, n : list of int
        Training sizes and positions that entered (diverged P and positions outside
        ``n_min..n_max`` left out).
    loss : list of list of float
        ``loss[i][j] = L_{n_j}(P_i)`` (nats).
    alpha_D : dict
        ``predicted`` (gamma / (2 beta), with the prediction's interval when the
        exponents are the prediction's) beside ``measured`` (the sweep's fit).
    dropped_P : list of int
        Training sizes left out because every run there diverged.
    source : dict
        ``sweep`` and ``prediction`` they came from (None for objects in memory).
    warnings : list of str
        Coded ``collapse-...`` warnings.
    """

    result: CollapseResult
    P: list[int]
    n: list[int]
    loss: list[list[float]]
    alpha_D: dict[str, Any]
    dropped_P: list[int] = field(default_factory=list)
    source: dict[str, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The document of ``collapse.json`` (without ``figure``, which :meth:`save` adds)."""
        return {
            **self.result.to_dict(),
            "source": dict(self.source),
            "alpha_D": self.alpha_D,
            "dropped_P": list(self.dropped_P),
            "warnings": list(self.warnings),
        }

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """The collapse coordinates of :func:`rescale` at the result's beta and gamma."""
        r = self.result
        return rescale(
            np.asarray(self.P), np.asarray(self.n), np.asarray(self.loss), r.beta, r.gamma
        )

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``out/collapse.png`` and ``out/collapse.json``; returns the JSON's path."""
        from ._plot import plot_collapse

        out = Path(out)
        fig = plot_collapse(self, out / "collapse.png")
        return write_json(out / "collapse.json", {**self.to_dict(), "figure": str(fig)})

    def summary(self) -> list[str]:
        """Lines for a terminal (Rich markup): the spread, the grid minimum, alpha_D."""
        r, s = self.result, self.result.at_given
        lines = [
            f"collapse at beta = {r.beta:.3f}, gamma = {r.gamma:.3f} (T = {r.context}, n "
            f"{r.n_range[0]}..{r.n_range[1]}, {len(self.P)} P): spread [bold]{s.score:.4f}[/] "
            f"(coverage {s.coverage:.0%})"
        ]
        bg = r.best_on_grid
        if math.isfinite(bg["beta"]):
            lines.append(
                f"grid minimum: beta = {bg['beta']:.3f}, gamma = {bg['gamma']:.3f}, "
                f"spread {bg['score']:.4f}"
            )
        m = self.alpha_D["measured"]
        window = m.get("window")
        where = f" (P {window[0]:,}..{window[1]:,})" if window else ""
        lines.append(f"alpha_D predicted: [bold]{_fmt(self.alpha_D['predicted'])}[/]")
        lines.append(f"alpha_D measured:  [bold]{_fmt(m)}[/]{where}")
        return lines


def collapse_sweep(
    sweep: SweepResult | Mapping[str, Any] | str | os.PathLike[str],
    prediction: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    beta: float | None = None,
    gamma: float | None = None,
    context: int | None = None,
    n_min: int = 1,
    n_max: int | None = None,
    rel_step: float = 0.1,
    steps: int = 3,
) -> SweepCollapse:
    """Collapse a sweep's per-position losses under the predicted (or given) exponents.

    Parameters
    ----------
    sweep : SweepResult, dict or path
        A sweep result, its ``sweep.json`` document, or a sweep directory / sweep.json.
    prediction : dict or path, optional
        A ``prediction.json`` (document or path) giving beta, gamma and alpha_D.
    beta, gamma : float, optional
        Exponents overriding the prediction's (both needed without a prediction).
    context : int, optional
        Context T of the per-position matrix (default: the sweep's largest).
    n_min, n_max : int
        Positions n (tokens of context) to include (default 1..T).
    rel_step, steps : float, int
        The neighbour grid of :func:`collapse`.

    Returns
    -------
    SweepCollapse
        ``.save(out)`` writes collapse.json and collapse.png.
    """
    doc, sweep_src = _sweep_doc(sweep)
    pred, pred_src = _prediction_doc(prediction)
    b = beta if beta is not None else _value(pred, "beta", pred_src)
    g = gamma if gamma is not None else _value(pred, "gamma", pred_src)
    if b is None or g is None:
        missing = " and ".join(k for k, v in (("beta", b), ("gamma", g)) if v is None)
        raise UserError(
            f"{pred_src or 'no prediction'}: no {missing}; give a prediction with both, or "
            "both --beta and --gamma (beta=, gamma=)"
        )
    block = per_position_block(doc, context)
    n = np.asarray(block["n"])
    P = np.asarray(block["P"])
    L = np.asarray(block["loss"], dtype=float)
    keep = (n >= n_min) & (n <= (n_max if n_max is not None else n.max()))
    if keep.sum() < 2:
        raise UserError(f"fewer than two positions n in [{n_min}, {n_max}]")
    if L.shape != (P.size, n.size):
        raise UserError(f"{sweep_src}: per-position matrix of shape {L.shape} for {P.size} P")
    L = L[:, keep]
    # A P whose every run diverged has no losses (null in sweep.json): leave it out.
    finite = np.all(np.isfinite(L) & (L > 0), axis=1)
    dropped = [int(p) for p in P[~finite]]
    P, L = P[finite], L[finite]
    warnings = []
    if dropped:
        warnings.append(
            coded(
                "collapse-diverged-left-out",
                f"left out P = {', '.join(f'{p:,}' for p in dropped)} (no finite "
                "per-position losses: the runs diverged)",
            )
        )
    res = collapse(P, n[keep], L, b, g, rel_step=rel_step, steps=steps, context=block["context"])
    if res.at_given.coverage < MIN_COVERAGE:
        warnings.append(
            coded(
                "collapse-low-coverage",
                f"only {res.at_given.coverage:.0%} of the points overlap another curve at the "
                "given exponents: the spread says little",
            )
        )
    return SweepCollapse(
        result=res,
        P=[int(p) for p in P],
        n=[int(v) for v in n[keep]],
        loss=L.tolist(),
        alpha_D=_alpha_comparison(pred, b, g, beta is not None or gamma is not None, doc),
        dropped_P=dropped,
        source={"sweep": sweep_src, "prediction": pred_src},
        warnings=warnings,
    )


def _sweep_doc(sweep: Any) -> tuple[dict[str, Any], str | None]:
    """The sweep.json document of ``sweep`` and where it came from."""
    if isinstance(sweep, Mapping):
        return dict(sweep), None
    if hasattr(sweep, "to_dict"):  # a SweepResult
        return sweep.to_dict(), None
    p = Path(sweep)
    f = p / "sweep.json" if p.is_dir() else p
    if not f.is_file():
        raise UserError(f"no sweep.json in {p}; run `scalinglab sweep ... --out {p}` first")
    return _json_object(f, "corrupt {f}: expected a JSON object"), str(sweep)


def _prediction_doc(prediction: Any) -> tuple[dict[str, Any], str | None]:
    if prediction is None:
        return {}, None
    if isinstance(prediction, Mapping):
        return dict(prediction), None
    f = Path(prediction)
    if not f.is_file():
        raise UserError(f"prediction file not found: {f}")
    return _json_object(f, "{f}: expected a JSON object with beta and gamma"), str(prediction)


def _json_object(f: Path, not_object: str) -> dict[str, Any]:
    try:
        doc = read_json(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"corrupt {f}: {e}") from None
    if not isinstance(doc, dict):
        raise UserError(not_object.format(f=f))
    return doc


def _value(pred: Mapping[str, Any], key: str, where: str | None) -> float | None:
    """``pred[key]["value"]`` (or ``pred[key]``) as a float; None when absent."""
    entry = pred.get(key)
    if isinstance(entry, dict):
        entry = entry.get("value")
    if entry is None:
        return None
    if isinstance(entry, bool) or not isinstance(entry, int | float):
        raise UserError(f"{where or 'prediction'}: {key} must be a number, got {entry!r}")
    return float(entry)


def _alpha_comparison(
    pred: Mapping[str, Any], beta: float, gamma: float, overridden: bool, sweep: Mapping[str, Any]
) -> dict[str, Any]:
    """Predicted alpha_D = gamma / (2 beta) (with the prediction's interval) beside the measured."""
    predicted: dict[str, Any] = {"value": gamma / (2 * beta), "stderr": None, "ci95": None}
    if not overridden and isinstance(pred.get("alpha_D"), dict):
        a = pred["alpha_D"]
        predicted = {"value": a.get("value"), "stderr": a.get("stderr"), "ci95": a.get("ci95")}
    m = sweep.get("alpha_D") or {}
    measured = {k: m.get(k) for k in ("value", "stderr", "ci95", "window", "form")}
    measured["with_offset"] = m.get("with_offset")
    return {"predicted": predicted, "measured": measured}


def _fmt(entry: Mapping[str, Any]) -> str:
    if entry.get("value") is None:
        return "n/a"
    text = f"{entry['value']:.3f}"
    if entry.get("stderr") is not None:
        text += f" ± {entry['stderr']:.3f}"
    ci = entry.get("ci95")
    if ci and all(v is not None and math.isfinite(v) for v in ci):
        text += f", 95% CI \\[{ci[0]:.3f}, {ci[1]:.3f}]"
    return text
