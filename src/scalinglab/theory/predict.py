"""``predict``: the data-limited scaling law of a corpus from its two statistics.

The correlation engine measures ``||C(n)||_op ~ A n^-beta`` with its noise
floor; the entropy engine measures ``H_n ~ n^-gamma`` with bounds and a map of
where it is reliable. From them (REFERENCE 1.4):

* ``alpha_D = gamma / (2 beta)``, with the propagated error and a 95% interval
  from joint resampling of both fits;
* the horizon ``n*(P)``: the lag at which the fitted correlation meets the noise
  floor an estimate from ``P`` tokens would have (:mod:`.law`), in tokens;
* the predicted learning curve ``L(P) = H_{n*(P)}`` on a log grid of ``P`` with a
  band, and the tokens needed to reach a target loss.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._io import _jsonable, read_json, write_json
from .._progress import info
from ..errors import UserError
from ..stats.model_losses import ModelLosses
from ..train.reference import DEFAULT_BUDGET_S
from .calibrate import calibrate_horizon, check_calibration_p0, run_calibration
from .entropy_source import (
    check_entropy_options,
    is_checkpoint,
    model_losses,
    torch_available,
    wants_model,
)
from .law import alpha_from, entropy_at, horizon, tokens_for_horizon
from .model_gamma import MIN_BINS, combine_with_counts, model_gamma
from .prediction import Prediction, _num

#: A window with fewer points than this triggers a warning.
MIN_WINDOW_POINTS = 5
#: Fewer reliable points than this make predict fall back to the converged window.
MIN_GAMMA_POINTS = 3
#: Coverage (held-out contexts seen >= k times) required in the fallback window.
FALLBACK_COVERAGE = 0.5
#: The context length should exceed the horizon by this factor.
CONTEXT_FACTOR = 4.0

HORIZON_ASSUMPTION = (
    "n*(P) is the lag at which the fitted correlation A n^-beta equals the operator-norm "
    "noise floor of an estimate from P tokens, floor(P) = c / sqrt(P), with c measured on "
    "this corpus (shuffled surrogates, floor x sqrt(pairs)); the threshold constant is 1 "
    "(a lag becomes usable when its signal reaches the noise)."
)


# ----------------------------------------------------------------------------------------
def _floor_constant(corr: dict[str, Any], num_tokens: int) -> float:
    """``c`` in floor(M) = c / sqrt(M): the median of floor_n * sqrt(M_n) over lags."""
    lags = np.asarray(corr["lags"], float)
    floor = np.asarray([_num(f) for f in corr["noise_floor"]], float)
    pairs = np.asarray(corr.get("pairs") or (num_tokens - lags), float)
    ok = np.isfinite(floor) & (floor > 0) & (pairs > 0)
    if not ok.any():
        raise UserError("the correlation results hold no finite noise floor")
    return float(np.median(floor[ok] * np.sqrt(pairs[ok])))


def _amplitudes(
    corr: dict[str, Any],
    window: list[int],
    betas: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
) -> np.ndarray:
    """``A`` of ``||C(n)|| = A n^-beta`` given beta, central value then replicates.

    log A is the weighted mean of log||C(n)|| + beta log n over the beta window
    (weights: inverse variance of log||C(n)||); replicates perturb the norms by
    their bootstrap standard errors.
    """
    lags = np.asarray(corr["lags"], float)
    y = np.asarray([_num(v) for v in corr["operator_norm"]], float)
    se = np.asarray([_num(v) for v in corr.get("operator_norm_stderr") or [np.nan] * len(y)])
    lo, hi = window
    m = (lags >= lo) & (lags <= hi) & np.isfinite(y) & (y > 0)
    rel = np.where(np.isfinite(se[m]) & (se[m] > 0), se[m] / y[m], np.nan)
    rel = np.where(np.isfinite(rel), rel, np.nanmedian(rel) if np.isfinite(rel).any() else 0.05)
    w = 1.0 / np.maximum(rel, 1e-6) ** 2
    logy = np.log(y[m])[None, :]
    noise = np.concatenate([np.zeros((1, m.sum())), rng.standard_normal((n_boot, m.sum()))])
    logy = logy + noise * rel[None, :]
    loga = ((logy + betas[:, None] * np.log(lags[m])[None, :]) * w).sum(1) / w.sum()
    return np.exp(loga)


def _check_options(
    context: int | None, target_loss: float | None, n_boot: int, p_min: float, p_max: float
) -> None:
    """Reject bad options before any work (a bad option must not fail after counting)."""
    if not (0 < p_min < p_max):
        raise UserError(f"need 0 < P_min < P_max, got {p_min}, {p_max}")
    if context is not None and context < 1:
        raise UserError(f"--context must be a positive number of tokens, got {context}")
    if target_loss is not None and not (np.isfinite(target_loss) and target_loss > 0):
        raise UserError(f"--target-loss must be a positive number of nats, got {target_loss}")
    if n_boot < 2:
        raise UserError(f"--boot (n_boot) must be at least 2 replicates, got {n_boot}")


def predict_from_stats(
    corr: dict[str, Any],
    ent: dict[str, Any],
    corpus: dict[str, Any],
    *,
    context: int | None = None,
    target_loss: float | None = None,
    p_min: float = 1e4,
    p_max: float = 1e12,
    grid_points: int = 81,
    n_boot: int = 1000,
    seed: int = 0,
    model: ModelLosses | None = None,
    calibration: dict[str, Any] | None = None,
) -> Prediction:
    """Predict the scaling law from correlation and entropy results (their ``to_dict()``).

    Parameters
    ----------
    corr, ent : dict
        correlations.json and entropy.json documents.
    corpus : dict
        The corpus block (``source``, ``tokens``, ``vocab_size``, ``tokenizer``).
    context : int, optional
        Context length T of the models the prediction is for (checked against n*(P)).
    target_loss : float, optional
        Report the tokens needed to reach this loss (nats).
    model : ModelLosses, optional
        A trained model's per-position losses (upper bounds on H_n). gamma is then
        fitted on them up to the model's own horizon (:mod:`.model_gamma`); without
        it, an entropy.json holding ``upper_external`` losses is read the same way.
    calibration : dict, optional
        ``{"P0", "loss", "stderr"}``: a measured loss at ``P0`` tokens that fixes the
        threshold constant of the horizon (:func:`calibrate_horizon`).

    Notes
    -----
    The curve ``L(P) = U(n*(P))`` is built from upper bounds ``U_n`` on the entropies
    (the lower of the smoothed n-gram model's and the trained model's held-out
    losses, made non-increasing in n), never from the plug-in, up to the last
    trusted context length; beyond it the chosen law continues it, and it never
    falls below the fitted ``H_inf``.
    """
    _check_options(context, target_loss, n_boot, p_min, p_max)
    # Replicates with beta or gamma near 0 overflow the horizon to inf; the percentiles and
    # the warnings handle them, so NumPy's floating-point warnings are not the user's.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _predict(
            corr,
            ent,
            corpus,
            context,
            target_loss,
            p_min,
            p_max,
            grid_points,
            n_boot,
            seed,
            model,
            calibration,
        )


def _predict(
    corr: dict[str, Any],
    ent: dict[str, Any],
    corpus: dict[str, Any],
    context: int | None,
    target_loss: float | None,
    p_min: float,
    p_max: float,
    grid_points: int,
    n_boot: int,
    seed: int,
    model: ModelLosses | None,
    calibration: dict[str, Any] | None,
) -> Prediction:
    rng = np.random.default_rng(seed)
    warnings: list[str] = [f"correlations: {w}" for w in corr.get("warnings", [])]
    warnings += [f"entropy: {w}" for w in ent.get("warnings", [])]
    n_tokens = int(corpus["tokens"])
    beta_d, gamma_d = dict(corr["beta"]), dict(ent["gamma"])
    brk = beta_d.get("break")
    if isinstance(brk, dict) and (brk.get("left") or {}).get("value") is not None:
        left = brk["left"]
        if (left.get("n_points") or 0) >= MIN_GAMMA_POINTS:
            warnings.append(
                f"the correlations follow a broken power law (break at lag {brk.get('at')}): "
                f"beta is taken from the segment before the break, lags {left['window'][0]}.."
                f"{left['window'][1]} (as published for WikiText-103); the single fit over "
                f"lags {beta_d['window'][0]}..{beta_d['window'][1]} gave {beta_d['value']:.3f}"
            )
            beta_d = {**left, "single_fit": {k: v for k, v in beta_d.items() if k != "break"}}
    count_warnings: list[str] = []
    if (gamma_d.get("n_points") or 0) < MIN_GAMMA_POINTS:
        gamma_d = _fallback_gamma(ent, gamma_d, count_warnings, n_boot, seed)
    gamma_counts = gamma_d
    if model is None:
        model = _external_losses(ent)
    if model is not None:
        model = combine_with_counts(model, ent)
        mg = model_gamma(model, n_boot=n_boot, seed=seed)
        if mg is None:
            warnings.append(
                f"the model's per-position losses ({model.source}) do not fall measurably over "
                f"{MIN_BINS} or more bins of n: gamma is taken from the counts"
            )
        else:
            if gamma_counts.get("value") is not None:
                mg["counts"] = gamma_counts
            gamma_d = mg
            count_warnings = []
            hz_m = mg["horizon"]
            won = np.asarray(model.model.get("lower_bound_from") or ["model"] * model.n.size)
            inside = won[: int(hz_m["n"])]
            by = "; ".join(
                f"{what} at {int((inside == key).sum())} of them"
                for key, what in (("model", "the model"), ("ngram", "the n-gram model"))
                if (inside == key).any()
            )
            warnings.append(
                f"gamma is fitted on upper bounds on H_n over n = 1..{hz_m['n']}: at each n the "
                f"lower of the {_SOURCE_WORDS[model.source]}'s per-position loss L_n (the "
                f"published method) and the smoothed n-gram model's held-out loss ({by}); "
                f"n = {hz_m['n']} is where they stop falling measurably"
                + (" (the model's context ends there)" if hz_m["at_context"] else "")
                + f". Form: {mg['choice']}"
            )
    warnings += count_warnings
    beta, d_beta = _num(beta_d.get("value")), _num(beta_d.get("stderr"))
    gamma, d_gamma = _num(gamma_d.get("value")), _num(gamma_d.get("stderr"))
    corr_block = {
        k: corr.get(k)
        for k in (
            "lags",
            "operator_norm",
            "frobenius",
            "noise_floor",
            "resolvable",
            "operator_norm_stderr",
            "frobenius_floor",
        )
    }
    ent_block = {
        k: ent.get(k)
        for k in ("n", "estimate", "upper", "lower", "reliable", "coverage", "estimator")
    }
    ent_block["method"] = ent.get("method", ent.get("estimator"))
    if calibration is not None:  # the curve reaches down to the calibration point
        p_min = min(p_min, float(calibration["P0"]))
    P = np.logspace(np.log10(p_min), np.log10(p_max), grid_points)
    empty = Prediction(
        corpus=corpus,
        correlations=corr_block,
        entropy=ent_block,
        beta=beta_d,
        gamma=gamma_d,
        alpha_D={"value": None, "stderr": None, "ci95": [None, None]},
        horizon={"P": P.tolist(), "n_star": [None] * len(P)},
        predicted_loss={"P": P.tolist(), "loss": [None] * len(P)},
        warnings=warnings,
        context=context,
    )
    if not np.isfinite(beta) or beta <= 0:
        warnings.append(
            "beta is undefined (no resolvable power-law correlations): "
            "the data-limited law cannot be predicted"
        )
        return empty
    if not np.isfinite(gamma) or gamma <= 0:
        warnings.append(
            "gamma is undefined (no reliable power-law decay of H_n): "
            "the data-limited law cannot be predicted"
        )
        return empty
    short: list[str] = []  # exponents fitted on too few points, for the 10x sentence
    for name, d, unit, var in (
        ("beta", beta_d, "lags", "lags"),
        ("gamma", gamma_d, "context lengths", "n"),
    ):
        npts = d.get("n_points")
        if npts is None and d.get("window"):
            npts = d["window"][1] - d["window"][0] + 1
        if npts is not None and npts < MIN_WINDOW_POINTS:
            warnings.append(
                f"the {name} fit window {d.get('window')} holds only {npts} "
                f"{unit} (< {MIN_WINDOW_POINTS}): its exponent is poorly constrained"
            )
            w = d.get("window") or [None, None]
            short.append(f"{name} is fitted on only {npts} {unit} ({var} = {w[0]}..{w[1]})")

    # Joint resampling: replicate b draws beta_b, gamma_b from their bootstrap errors and
    # the amplitude A_b from the norms perturbed by their errors.
    d_b = d_beta if np.isfinite(d_beta) else 0.0
    d_g = d_gamma if np.isfinite(d_gamma) else 0.0
    betas = np.concatenate([[beta], np.abs(beta + d_b * rng.standard_normal(n_boot))])
    gammas = np.concatenate([[gamma], np.abs(gamma + d_g * rng.standard_normal(n_boot))])
    amps = _amplitudes(corr, beta_d["window"], betas, rng, n_boot)
    c_floor = _floor_constant(corr, n_tokens)

    alpha, d_alpha = alpha_from(beta, gamma, d_b, d_g)
    alphas = gammas / (2 * betas)
    alpha_d = {
        "value": alpha,
        "stderr": d_alpha,
        "ci95": np.percentile(alphas[1:], [2.5, 97.5]).tolist(),
        "method": "gamma / (2 beta); stderr by error propagation (REFERENCE 1.4); ci95: "
        f"percentiles of gamma_b / (2 beta_b) over {n_boot} joint replicates, each drawing "
        "beta_b and gamma_b from normal laws with the fits' bootstrap standard errors and "
        "refitting the amplitude A_b from the norms perturbed by theirs; every replicate "
        "carries its (A_b, beta_b, gamma_b) through the horizon, the curve and the target",
    }

    alt = dict(gamma_d.get("forms") or {})
    if isinstance(gamma_d.get("counts"), dict):
        alt["counts"] = gamma_d["counts"]
    alpha_d["forms"] = {}
    for name, g_alt in alt.items():
        if g_alt.get("value") is None:
            continue
        v, e = alpha_from(beta, float(g_alt["value"]), d_b, _num(g_alt.get("stderr")))
        alpha_d["forms"][name] = {"value": v, "stderr": e, "gamma": g_alt["value"]}
    alpha_d["form"] = gamma_d.get("form", "raw")

    # Entropy curve: upper bounds U_n up to the last trusted n, the chosen law beyond.
    n_meas, h_meas, n_last = _upper_curve(ent, gamma_d, model)
    offset = gamma_d.get("form") == "offset"
    # the floor is the fitted entropy rate when the offset form is the chosen law (module
    # model_gamma: an asymptote the bound reached inside its window is not one)
    h_inf, h_inf_se = _h_inf(gamma_d) if offset else (0.0, 0.0)
    h_infs = np.concatenate(
        [[h_inf], np.clip(h_inf + h_inf_se * rng.standard_normal(n_boot), 0.0, None)]
    )
    h_infs = np.minimum(h_infs, h_meas[np.isfinite(h_meas)].min())

    def curve_at(n_star: np.ndarray) -> np.ndarray:
        return entropy_at(n_star, n_meas, h_meas, n_last, gammas, h_infs, offset=offset)

    nstar_raw = horizon(P[None, :], amps[:, None], betas[:, None], c_floor, 1.0)
    factor = np.ones(n_boot + 1)
    calib = None
    if calibration is not None:
        calib = calibrate_horizon(calibration, curve_at, amps, betas, c_floor, beta, warnings)
        if calib is not None:
            factor = np.asarray(calib.pop("_factor"))
    nstar = nstar_raw * factor[:, None]
    loss = curve_at(nstar)
    ns_lo, ns_hi = np.percentile(nstar[1:], [2.5, 97.5], axis=0)
    l_lo, l_hi = np.percentile(loss[1:], [2.5, 97.5], axis=0)
    hz = {
        "P": P.tolist(),
        "n_star": nstar[0].tolist(),
        "lo": ns_lo.tolist(),
        "hi": ns_hi.tolist(),
        "n_star_uncalibrated": nstar_raw[0].tolist(),
        "amplitude": float(amps[0]),
        "floor_constant": c_floor,
        "assumption": HORIZON_ASSUMPTION,
        "calibration": calib,
        "uses": "calibrated" if calib is not None else "uncalibrated (threshold constant 1)",
    }
    law_txt = (
        f"H_n = H_inf + (U_{{n_last}} - H_inf) (n / n_last)^-gamma with H_inf = {h_inf:.4g}"
        if offset
        else "H_n = U_{n_last} (n / n_last)^-gamma"
        + (f", never below H_inf = {h_inf:.4g}" if h_inf > 1e-6 else "")
    )
    curve = {
        "P": P.tolist(),
        "loss": loss[0].tolist(),
        "lo": l_lo.tolist(),
        "hi": l_hi.tolist(),
        "units": "nats per token",
        "entropy_trusted_to_n": n_last,
        "h_inf": h_inf if h_inf > 1e-6 else None,
        "built_from": "upper bounds on H_n: "
        + ("the trained model's per-position losses and " if model is not None else "")
        + "the held-out loss of the smoothed n-gram model, whichever is lower (never the "
        "plug-in, which is a lower bound)",
        "rule": f"L(P) = U(n*(P)): upper bounds U_n (log-log interpolation) up to n = "
        f"{n_last:g}, {law_txt} beyond",
    }

    # What 10x more data buys, at the size of this corpus.
    p0 = np.array([[float(n_tokens), 10.0 * n_tokens]])
    l10 = curve_at(horizon(p0, amps[:, None], betas[:, None], c_floor, 1.0) * factor[:, None])
    pct = 100.0 * (1 - l10[:, 1] / l10[:, 0])
    ten_x = {
        "P": float(n_tokens),
        "loss": float(l10[0, 0]),
        "loss_10x": float(l10[0, 1]),
        "percent": float(pct[0]),
        "percent_ci95": np.percentile(pct[1:], [2.5, 97.5]).tolist(),
        "n_star": float(horizon(p0, amps[:1, None], betas[:1, None], c_floor, 1.0)[0, 0])
        * float(factor[0]),
        "entropy_trusted_to_n": n_last,
        "alpha_D": alpha,
        "short_windows": short,
    }

    # Diagnostics on where the prediction leans.
    ns0 = nstar[0]
    beyond = P[ns0 > n_last]
    if beyond.size:
        warnings.append(
            f"for P >= {beyond[0]:.3g} tokens the horizon n*(P) exceeds n = {n_last:g}, the last "
            "context length with trusted entropy estimates: the curve there extrapolates H_n "
            "with the fitted law"
        )
    if context is not None:
        tight = P[ns0 * CONTEXT_FACTOR > context]
        if tight.size:
            warnings.append(
                f"the context length T = {context} is not much larger than the horizon "
                f"n*(P) for P >= {tight[0]:.3g} tokens (T < {CONTEXT_FACTOR:g} n*): there the "
                "law L ~ P^-alpha_D is not expected to hold"
            )
    target = None
    if target_loss is not None:
        target = _tokens_for_target(target_loss, curve_at, h_meas, amps, betas, factor, c_floor)
        if target.get("P") is None:
            warnings.append(target["note"])
    return Prediction(
        corpus=corpus,
        correlations=corr_block,
        entropy=ent_block,
        beta=beta_d,
        gamma=gamma_d,
        alpha_D=alpha_d,
        horizon=hz,
        predicted_loss=curve,
        warnings=warnings,
        context=context,
        target=target,
        ten_x=ten_x,
    )


def _fallback_gamma(
    ent: dict[str, Any], gamma_d: dict[str, Any], warnings: list[str], n_boot: int, seed: int
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
    from ..stats.entropy import fit_gamma

    n = np.asarray(ent["n"], int)
    conv = np.asarray(ent.get("converged", ent.get("reliable")), bool)
    cov = np.asarray(ent.get("coverage", [1.0] * len(n)), float)
    ok = conv & (cov >= FALLBACK_COVERAGE)
    hi = 0
    while hi + 1 < len(n) and ok[hi + 1]:  # contiguous run from n = 1 (context lengths)
        hi += 1
    if hi < 2:  # a slope needs two context lengths
        return gamma_d
    h = np.asarray([_num(v) for v in ent["estimate"]])
    up = np.asarray([_num(v) for v in ent["upper"]])
    lo = np.asarray([_num(v) for v in ent["lower"]])
    sigma = np.abs(up - lo) / 3.92
    fit = fit_gamma(n, h, sigma, window=(1, int(hi)), n_boot=n_boot, seed=seed).to_dict()
    gap = float(np.max((up - lo)[1 : hi + 1] / up[1 : hi + 1]))
    fit["method"] += (
        f"; fallback window n = 1..{hi} where the estimate converged and coverage "
        f">= {FALLBACK_COVERAGE}; sigma_n = (upper - lower) / 3.92"
    )
    warnings.append(
        f"gamma is fitted on n = 1..{hi}, where the count-based estimate has converged but its "
        f"bounds still differ by up to {100 * gap:.0f}% (the strict reliable window is too short);"
        " pass --entropy-from with a trained model's per-position losses for a tighter estimate"
    )
    return fit


def _tokens_for_target(
    x: float,
    curve_at: Callable[[np.ndarray], np.ndarray],
    h_meas: np.ndarray,
    amps: np.ndarray,
    betas: np.ndarray,
    factor: np.ndarray,
    c_floor: float,
) -> dict[str, Any]:
    """Tokens needed for the predicted loss to reach ``x`` nats (per replicate)."""
    h0 = float(h_meas[0])
    if x >= h0:
        return {
            "loss": x,
            "P": None,
            "note": f"target loss {x} is not below H_0 = {h0:.4f}: any amount of data reaches it",
        }
    # Invert H(n) = x on a fine log grid of n (H is decreasing), then P from n*(P) = n.
    n_grid = np.logspace(-3, 12, 3001)
    h = curve_at(np.broadcast_to(n_grid, (amps.size, n_grid.size)))
    n_x = np.array([np.interp(-x, -row, n_grid) if row[-1] < x else np.nan for row in h])
    P = tokens_for_horizon(n_x / factor, amps, betas, c_floor, 1.0)
    fin = P[1:][np.isfinite(P[1:])]
    if not np.isfinite(P[0]):
        return {
            "loss": x,
            "P": None,
            "note": f"target loss {x} lies below the predicted curve's floor (H_inf): "
            "no amount of data reaches it",
        }
    return {
        "loss": x,
        "P": float(P[0]),
        "ci95": np.percentile(fin, [2.5, 97.5]).tolist() if fin.size else [None, None],
        "n_star": float(n_x[0]),
        "note": "tokens at which the predicted L(P) reaches the target",
    }


def _external_losses(ent: dict[str, Any]) -> ModelLosses | None:
    """The per-position losses an entropy.json holds in ``upper_external`` (n >= 1), if any."""
    ext = ent.get("upper_external")
    if not ext:
        return None
    n = np.asarray(ent["n"], int)
    u = np.asarray([_num(v) for v in ext], float)
    ok = np.isfinite(u) & (n >= 1)
    if ok.sum() < 2:
        return None
    return ModelLosses(n=n[ok], loss=u[ok], stderr=np.full(ok.sum(), np.nan), source="file")


def _upper_curve(
    ent: dict[str, Any], gamma_d: dict[str, Any], model: ModelLosses | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(n, U_n, n_last)``: the upper-bound entropy curve and its last trusted n.

    ``U_n`` is the lower of the n-gram model's held-out loss (``upper``) and the
    trained model's ``L_n``, then its running minimum over n (H_n never increases
    with n, and a model that uses fewer tokens of context bounds H_n as well).
    ``n_last`` is the model's horizon when gamma came from the model, otherwise
    the end of the gamma window (or of the reliable window, if longer).
    """
    n_c = np.asarray(ent["n"], float)
    u_c = np.asarray([_num(v) for v in ent["upper"]], float)
    top = int(max(n_c.max(), model.context if model is not None else 0))
    n = np.arange(top + 1, dtype=float)
    u = np.full(top + 1, np.inf)
    u[n_c.astype(int)] = np.where(np.isfinite(u_c), u_c, np.inf)
    if model is not None:
        u[model.n] = np.fmin(u[model.n], np.where(np.isfinite(model.loss), model.loss, np.inf))
    u = np.fmin.accumulate(u)
    u = np.where(np.isfinite(u), u, np.nan)
    if gamma_d.get("source") == "model":
        n_last = float(gamma_d["horizon"]["n"])
    else:
        gw = gamma_d.get("window") or [1, int(n_c[-1])]
        reliable = np.asarray(ent.get("reliable", [True] * len(n_c)), bool)
        rel_n = n_c[reliable & (n_c >= 1)]
        n_last = float(max(gw[1], rel_n.max() if rel_n.size else 0.0))
    n_last = float(min(n_last, n[np.isfinite(u)].max()))
    return n, u, n_last


