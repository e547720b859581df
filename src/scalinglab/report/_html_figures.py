"""Static figures of the HTML report, drawn with Matplotlib as SVG.

Each function takes the plain JSON documents the verbs write and returns a
:class:`Figure` holding SVG bytes; nothing here touches pyplot's global state
(each figure has its own canvas), so the report can be built inside any verb.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Figure:
    """One figure: a file name, a caption, and its SVG document."""

    name: str
    caption: str
    svg: bytes


@dataclass
class Points:
    """Measured losses to draw over a predicted curve."""

    label: str
    P: np.ndarray
    loss: np.ndarray
    stderr: np.ndarray | None = None
    converged: np.ndarray | None = None


def _arr(values: Any) -> np.ndarray:
    """A float array from a JSON list (``null`` becomes NaN)."""
    if values is None:
        return np.array([], dtype=float)
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _new(ncols: int = 1, width: float = 6.4, height: float = 4.0) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasSVG(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def _tick(v: float, _pos: Any = None) -> str:
    """A log-axis tick label in plain text (0.1 to 100 as such, 10⁴ for other decades).

    Plain text instead of Matplotlib's mathtext keeps a figure at tens of milliseconds.
    """
    if v <= 0 or not np.isfinite(v):
        return ""
    e = np.log10(v)
    if abs(e - round(e)) < 1e-9 and not -1 <= round(e) <= 2:
        return "10" + str(int(round(e))).translate(_SUPERSCRIPT)
    return f"{v:.3g}"


def _minor_tick(v: float, _pos: Any = None) -> str:
    m = v / 10 ** np.floor(np.log10(v) + 1e-12) if v > 0 else 0
    return _tick(v) if round(m) in (2, 3, 5) and abs(m - round(m)) < 1e-6 else ""


def _plain_log_ticks(fig: Any) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log":
                continue
            axis.set_major_formatter(FuncFormatter(_tick))
            lo, hi = sorted(lim)
            if lo <= 0:
                continue
            span = np.log10(hi / lo)
            decades = np.floor(np.log10(hi)) - np.ceil(np.log10(lo)) + 1  # labelled majors
            if decades >= 2:
                axis.set_minor_formatter(NullFormatter())
            else:  # one decade label or none: the minor ticks carry labels too
                axis.set_minor_formatter(FuncFormatter(_tick if span < 0.5 else _minor_tick))


def _svg(fig: Any, name: str) -> bytes:
    import matplotlib

    _plain_log_ticks(fig)
    buf = io.BytesIO()
    # Text stays text (small files); ids are salted by the figure's name so that
    # figures never share ids.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _loglog(ax: Any, x: bool = True, y: bool = True) -> None:
    """Log scales on the axes whose positive data span more than a factor 3.

    An axis with no positive data, or with a narrow range (the entropies of a
    source with no structure), stays linear.
    """
    lim = ax.dataLim
    if x and np.isfinite(lim.minposx) and lim.x1 > 3 * lim.minposx:
        ax.set_xscale("log")
    if y and np.isfinite(lim.minposy) and lim.y1 > 3 * lim.minposy:
        ax.set_yscale("log")


def _window(ax: Any, window: Any, label: str) -> None:
    if isinstance(window, list | tuple) and len(window) == 2 and None not in window:
        ax.axvspan(window[0], window[1], color="tab:green", alpha=0.12, label=label)


def predicted_curve(
    pred: dict[str, Any], measured: Sequence[Points], name: str, p_max: float | None = None
) -> Figure:
    """The predicted L(P) with its band (up to ``p_max``) and the measured points on it."""
    pl = pred["predicted_loss"]
    P, L = _arr(pl.get("P")), _arr(pl.get("loss"))
    lo, hi = _arr(pl.get("lo")), _arr(pl.get("hi"))
    if p_max is not None and P.size:
        keep = P <= p_max
        P, L = P[keep], L[keep]
        lo, hi = (lo[keep], hi[keep]) if lo.size == keep.size and hi.size == keep.size else (lo, hi)
    fig, (ax,) = _new()
    if P.size:
        if lo.size == P.size and hi.size == P.size:
            ax.fill_between(P, lo, hi, color="tab:blue", alpha=0.2, label="predicted, 95% band")
        ax.plot(P, L, color="tab:blue", lw=2, label="predicted L(P)")
    markers = "osD^v"
    for i, m in enumerate(measured):
        ok = np.isfinite(m.loss)
        conv = m.converged if m.converged is not None else np.ones(m.P.size, dtype=bool)
        err = m.stderr if m.stderr is not None else np.zeros(m.P.size)
        for filled in (True, False):
            sel = ok & (conv == filled)
            if sel.any():
                ax.errorbar(
                    m.P[sel],
                    m.loss[sel],
                    yerr=err[sel],
                    fmt=markers[i % len(markers)],
                    color=f"C{i + 1}",
                    mfc=None if filled else "white",
                    capsize=2,
                    label=m.label + ("" if filled else " (still improving)"),
                )
    _loglog(ax)
    ax.set_xlabel("P (training tokens)")
    ax.set_ylabel("loss (nats per token)")
    a = pred.get("alpha_D") or {}
    if a.get("value") is not None:
        ax.set_title(f"predicted alpha_D = {a['value']:.3f}")
    ax.legend(fontsize=8)
    return Figure(
        name, "Predicted learning curve L(P) with its band and measured points", _svg(fig, name)
    )


def correlations(corr: dict[str, Any], beta: dict[str, Any], name: str) -> Figure:
    """Operator norm of C(n) against the lag, its noise floor and the fit window."""
    lags = _arr(corr["lags"])
    norm = _arr(corr["operator_norm"])
    floor = _arr(corr["noise_floor"])
    ok = np.asarray(corr["resolvable"], dtype=bool) if corr.get("resolvable") else None
    fig, (ax,) = _new()
    _window(ax, beta.get("window"), "fit window")
    err = _arr(corr.get("operator_norm_stderr"))
    pos = norm > 0
    if ok is None or ok.size != lags.size:
        ok = np.ones(lags.size, dtype=bool)
    for sel, style, lab in ((pos & ok, "o", "resolvable"), (pos & ~ok, "x", "below the floor")):
        if sel.any():
            ax.errorbar(
                lags[sel],
                norm[sel],
                yerr=err[sel] if err.size == lags.size else None,
                fmt=style,
                ms=4,
                color="tab:blue" if style == "o" else "tab:gray",
                label=f"||C(n)||, {lab}",
            )
    if floor.size == lags.size:
        ax.plot(lags, floor, "--", color="tab:red", label="noise floor")
    b, amp = _num(beta.get("value")), _num(beta.get("amplitude"))
    w = beta.get("window")
    if np.isfinite(b) and np.isfinite(amp) and w and None not in w:
        x = np.geomspace(w[0], w[1], 50)
        ax.plot(x, amp * x**-b, color="black", lw=1.5, label=f"A n^-beta, beta = {b:.3f}")
    _loglog(ax)
    ax.set_xlabel("lag n (tokens)")
    ax.set_ylabel("operator norm of C(n)")
    ax.legend(fontsize=8)
    return Figure(
        name, "Token correlations with the noise floor and the fit window", _svg(fig, name)
    )


def entropies(
    ent: dict[str, Any], gamma: dict[str, Any], model: dict[str, Any] | None, name: str
) -> Figure:
    """H_n with its bounds, the reliable window and the gamma fit."""
    n = _arr(ent["n"])
    est, up, lo = _arr(ent["estimate"]), _arr(ent["upper"]), _arr(ent["lower"])
    rel = np.asarray(ent["reliable"], dtype=bool) if ent.get("reliable") else None
    fig, (ax,) = _new()
    keep = n >= 1  # log axis: H_0 is the unigram entropy, drawn at no n
    if rel is not None and rel.size == n.size and (rel & keep).any():
        r = n[rel & keep]
        # a window of one n is drawn as that n +- 10% (it would have no width)
        ax.axvspan(
            r.min() / 1.1, r.max() * 1.1, color="tab:green", alpha=0.12, label="reliable window"
        )
    if up.size == n.size and lo.size == n.size:
        ax.fill_between(n[keep], lo[keep], up[keep], color="tab:blue", alpha=0.2, label="bounds")
    ax.plot(
        n[keep],
        est[keep],
        "o-",
        ms=3,
        color="tab:blue",
        label=f"H_n ({ent.get('estimator', 'estimate')})",
    )
    if model:
        mn, ml = _arr(model.get("n")), _arr(model.get("loss"))
        if mn.size and mn.size == ml.size:
            ax.plot(mn, ml, "-", color="tab:orange", label="model per-position loss L_n")
    g, amp = _num(gamma.get("value")), _num(gamma.get("amplitude"))
    w = gamma.get("window")
    if np.isfinite(g) and np.isfinite(amp) and w and None not in w:
        x = np.geomspace(max(w[0], 1), w[1], 50)
        ax.plot(x, amp * x**-g, color="black", lw=1.5, label=f"A n^-gamma, gamma = {g:.3f}")
    _loglog(ax)
    ax.set_xlabel("context length n (tokens)")
    ax.set_ylabel("conditional entropy (nats)")
    ax.legend(fontsize=8)
    return Figure(
        name, "Conditional entropies with bounds, reliable window and gamma fit", _svg(fig, name)
    )


def sweep(doc: dict[str, Any], name: str) -> Figure:
    """The measured L(P) with its power-law fit, and L_n against n for every P."""
    curve = doc["curve"]
    P, L = _arr(curve["P"]), _arr(curve["loss"])
    err = _arr(curve.get("stderr"))
    conv = np.asarray(curve.get("converged") or [True] * P.size, dtype=bool)
    fig, (ax, bx) = _new(2, width=5.6)
    for filled in (True, False):
        sel = (conv == filled) & np.isfinite(L)
        if sel.any():
            ax.errorbar(
                P[sel],
                L[sel],
                yerr=err[sel] if err.size == P.size else None,
                fmt="o",
                color="tab:blue",
                mfc=None if filled else "white",
                capsize=2,
                label="measured" if filled else "still improving",
            )
    a = doc.get("alpha_D") or {}
    fit = a.get(a.get("form", "")) if isinstance(a.get("form"), str) else None
    if isinstance(fit, dict) and fit.get("window"):
        A, E, P0 = _num(fit.get("A")), _num(fit.get("E")), _num(fit.get("P0"))
        alpha = _num(fit.get("alpha"))
        if all(np.isfinite([A, P0, alpha])):
            x = np.geomspace(fit["window"][0], fit["window"][1], 50)
            y = (E if np.isfinite(E) else 0.0) + A * (x / P0) ** -alpha
            ax.plot(x, y, color="black", label=f"fit, alpha_D = {alpha:.3f}")
    _loglog(ax)
    ax.set_xlabel("P (training tokens)")
    ax.set_ylabel("held-out loss (nats per token)")
    ax.legend(fontsize=8)
    blocks = doc.get("per_position") or []
    if blocks:
        block = max(blocks, key=lambda b: b.get("context", 0))
        n = _arr(block["n"])
        Ps = _arr(block["P"])
        cmap = __import__("matplotlib").colormaps["viridis"]
        for i, (p, row) in enumerate(zip(Ps, block["loss"], strict=False)):
            y = _arr(row)
            if np.isfinite(y).any():
                ax_color = cmap(i / max(len(Ps) - 1, 1))
                bx.plot(n, y, color=ax_color, lw=1.2, label=f"P = {int(p):,}")
        _loglog(bx, y=False)
        bx.set_xlabel("position n (tokens of context)")
        bx.set_ylabel("per-position loss L_n (nats)")
        bx.set_title(f"T = {block.get('context')}")
        bx.legend(fontsize=7, ncol=2)
    else:
        bx.set_visible(False)
    return Figure(name, "Sweep: measured learning curve and per-position losses", _svg(fig, name))


def collapse(doc: dict[str, Any], name: str) -> Figure:
    """The collapse spread on the grid of beta and gamma around the given exponents."""
    gb, gg = _arr(doc["grid_beta"]), _arr(doc["grid_gamma"])
    S = np.array([_arr(row) for row in doc["grid_score"]], dtype=float)
    fig, (ax,) = _new(width=5.4)
    if S.shape == (gb.size, gg.size) and S.size:
        mesh = ax.pcolormesh(gg, gb, S, shading="nearest", cmap="viridis_r")
        fig.colorbar(mesh, ax=ax, label="collapse spread (lower is better)")
    ax.plot([_num(doc["gamma"])], [_num(doc["beta"])], "r*", ms=12, label="given")
    best = doc["best_on_grid"]
    ax.plot(
        [_num(best.get("gamma"))], [_num(best.get("beta"))], "wo", mec="k", label="grid minimum"
    )
    ax.set_xlabel("gamma")
    ax.set_ylabel("beta")
    ax.legend(fontsize=8)
    return Figure(name, "Collapse spread around the given beta and gamma", _svg(fig, name))


def validation(doc: dict[str, Any], name: str) -> Figure | None:
    """The predicted curve of a validation (with its band) and the measured points."""
    curve = (doc["predicted"] or {}).get("curve") or {}
    m = (doc["measured"] or {}).get("curve") or {}
    if not curve.get("P") or not m.get("P"):
        return None
    conv = m.get("converged")
    points = Points(
        "measured",
        _arr(m["P"]),
        _arr(m.get("loss")),
        _arr(m.get("stderr")) if m.get("stderr") else None,
        np.asarray(conv, dtype=bool) if conv else None,
    )
    pred = {"predicted_loss": curve, "alpha_D": doc["predicted"].get("alpha_D") or {}}
    fig = predicted_curve(pred, [points], name, p_max=4 * float(np.nanmax(points.P)))
    fig.caption = "Predicted curve (as validate calibrates it) and the measured points"
    return fig
