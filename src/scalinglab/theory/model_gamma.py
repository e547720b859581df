"""gamma from a trained model's per-position losses: the model's horizon and both law forms.

A model's held-out losses ``L_n`` bound ``H_n`` from above; a finite model
trained on finite data stops using context beyond some length, where ``L_n``
goes flat while ``H_n`` keeps falling. A fit must stop there. The horizon is
found, not assumed:

* the per-position losses are averaged in log-spaced bins of n (single
  positions up to n = 4, then bins whose edges grow by a factor 1.5): the
  geometric means of n and of L_n, between which a pure power law holds
  exactly; the relative standard error of a bin is the mean of its positions'
  over sqrt(positions);
* the horizon ``n_h`` is the end of the last bin whose loss lies below the
  previous bin's end by more than ``z = 3`` standard errors of the difference,
  paired over the held-out blocks where the per-block losses gave it
  (:func:`horizon`).

gamma is then fitted on the bins over ``n = 1 .. n_h`` in both forms:

* raw, as published: ``log L_n = log A - gamma log n``;
* with an offset: ``L_n = H_inf + A n^-gamma``.

The offset form is chosen when it fits better by AIC (by more than 2), its
``H_inf`` is positive at 95% (percentile of the bootstrap) and the bound has not
already reached that asymptote inside the window (``H_inf`` at least a quarter
of the window's fall below the last bound): a bound that flattens where its
estimator runs out of data or compute has a floor of its own, which says
nothing about the entropy rate. Otherwise the raw form. Both are reported and
the choice is stated; the curve is floored at ``H_inf`` when the offset form is
chosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stats.entropy import fit_gamma
from ..stats.model_losses import ModelLosses
from ._inputs import EntropyInputs

#: Significance of a fall between neighbouring bins (combined standard errors).
HORIZON_Z = 3.0
#: Growth factor of the bin edges beyond n = 4.
BIN_GROWTH = 1.5
#: The offset form is used only if its H_inf lies below the last bound by at least this
#: fraction of the fall observed across the window.
SATURATION = 0.25
#: Fewer bins than this in 1..n_h and no gamma is fitted.
MIN_BINS = 3


def bins(ml: ModelLosses) -> dict[str, np.ndarray]:
    """Log-spaced bins of ``n``: centre, first and last n, loss and its error (geometric means)."""
    edges = [1, 2, 3, 4, 5]
    while edges[-1] <= ml.n[-1]:
        edges.append(max(edges[-1] + 1, int(round(edges[-1] * BIN_GROWTH))))
    idx = np.searchsorted(np.asarray(edges), ml.n, side="right") - 1
    ok = np.isfinite(ml.loss)
    out: dict[str, list[float]] = {k: [] for k in ("n", "first", "last", "loss", "stderr")}
    for b in np.unique(idx[ok]):  # bins (tens), not tokens
        m = ok & (idx == b)
        se = ml.stderr[m]
        # geometric means: a pure power law L = A n^-gamma holds exactly between them
        g_loss = float(np.exp(np.log(ml.loss[m]).mean()))
        out["n"].append(float(np.exp(np.log(ml.n[m]).mean())))
        out["first"].append(float(ml.n[m].min()))
        out["last"].append(float(ml.n[m].max()))
        out["loss"].append(g_loss)
        rel = (se / ml.loss[m])[np.isfinite(se)]
        out["stderr"].append(g_loss * float(rel.mean()) / np.sqrt(m.sum()) if rel.size else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def horizon(ml: ModelLosses, z: float = HORIZON_Z) -> dict[str, Any]:
    """The model's own horizon: the last n where ``L_n`` still falls measurably.

    At the last n of every log-spaced bin the fall since the last n of the bin
    before, ``D = L_a - L_n``, is compared with its error: paired over the held-out
    blocks where ``drop_stderr`` is known (the root sum of squares of the paired
    steps a -> n), else the two points' errors combined (conservative). The
    horizon is the end of the last bin whose fall exceeds ``z`` errors (z = 3: a
    dozen bins are tested); the fit uses every bin up to it.
    """
    b = bins(ml)
    L, se = ml.loss, ml.stderr
    ds = ml.drop_stderr if ml.drop_stderr is not None else np.full(ml.n.shape, np.nan)
    idx = {int(k): i for i, k in enumerate(ml.n)}
    last_sig = int(ml.n[0])
    paired_used = 0
    ends = [int(v) for v in b["last"]]
    for a, n in zip(ends[:-1], ends[1:], strict=True):  # bins, not tokens
        i, j = idx.get(n), idx.get(a)
        if i is None or j is None or not (np.isfinite(L[i]) and np.isfinite(L[j])):
            continue
        steps = ds[j + 1 : i + 1]
        if steps.size and np.all(np.isfinite(steps)):
            err = float(np.sqrt(np.sum(steps**2)))
            paired_used += 1
        else:
            err = float(np.hypot(np.nan_to_num(se[i]), np.nan_to_num(se[j])))
        if L[j] - L[i] > z * err:
            last_sig = n
    k = int(np.searchsorted(b["last"], last_sig, side="right")) - 1
    k = max(k, 0)
    return {
        "n": int(b["last"][k]),
        "last_significant_n": last_sig,
        "bin": k,
        "rule": (
            f"end of the last log-spaced bin of n whose fall since the previous bin's end "
            f"exceeds {z:g} standard errors (paired over the held-out blocks where known, at "
            f"{paired_used} of {len(ends) - 1} bins; else the two points' errors combined)"
        ),
        "at_context": bool(int(b["last"][k]) >= ml.context),
        "bins": {key: v.tolist() for key, v in b.items()},
    }


def _aic(res: float, k: int, p: int) -> float:
    return k * np.log(max(res, 1e-300) / k) + 2 * p


def model_gamma(ml: ModelLosses, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any] | None:
    """gamma from ``ml`` over ``n = 1 .. n_h`` in both forms, with the chosen one on top.

    Returns None when the horizon holds fewer than :data:`MIN_BINS` bins.
    The result has the keys of a gamma block (``value``, ``stderr``, ``ci95``,
    ``window``, ``n_points``, ``method``) for the chosen form, plus ``form``,
    ``forms`` (``raw`` and ``offset``), ``choice`` (the rule and why) and
    ``horizon``.
    """
    hz = horizon(ml)
    b = bins(ml)
    k = hz["bin"] + 1
    if k < MIN_BINS:
        return None
    x, y, s = b["n"][:k], b["loss"][:k], b["stderr"][:k]
    if np.any(y <= 0):
        return None
    window = (1, int(hz["n"]))
    raw = fit_gamma(x, y, s, window=(1, int(np.ceil(x[-1]))), n_boot=n_boot, seed=seed).to_dict()
    raw["window"] = list(window)
    forms: dict[str, Any] = {"raw": raw}
    choice = "raw (published): fewer than 4 bins for the offset form"
    chosen = "raw"
    if k >= 4:
        off = fit_gamma(
            x, y, s, window=(1, int(np.ceil(x[-1]))), offset=True, n_boot=n_boot, seed=seed
        ).to_dict()
        off["window"] = list(window)
        forms["offset"] = off
        aic_raw = _aic(raw["residual_rms"] ** 2 * k, k, 2)
        aic_off = _aic(off["residual_rms"] ** 2 * k, k, 3)
        h_inf = off.get("h_inf") or {}
        ci = h_inf.get("ci95") or [None, None]
        positive = ci[0] is not None and ci[0] > 0
        better = aic_off < aic_raw - 2
        # An asymptote reached inside the window is the bound's own floor (the n-gram
        # model's data, the trained model's compute), not the entropy rate: extrapolating
        # it would freeze the curve. The offset form needs room left beyond the window.
        left = y[-1] - (h_inf.get("value") or 0.0)
        room = bool(left >= SATURATION * (y[0] - y[-1]))
        if better and positive and room and off.get("value") is not None:
            chosen = "offset"
            choice = (
                f"offset: it fits better by AIC ({aic_off:.1f} against {aic_raw:.1f}) and "
                f"H_inf = {h_inf['value']:.3f} is positive at 95% ([{ci[0]:.3f}, {ci[1]:.3f}])"
            )
        else:
            why = [] if better else [f"AIC {aic_off:.1f} against {aic_raw:.1f} (raw)"]
            if not positive:
                why.append("H_inf is not positive at 95%")
            elif not room:
                why.append(
                    f"the bound has reached its asymptote inside the window (H_inf = "
                    f"{h_inf.get('value'):.3f}, {left:.3f} below the last bound against a fall "
                    f"of {y[0] - y[-1]:.3f} across the window): that floor is the estimator's "
                    "(finite data or compute), not the entropy rate"
                )
            choice = "raw (published): the offset form is not used (" + ("; ".join(why) + ")")
    out = dict(forms[chosen])
    out.update(
        {
            "form": chosen,
            "forms": forms,
            "choice": choice,
            "horizon": hz,
            "source": "model",
            "fitted_on": (
                f"bin means of the model's per-position losses L_n (upper bounds on H_n), "
                f"n = 1..{hz['n']}"
            ),
        }
    )
    out["window"] = list(window)
    return out


def combine_with_counts(ml: ModelLosses, ent: EntropyInputs) -> ModelLosses:
    """The tighter of two upper bounds at every n: the model's ``L_n`` or the n-gram bound.

    Both the trained model's held-out loss and the smoothed n-gram model's
    (``upper_ngram``) bound ``H_n`` from above, so
    their minimum does too; an undertrained model can lose to the counts at
    short contexts while winning at long ones. The standard error is the
    winner's; ``model["lower_bound_from"]`` lists which source won at each n. The
    result is made non-increasing in n (the running minimum), since a bound at
    context n also bounds every longer context.
    """
    n_c, u_c, se_c = ent.n, ent.upper_ngram, ent.upper_stderr
    if n_c.size == 0:
        return ml
    top = int(max(ml.context, n_c.max()))
    n = np.arange(1, top + 1)
    loss = np.full(top, np.inf)
    se = np.full(top, np.nan)
    src = np.array(["none"] * top, dtype=object)
    m_idx = ml.n - 1
    fin = np.isfinite(ml.loss)
    loss[m_idx[fin]] = ml.loss[fin]
    se[m_idx[fin]] = ml.stderr[fin]
    src[m_idx[fin]] = "model"
    ok = (n_c >= 1) & np.isfinite(u_c)
    c_idx = n_c[ok] - 1
    better = u_c[ok] < loss[c_idx]
    loss[c_idx[better]] = u_c[ok][better]
    se[c_idx[better]] = se_c[ok][better]
    src[c_idx[better]] = "ngram"
    # A bound at context n bounds every longer context too (H_n never increases with n):
    # carry the running minimum, with the winner's error and source.
    # paired step errors of each source at each n (entry n-1: the step from n-1 to n)
    ds_model = np.full(top, np.nan)
    ds_model[m_idx] = ml.drop_stderr
    ds_ngram = np.full(top, np.nan)
    ds_ngram[n_c[n_c >= 1] - 1] = ent.upper_ngram_drop_stderr[n_c >= 1]
    arg = np.arange(top)
    run = np.fmin.accumulate(loss)
    arg = np.maximum.accumulate(np.where(loss <= run, arg, 0))
    drop = np.full(top, np.nan)
    for i in range(1, top):  # context lengths, not tokens
        a, b = int(arg[i - 1]), int(arg[i])
        if a == b:
            drop[i] = 0.0
        elif src[a] == src[b] != "none":
            steps = (ds_model if src[b] == "model" else ds_ngram)[a + 1 : b + 1]
            drop[i] = float(np.sqrt(np.sum(steps**2)))  # NaN when a step is unknown
    loss, se, src = run, se[arg], src[arg]
    keep = np.isfinite(loss)
    return ModelLosses(
        n=n[keep],
        loss=loss[keep],
        stderr=se[keep],
        source=ml.source,
        model={**ml.model, "lower_bound_from": src[keep].tolist()},
        training=ml.training,
        eval_tokens=ml.eval_tokens,
        corpus=ml.corpus,
        drop_stderr=drop[keep],
    )
