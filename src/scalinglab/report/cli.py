"""The ``report`` verb: a group of sub-verbs (``report collapse``, ...)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

#: Sub-verbs of ``scalinglab report``; add new ones with ``@report_app.command(...)``.
report_app = typer.Typer(
    name="report",
    help="Figures and summaries of results (collapse of per-position losses, ...).",
    no_args_is_help=True,
)


@report_app.command("collapse")
def collapse_cmd(
    sweep_dir: Annotated[Path, typer.Argument(help="Sweep directory (or its sweep.json).")],
    prediction: Annotated[
        Path | None, typer.Option(help="prediction.json written by `scalinglab predict`.")
    ] = None,
    beta: Annotated[
        float | None, typer.Option(help="Correlation exponent (overrides the prediction).")
    ] = None,
    gamma: Annotated[
        float | None, typer.Option(help="Entropy exponent (overrides the prediction).")
    ] = None,
    context: Annotated[
        int | None, typer.Option(help="Context T of the sweep (default: largest).")
    ] = None,
    n_min: Annotated[int, typer.Option(help="Smallest n (tokens of context) to include.")] = 1,
    n_max: Annotated[int | None, typer.Option(help="Largest n to include (default: T).")] = None,
    grid_step: Annotated[float, typer.Option(help="Relative step of the neighbour grid.")] = 0.1,
    grid_steps: Annotated[
        int, typer.Option(help="Grid points on each side of the given values.")
    ] = 3,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output directory (default: the sweep's).")
    ] = None,
) -> None:
    """Plot L_n n^gamma against P / n^(2 beta) for every n and score the collapse.

    Writes OUT/collapse.json (score at the given exponents, the score on a grid of
    neighbouring beta and gamma, its minimum, predicted and measured alpha_D) and
    OUT/collapse.png.

    Example: scalinglab report collapse sweep-out --prediction pred/prediction.json
    """
    import numpy as np
    from rich.console import Console

    from .._io import read_json, write_json
    from ..errors import UserError
    from ..train.sweep import load_sweep
    from .collapse import collapse, per_position_block, plot_collapse

    sweep = load_sweep(sweep_dir)
    pred: dict[str, Any] = {}
    if prediction is not None:
        if not prediction.is_file():
            raise UserError(f"prediction file not found: {prediction}")
        try:
            pred = read_json(prediction)
        except (ValueError, UnicodeDecodeError) as e:
            raise UserError(f"corrupt {prediction}: {e}") from None
        if not isinstance(pred, dict):
            raise UserError(f"{prediction}: expected a JSON object with beta and gamma")
    b = beta if beta is not None else _value(pred, "beta", prediction)
    g = gamma if gamma is not None else _value(pred, "gamma", prediction)
    if b is None or g is None:
        raise UserError("give --prediction prediction.json or both --beta and --gamma")
    block = per_position_block(sweep, context)
    n = np.asarray(block["n"])
    P = np.asarray(block["P"])
    L = np.asarray(block["loss"], dtype=float)
    keep = (n >= n_min) & (n <= (n_max if n_max is not None else n.max()))
    if keep.sum() < 2:
        raise UserError(f"fewer than two positions n in [{n_min}, {n_max}]")
    if L.shape != (P.size, n.size):
        raise UserError(f"{sweep_dir}: per-position matrix of shape {L.shape} for {P.size} P")
    L = L[:, keep]
    # A P whose every run diverged has no losses (null in sweep.json): leave it out.
    finite = np.all(np.isfinite(L) & (L > 0), axis=1)
    dropped = [int(p) for p in P[~finite]]
    P, L = P[finite], L[finite]
    res = collapse(
        P, n[keep], L, b, g, rel_step=grid_step, steps=grid_steps, context=block["context"]
    )
    out_dir = out or (sweep_dir if sweep_dir.is_dir() else sweep_dir.parent)
    fig = plot_collapse(res, P, n[keep], L, out_dir / "collapse.png")
    alpha = _alpha_comparison(pred, b, g, beta is not None or gamma is not None, sweep)
    doc = {
        **res.to_dict(),
        "source": {"sweep": str(sweep_dir), "prediction": str(prediction) if prediction else None},
        "alpha_D": alpha,
        "dropped_P": dropped,
        "figure": str(fig),
    }
    path = write_json(out_dir / "collapse.json", doc)

    con = Console()
    if dropped:
        con.print(
            f"[yellow]warning:[/] left out P = {', '.join(f'{p:,}' for p in dropped)} "
            "(no finite per-position losses: the runs diverged)"
        )
    s = res.at_given
    con.print(
        f"collapse at beta = {b:.3f}, gamma = {g:.3f} (T = {res.context}, n {res.n_range[0]}.."
        f"{res.n_range[1]}, {len(P)} P): spread [bold]{s.score:.4f}[/] (coverage {s.coverage:.0%})"
    )
    bg = res.best_on_grid
    if math.isfinite(bg["beta"]):
        con.print(
            f"grid minimum: beta = {bg['beta']:.3f}, gamma = {bg['gamma']:.3f}, "
            f"spread {bg['score']:.4f}"
        )
    _print_alpha(con, alpha)
    con.print(f"-> {path}, {fig}")


def _value(pred: dict[str, Any], key: str, where: Path | None) -> float | None:
    """``pred[key]["value"]`` (or ``pred[key]``) as a float; None when absent."""
    from ..errors import UserError

    entry = pred.get(key)
    if isinstance(entry, dict):
        entry = entry.get("value")
    if entry is None:
        return None
    if isinstance(entry, bool) or not isinstance(entry, int | float):
        raise UserError(f"{where}: {key} must be a number, got {entry!r}")
    return float(entry)


def _alpha_comparison(
    pred: dict[str, Any], beta: float, gamma: float, overridden: bool, sweep: dict[str, Any]
) -> dict[str, Any]:
    """Predicted alpha_D = gamma / (2 beta) (with the prediction's interval) beside the measured."""
    predicted: dict[str, Any] = {"value": gamma / (2 * beta), "stderr": None, "ci95": None}
    if not overridden and isinstance(pred.get("alpha_D"), dict):
        a = pred["alpha_D"]
        predicted = {"value": a.get("value"), "stderr": a.get("stderr"), "ci95": a.get("ci95")}
    m = sweep.get("alpha_D") or {}
    measured = {k: m.get(k) for k in ("value", "stderr", "ci95", "window", "form")}
    measured["with_offset"] = m.get("with_offset")
    return {"predicted": predicted, "measured": measured}


def _fmt(entry: dict[str, Any]) -> str:
    if entry.get("value") is None:
        return "n/a"
    text = f"{entry['value']:.3f}"
    if entry.get("stderr") is not None:
        text += f" ± {entry['stderr']:.3f}"
    ci = entry.get("ci95")
    if ci and all(v is not None and math.isfinite(v) for v in ci):
        text += f", 95% CI \\[{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def _print_alpha(con: Any, alpha: dict[str, Any]) -> None:
    con.print(f"alpha_D predicted: [bold]{_fmt(alpha['predicted'])}[/]")
    m = alpha["measured"]
    window = m.get("window")
    where = f" (P {window[0]:,}..{window[1]:,})" if window else ""
    con.print(f"alpha_D measured:  [bold]{_fmt(m)}[/]{where}")


@report_app.command("html")
def html_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="Result directories (any mix of verbs).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("report"),
) -> None:
    """One self-contained page (OUT/index.html, figures in OUT/figures/) of any mix of
    predict, stats, sweep, validate, report collapse and fit output directories.

    Example: scalinglab report html pred sweep-out --out report
    """
    import shlex
    import sys

    from .html import html

    rep = html(dirs, out, command=shlex.join(["scalinglab", *sys.argv[1:]]))
    typer.echo(f"{len(rep.sections)} sections from {len(rep.inputs)} files -> {rep.path}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` group to the scalinglab app."""
    app.add_typer(report_app, name="report")
