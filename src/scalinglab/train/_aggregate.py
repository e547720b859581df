"""The aggregate of a sweep: curves, per-position matrices and the measured alpha_D.

For every (T, P, lr) the losses are averaged over seeds; for every (T, P) the
learning rate with the lowest mean loss is kept; the curve L(P) is the lower
envelope over T. A point counts in the fit only when its runs converged
(:data:`CONVERGED_RULE`); the measured exponent alpha_D is the power-law fit of
the converged points (with and without offset, bootstrap 95% interval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UserError
from ..fit.alpha import ALPHA_LIMIT, AlphaFit, fit_alpha
from ..warns import coded

#: How a run counts as converged in the aggregate (recorded in sweep.json).
CONVERGED_RULE = (
    "stopped early, or its best held-out loss came before its last evaluation, or that "
    "loss fell by less than its standard error over the last quarter of its steps (still "
    "improving, but not measurably)"
)


def run_converged(r: dict[str, Any]) -> bool:
    """Whether a run record counts as converged (:data:`CONVERGED_RULE`)."""
    if r.get("converged"):
        return True
    h = r.get("history") or {}
    steps = np.asarray(h.get("step") or [], dtype=float)
    vals = np.asarray(h.get("val_loss") or [], dtype=float)
    se = r.get("best_val_loss_stderr")
    if steps.size < 2 or se is None or not np.isfinite(se):
        return False
    i = int(np.searchsorted(steps, 0.75 * steps[-1]))
    i = min(i, steps.size - 2)
    fall = float(vals[i] - vals[-1])
    return bool(np.isfinite(fall) and fall < float(se))


def _seed_mean(recs: list[dict[str, Any]]) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Seed-averaged loss with its standard error, and per-position means and errors.

    With several seeds the error is the spread over seeds / sqrt(seeds) (training
    and slice noise included); with one, the held-out sampling error of that run.
    """
    # JSON stores NaN (a diverged run) as null; dtype=float turns null back into NaN.
    losses = np.array([r["best_val_loss"] for r in recs], dtype=float)
    pos = np.array([r["per_position_loss"] for r in recs], dtype=float)
    if len(recs) >= 2:
        err = float(losses.std(ddof=1) / math.sqrt(len(recs)))
        pos_err = pos.std(axis=0, ddof=1) / math.sqrt(len(recs))
    else:
        err = float(np.array(recs[0]["best_val_loss_stderr"], dtype=float))
        pos_err = np.array(recs[0]["per_position_stderr"], dtype=float)
    return float(losses.mean()), err, pos.mean(axis=0), pos_err


