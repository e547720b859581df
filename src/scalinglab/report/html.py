"""One self-contained HTML page for any mix of scalinglab result directories.

>>> import scalinglab as sl
>>> rep = sl.report.html(["out/predict", "out/sweep"], "out/report")  # doctest: +SKIP
>>> rep.path, rep.sections                                            # doctest: +SKIP
(PosixPath('out/report/index.html'), ['summary', 'exponents', 'curve', ...])

The page (``index.html`` by default) carries every figure inline as a data URI
(Matplotlib SVG), so it opens anywhere without network access; the figures are
also written as files beside it. A section whose input is missing is left out.
Every input is read and checked before anything is drawn, and the page is
rendered in memory before anything is written: a bad input (no known file, a
malformed JSON, a file of another format version) raises
:class:`~scalinglab.errors.UserError` naming the file and leaves ``out``
untouched.
"""

from __future__ import annotations

import base64
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..warns import code_of, text_of
from ._html_inputs import Inputs, Result, find_inputs

#: Section ids in page order, with their titles.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "exponents": "Exponents",
    "curve": "Predicted learning curve",
    "correlations": "Token correlations",
    "entropy": "Conditional entropies",
    "sweep": "Sweep: measured learning curves",
    "validation": "Predicted against measured",
    "collapse": "Collapse of per-position losses",
    "fits": "Scaling-law fits",
    "warnings": "Warnings",
    "provenance": "Provenance",
}


@dataclass
class HtmlReport:
    """What :func:`html` wrote: the page, its figure files, its sections and inputs."""

    path: Path
    figures: list[Path]
    sections: list[str]
    inputs: list[Path]


@dataclass
class _Image:
    name: str  # file name
    caption: str
    mime: str
    data: bytes

    @property
    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass
class _Table:
    head: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class _Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    images: list[_Image] = field(default_factory=list)
    tables: list[_Table] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.paragraphs or self.images or self.tables or self.details)


# ---------------------------------------------------------------- formatting


def _f(v: Any, digits: int = 3) -> str:
    """A number to ``digits`` decimals, or 'n/a'."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{v:.{digits}f}"


def _g(v: Any, digits: int = 4) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{v:.{digits}g}"


def _int(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{int(v):,}"


def _ci(ci: Any, digits: int = 3) -> str:
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f"[{_f(ci[0], digits)}, {_f(ci[1], digits)}]"
    return "n/a"


def _window(w: Any, unit: str) -> str:
    if isinstance(w, list | tuple) and len(w) == 2 and None not in w:
        return f"{unit} {_int(w[0])}..{_int(w[1])}"
    return "n/a"


def _pm(d: dict[str, Any]) -> str:
    if d.get("value") is None:
        return "n/a"
    text = _f(d["value"])
    if d.get("stderr") is not None:
        text += f" ± {_f(d['stderr'])}"
    return text


def _corpus_line(c: dict[str, Any] | None) -> str:
    if not c:
        return "unknown corpus"
    return (
        f"{c.get('source', '?')} ({_int(c.get('tokens'))} tokens, vocabulary "
        f"{_int(c.get('vocab_size'))}, tokenizer {c.get('tokenizer', '?')})"
    )


def _label(r: Result, inputs: Inputs) -> str:
    """The result's directory, relative to the inputs it came from."""
    for d in inputs.dirs:
        base = d if d.is_dir() else d.parent
        try:
            rel = r.path.parent.resolve().relative_to(base.resolve().parent)
            return str(rel)
        except ValueError:
            continue
    return str(r.path.parent)


def _siblings(r: Result, inputs: Inputs, kind: str) -> Result | None:
    for o in inputs.of(kind):
        if o.path.parent.resolve() == r.path.parent.resolve():
            return o
    return None


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


def _warnings(inputs: Inputs) -> _Section:
    s = _Section("warnings", SECTIONS["warnings"])
    rows: list[list[str]] = []
    every = [
        (r, str(w))
        for r in inputs.results
        if isinstance(r.doc.get("warnings"), list)
        for w in r.doc["warnings"]
    ]
    # predict passes on its statistics' warnings and validate those of its predict and
    # sweep, each as "label: text": show the passed-on one (it says where it comes from).
    relayed = {text_of(w) for _, w in every}
    seen: set[tuple[str, str]] = set()
    for r, w in every:
        text = text_of(w)
        if any(t != text and t.endswith(": " + text) for t in relayed):
            continue
        key = (str(r.path.parent.resolve()), text)
        if key in seen:
            continue
        seen.add(key)
        rows.append([f"{_label(r, inputs)}/{r.path.name}", code_of(w) or "", text])
    if rows:
        s.tables.append(_Table(["from", "code", "warning"], rows))
    return s


def _software(doc: Any, found: dict[str, set[str]], depth: int = 0) -> None:
    """Collect every ``software`` mapping (package -> version) inside ``doc``."""
    if depth > 6:
        return
    if isinstance(doc, dict):
        sw = doc.get("software")
        if isinstance(sw, dict):
            for k, v in sw.items():
                found.setdefault(str(k), set()).add(str(v))
        for k, v in doc.items():
            if k != "software" and isinstance(v, dict | list):
                _software(v, found, depth + 1)
    elif isinstance(doc, list):
        for v in doc[:1000]:
            if isinstance(v, dict | list):
                _software(v, found, depth + 1)


