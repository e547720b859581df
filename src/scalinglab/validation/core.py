"""``validate``: predicted against measured data-limited scaling, in one resumable command.

Three steps, each cached in its own directory under ``DIR`` so that a killed run
resumes where it stopped:

1. ``DIR/predict``: :func:`scalinglab.theory.predict` (statistics, model-based
   entropies when the counts fall short);
2. ``DIR/sweep``: a data-limited sweep (:func:`scalinglab.train.run_sweep`) whose
   grid the wall budget sizes (:func:`plan_grid`): P = 2^12, 2^13, ... up to the
   largest size whose runs fit, two learning rates, a step budget that grows
   with P (``max_epochs`` passes over the P tokens, no fixed step cap) and a wall
   cap per run; runs that stop while still improving are flagged and left out
   of the measured exponent; at the largest P a model twice as wide checks that
   the point is not parameter-limited;
3. the comparison, written to ``DIR/validation.json`` and ``DIR/validation.png``:
   predicted and measured alpha_D with intervals, whether they agree (the
   intervals overlap; the difference in combined standard errors), the level
   error of the predicted curve (calibrated at the sweep's smallest P) at every
   measured P, the extrapolation check (the measured curve fitted on
   P <= P_max / 4 predicts L(P_max), against the predicted curve's error there),
   the collapse score of the per-position losses at the predicted exponents,
   and a one-line verdict.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, read_json, write_json
from .._progress import info
from ..errors import UserError
from ..warns import coded, labelled

#: Default wall budget of a validation (seconds): 30 minutes.
DEFAULT_BUDGET_S = 1800.0
#: The smallest training size of the sweep.
P_START = 2**12
#: Passes over the P tokens at most. The cosine schedule is planned over them, so runs
#: rarely stop early: the grid plan charges every run its full planned steps.
MAX_EPOCHS = 30.0
#: Optimiser steps at least per run (0: none; the plan is then epochs x P / tokens per step).
MIN_STEPS = 0
#: Learning rates of the sweep.
LRS = (3e-3, 1e-2)
#: Fraction of the budget for the sweep's grid (the rest: predict and the width check).
SWEEP_SHARE = 0.7
#: Differences up to this many combined standard errors count as agreement.
AGREE_Z = 2.0


@dataclass
class ValidationResult:
    """Everything ``DIR/validation.json`` holds (see the module docstring)."""

    corpus: dict[str, Any]
    predicted: dict[str, Any]
    measured: dict[str, Any]
    agreement: dict[str, Any]
    levels: dict[str, Any]
    extrapolation: dict[str, Any]
    collapse: dict[str, Any] | None
    width_check: dict[str, Any] | None
    grid: dict[str, Any]
    verdict: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> list[str]:
        """The plain-text summary ``scalinglab validate`` prints (warnings as ``warning: ...``)."""
        a_p, a_m = self.predicted["alpha_D"], self.measured["alpha_D"]
        lines = [
            f"predicted alpha_D: {_fmt_alpha(a_p)}",
            f"measured alpha_D:  {_fmt_alpha(a_m)} over P {a_m.get('window')}",
        ]
        ex = self.extrapolation
        if ex:
            lines.append(
                f"extrapolation to P = {ex['P']:,}: measured-fit error "
                f"{ex['measured_fit_error_percent']:+.1f}%, predicted-curve error "
                f"{ex.get('predicted_curve_error_percent', float('nan')):+.1f}%"
            )
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(self.verdict)
        return lines


def _fmt_alpha(a: dict[str, Any]) -> str:
    if a.get("value") is None:
        return "undefined"
    ci = a.get("ci95") or [float("nan")] * 2
    se = a.get("stderr")
    return f"{a['value']:.3f} ± {float('nan') if se is None else se:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


# ----------------------------------------------------------------------------- the grid
def default_shape(device_type: str) -> dict[str, Any]:
    """Model shape and batch of the sweep's runs for a device."""
    if device_type == "cuda":
        return {"n_layer": 6, "n_embd": 256, "n_head": 4, "context": 256, "batch_size": 64}
    return {"n_layer": 2, "n_embd": 64, "n_head": 2, "context": 64, "batch_size": 32}