def _h_inf(gamma_d: dict[str, Any]) -> tuple[float, float]:
    """``H_inf`` and its error from the offset form of the gamma fit (0, 0 when none)."""
    off = (gamma_d.get("forms") or {}).get("offset") or {}
    h = off.get("h_inf")
    if not isinstance(h, dict) or h.get("value") is None:
        return 0.0, 0.0
    return max(float(h["value"]), 0.0), _num(h.get("stderr")) if h.get("stderr") else 0.0


#: How the sources of per-position losses are named in the warnings.
_SOURCE_WORDS = {
    "reference": "reference model trained on this corpus",
    "hf-checkpoint": "Hugging Face checkpoint",
    "file": "external model",
}


# ----------------------------------------------------------------------------------------
def _matching(path: Path, corpus_hash: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        d = read_json(path)
    except (OSError, ValueError):
        return None
    c = d.get("corpus") or {}
    if c.get("content_hash") == corpus_hash and d.get("predict_settings") == settings:
        return d
    return None


def predict(
    corpus: Any = None,
    *,
    tokenizer: str | None = None,
    context: int | None = None,
    out: str | os.PathLike[str] | None = None,
    lags: list[int] | None = None,
    max_n: int | None = None,
    beta_window: tuple[int, int] | None = None,
    first_lag: int = 1,
    gamma_window: tuple[int, int] | None = None,
    entropy_from: str | os.PathLike[str] | None = None,
    target_loss: float | None = None,
    compare_measured: str | os.PathLike[str] | None = None,
    p_min: float = 1e4,
    p_max: float = 1e12,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    entropy: str = "auto",
    budget: float = DEFAULT_BUDGET_S,
    calibrate: int | None = None,
    device: str = "auto",
) -> Prediction:
    """Measure a corpus and predict its data-limited scaling law.

    Runs the correlation and entropy engines (reusing ``out/correlations.json`` and
    ``out/entropy.json`` when they were computed on the same corpus with the same
    settings), then :func:`predict_from_stats`. With ``out`` every result file is
    written there (prediction.json, correlations.json/png, entropy.json/png,
    prediction.png). ``first_lag`` is the first lag of the automatic beta window
    (``beta_window`` overrides the window).

    ``entropy`` (``auto``, ``counts``, ``model``) chooses where H_n comes from
    (:mod:`.entropy_source`): with ``model`` (and in ``auto`` when the count-based
    reliable window is shorter than 5 context lengths), a trained model's
    per-position losses, from ``entropy_from`` (a losses file or a Hugging Face
    checkpoint directory) or from a reference model trained here within
    ``budget`` wall seconds on ``device``. ``calibrate=P0`` trains one short
    data-limited run at ``P0`` tokens whose loss fixes the horizon's threshold
    constant (:mod:`.calibrate`).
    """
    from ..corpus import resolve
    from ..stats import correlations as corr_fn
    from ..stats import entropy as ent_fn
    from ..stats.entropy import DEFAULT_MAX_N, check_corpus_size

    # Cheap checks first: a bad option must not fail after minutes of counting.
    if max_n is not None and max_n < 1:
        raise UserError(f"max_n (--max-n) must be at least 1, got {max_n}")
    if gamma_window is not None and max_n is not None and gamma_window[1] > max_n:
        raise UserError(f"--gamma-window reaches beyond max_n = {max_n} (--max-n)")
    if first_lag < 1:
        raise UserError(f"first_lag (--first-lag) must be at least 1, got {first_lag}")
    _check_options(context, target_loss, n_boot, p_min, p_max)
    check_entropy_options(entropy, entropy_from, device)
    if not (np.isfinite(budget) and budget > 0):
        raise UserError(f"--budget must be a positive number of seconds, got {budget}")
    if calibrate is not None and not torch_available():
        raise UserError(
            "--calibrate trains a model and needs PyTorch: pip install torch==2.13.0 "
            "'scalinglab[train]'"
        )
    if compare_measured is not None:
        load_measured(compare_measured)
    if entropy_from is not None and is_checkpoint(entropy_from):
        # a checkpoint's losses bound H_n of its own tokens: the statistics use its tokenizer
        ck_tok = Path(entropy_from) / "tokenizer.json"
        if tokenizer is None:
            tokenizer = str(ck_tok)
        elif Path(tokenizer).resolve() != ck_tok.resolve():
            raise UserError(
                f"--tokenizer {tokenizer} differs from the checkpoint's tokenizer.json: its "
                "losses bound the entropies of its own tokens (drop --tokenizer)"
            )
    c = resolve(corpus, tokenizer)
    n_max = DEFAULT_MAX_N if max_n is None else max_n
    # A corpus too short for the entropy engine fails here, before correlations.json.
    check_corpus_size(c, n_max)
    if calibrate is not None:
        check_calibration_p0(int(calibrate), int(c.split_index))
    desc = c.describe()
    out_p = Path(out) if out is not None else None
    corr_settings = {
        "lags": lags,
        "beta_window": list(beta_window) if beta_window else None,
        "first_lag": first_lag,
        "seed": seed,
    }
    ent_settings = {
        "max_n": n_max,
        "gamma_window": list(gamma_window) if gamma_window else None,
        "seed": seed,
    }
    corr_d = (
        _matching(out_p / "correlations.json", c.content_hash, corr_settings) if out_p else None
    )
    if corr_d is not None:
        info(f"reusing {out} (same corpus and settings): correlations.json")
    else:
        cres = corr_fn(
            c,
            lags=lags,
            beta_window=beta_window,
            first_lag=first_lag,
            seed=seed,
            progress=progress,
        )
        corr_d = _jsonable({**cres.to_dict(), "corpus": desc, "predict_settings": corr_settings})
        if out_p:
            cres.save(out_p)
            write_json(out_p / "correlations.json", corr_d)
    ent_d = _matching(out_p / "entropy.json", c.content_hash, ent_settings) if out_p else None
    if ent_d is not None:
        info(f"reusing {out} (same corpus and settings): entropy.json")
    else:
        eres = ent_fn(c, max_n=n_max, gamma_window=gamma_window, seed=seed, progress=progress)
        ent_d = _jsonable({**eres.to_dict(), "corpus": desc, "predict_settings": ent_settings})
        if out_p:
            eres.save(out_p)
            write_json(out_p / "entropy.json", ent_d)
    model = None
    pre_warnings: list[str] = []
    if wants_model(entropy, entropy_from, ent_d, pre_warnings):
        model, m_settings = model_losses(
            c,
            entropy_from=entropy_from,
            budget=budget,
            device=device,
            seed=seed,
            cached=ent_d.get("model_losses"),
            progress=progress,
        )
        ent_d["model_losses"] = {"settings": m_settings, "losses": model.to_dict()}
        if out_p:
            write_json(out_p / "entropy.json", ent_d)
    calibration = None
    if calibrate is not None:
        calibration = _calibration(
            c, int(calibrate), context, model, budget, device, seed, out_p, progress
        )
    pred = predict_from_stats(
        corr_d,
        ent_d,
        desc,
        context=context,
        target_loss=target_loss,
        p_min=p_min,
        p_max=p_max,
        n_boot=n_boot,
        seed=seed,
        model=model,
        calibration=calibration,
    )
    pred.warnings[:0] = pre_warnings
    if model is not None:
        pred.entropy_model = {k: v for k, v in model.to_dict().items() if k not in ("corpus",)}
    if compare_measured is not None:
        pred.measured = load_measured(compare_measured)
        if pred.ok and pred.measured.get("alpha_D") is not None:
            m, p = pred.measured, pred.alpha_D
            pred.measured["difference"] = {
                "measured_minus_predicted": _num(m["alpha_D"]) - p["value"],
                "combined_stderr": float(
                    np.hypot(_num(m.get("alpha_D_stderr")) or 0.0, p["stderr"])
                ),
            }
    if out_p:
        pred.save(out_p)
    return pred


def _calibration(
    c: Any,
    P0: int,
    context: int | None,
    model: ModelLosses | None,
    budget: float,
    device: str,
    seed: int,
    out_p: Path | None,
    progress: bool,
) -> dict[str, Any]:
    """The calibration run at ``P0`` (cached in ``DIR/calibration.json``).

    The model is the reference model's shape (trained here or the default for the
    device), at the prediction's context length T when one is given.
    """
    from ..train.reference import ReferenceConfig
    from ..train.trainer import resolve_device

    rc = ReferenceConfig(device=device, seed=seed).resolved(resolve_device(device).type)
    shape = {"n_layer": rc.n_layer, "n_embd": rc.n_embd, "n_head": rc.n_head, "arch": "gpt2"}
    T, lr, batch = int(context or rc.context or 64), rc.lr, int(rc.batch_size or 16)
    if model is not None and model.source == "reference":
        shape = {k: model.model[k] for k in ("n_layer", "n_embd", "n_head", "arch")}
        T = int(context or model.context)
        lr = float(model.training.get("lr", lr))
        batch = int(model.training.get("batch_size", batch))
    settings = {"P0": P0, "shape": shape, "context": T, "lr": lr, "seed": seed, "device": device}
    path = out_p / "calibration.json" if out_p else None
    if path is not None and path.is_file():
        try:
            d = read_json(path)
        except (OSError, ValueError):
            d = {}
        if d.get("settings") == settings and d.get("content_hash") == c.content_hash:
            info(f"reusing {path} (same corpus and settings)")
            return d["calibration"]
    info(f"calibration: one data-limited run at P0 = {P0} tokens")
    cal = run_calibration(
        c,
        P0,
        shape=shape,
        context=T,
        lr=lr,
        batch_size=batch,
        budget_s=budget,
        seed=seed,
        device=device,
        progress=progress,
    )
    if path is not None:
        write_json(path, {"settings": settings, "content_hash": c.content_hash, "calibration": cal})
    return cal


def load_measured(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A measured learning curve from a sweep.json (``curve`` {P, loss}, measured alpha_D)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"measured curve not found: {p}")
    try:
        d = read_json(p)
    except ValueError as e:
        raise UserError(f"{p}: not valid JSON ({e})") from None
    curve = d.get("curve") if isinstance(d, dict) else None
    if not curve or "P" not in curve or "loss" not in curve:
        raise UserError(f"{p}: no 'curve' with 'P' and 'loss' (expected a sweep.json)")
    P = np.asarray(curve["P"], float)
    L = np.asarray(curve["loss"], float)
    if P.size < 2 or not (np.isfinite(P).all() and np.isfinite(L).all()):
        raise UserError(f"{p}: the measured curve needs at least 2 finite points")
    out: dict[str, Any] = {"source": str(p), "P": P.tolist(), "loss": L.tolist()}
    a = d.get("alpha_D")
    if isinstance(a, dict):
        pure = a.get("power_law", a)
        out["alpha_D"] = pure.get("value")
        out["alpha_D_stderr"] = pure.get("stderr")
        out["alpha_D_ci95"] = pure.get("ci95")
        out["window"] = a.get("window") or pure.get("window")
    return out
