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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import _jsonable, atomic_path, read_json, write_json
from .._progress import info
from ..errors import UserError
from .law import alpha_from, entropy_at, horizon, tokens_for_horizon

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


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass
class Prediction:
    """A predicted data-limited scaling law; ``to_dict()`` is prediction.json."""

    corpus: dict[str, Any]
    correlations: dict[str, Any]
    entropy: dict[str, Any]
    beta: dict[str, Any]
    gamma: dict[str, Any]
    alpha_D: dict[str, Any]
    horizon: dict[str, Any]
    predicted_loss: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    context: int | None = None
    target: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None
    ten_x: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.alpha_D.get("value") is not None and np.isfinite(_num(self.alpha_D["value"]))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "corpus": self.corpus,
            "correlations": self.correlations,
            "entropy": self.entropy,
            "beta": self.beta,
            "gamma": self.gamma,
            "alpha_D": self.alpha_D,
            "horizon": self.horizon,
            "predicted_loss": self.predicted_loss,
            "warnings": list(self.warnings),
            "context": self.context,
            "ten_x": self.ten_x,
        }
        if self.target is not None:
            d["target"] = self.target
        if self.measured is not None:
            d["measured"] = self.measured
        return d

    def sentence(self) -> str:
        """One plain sentence on what 10x more data buys."""
        if not self.ok or not self.ten_x:
            return "No data-limited law could be predicted for this corpus (see warnings)."
        t = self.ten_x
        head = (
            f"10x more data (from {t['P']:.3g} to {10 * t['P']:.3g} tokens) lowers the loss by "
            f"about {t['percent']:.1f}% (95% band {t['percent_ci95'][0]:.1f}-"
            f"{t['percent_ci95'][1]:.1f}%"
        )
        n_star, trusted = t.get("n_star"), t.get("entropy_trusted_to_n")
        short = t.get("short_windows") or []
        rough = f" Treat it as rough: {' and '.join(short)}." if short else ""
        if n_star is not None and trusted is not None and n_star > trusted:
            # Both horizons beyond the measured entropies: the percentage is the law's own
            # 1 - 10^-alpha_D, and the levels are extrapolated; say so rather than imply
            # a measurement.
            return (
                f"{head}) if H_n ~ n^-gamma holds from n = {trusted:g} out to the horizon "
                f"n* = {n_star:.3g}: that is 1 - 10^-alpha_D with alpha_D = "
                f"{t.get('alpha_D', self.alpha_D['value']):.3f}, and the levels, "
                f"{t['loss']:.3g} to {t['loss_10x']:.3g} nats, are that extrapolation.{rough}"
            )
        return f"{head}; from {t['loss']:.3f} to {t['loss_10x']:.3f} nats).{rough}"

    def summary_table(self) -> Any:
        """A Rich table of beta, gamma and alpha_D with intervals and windows."""
        from rich.table import Table

        t = Table(title=f"data-limited scaling law of {self.corpus.get('source')}")
        for col in ("quantity", "value", "± stderr", "95% interval", "window"):
            t.add_column(col)

        def row(name: str, d: dict[str, Any], window: str) -> None:
            v, se, ci = d.get("value"), d.get("stderr"), d.get("ci95") or [None, None]
            if v is None:
                t.add_row(name, "undefined", "", "", window)
                return
            ci_s = f"[{_num(ci[0]):.3f}, {_num(ci[1]):.3f}]" if ci[0] is not None else ""
            t.add_row(name, f"{v:.3f}", f"{_num(se):.3f}", ci_s, window)

        bw = self.beta.get("window") or [None, None]
        gw = self.gamma.get("window") or [None, None]
        row("beta (correlations ~ n^-beta)", self.beta, f"lags {bw[0]}..{bw[1]}")
        row("gamma (H_n ~ n^-gamma)", self.gamma, f"n {gw[0]}..{gw[1]}")
        row("alpha_D = gamma / (2 beta)", self.alpha_D, "")
        return t

    def save(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write prediction.json and prediction.png (predicted curve with band and horizon)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_json(out / "prediction.json", self.to_dict())]
        if self.ok:
            paths.append(self.plot(out / "prediction.png"))
        return paths

    def plot(self, path: str | os.PathLike[str]) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        P = np.asarray(self.predicted_loss["P"], float)
        L = np.asarray(self.predicted_loss["loss"], float)
        lo = np.asarray(self.predicted_loss["lo"], float)
        hi = np.asarray(self.predicted_loss["hi"], float)
        n_star = np.asarray(self.horizon["n_star"], float)
        trusted = _num((self.ten_x or {}).get("entropy_trusted_to_n"))
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        ax.fill_between(P, lo, hi, color="tab:blue", alpha=0.2, label="95% band")
        a = self.alpha_D
        label: str | None = (
            f"predicted L(P) = H(n*(P)), alpha_D = {a['value']:.3f} ± {a['stderr']:.3f}"
        )
        inside = n_star <= trusted if np.isfinite(trusted) else np.ones(P.size, bool)
        # Solid where the horizon lies inside the trusted entropies, dashed where the curve
        # extrapolates H_n with the fitted law (the segments share their end point).
        if inside.any():
            k = int(np.flatnonzero(inside)[-1])
            ax.plot(P[: k + 1], L[: k + 1], "-", color="tab:blue", label=label)
            label = None
            rest = slice(k, None)
        else:
            rest = slice(0, None)
        if not inside.all():
            ax.plot(P[rest], L[rest], "--", color="tab:blue", label=label)
            ax.plot(
                [], [], "--", color="tab:blue", label=f"H_n extrapolated beyond n = {trusted:g}"
            )
        levels = [L]
        if self.measured:
            levels.append(np.asarray(self.measured["loss"], float))
        levels_all = np.concatenate(levels)
        levels_all = levels_all[np.isfinite(levels_all) & (levels_all > 0)]
        if levels_all.size:
            # The band can span many decades when gamma is poorly constrained; the axis
            # follows the curve (and the measurements), at most a decade beyond them.
            band = np.concatenate([lo, hi])
            band = band[np.isfinite(band) & (band > 0)]
            y_lo = max(levels_all.min() / 10, band.min() / 1.2 if band.size else 0)
            y_hi = min(levels_all.max() * 10, band.max() * 1.2 if band.size else np.inf)
            ax.set_ylim(min(y_lo, levels_all.min() / 1.2), max(y_hi, levels_all.max() * 1.2))
        if self.measured:
            ax.plot(
                self.measured["P"],
                self.measured["loss"],
                "o",
                color="k",
                label=f"measured (alpha_D = {_num(self.measured.get('alpha_D')):.3f})",
            )
        ax.axvline(self.corpus.get("tokens", np.nan), color="0.5", ls=":", label="this corpus")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training tokens P")
        ax.set_ylabel("test loss (nats per token)")
        ax2 = ax.twinx()
        ax2.plot(P, self.horizon["n_star"], "--", color="tab:orange")
        ax2.set_yscale("log")
        ax2.set_ylabel("horizon n*(P) (tokens)", color="tab:orange")
        if self.context:
            ax2.axhline(self.context, color="tab:orange", ls=":", lw=1)
        ax.legend(fontsize=8, loc="lower left")
        ax.set_title(f"{self.corpus.get('source')} ({self.corpus.get('tokenizer')})", fontsize=10)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        plt.close(fig)
        return Path(path)


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
    """
    _check_options(context, target_loss, n_boot, p_min, p_max)
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
    if (gamma_d.get("n_points") or 0) < MIN_GAMMA_POINTS:
        model = _model_gamma(ent, warnings, n_boot, seed)
        if model is None:
            gamma_d = _fallback_gamma(ent, gamma_d, warnings, n_boot, seed)
        else:  # report the count-based fit beside the model-based one
            counts = _fallback_gamma(ent, {}, [], n_boot, seed)
            if counts.get("value") is not None:
                model["counts"] = counts
                b = _num(beta_d.get("value"))
                a = (
                    f" (alpha_D {counts['value'] / (2 * b):.3f})"
                    if np.isfinite(b) and b > 0
                    else ""
                )
                warnings.append(
                    f"the count-based estimate over n = {counts['window'][0]}.."
                    f"{counts['window'][1]} gives gamma = {counts['value']:.3f} +- "
                    f"{counts['stderr']:.3f}{a}, reported as gamma.counts"
                )
            gamma_d = model
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
    P = np.logspace(np.log10(p_min), np.log10(p_max), grid_points)
    empty = Prediction(
        corpus,
        corr_block,
        ent_block,
        beta_d,
        gamma_d,
        {"value": None, "stderr": None, "ci95": [None, None]},
        {"P": P.tolist(), "n_star": [None] * len(P)},
        {"P": P.tolist(), "loss": [None] * len(P)},
        warnings,
        context,
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

    # Entropy curve: measured H_n up to the last reliable n, the fitted law beyond.
    n_meas = n_meas_raw = np.asarray(ent["n"], float)
    # H_n never increases with n: the running minimum removes estimation wiggles.
    h_raw = np.asarray([_num(v) for v in ent["estimate"]], float)
    if gamma_d.get("source") == "external":  # gamma came from model losses: so does the curve
        ext = np.asarray([_num(v) for v in ent["upper_external"]], float)
        h_raw = np.where(np.isfinite(ext) & (n_meas_raw >= 1), ext, h_raw)
    h_meas = np.fmin.accumulate(h_raw)
    reliable = np.asarray(ent.get("reliable", [True] * len(n_meas)), bool)
    gw = gamma_d.get("window") or [1, int(n_meas[-1])]
    rel_n = n_meas[reliable & (n_meas >= 1)]
    n_last = float(max(gw[1], rel_n.max() if rel_n.size else 0.0))
    n_last = float(min(n_last, n_meas[np.isfinite(h_meas)].max()))

    nstar = horizon(P[None, :], amps[:, None], betas[:, None], c_floor, 1.0)
    loss = entropy_at(nstar, n_meas, h_meas, n_last, gammas)
    ns_lo, ns_hi = np.percentile(nstar[1:], [2.5, 97.5], axis=0)
    l_lo, l_hi = np.percentile(loss[1:], [2.5, 97.5], axis=0)
    hz = {
        "P": P.tolist(),
        "n_star": nstar[0].tolist(),
        "lo": ns_lo.tolist(),
        "hi": ns_hi.tolist(),
        "amplitude": float(amps[0]),
        "floor_constant": c_floor,
        "assumption": HORIZON_ASSUMPTION,
    }
    curve = {
        "P": P.tolist(),
        "loss": loss[0].tolist(),
        "lo": l_lo.tolist(),
        "hi": l_hi.tolist(),
        "units": "nats per token",
        "entropy_trusted_to_n": n_last,
        "rule": "L(P) = H(n*(P)): measured H_n (log-log interpolation) up to n = "
        f"{n_last:g}, H_n ~ n^-gamma beyond",
    }

    # What 10x more data buys, at the size of this corpus.
    p0 = np.array([[float(n_tokens), 10.0 * n_tokens]])
    l10 = entropy_at(
        horizon(p0, amps[:, None], betas[:, None], c_floor, 1.0), n_meas, h_meas, n_last, gammas
    )
    pct = 100.0 * (1 - l10[:, 1] / l10[:, 0])
    ten_x = {
        "P": float(n_tokens),
        "loss": float(l10[0, 0]),
        "loss_10x": float(l10[0, 1]),
        "percent": float(pct[0]),
        "percent_ci95": np.percentile(pct[1:], [2.5, 97.5]).tolist(),
        "n_star": float(horizon(p0, amps[:1, None], betas[:1, None], c_floor, 1.0)[0, 0]),
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
            "context length with reliable entropy estimates: the curve there extrapolates H_n "
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
        target = _tokens_for_target(
            target_loss, n_meas, h_meas, n_last, amps, betas, gammas, c_floor
        )
        if target.get("P") is None:
            warnings.append(target["note"])
    return Prediction(
        corpus,
        corr_block,
        ent_block,
        beta_d,
        gamma_d,
        alpha_d,
        hz,
        curve,
        warnings,
        context,
        target,
        None,
        ten_x,
    )


def _model_gamma(
    ent: dict[str, Any], warnings: list[str], n_boot: int, seed: int
) -> dict[str, Any] | None:
    """Fit gamma on a trained model's per-position losses (the published method).

    Used when ``--entropy-from`` supplied per-position losses L_n and the strict
    reliable window is too short. L_n are upper bounds on H_n that converge from
    above as P grows; the fit is the published one (raw log-log least squares) over
    the contiguous run of context lengths from n = 1 that the losses cover.
    """
    from ..stats.entropy import fit_gamma

    ext = ent.get("upper_external")
    if not ext:
        return None
    n = np.asarray(ent["n"], int)
    u = np.asarray([_num(v) for v in ext], float)
    ok = np.isfinite(u) & (u > 0)
    if len(n) < 2 or not ok[1]:
        return None
    hi = 1
    while hi + 1 < len(n) and ok[hi + 1]:
        hi += 1
    if hi < MIN_GAMMA_POINTS:
        return None
    fit = fit_gamma(n, u, None, window=(1, int(hi)), n_boot=n_boot, seed=seed).to_dict()
    fit["method"] += (
        f"; fitted on the external per-position losses L_n (upper bounds on H_n), n = 1..{hi}"
    )
    fit["source"] = "external"
    warnings.append(
        f"gamma is fitted on the trained model's per-position losses over n = 1..{hi} (upper "
        "bounds on H_n that converge from above, the published method): the count-based "
        "reliable window was too short"
    )
    return fit


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
    x: float, n_meas, h_meas, n_last, amps, betas, gammas, c_floor
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
    h = entropy_at(n_grid[None, :], n_meas, h_meas, n_last, gammas)
    n_x = np.array([np.interp(-x, -row, n_grid) if row[-1] < x else np.nan for row in h])
    P = tokens_for_horizon(n_x, amps, betas, c_floor, 1.0)
    fin = P[1:][np.isfinite(P[1:])]
    return {
        "loss": x,
        "P": float(P[0]) if np.isfinite(P[0]) else None,
        "ci95": np.percentile(fin, [2.5, 97.5]).tolist() if fin.size else [None, None],
        "n_star": float(n_x[0]),
        "note": "tokens at which the predicted L(P) reaches the target",
    }


# ----------------------------------------------------------------------------------------
def _file_digest(path: str | os.PathLike[str]) -> str:
    """Name and content hash of an --entropy-from file (a changed file is not reused)."""
    import hashlib

    p = Path(path)
    if not p.is_file():
        raise UserError(f"--entropy-from file not found: {p}")
    return f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()[:16]}"


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
) -> Prediction:
    """Measure a corpus and predict its data-limited scaling law.

    Runs the correlation and entropy engines (reusing ``out/correlations.json`` and
    ``out/entropy.json`` when they were computed on the same corpus with the same
    settings), then :func:`predict_from_stats`. With ``out`` every result file is
    written there (prediction.json, correlations.json/png, entropy.json/png,
    prediction.png). ``first_lag`` is the first lag of the automatic beta window
    (``beta_window`` overrides the window).
    """
    from ..corpus import resolve
    from ..stats import correlations as corr_fn
    from ..stats import entropy as ent_fn
    from ..stats.entropy import DEFAULT_MAX_N, check_corpus_size, load_external_losses

    # Cheap checks first: a bad option must not fail after minutes of counting.
    if max_n is not None and max_n < 1:
        raise UserError(f"max_n (--max-n) must be at least 1, got {max_n}")
    if gamma_window is not None and max_n is not None and gamma_window[1] > max_n:
        raise UserError(f"--gamma-window reaches beyond max_n = {max_n} (--max-n)")
    if first_lag < 1:
        raise UserError(f"first_lag (--first-lag) must be at least 1, got {first_lag}")
    _check_options(context, target_loss, n_boot, p_min, p_max)
    if entropy_from is not None:
        load_external_losses(entropy_from)
    if compare_measured is not None:
        load_measured(compare_measured)
    c = resolve(corpus, tokenizer)
    n_max = DEFAULT_MAX_N if max_n is None else max_n
    # A corpus too short for the entropy engine fails here, before correlations.json.
    check_corpus_size(c, n_max)
    desc = c.describe()
    out_p = Path(out) if out is not None else None
    corr_settings = {
        "lags": lags,
        "beta_window": list(beta_window) if beta_window else None,
        "first_lag": first_lag,
        "seed": seed,
    }
    ent_settings = {
        "max_n": max_n,
        "gamma_window": list(gamma_window) if gamma_window else None,
        "entropy_from": _file_digest(entropy_from) if entropy_from else None,
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
        eres = ent_fn(
            c,
            max_n=n_max,
            gamma_window=gamma_window,
            entropy_from=entropy_from,
            seed=seed,
            progress=progress,
        )
        ent_d = _jsonable({**eres.to_dict(), "corpus": desc, "predict_settings": ent_settings})
        if out_p:
            eres.save(out_p)
            write_json(out_p / "entropy.json", ent_d)
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
    )
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