def plan_grid(
    n_train: int,
    sec_per_step: float,
    budget_s: float,
    *,
    context: int,
    batch_size: int,
    workers: int = 1,
    p_start: int = P_START,
    p_max: int | None = None,
    epochs_to_converge: float = MAX_EPOCHS,
    min_steps: int = MIN_STEPS,
) -> dict[str, Any]:
    """The largest grid P = p_start, 2 p_start, ... whose expected cost fits the budget.

    A run at P is expected to take ``epochs_to_converge`` passes (by default all of
    :data:`MAX_EPOCHS`: measured runs seldom stop early) of ``P / (batch_size T)``
    steps, or half its step floor ``min_steps`` when that is more, twice (two
    learning rates), over ``workers`` parallel processes; the grid grows while the
    sum fits ``SWEEP_SHARE`` of the budget. Each run's wall cap is three times the
    largest run's expected time.
    """

    def expected_steps(P: int) -> float:
        return max(min_steps / 2, epochs_to_converge * P / (batch_size * context))

    if p_start * 4 > n_train:
        raise UserError(
            f"the training split ({n_train} tokens) is too short for a sweep from P = {p_start}: "
            f"it needs at least {4 * p_start} tokens"
        )
    top = min(n_train, p_max or n_train)
    Ps: list[int] = []
    cost = 0.0
    P = p_start
    while P <= top:
        steps = expected_steps(P)
        run = len(LRS) * steps * sec_per_step / workers
        if Ps and cost + run > SWEEP_SHARE * budget_s:
            break
        Ps.append(P)
        cost += run
        P *= 2
    if len(Ps) < 4:
        raise UserError(
            f"a {budget_s:g} s budget fits only {len(Ps)} training sizes from P = {p_start} on "
            "this machine (4 are needed for an exponent): raise --budget"
        )
    largest = expected_steps(Ps[-1]) * sec_per_step
    return {
        "P": Ps,
        "expected_cost_s": cost,
        "max_time_s": float(3.0 * largest),
        "max_epochs": MAX_EPOCHS,
        "max_steps": 10**9,  # the step budget is epochs x P / tokens per step, never a cap
        "min_steps": int(min_steps),
        "lrs": list(LRS),
        "epochs_to_converge_assumed": epochs_to_converge,
        "sec_per_step": sec_per_step,
    }


# ------------------------------------------------------------------------ the comparison
def _interp_log(P: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(np.log(P), np.log(x), np.log(y)))


def compare(
    pred: dict[str, Any], sweep: dict[str, Any], *, n_boot: int = 1000
) -> tuple[dict[str, Any], list[str]]:
    """Predicted (a prediction.json) against measured (a sweep.json): the validation blocks."""
    from ..fit.alpha import fit_alpha

    warnings: list[str] = []
    curve = sweep["curve"]
    P = np.asarray(curve["P"], float)
    L = np.asarray(curve["loss"], float)
    conv = np.asarray(curve.get("converged", [True] * P.size), bool)
    a_p = pred["alpha_D"]
    a_m = sweep["alpha_D"]
    agreement: dict[str, Any] = {"agree": None}
    if a_p.get("value") is not None and a_m.get("value") is not None:
        d = float(a_m["value"]) - float(a_p["value"])
        se = math.hypot(float(a_m.get("stderr") or 0.0), float(a_p.get("stderr") or 0.0))
        lo_p, hi_p = a_p["ci95"]
        lo_m, hi_m = a_m["ci95"]
        overlap = bool(max(lo_p, lo_m) <= min(hi_p, hi_m))
        z = d / se if se > 0 else float("inf")
        agreement = {
            "measured_minus_predicted": d,
            "combined_stderr": se,
            "z": z,
            "intervals_overlap": overlap,
            "agree": bool(overlap and abs(z) <= AGREE_Z),
            "rule": f"agree when the 95% intervals overlap and |difference| <= {AGREE_Z:g} "
            "combined standard errors",
        }
    # the predicted curve's own slope over the measured window (what a fit would see)
    Pp = np.asarray(pred["predicted_loss"]["P"], float)
    Lp = np.asarray(pred["predicted_loss"]["loss"], float)
    ok = np.isfinite(Lp) & (Lp > 0)
    levels: dict[str, Any] = {"P": P.tolist(), "measured": L.tolist()}
    if ok.sum() >= 2:
        at = _interp_log(P, Pp[ok], Lp[ok])
        levels["predicted"] = at.tolist()
        levels["relative_error"] = ((at - L) / L).tolist()
        levels["max_abs_relative_error"] = float(np.max(np.abs((at - L) / L)))
        if P.size >= 2:
            slope = -np.polyfit(np.log(P), np.log(at), 1)[0]
            levels["predicted_curve_slope_on_window"] = float(slope)
        levels["calibrated"] = bool(pred["horizon"].get("calibration"))
    # extrapolation: fit the measured curve on P <= P_max / 4, predict L(P_max), with P_max
    # the largest converged point (a compute-limited point is not a measurement of L(P))
    extrap: dict[str, Any] = {}
    good = conv & np.isfinite(L)
    if good.any():
        i_max = int(np.flatnonzero(good)[-1])
        fit_mask = good & (P <= P[i_max] / 4)
    else:
        i_max, fit_mask = -1, good
    if fit_mask.sum() >= 3:
        f = fit_alpha(P[fit_mask], L[fit_mask], n_boot=min(n_boot, 200))
        pm = float(f.predict(P[i_max]))
        extrap = {
            "fit_window": [int(P[fit_mask].min()), int(P[fit_mask].max())],
            "P": int(P[i_max]),
            "measured": float(L[i_max]),
            "from_measured_fit": pm,
            "measured_fit_error_percent": 100.0 * (pm - L[i_max]) / L[i_max],
        }
        if "predicted" in levels:
            extrap["predicted_curve_error_percent"] = 100.0 * levels["relative_error"][i_max]
    else:
        warnings.append(
            coded(
                "validate-no-extrapolation",
                "extrapolation check skipped: it needs 3 converged points at P <= P_max / 4, "
                "P_max the largest converged point",
            )
        )
    return {"agreement": agreement, "levels": levels, "extrapolation": extrap}, warnings