def _provenance(inputs: Inputs, command: str | None) -> _Section:
    from .. import __version__

    s = _Section("provenance", SECTIONS["provenance"])
    corpora: dict[str, list[str]] = {}
    for r in inputs.results:
        c = r.doc.get("corpus")
        if isinstance(c, dict):
            key = str(c.get("content_hash") or c.get("path") or c.get("source"))
            corpora.setdefault(
                key,
                [
                    str(c.get("source", "?")),
                    _int(c.get("tokens")),
                    _int(c.get("vocab_size")),
                    str(c.get("tokenizer", "?")),
                    str(c.get("content_hash", "n/a")),
                ],
            )
    if corpora:
        s.tables.append(
            _Table(
                ["corpus", "tokens", "vocabulary", "tokenizer", "content hash"],
                list(corpora.values()),
                "Corpora",
            )
        )
    found: dict[str, set[str]] = {}
    for r in inputs.results:
        _software(r.doc, found)
    rows = [[k, ", ".join(sorted(v))] for k, v in sorted(found.items())]
    rows.append(["scalinglab (this report)", __version__])
    rows.append(["python (this report)", platform.python_version()])
    s.tables.append(_Table(["software", "version"], rows, "Versions"))
    cmds = [
        [f"{_label(r, inputs)}/{r.path.name}", str(r.doc[k])]
        for r in inputs.results
        for k in ("command", "argv")
        if r.doc.get(k)
    ]
    if command:
        cmds.append(["this report", command])
    if cmds:
        s.tables.append(_Table(["result", "command"], cmds, "Commands"))
    files = []
    for r in inputs.results:
        st = r.path.stat()
        when = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
        files.append([str(r.path), r.kind, f"{st.st_size:,} bytes", when])
    s.tables.append(_Table(["file", "kind", "size", "written"], files, "Input files"))
    for r in inputs.results:
        settings = {
            k: r.doc[k]
            for k in (
                "settings",
                "predict_settings",
                "grid",
                "method",
                "bootstrap",
                "loss",
                "starts",
            )
            if isinstance(r.doc.get(k), dict)
        }
        if r.kind == "validation" and isinstance(r.doc.get("measured"), dict):
            settings["width_check"] = r.doc.get("width_check")
        if settings:
            s.details.append(
                (f"settings of {_label(r, inputs)}/{r.path.name}", json.dumps(settings, indent=1))
            )
    return s


# ---------------------------------------------------------------- the page


def render(
    inputs: Inputs, *, title: str | None = None, command: str | None = None
) -> tuple[str, list[_Image], list[str]]:
    """The page as text, its images and the ids of its sections (nothing written)."""
    import jinja2

    images: list[_Image] = []
    sections = [
        _summary(inputs),
        _exponents(inputs),
        _curve(inputs, images),
        _correlations(inputs, images),
        _entropy(inputs, images),
        _sweep(inputs, images),
        _validation(inputs, images),
        _collapse(inputs, images),
        _fits(inputs, images),
        _warnings(inputs),
        _provenance(inputs, command),
    ]
    present = [s for s in sections if not s.empty()]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scalinglab.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    corpora = [r.doc["corpus"] for r in inputs.results if isinstance(r.doc.get("corpus"), dict)]
    sources = sorted({str(c.get("source")) for c in corpora}) or [str(d) for d in inputs.dirs]
    page = env.get_template("report.html.j2").render(
        title=title or f"scalinglab report: {', '.join(sources)}",
        sections=present,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return page, images, [s.id for s in present]


def html(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    filename: str = "index.html",
    figure_dir: str | None = "figures",
    title: str | None = None,
    command: str | None = None,
) -> HtmlReport:
    """Write one self-contained HTML page of the results in ``inputs``.

    Parameters
    ----------
    inputs
        Output directories of ``predict``, ``stats``, ``sweep``, ``validate``,
        ``report collapse`` and ``fit`` (any mix, or their JSON files).
    out
        Directory for the page (created when missing).
    filename
        Name of the page in ``out`` (``index.html``; the verbs' hooks use ``report.html``).
    figure_dir
        Sub-directory of ``out`` for the figures as files, or None for the page only
        (it embeds every figure either way).
    title
        Page title (default: from the corpus).
    command
        The command line that made the report, shown under provenance.

    Returns
    -------
    HtmlReport
        The page's path, the figure files, the section ids, the input files.

    Raises
    ------
    UserError
        An input with no known result file, a malformed file, or a file of a format
        version other than the one this scalinglab reads; nothing is written then.
    """
    from .._io import atomic_path

    found = find_inputs(inputs)
    page, images, ids = render(found, title=title, command=command)
    out_dir = Path(out)
    written: list[Path] = []
    if figure_dir is not None:
        for im in images:
            with atomic_path(out_dir / figure_dir / im.name) as tmp:
                tmp.write_bytes(im.data)
            written.append(out_dir / figure_dir / im.name)
    with atomic_path(out_dir / filename) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return HtmlReport(out_dir / filename, written, ids, found.files())
