"""Which beta and which gamma a prediction uses, and why (the warnings say it).

* beta: the correlation fit, or the segment before the break when the
  correlations follow a broken power law (as published for WikiText-103);
* gamma: from a trained model's per-position losses when they are given and
  fall measurably (:mod:`.model_gamma`), else the count-based fit, over the
  converged window when the strict reliable window is too short.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stats import fit_gamma
from ..stats.model_losses import ModelLosses
from ..warns import coded
from ._inputs import CorrelationInputs, EntropyInputs
from .model_gamma import MIN_BINS, combine_with_counts, model_gamma

#: Fewer reliable points than this make predict fall back to the converged window.
MIN_GAMMA_POINTS = 3
#: Coverage (held-out contexts seen >= k times) required in the fallback window.
FALLBACK_COVERAGE = 0.5

#: How each source of per-position losses is named: (in a sentence, as a noun phrase).
SOURCE_WORDS = {
    "reference": "reference model trained on this corpus",
    "hf-checkpoint": "Hugging Face checkpoint",
    "file": "external model",
}


def choose_beta(ci: CorrelationInputs, warnings: list[str]) -> dict[str, Any]:
    """The beta fit the prediction uses (the left segment of a broken power law, if any)."""
    beta_d = dict(ci.beta)
    brk = beta_d.get("break")
    if not (isinstance(brk, dict) and (brk.get("left") or {}).get("value") is not None):
        return beta_d
    left = brk["left"]
    if (left.get("n_points") or 0) < MIN_GAMMA_POINTS:
        return beta_d
    warnings.append(
        coded(
            "predict-broken-beta",
            f"the correlations follow a broken power law (break at lag {brk.get('at')}): "
            f"beta is taken from the segment before the break, lags {left['window'][0]}.."
            f"{left['window'][1]} (as published for WikiText-103); the single fit over "
            f"lags {beta_d['window'][0]}..{beta_d['window'][1]} gave {beta_d['value']:.3f}",
        )
    )
    return {**left, "single_fit": {k: v for k, v in beta_d.items() if k != "break"}}


def external_losses(ei: EntropyInputs) -> ModelLosses | None:
    """The per-position losses an entropy.json holds in ``upper_external`` (n >= 1), if any."""
    if ei.upper_external is None:
        return None
    ok = np.isfinite(ei.upper_external) & (ei.n >= 1)
    if ok.sum() < 2:
        return None
    u = ei.upper_external[ok]
    return ModelLosses(n=ei.n[ok], loss=u, stderr=np.full(u.size, np.nan), source="file")


def choose_gamma(
    ei: EntropyInputs, model: ModelLosses | None, n_boot: int, seed: int, warnings: list[str]
) -> tuple[dict[str, Any], ModelLosses | None]:
    """The gamma fit the prediction uses and the combined upper bounds (None: counts only)."""
    gamma_d = dict(ei.gamma)
    count_warnings: list[str] = []
    if (gamma_d.get("n_points") or 0) < MIN_GAMMA_POINTS:
        gamma_d = fallback_gamma(ei, gamma_d, count_warnings, n_boot, seed)
    gamma_counts = gamma_d
    if model is None:
        model = external_losses(ei)
    if model is not None:
        model = combine_with_counts(model, ei)
        mg = model_gamma(model, n_boot=n_boot, seed=seed)
        if mg is None:
            warnings.append(
                coded(
                    "predict-model-flat",
                    f"the model's per-position losses ({model.source}) do not fall measurably "
                    f"over {MIN_BINS} or more bins of n: gamma is taken from the counts",
                )
            )
        else:
            if gamma_counts.get("value") is not None:
                mg["counts"] = gamma_counts
            gamma_d = mg
            count_warnings = []
            warnings.append(_model_gamma_note(model, mg))
    warnings += count_warnings
    return gamma_d, model


def _model_gamma_note(model: ModelLosses, mg: dict[str, Any]) -> str:
    hz = mg["horizon"]
    won = np.asarray(model.model.get("lower_bound_from") or ["model"] * model.n.size)
    inside = won[: int(hz["n"])]
    by = "; ".join(
        f"{what} at {int((inside == key).sum())} of them"
        for key, what in (("model", "the model"), ("ngram", "the n-gram model"))
        if (inside == key).any()
    )
    return coded(
        "predict-gamma-from-model",
        f"gamma is fitted on upper bounds on H_n over n = 1..{hz['n']}: at each n the "
        f"lower of the {SOURCE_WORDS[model.source]}'s per-position loss L_n (the "
        f"published method) and the smoothed n-gram model's held-out loss ({by}); "
        f"n = {hz['n']} is where they stop falling measurably"
        + (" (the model's context ends there)" if hz["at_context"] else "")
        + f". Form: {mg['choice']}",
    )


def fallback_gamma(
    ei: EntropyInputs, gamma_d: dict[str, Any], warnings: list[str], n_boot: int, seed: int
) -> dict[str, Any]:
    """Fit gamma over the converged window when the reliable window is too short.

    Count-based estimates rarely meet the strict reliability rule (bounds within a
    few percent) beyond n = 1-2 on corpora of a few million tokens. Where the
    estimate has still converged (it moves by less than the tolerance when the
    training tokens are halved) and most held-out contexts were seen, it is a
    usable, if looser, measurement: the fit treats the bound interval as a 95%
    interval on each point, sigma_n = (upper_n - lower_n) / 3.92, so the exponent
    carries that looseness into its error.
    """
    ok = ei.converged & (ei.coverage >= FALLBACK_COVERAGE)
    # the contiguous run from n = 1: the first context length after 0 that fails
    fails = np.flatnonzero(~ok[1:])
    hi = int(fails[0]) if fails.size else ei.n.size - 1
    if hi < 2:  # a slope needs two context lengths
        return gamma_d
    up, lo = ei.upper, ei.lower
    sigma = np.abs(up - lo) / 3.92
    fit = fit_gamma(ei.n, ei.estimate, sigma, window=(1, hi), n_boot=n_boot, seed=seed).to_dict()
    gap = float(np.max((up - lo)[1 : hi + 1] / up[1 : hi + 1]))
    fit["method"] += (
        f"; fallback window n = 1..{hi} where the estimate converged and coverage "
        f">= {FALLBACK_COVERAGE}; sigma_n = (upper - lower) / 3.92"
    )
    warnings.append(
        coded(
            "predict-gamma-fallback",
            f"gamma is fitted on n = 1..{hi}, where the count-based estimate has converged but "
            f"its bounds still differ by up to {100 * gap:.0f}% (the strict reliable window is "
            "too short); pass --entropy-from with a trained model's per-position losses for a "
            "tighter estimate",
        )
    )
    return fit