def _collapse(pred: dict[str, Any], sweep: dict[str, Any]) -> dict[str, Any] | None:
    from ..report.collapse import collapse, per_position_block

    b, g = pred["beta"].get("value"), pred["gamma"].get("value")
    if b is None or g is None:
        return None
    try:
        blk = per_position_block(sweep)
        res = collapse(np.asarray(blk["P"]), np.asarray(blk["n"]), np.asarray(blk["loss"]), b, g)
    except UserError:
        return None
    d = res.to_dict()
    return {"beta": b, "gamma": g, "at_predicted": d["at_given"], "best_on_grid": d["best_on_grid"]}


def verdict(agreement: dict[str, Any], levels: dict[str, Any], n_conv: int) -> str:
    """One line that sums the validation up."""
    if agreement.get("agree") is None:
        return "no comparison: the predicted or the measured exponent is undefined (see warnings)"
    word = "agree" if agreement["agree"] else "disagree"
    lvl = levels.get("max_abs_relative_error")
    lvl_s = f"; the predicted levels are within {100 * lvl:.0f}% of the measured" if lvl else ""
    return (
        f"predicted and measured alpha_D {word}: difference "
        f"{agreement['measured_minus_predicted']:+.3f}"
        f" = {agreement['z']:+.1f} combined standard errors, 95% intervals "
        f"{'overlap' if agreement['intervals_overlap'] else 'do not overlap'}"
        f" ({n_conv} converged points){lvl_s}"
    )


