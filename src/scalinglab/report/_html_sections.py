"""The HTML report's sections of results: summary, exponents and one per kind of result."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from ._html_inputs import Inputs, Result
from ._html_parts import (
    SECTIONS,
    _ci,
    _corpus_line,
    _f,
    _g,
    _Image,
    _int,
    _label,
    _pm,
    _Section,
    _siblings,
    _Table,
    _window,
)

# ---------------------------------------------------------------- sections


def _sentence(doc: dict[str, Any]) -> str:
    """The 10x sentence, worded as ``scalinglab predict`` prints it."""
    from ..theory.prediction import Prediction

    names = {f.name for f in fields(Prediction)}
    return Prediction(**{k: v for k, v in doc.items() if k in names}).sentence()


def _summary(inputs: Inputs) -> _Section:
    s = _Section("summary", SECTIONS["summary"])
    for r in inputs.of("prediction"):
        d, lab = r.doc, _label(r, inputs)
        a = d["alpha_D"]
        if a.get("value") is not None:
            s.paragraphs.append(
                f"{lab}: data-limited loss L(P) ∝ P^-alpha_D with alpha_D = {_pm(a)} "
                f"(95% CI {_ci(a.get('ci95'))}) for {_corpus_line(d.get('corpus'))}."
            )
        s.paragraphs.append(f"{lab}: {_sentence(d)}")  # says so when there is no law
        m = d.get("measured") or {}
        if m.get("alpha_D") is not None:
            s.paragraphs.append(
                f"{lab}: measured alpha_D = {_f(m['alpha_D'])} ± {_f(m.get('alpha_D_stderr'))} "
                f"(95% CI {_ci(m.get('alpha_D_ci95'))}) on {_window(m.get('window'), 'P')}."
            )
    for kind, name, unit in (("correlations", "beta", "lags"), ("entropy", "gamma", "n")):
        for r in inputs.of(kind):
            e = r.doc[name]
            if _siblings(r, inputs, "prediction") is None and e.get("value") is not None:
                s.paragraphs.append(
                    f"{_label(r, inputs)}: {name} = {_pm(e)} (95% CI {_ci(e.get('ci95'))}) "
                    f"over {_window(e.get('window'), unit)}."
                )
    for r in inputs.of("validation"):
        s.paragraphs.append(f"{_label(r, inputs)}: {r.doc['verdict']}")
    for r in inputs.of("sweep"):
        a = r.doc["alpha_D"] or {}
        if a.get("value") is not None:
            s.paragraphs.append(
                f"{_label(r, inputs)}: the sweep measures alpha_D = {_pm(a)} (95% CI "
                f"{_ci(a.get('ci95'))}) on {_window(a.get('window'), 'P')}."
            )
    for r in inputs.of("collapse"):
        d, b = r.doc, r.doc["best_on_grid"] or {}
        s.paragraphs.append(
            f"{_label(r, inputs)}: the per-position losses collapse with spread "
            f"{_f((d['at_given'] or {}).get('score'), 4)} at beta = {_f(d['beta'])}, gamma = "
            f"{_f(d['gamma'])}; the grid minimum is {_f(b.get('score'), 4)} at beta = "
            f"{_f(b.get('beta'))}, gamma = {_f(b.get('gamma'))}."
        )
    for r in inputs.of("fit"):
        d = r.doc
        ex = d.get("extrapolation") or {}
        held = f", held-out RMSLE {_g(ex.get('rmsle'))}" if ex else ""
        s.paragraphs.append(
            f"{_label(r, inputs)}: best form {d['form']} ({d['formula']}) on {d['n_points']} "
            f"points{held}."
        )
    return s


def _exp_row(source: str, name: str, d: dict[str, Any], unit: str) -> list[str]:
    return [
        source,
        name,
        _pm(d),
        _ci(d.get("ci95")),
        _window(d.get("window"), unit),
        _int(d.get("n_points")),
        # the first clause of the method: the whole of it is in the result's JSON
        str(d.get("fitted_on") or d.get("method") or "").split("; ")[0],
    ]


def _exponents(inputs: Inputs) -> _Section:
    s = _Section("exponents", SECTIONS["exponents"])
    rows: list[list[str]] = []
    for r in inputs.of("prediction"):
        d, lab = r.doc, _label(r, inputs)
        rows.append(_exp_row(lab, "beta (correlations)", d["beta"], "lags"))
        rows.append(_exp_row(lab, "gamma (entropies)", d["gamma"], "n"))
        rows.append(_exp_row(lab, "alpha_D predicted", d["alpha_D"], "P"))
        m = d.get("measured") or {}
        if m.get("alpha_D") is not None:
            md = {
                "value": m["alpha_D"],
                "stderr": m.get("alpha_D_stderr"),
                "ci95": m.get("alpha_D_ci95"),
                "window": m.get("window"),
                "method": f"measured: {m.get('source', '')}",
            }
            rows.append(_exp_row(lab, "alpha_D measured", md, "P"))
    for r in inputs.of("correlations"):
        if _siblings(r, inputs, "prediction") is None:
            rows.append(_exp_row(_label(r, inputs), "beta (correlations)", r.doc["beta"], "lags"))
    for r in inputs.of("entropy"):
        if _siblings(r, inputs, "prediction") is None:
            rows.append(_exp_row(_label(r, inputs), "gamma (entropies)", r.doc["gamma"], "n"))
    for r in inputs.of("sweep"):
        a = dict(r.doc["alpha_D"] or {})
        form = a.get(a.get("form", "")) if isinstance(a.get("form"), str) else None
        if isinstance(form, dict):
            a.setdefault("n_points", form.get("n_points"))
            a.setdefault("method", form.get("equation"))
        rows.append(_exp_row(_label(r, inputs), "alpha_D measured (sweep)", a, "P"))
    for r in inputs.of("validation"):
        d, lab = r.doc, _label(r, inputs)
        rows.append(_exp_row(lab, "alpha_D predicted", d["predicted"].get("alpha_D") or {}, "P"))
        rows.append(_exp_row(lab, "alpha_D measured", d["measured"].get("alpha_D") or {}, "P"))
    if rows:
        s.tables.append(
            _Table(
                ["result", "exponent", "value ± stderr", "95% CI", "window", "points", "how"], rows
            )
        )
    return s


def _measured_points(pred: Result, inputs: Inputs) -> list[Any]:
    import numpy as np

    from ._html_figures import Points, _arr

    h = (pred.doc.get("corpus") or {}).get("content_hash")
    points = []
    used: set[Path] = set()
    for r in inputs.of("sweep"):
        sh = (r.doc.get("corpus") or {}).get("content_hash")
        if h and sh and sh != h:
            continue
        c = r.doc["curve"]
        conv = c.get("converged")
        points.append(
            Points(
                f"measured ({_label(r, inputs)})",
                _arr(c["P"]),
                _arr(c["loss"]),
                _arr(c.get("stderr")) if c.get("stderr") else None,
                np.asarray(conv, dtype=bool) if conv else None,
            )
        )
        used.add(r.path.resolve())
    m = pred.doc.get("measured") or {}
    if m.get("P") and m.get("loss"):
        src = Path(str(m.get("source", "")))
        if src.resolve() not in used and src.resolve().parent not in {u.parent for u in used}:
            points.append(Points("measured", _arr(m["P"]), _arr(m["loss"])))
    return points


def _curve(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("curve", SECTIONS["curve"])
    for i, r in enumerate(inputs.of("prediction")):
        d = r.doc
        loss = (d["predicted_loss"] or {}).get("loss") or []
        if not any(isinstance(v, int | float) for v in loss):  # no law, no curve
            continue
        fig = F.predicted_curve(d, _measured_points(r, inputs), f"curve_{i}")
        s.images.append(_svg_image(fig, _label(r, inputs)))
        pl = d["predicted_loss"]
        rule = pl.get("rule")
        if rule:
            s.paragraphs.append(f"{_label(r, inputs)}: {rule}")
    images += s.images
    return s


def _svg_image(fig: Any, label: str) -> _Image:
    return _Image(f"{fig.name}.svg", f"{fig.caption} ({label})", "image/svg+xml", fig.svg)


def _correlations(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("correlations", SECTIONS["correlations"])
    jobs: list[tuple[Result, dict[str, Any], dict[str, Any]]] = []
    for r in inputs.of("correlations"):
        pred = _siblings(r, inputs, "prediction")
        jobs.append((r, r.doc, pred.doc["beta"] if pred else r.doc["beta"]))
    for r in inputs.of("prediction"):
        if _siblings(r, inputs, "correlations") is None and r.doc["correlations"].get("lags"):
            jobs.append((r, r.doc["correlations"], r.doc["beta"]))
    for i, (r, corr, beta) in enumerate(jobs):
        s.images.append(
            _svg_image(F.correlations(corr, beta, f"correlations_{i}"), _label(r, inputs))
        )
        rule = corr.get("resolvable_rule")
        s.paragraphs.append(
            f"{_label(r, inputs)}: beta = {_pm(beta)} (95% CI {_ci(beta.get('ci95'))}) over "
            f"{_window(beta.get('window'), 'lags')}" + (f"; resolvable: {rule}" if rule else ".")
        )
    images += s.images
    return s


def _entropy(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("entropy", SECTIONS["entropy"])
    jobs: list[tuple[Result, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = []
    for r in inputs.of("entropy"):
        pred = _siblings(r, inputs, "prediction")
        if pred is not None:
            jobs.append((r, r.doc, pred.doc["gamma"], pred.doc.get("entropy_model")))
        else:
            model = (r.doc.get("model_losses") or {}).get("losses")
            jobs.append((r, r.doc, r.doc["gamma"], model))
    for r in inputs.of("prediction"):
        if _siblings(r, inputs, "entropy") is None and r.doc["entropy"].get("n"):
            jobs.append((r, r.doc["entropy"], r.doc["gamma"], r.doc.get("entropy_model")))
    for i, (r, ent, gamma, model) in enumerate(jobs):
        fig = F.entropies(ent, gamma, model, f"entropy_{i}")
        s.images.append(_svg_image(fig, _label(r, inputs)))
        window = (ent.get("reliability_rule") or {}).get("reliable_window")
        s.paragraphs.append(
            f"{_label(r, inputs)}: gamma = {_pm(gamma)} (95% CI {_ci(gamma.get('ci95'))}) over "
            f"{_window(gamma.get('window'), 'n')}"
            + (f", fitted on {gamma['fitted_on']}" if gamma.get("fitted_on") else "")
            + (f"; count-based estimates reliable for {_window(window, 'n')}" if window else "")
            + "."
        )
    images += s.images
    return s


def _sweep(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("sweep", SECTIONS["sweep"])
    for i, r in enumerate(inputs.of("sweep")):
        d, lab = r.doc, _label(r, inputs)
        s.images.append(_svg_image(F.sweep(d, f"sweep_{i}"), lab))
        c = d["curve"]
        n = len(c["P"])

        def col(key: str, n: int = n, c: dict[str, Any] = c) -> list[Any]:
            v = c.get(key)
            return v if isinstance(v, list) and len(v) == n else [None] * n

        rows = [
            [_int(p), _f(loss, 4), _f(se, 4), _int(t), _g(lr, 3), "yes" if ok else "no"]
            for p, loss, se, t, lr, ok in zip(
                c["P"],
                c["loss"],
                col("stderr"),
                col("context"),
                col("lr"),
                col("converged"),
                strict=True,
            )
        ]
        s.tables.append(
            _Table(
                ["P", "loss", "stderr", "context T", "best lr", "converged"],
                rows,
                f"{lab}: {len(d['runs'])} runs",
            )
        )
        if d.get("converged_rule"):
            s.paragraphs.append(f"{lab}: converged means {d['converged_rule']}.")
    images += s.images
    return s


def _validation(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("validation", SECTIONS["validation"])
    for i, r in enumerate(inputs.of("validation")):
        d, lab = r.doc, _label(r, inputs)
        s.paragraphs.append(f"{lab}: {d['verdict']}")
        fig = F.validation(d, f"validation_{i}")
        if fig is not None:
            s.images.append(_svg_image(fig, lab))
        a = d["agreement"] or {}
        rows = [
            ["alpha_D predicted", _pm(d["predicted"].get("alpha_D") or {})],
            ["alpha_D measured", _pm(d["measured"].get("alpha_D") or {})],
            ["measured - predicted", _f(a.get("measured_minus_predicted"))],
            ["combined stderr", _f(a.get("combined_stderr"))],
            ["z", _f(a.get("z"), 2)],
            ["95% intervals overlap", str(a.get("intervals_overlap"))],
            ["agree", str(a.get("agree"))],
            ["rule", str(a.get("rule", ""))],
        ]
        lv = d.get("levels") or {}
        if lv.get("max_abs_relative_error") is not None:
            rows.append(["largest level error", f"{100 * lv['max_abs_relative_error']:.1f}%"])
        ex = d.get("extrapolation") or {}
        if ex.get("P") is not None:
            rows.append(
                [
                    f"extrapolation to P = {_int(ex['P'])}",
                    f"measured-curve fit {_f(ex.get('measured_fit_error_percent'), 1)}%, "
                    f"predicted curve {_f(ex.get('predicted_curve_error_percent'), 1)}%",
                ]
            )
        s.tables.append(_Table(["quantity", "value"], rows, f"{lab}: agreement"))
    images += s.images
    return s


def _png_beside(r: Result, name: str) -> _Image | None:
    p = r.path.with_name(name)
    if p.is_file():
        return _Image(f"{r.path.parent.name}_{name}", "", "image/png", p.read_bytes())
    return None


def _collapse(inputs: Inputs, images: list[_Image]) -> _Section:
    from . import _html_figures as F

    s = _Section("collapse", SECTIONS["collapse"])
    for i, r in enumerate(inputs.of("collapse")):
        d, lab = r.doc, _label(r, inputs)
        png = _png_beside(r, "collapse.png")
        if png is not None:
            png.name, png.caption = f"collapse_{i}.png", f"Collapse of L_n n^gamma ({lab})"
            s.images.append(png)  # collapse's own figure holds the grid too
        else:
            s.images.append(_svg_image(F.collapse(d, f"collapse_grid_{i}"), lab))
        g, b = d["at_given"] or {}, d["best_on_grid"] or {}
        rows = [
            [
                "given",
                _f(d["beta"]),
                _f(d["gamma"]),
                _f(g.get("score"), 4),
                f"{_f(100 * g['coverage'], 0)}%" if g.get("coverage") is not None else "n/a",
            ],
            ["grid minimum", _f(b.get("beta")), _f(b.get("gamma")), _f(b.get("score"), 4), ""],
        ]
        s.tables.append(
            _Table(
                ["exponents", "beta", "gamma", "spread", "coverage"],
                rows,
                f"{lab}: T = {d.get('context')}",
            )
        )
    images += s.images
    return s


def _fits(inputs: Inputs, images: list[_Image]) -> _Section:
    s = _Section("fits", SECTIONS["fits"])
    for i, r in enumerate(inputs.of("fit")):
        d, lab = r.doc, _label(r, inputs)
        png = _png_beside(r, "fit.png")
        if png is not None:
            png.name, png.caption = f"fit_{i}.png", f"Fit of {d['form']} ({lab})"
            s.images.append(png)
        rows = [
            [
                k,
                _g(v, 6),
                _g(d["stderr"].get(k)),
                _ci(d["ci95"].get(k)) if d["ci95"].get(k) else "n/a",
            ]
            for k, v in d["params"].items()
        ]
        s.tables.append(
            _Table(
                ["parameter", "value", "stderr", "95% CI"],
                rows,
                f"{lab}: {d['form']}: {d['formula']}",
            )
        )
        rank = d.get("ranking") or []
        if rank:
            s.tables.append(
                _Table(
                    ["rank", "form", "params", "train RMSLE", "held-out RMSLE", "dAIC", "dBIC"],
                    [
                        [
                            str(e.get("rank")),
                            str(e.get("form")),
                            str(e.get("n_params")),
                            _g(e.get("train_rmsle")),
                            _g(e.get("heldout_rmsle")),
                            _f(e.get("delta_aic"), 2),
                            _f(e.get("delta_bic"), 2),
                        ]
                        for e in rank
                    ],
                    f"{lab}: ranking",
                )
            )
    images += s.images
    return s