def aggregate(
    runs: Sequence[dict[str, Any]],
    fit_window: tuple[int, int] | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Curves, per-position matrices, alpha_D fits and warnings from run records.

    Parameters
    ----------
    runs : sequence of dict
        Run records (``DIR/runs/*.json``).
    fit_window : (P_lo, P_hi), optional
        Fit alpha_D only on curve points with P_lo <= P <= P_hi.
    n_boot : int
        Bootstrap resamples of each fit.
    """
    warnings: list[str] = []
    by_key: dict[tuple[int, int, float], list[dict[str, Any]]] = {}
    for r in runs:
        by_key.setdefault((r["context"], r["P"], r["lr"]), []).append(r)
    contexts = sorted({k[0] for k in by_key})
    all_lrs = sorted({k[2] for k in by_key})
    curves: dict[str, Any] = {}
    per_position = []
    for T in contexts:
        Ps = sorted({k[1] for k in by_key if k[0] == T})
        rows: dict[str, list[Any]] = {
            k: [] for k in ("P", "loss", "stderr", "lr", "seeds", "converged", "loss_by_lr")
        }
        pos_rows, pos_errs = [], []
        edge: list[int] = []
        unconverged: list[int] = []
        for P in Ps:
            options = {lr: _seed_mean(by_key[(T, P, lr)]) for lr in all_lrs if (T, P, lr) in by_key}
            # NaN (diverged) never wins: it sorts after every finite loss.
            lr = min(options, key=lambda v: _rank(options[v][0]))
            mean, err, pos, pos_err = options[lr]
            recs = by_key[(T, P, lr)]
            rows["P"].append(P)
            rows["loss"].append(mean)
            rows["stderr"].append(err)
            rows["lr"].append(lr)
            rows["seeds"].append(len(recs))
            rows["converged"].append(all(run_converged(r) for r in recs))
            rows["loss_by_lr"].append({f"{k:g}": v[0] for k, v in options.items()})
            pos_rows.append(pos)
            pos_errs.append(pos_err)
            # With two rates one is always the edge; the warning needs three or more.
            if len(options) > 2 and lr in (min(options), max(options)):
                edge.append(P)
            if not rows["converged"][-1]:
                unconverged.append(P)
        if edge:
            warnings.append(
                coded(
                    "sweep-lr-edge",
                    f"T={T}: the best learning rate is at the edge of the grid for P = "
                    f"{_list(edge)}; widen --lr",
                )
            )
        if unconverged:
            warnings.append(
                coded(
                    "sweep-unconverged",
                    f"T={T}: the held-out loss was still falling when the budget ran out for "
                    f"P = {_list(unconverged)} (compute-limited points; raise "
                    "--max-steps/--max-epochs)",
                )
            )
        curves[str(T)] = rows
        per_position.append(
            {
                "context": T,
                "n": list(range(1, T + 1)),
                "P": Ps,
                "loss": np.array(pos_rows).tolist(),
                "stderr": np.array(pos_errs).tolist(),
            }
        )

    # Lower envelope over contexts.
    env: dict[int, tuple[float, float, int, float, int, bool]] = {}
    for T in contexts:
        c = curves[str(T)]
        for i, P in enumerate(c["P"]):
            cand = (c["loss"][i], c["stderr"][i], T, c["lr"][i], c["seeds"][i], c["converged"][i])
            if P not in env or _rank(cand[0]) < _rank(env[P][0]):
                env[P] = cand
    Ps = sorted(env)
    curve = {
        "P": Ps,
        "loss": [env[P][0] for P in Ps],
        "stderr": [env[P][1] for P in Ps],
        "context": [env[P][2] for P in Ps],
        "lr": [env[P][3] for P in Ps],
        "seeds": [env[P][4] for P in Ps],
        "converged": [env[P][5] for P in Ps],
    }
    alpha = _fit_curve(curve, fit_window, n_boot, warnings)

    T_max = contexts[-1]
    last = per_position[-1]
    model_entropy = {
        "n": last["n"],
        "loss": last["loss"][-1],
        "stderr": last["stderr"][-1],
        "P": last["P"][-1],
        "context": T_max,
        "units": "nats",
        "method": "per-position held-out loss L_n of the best model at the largest P "
        "(an upper bound on H_n = H(x_{n+1} | x_1..x_n))",
    }
    return {
        "curve": curve,
        "curves_by_context": curves,
        "per_position": per_position,
        "alpha_D": alpha,
        "model_entropy": model_entropy,
        "converged_rule": CONVERGED_RULE,
        "warnings": warnings,
    }


def _rank(loss: float) -> tuple[bool, float]:
    """Sort key of a loss: NaN (a diverged run) after every finite value."""
    return (not math.isfinite(loss), loss)


def _list(values: list[int]) -> str:
    return ", ".join(f"{v:,}" for v in values)


def _fit_curve(
    curve: dict[str, Any], window: tuple[int, int] | None, n_boot: int, warnings: list[str]
) -> dict[str, Any]:
    P = np.array(curve["P"], dtype=float)
    L = np.array(curve["loss"], dtype=float)
    keep = np.isfinite(L)
    if window is not None:
        keep &= (P >= window[0]) & (P <= window[1])
    # A point that stopped while still improving is compute-limited, not data-limited: it is
    # left out of the measured exponent (it would flatten it), and the warning names it.
    conv = np.asarray(curve.get("converged", [True] * P.size), dtype=bool)
    left_out = keep & ~conv
    if left_out.any():
        warnings.append(
            coded(
                "sweep-fit-converged-only",
                "alpha_D is fitted on converged points only: P = "
                f"{_list([int(p) for p in P[left_out]])} stopped while still improving and "
                "are left out",
            )
        )
        keep &= conv
    fits: dict[str, AlphaFit | None] = {}
    for form, offset in (("no_offset", False), ("with_offset", True)):
        try:
            fits[form] = fit_alpha(P[keep], L[keep], offset=offset, n_boot=n_boot)
        except UserError as e:
            fits[form] = None
            warnings.append(coded("sweep-fit-failed", f"alpha_D ({form.replace('_', ' ')}): {e}"))
    main, off = fits["no_offset"], fits["with_offset"]
    if main is not None:
        lo, hi = main.alpha_ci95
        if main.alpha <= 0 or lo <= 0:  # NaN (no interval) compares False
            warnings.append(
                coded(
                    "sweep-alpha-not-positive",
                    f"alpha_D = {main.alpha:.3f} (95% CI [{lo:.3f}, {hi:.3f}]): the loss does "
                    f"not fall measurably with P over {main.window[0]:,}..{main.window[1]:,}",
                )
            )
    if off is not None:
        l_min = float(L[keep].min())
        if off.E <= 1e-6 * l_min:
            warnings.append(
                coded(
                    "sweep-offset-zero",
                    "alpha_D (with offset): E is at its lower bound 0: the fit is the plain "
                    "power law",
                )
            )
        elif off.E >= (1 - 1e-6) * l_min or abs(off.alpha) >= ALPHA_LIMIT * (1 - 1e-6):
            warnings.append(
                coded(
                    "sweep-offset-at-limit",
                    f"alpha_D (with offset): the fit ran to the limit of its range (E = "
                    f"{off.E:.4g}, alpha = {off.alpha:.3g}); these points do not determine an "
                    "offset",
                )
            )
    out: dict[str, Any] = {
        "value": main.alpha if main else None,
        "stderr": main.alpha_stderr if main else None,
        "ci95": main.alpha_ci95 if main else None,
        "window": main.window if main else None,
        "form": "no_offset",
    }
    for form, fit in fits.items():
        out[form] = fit.to_dict() if fit else None
    return out