# ---------------------------------------------------------------------------- the verb
def validate(
    corpus: Any = None,
    *,
    out: str | os.PathLike[str],
    tokenizer: str | None = None,
    budget: float = DEFAULT_BUDGET_S,
    p_max: int | None = None,
    p_min: int = P_START,
    model: dict[str, Any] | None = None,
    min_steps: int = MIN_STEPS,
    workers: int = 2,
    device: str = "auto",
    seed: int = 0,
    n_boot: int = 1000,
    progress: bool = True,
    predict_options: dict[str, Any] | None = None,
    cluster: Any = None,
) -> ValidationResult:
    """Predict, sweep and compare (module docstring); resumable, results under ``out``.

    Parameters
    ----------
    corpus, tokenizer : as for :func:`scalinglab.theory.predict`.
    budget : float
        Wall seconds for the whole validation (sizes the sweep's grid).
    p_max : int, optional
        Largest training size of the sweep (default: whatever the budget allows).
    p_min : int
        Smallest training size of the sweep (the grid doubles from it).
    model : dict, optional
        The sweep's model and batch: ``n_layer``, ``n_embd``, ``n_head``, ``context``,
        ``batch_size`` (default :func:`default_shape` for the device).
    min_steps : int
        Optimiser steps at least per run.
    workers : int
        Sweep runs in parallel processes.
    predict_options : dict, optional
        Extra keywords for ``predict`` (``max_n``, ``lags``, ``entropy``, ...).
    cluster : backend, optional
        Measure and train on a Dask cluster (``scalinglab.cluster.backend(...)``).
    """
    from ..corpus import resolve
    from ..theory import predict
    from ..theory.predict import predict_from_stats
    from ..train.reference import probe_seconds_per_step
    from ..train.sweep import SweepGrid, run_sweep
    from ..train.trainer import resolve_device

    if not (math.isfinite(budget) and budget > 0):
        raise UserError(f"--budget must be a positive number of seconds, got {budget}")
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if p_min < 64:
        raise UserError(f"--p-min must be at least 64 tokens, got {p_min}")
    if p_max is not None and p_max < 8 * p_min:
        raise UserError(f"--p-max must be at least {8 * p_min} (four sizes from {p_min})")
    out_p = Path(out)
    if out_p.exists() and not out_p.is_dir():
        raise UserError(f"--out {out_p} exists and is not a directory")
    if min_steps < 0:
        raise UserError(f"--min-steps must be at least 0, got {min_steps}")
    dev = resolve_device(device)
    c = resolve(corpus, tokenizer)
    shape = {**default_shape(dev.type), **(model or {})}
    T, batch = shape.pop("context"), shape.pop("batch_size")
    opts = dict(predict_options or {})
    opts.setdefault("budget", min(100.0, 0.1 * budget))

    # the grid first: a budget too small for an exponent fails before any work
    grid_path = out_p / "grid.json"
    if grid_path.is_file():  # a resumed validation keeps its grid (and so its run ids)
        grid = read_json(grid_path)
    else:
        # timed with the threads each sweep worker will have (cores // workers): torch's
        # default on a loaded machine oversubscribes the cores and misleads the plan
        from ..train.trainer import cpu_count

        common = {
            "context": T,
            "seed": seed,
            "lr": LRS[0],
            "batch_size": batch,
            "device": device,
            "threads": max(1, cpu_count() // workers),
        }
        sec = probe_seconds_per_step(c, {**shape, "arch": "gpt2"}, common)
        grid = plan_grid(
            int(c.split_index),
            sec,
            budget,
            context=T,
            batch_size=batch,
            workers=workers,
            p_max=p_max,
            p_start=p_min,
            min_steps=min_steps,
        )
        grid.update(model=shape, context=T, batch_size=batch)
        write_json(grid_path, grid)
    # 1. predict
    info("validate 1/3: predict")
    pred = predict(
        c,
        out=out_p / "predict",
        context=T,
        device=device,
        seed=seed,
        n_boot=n_boot,
        progress=progress,
        cluster=cluster,
        **opts,
    )
    info(f"validate 2/3: sweep P = {grid['P'][0]}..{grid['P'][-1]} ({len(grid['P'])} sizes)")
    train = {
        "batch_size": batch,
        "max_epochs": grid["max_epochs"],
        "max_steps": grid["max_steps"],
        "max_time_s": grid["max_time_s"],
        "final_eval_blocks": 8192,
        "min_steps": grid["min_steps"],
        "device": device,
    }
    sw = run_sweep(
        c,
        out_p / "sweep",
        SweepGrid(P=grid["P"], contexts=[T], lrs=grid["lrs"], model=shape, train=train),
        workers=workers,
        n_boot=n_boot,
        cluster=cluster,
    ).to_dict()
    warnings = [labelled(w, "sweep", "sweep-warning") for w in sw["warnings"]]
    # the width check at the largest P: a model twice as wide must not do better
    width = None
    best_lr = sw["curve"]["lr"][-1]
    wide = {**shape, "n_embd": 2 * shape["n_embd"]}
    try:
        wres = run_sweep(
            c,
            out_p / "width_check",
            SweepGrid(P=[grid["P"][-1]], contexts=[T], lrs=[best_lr], model=wide, train=train),
            workers=1,
            n_boot=10,
            cluster=cluster,
        ).to_dict()
        l0, e0 = sw["curve"]["loss"][-1], sw["curve"]["stderr"][-1] or 0.0
        l1 = wres["curve"]["loss"][-1]
        limited = bool(l1 < l0 - e0)
        width = {
            "P": grid["P"][-1],
            "width": wide["n_embd"],
            "loss": l1,
            "base_loss": l0,
            "base_stderr": e0,
            "parameter_limited": limited,
        }
        if limited:
            warnings.append(
                coded(
                    "validate-parameter-limited",
                    f"the largest P = {grid['P'][-1]:,} is parameter-limited: a model twice as "
                    f"wide reached {l1:.4f} nats against {l0:.4f} +- {e0:.4f}",
                )
            )
    except UserError as e:
        warnings.append(coded("validate-no-width-check", f"width check skipped: {e}"))

    # 3. compare; the predicted curve calibrated at the sweep's smallest P
    corr_d = read_json(out_p / "predict" / "correlations.json")
    ent_d = read_json(out_p / "predict" / "entropy.json")
    from ..stats.model_losses import ModelLosses

    ml = ent_d.get("model_losses")
    conv_idx = [i for i, ok in enumerate(sw["curve"].get("converged") or []) if ok]
    i0 = conv_idx[0] if conv_idx else 0  # the smallest converged P calibrates
    cal = {
        "P0": sw["curve"]["P"][i0],
        "loss": sw["curve"]["loss"][i0],
        "stderr": sw["curve"]["stderr"][i0],
        "run": "the sweep's smallest converged P",
    }
    calibrated = predict_from_stats(
        corr_d,
        ent_d,
        pred.corpus,
        context=T,
        n_boot=n_boot,
        seed=seed,
        model=ModelLosses.from_dict(ml["losses"]) if ml else None,
        calibration=cal,
        p_min=min(1e4, cal["P0"]),
    )
    calibrated.save(out_p / "predict_calibrated")
    blocks, more = compare(calibrated.to_dict(), sw, n_boot=n_boot)
    warnings += more + [labelled(w, "predict", "predict-warning") for w in calibrated.warnings]
    n_conv = int(np.sum(sw["curve"].get("converged", [])))
    res = ValidationResult(
        corpus=pred.corpus,
        predicted={
            "alpha_D": calibrated.alpha_D,
            "beta": calibrated.beta,
            "gamma": {k: v for k, v in calibrated.gamma.items() if k != "horizon"},
            "curve": calibrated.predicted_loss,
            "calibration": cal,
        },
        measured={"alpha_D": sw["alpha_D"], "curve": sw["curve"]},
        agreement=blocks["agreement"],
        levels=blocks["levels"],
        extrapolation=blocks["extrapolation"],
        collapse=_collapse(calibrated.to_dict(), sw),
        width_check=width,
        grid=grid,
        verdict=verdict(blocks["agreement"], blocks["levels"], n_conv),
        warnings=warnings,
    )
    write_json(out_p / "validation.json", res.to_dict())
    plot(res, out_p / "validation.png")
    return res


def plot(res: ValidationResult, path: str | os.PathLike[str]) -> Path:
    """Measured points against the predicted curve, with both exponents in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    cur = res.predicted["curve"]
    P, L = np.asarray(cur["P"], float), np.asarray(cur["loss"], float)
    a_p = res.predicted["alpha_D"]
    if a_p.get("value") is not None:
        ax.fill_between(P, cur["lo"], cur["hi"], color="tab:blue", alpha=0.2)
        ax.plot(
            P,
            L,
            "-",
            color="tab:blue",
            label=f"predicted (calibrated), alpha_D = {a_p['value']:.3f} ± {a_p['stderr']:.3f}",
        )
    m = res.measured["curve"]
    conv = np.asarray(m.get("converged", [True] * len(m["P"])), bool)
    Pm, Lm = np.asarray(m["P"], float), np.asarray(m["loss"], float)
    a_m = res.measured["alpha_D"]
    lab = (
        f"measured, alpha_D = {a_m['value']:.3f} ± {a_m['stderr']:.3f}"
        if a_m.get("value") is not None
        else "measured"
    )
    ax.errorbar(
        Pm[conv], Lm[conv], yerr=np.asarray(m["stderr"], float)[conv], fmt="o", color="k", label=lab
    )
    if (~conv).any():
        ax.plot(Pm[~conv], Lm[~conv], "x", color="tab:red", label="not converged (left out)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(Pm.min() / 2, Pm.max() * 2)
    lo = min(Lm.min(), np.nanmin(L[(P >= Pm.min() / 2) & (P <= Pm.max() * 2)])) / 1.1
    hi = max(Lm.max(), np.nanmax(L[(P >= Pm.min() / 2) & (P <= Pm.max() * 2)])) * 1.1
    ax.set_ylim(lo, hi)
    ax.set_xlabel("training tokens P")
    ax.set_ylabel("test loss (nats per token)")
    ax.set_title(res.verdict, fontsize=7, wrap=True)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)
