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
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..stats.model_losses import ModelLosses
from ..train.reference import DEFAULT_BUDGET_S
from ..warns import coded, labelled
from . import cache
from ._curve import amplitudes, floor_constant, h_inf_of, tokens_for_target, upper_curve
from ._exponents import choose_beta, choose_gamma
from ._inputs import CorrelationInputs, EntropyInputs
from .calibrate import calibrate_horizon, calibration_for, check_calibration_p0
from .entropy_source import (
    check_entropy_options,
    is_checkpoint,
    model_losses,
    torch_available,
    wants_model,
)
from .law import alpha_from, entropy_at, horizon
from .measured import load_measured
from .prediction import Prediction, _num

#: A window with fewer points than this triggers a warning.
MIN_WINDOW_POINTS = 5
#: The context length should exceed the horizon by this factor.
CONTEXT_FACTOR = 4.0

HORIZON_ASSUMPTION = (
    "n*(P) is the lag at which the fitted correlation A n^-beta equals the operator-norm "
    "noise floor of an estimate from P tokens, floor(P) = c / sqrt(P), with c measured on "
    "this corpus (shuffled surrogates, floor x sqrt(pairs)); the threshold constant is 1 "
    "(a lag becomes usable when its signal reaches the noise)."
)


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
    corr: Any,
    ent: Any,
    corpus: dict[str, Any] | None = None,
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
    """Predict the scaling law from correlation and entropy results.

    Parameters
    ----------
    corr, ent : CorrelationResult / EntropyResult, or their JSON documents
        The two statistics (result objects, or correlations.json and entropy.json
        as saved); read once into typed views (:mod:`._inputs`).
    corpus : dict, optional
        The corpus block (``source``, ``tokens``, ``vocab_size``, ``tokenizer``);
        default: the ``corpus`` the correlation result carries.
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
    ci = CorrelationInputs.read(corr)
    ei = EntropyInputs.read(ent)
    if corpus is None:
        corpus = dict(ci.document.get("corpus") or {})
    if not isinstance(corpus.get("tokens"), int | float):
        raise UserError("the corpus block needs 'tokens' (the corpus size)")
    # Replicates with beta or gamma near 0 overflow the horizon to inf; the percentiles and
    # the warnings handle them, so NumPy's floating-point warnings are not the user's.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _predict(
            ci,
            ei,
            corpus,
            context=context,
            target_loss=target_loss,
            P=_grid(p_min, p_max, grid_points, calibration),
            n_boot=n_boot,
            seed=seed,
            model=model,
            calibration=calibration,
        )


def _grid(
    p_min: float, p_max: float, points: int, calibration: dict[str, Any] | None
) -> np.ndarray:
    """The log grid of P; it reaches down to the calibration point when there is one."""
    if calibration is not None:
        p_min = min(p_min, float(calibration["P0"]))
    return np.logspace(np.log10(p_min), np.log10(p_max), points)


def _predict(
    ci: CorrelationInputs,
    ei: EntropyInputs,
    corpus: dict[str, Any],
    *,
    context: int | None,
    target_loss: float | None,
    P: np.ndarray,
    n_boot: int,
    seed: int,
    model: ModelLosses | None,
    calibration: dict[str, Any] | None,
) -> Prediction:
    rng = np.random.default_rng(seed)
    warnings = [labelled(w, "correlations", "corr-warning") for w in ci.warnings]
    warnings += [labelled(w, "entropy", "entropy-warning") for w in ei.warnings]
    n_tokens = int(corpus["tokens"])
    beta_d = choose_beta(ci, warnings)
    gamma_d, model = choose_gamma(ei, model, n_boot, seed, warnings)
    beta, d_beta = _num(beta_d.get("value")), _num(beta_d.get("stderr"))
    gamma, d_gamma = _num(gamma_d.get("value")), _num(gamma_d.get("stderr"))
    common: dict[str, Any] = {
        "corpus": corpus,
        "correlations": ci.block(),
        "entropy": ei.block(),
        "beta": beta_d,
        "gamma": gamma_d,
        "warnings": warnings,
        "context": context,
    }
    for name, value, why in (
        ("beta", beta, "no resolvable power-law correlations"),
        ("gamma", gamma, "no reliable power-law decay of H_n"),
    ):
        if not np.isfinite(value) or value <= 0:
            warnings.append(
                coded(
                    f"predict-no-{name}",
                    f"{name} is undefined ({why}): the data-limited law cannot be predicted",
                )
            )
            return Prediction(
                **common,
                alpha_D={"value": None, "stderr": None, "ci95": [None, None]},
                horizon={"P": P.tolist(), "n_star": [None] * len(P)},
                predicted_loss={"P": P.tolist(), "loss": [None] * len(P)},
            )
    short = _short_windows(beta_d, gamma_d, warnings)

    # Joint resampling: replicate b draws beta_b, gamma_b from their bootstrap errors and
    # the amplitude A_b from the norms perturbed by their errors.
    d_b = d_beta if np.isfinite(d_beta) else 0.0
    d_g = d_gamma if np.isfinite(d_gamma) else 0.0
    betas = np.concatenate([[beta], np.abs(beta + d_b * rng.standard_normal(n_boot))])
    gammas = np.concatenate([[gamma], np.abs(gamma + d_g * rng.standard_normal(n_boot))])
    amps = amplitudes(ci, beta_d["window"], betas, rng, n_boot)
    c_floor = floor_constant(ci, n_tokens)
    alpha_d = _alpha_block(beta, gamma, d_b, d_g, betas, gammas, gamma_d, n_boot)

    # Entropy curve: upper bounds U_n up to the last trusted n, the chosen law beyond.
    n_meas, h_meas, n_last = upper_curve(ei, gamma_d, model)
    offset = gamma_d.get("form") == "offset"
    # the floor is the fitted entropy rate when the offset form is the chosen law (module
    # model_gamma: an asymptote the bound reached inside its window is not one)
    h_inf, h_inf_se = h_inf_of(gamma_d) if offset else (0.0, 0.0)
    h_infs = np.concatenate(
        [[h_inf], np.clip(h_inf + h_inf_se * rng.standard_normal(n_boot), 0.0, None)]
    )
    h_infs = np.minimum(h_infs, h_meas[np.isfinite(h_meas)].min())

    def curve_at(n_star: np.ndarray) -> np.ndarray:
        return entropy_at(n_star, n_meas, h_meas, n_last, gammas, h_infs, offset=offset)

    def horizon_at(p: np.ndarray) -> np.ndarray:
        return horizon(p, amps[:, None], betas[:, None], c_floor, 1.0)

    nstar_raw = horizon_at(P[None, :])
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
    l10 = curve_at(horizon_at(p0) * factor[:, None])
    pct = 100.0 * (1 - l10[:, 1] / l10[:, 0])
    ten_x = {
        "P": float(n_tokens),
        "loss": float(l10[0, 0]),
        "loss_10x": float(l10[0, 1]),
        "percent": float(pct[0]),
        "percent_ci95": np.percentile(pct[1:], [2.5, 97.5]).tolist(),
        "n_star": float(horizon_at(p0)[0, 0]) * float(factor[0]),
        "entropy_trusted_to_n": n_last,
        "alpha_D": alpha_d["value"],
        "short_windows": short,
    }
    _diagnose(P, nstar[0], n_last, context, warnings)
    target = None
    if target_loss is not None:
        target = tokens_for_target(target_loss, curve_at, h_meas, amps, betas, factor, c_floor)
        if target.get("P") is None:
            warnings.append(coded("predict-target-unreachable", target["note"]))
    return Prediction(
        **common,
        alpha_D=alpha_d,
        horizon=hz,
        predicted_loss=curve,
        target=target,
        ten_x=ten_x,
    )


def _short_windows(
    beta_d: dict[str, Any], gamma_d: dict[str, Any], warnings: list[str]
) -> list[str]:
    """Warn about exponents fitted on too few points; the phrases for the 10x sentence."""
    short: list[str] = []
    for name, d, unit, var in (
        ("beta", beta_d, "lags", "lags"),
        ("gamma", gamma_d, "context lengths", "n"),
    ):
        npts = d.get("n_points")
        if npts is None and d.get("window"):
            npts = d["window"][1] - d["window"][0] + 1
        if npts is not None and npts < MIN_WINDOW_POINTS:
            warnings.append(
                coded(
                    f"predict-short-{name}-window",
                    f"the {name} fit window {d.get('window')} holds only {npts} "
                    f"{unit} (< {MIN_WINDOW_POINTS}): its exponent is poorly constrained",
                )
            )
            w = d.get("window") or [None, None]
            short.append(f"{name} is fitted on only {npts} {unit} ({var} = {w[0]}..{w[1]})")
    return short


def _alpha_block(
    beta: float,
    gamma: float,
    d_b: float,
    d_g: float,
    betas: np.ndarray,
    gammas: np.ndarray,
    gamma_d: dict[str, Any],
    n_boot: int,
) -> dict[str, Any]:
    """alpha_D with its propagated error, joint-replicate interval and every gamma form's."""
    alpha, d_alpha = alpha_from(beta, gamma, d_b, d_g)
    alphas = gammas / (2 * betas)
    alpha_d: dict[str, Any] = {
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
    return alpha_d


def _diagnose(
    P: np.ndarray, n_star: np.ndarray, n_last: float, context: int | None, warnings: list[str]
) -> None:
    """Warnings on where the prediction leans: extrapolated entropies, a short context."""
    beyond = P[n_star > n_last]
    if beyond.size:
        warnings.append(
            coded(
                "predict-extrapolated",
                f"for P >= {beyond[0]:.3g} tokens the horizon n*(P) exceeds n = {n_last:g}, the "
                "last context length with trusted entropy estimates: the curve there "
                "extrapolates H_n with the fitted law",
            )
        )
    if context is not None:
        tight = P[n_star * CONTEXT_FACTOR > context]
        if tight.size:
            warnings.append(
                coded(
                    "predict-short-context",
                    f"the context length T = {context} is not much larger than the horizon "
                    f"n*(P) for P >= {tight[0]:.3g} tokens (T < {CONTEXT_FACTOR:g} n*): there "
                    "the law L ~ P^-alpha_D is not expected to hold",
                )
            )


# ----------------------------------------------------------------------------------------
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
    cluster: Any = None,
) -> Prediction:
    """Measure a corpus and predict its data-limited scaling law.

    Runs the correlation and entropy engines (reusing ``out/correlations.json`` and
    ``out/entropy.json`` when they were computed on the same corpus with the same
    resolved settings, :mod:`.cache`), then :func:`predict_from_stats`. With ``out``
    every result file is written there (prediction.json, correlations.json/png,
    entropy.json/png, prediction.png). ``first_lag`` is the first lag of the
    automatic beta window (``beta_window`` overrides the window).

    ``entropy`` (``auto``, ``counts``, ``model``) chooses where H_n comes from
    (:mod:`.entropy_source`): with ``model`` (and in ``auto`` when the count-based
    reliable window is shorter than 5 context lengths), a trained model's
    per-position losses, from ``entropy_from`` (a losses file or a Hugging Face
    checkpoint directory) or from a reference model trained here within
    ``budget`` wall seconds on ``device``. ``calibrate=P0`` trains one short
    data-limited run at ``P0`` tokens whose loss fixes the horizon's threshold
    constant (:mod:`.calibrate`). ``cluster`` (``scalinglab.cluster.backend(...)``)
    measures on a Dask cluster, with the same numbers.
    """
    from ..stats import CorrelationConfig, EntropyConfig, as_corpus, measure

    # Cheap checks first: a bad option must not fail after minutes of counting. The two
    # configs check the statistics' settings (max_n, the windows) once, here.
    cc = CorrelationConfig(
        lags=tuple(lags) if lags is not None else None,
        beta_window=beta_window,
        first_lag=first_lag,
        seed=seed,
    )
    ec = (
        EntropyConfig(gamma_window=gamma_window, seed=seed)
        if max_n is None
        else EntropyConfig(max_n=max_n, gamma_window=gamma_window, seed=seed)
    )
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
    c = as_corpus(corpus, _checkpoint_tokenizer(entropy_from, tokenizer))
    # A corpus too short for either engine fails here, before any file is written.
    cc.check(c)
    ec.check(c)
    if calibrate is not None:
        check_calibration_p0(int(calibrate), int(c.split_index))
    desc = c.describe()
    out_p = Path(out) if out is not None else None
    corr_path = out_p / "correlations.json" if out_p else None
    ent_path = out_p / "entropy.json" if out_p else None
    # the cache is keyed on the resolved settings (a default and the same value given
    # explicitly share one entry) and the corpus's content hash
    corr_d = cache.lookup(corr_path, c.content_hash, cc.to_dict())
    ent_d = cache.lookup(ent_path, c.content_hash, ec.to_dict())
    if corr_d is None or ent_d is None:
        m = measure(
            c,
            correlations=cc if corr_d is None else False,
            entropy=ec if ent_d is None else False,
            progress=progress,
            cluster=cluster,
        )
        if m.correlations is not None:
            corr_d = cache.keep(m.correlations, out_p, "correlations", desc, cc.to_dict())
        if m.entropy is not None:
            ent_d = cache.keep(m.entropy, out_p, "entropy", desc, ec.to_dict())
    assert corr_d is not None and ent_d is not None
    model = None
    pre_warnings: list[str] = []
    if wants_model(entropy, entropy_from, EntropyInputs.read(ent_d), pre_warnings):
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
        cache.store(ent_path, ent_d)
    calibration = None
    if calibrate is not None:
        calibration = calibration_for(
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
        pred.compare(load_measured(compare_measured))
    if out_p:
        pred.save(out_p)
    return pred


def _checkpoint_tokenizer(entropy_from: Any, tokenizer: str | None) -> str | None:
    """A checkpoint's losses bound H_n of its own tokens: the statistics use its tokenizer."""
    if entropy_from is None or not is_checkpoint(entropy_from):
        return tokenizer
    ck_tok = Path(entropy_from) / "tokenizer.json"
    if tokenizer is None:
        return str(ck_tok)
    if Path(tokenizer).resolve() != ck_tok.resolve():
        raise UserError(
            f"--tokenizer {tokenizer} differs from the checkpoint's tokenizer.json: its "
            "losses bound the entropies of its own tokens (drop --tokenizer)"
        )
    return tokenizer
