"""Ranking fitted forms: information criteria, Akaike weights, held-out error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import warns

if TYPE_CHECKING:
    from .core import FitResult


def rank(results: dict[str, FitResult], skipped: list[str], held_out: bool) -> FitResult:
    """The best of ``results`` with the ranking of all and the others as alternatives.

    Ranked by held-out RMSLE when points were held out, else by AIC; forms with
    as many parameters as fitted points come last. ``skipped`` lists the forms
    that could not be fitted (``"name: reason"``).
    """
    rows = []
    for name, r in results.items():
        entry = {
            "form": name,
            "n_params": r.form.n_params,
            "objective": r.objective,
            "train_rmsle": r.train["rmsle"],
            "aic": r.information["aic"],
            "aicc": r.information["aicc"],
            "bic": r.information["bic"],
            # as many parameters as fitted points: the fit interpolates, so its AIC/BIC
            # (a log of a near-zero residual) would win any comparison without merit
            "saturated": r.form.n_params >= r.n_points,
        }
        if r.extrapolation is not None:
            entry["heldout_rmsle"] = r.extrapolation["rmsle"]
            entry["heldout_rmsle_ci95"] = r.extrapolation.get("ci95")
        rows.append(entry)
    aic_min = min(e["aic"] for e in rows)
    bic_min = min(e["bic"] for e in rows)
    weights = np.array([np.exp(-0.5 * (e["aic"] - aic_min)) for e in rows])
    weights /= weights.sum()
    for e, w in zip(rows, weights, strict=True):
        e["delta_aic"] = e["aic"] - aic_min
        e["delta_bic"] = e["bic"] - bic_min
        e["akaike_weight"] = float(w)
    key = "heldout_rmsle" if held_out else "aic"
    rows.sort(key=lambda e: (e["saturated"], e[key], e["aic"]))
    for i, e in enumerate(rows, 1):
        e["rank"] = i
        e["ranked_by"] = key
    best = results[rows[0]["form"]]
    best.ranking = rows
    best.alternatives = {k: v for k, v in results.items() if k != best.form.name}
    best.warnings.extend(warns.coded("fit-form-skipped", f"skipped {s}") for s in skipped)
    sat = [e["form"] for e in rows if e["saturated"]]
    if sat and len(sat) < len(rows):
        best.warnings.append(
            warns.coded(
                "fit-ranked-last",
                f"ranked last: {', '.join(sat)} (as many parameters as fitted points, "
                "so the fit interpolates and its information criteria are not comparable)",
            )
        )
    return best
