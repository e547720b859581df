"""The ``report`` verb: a group of sub-verbs (``report collapse``, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    from rich.console import Console

    from .._progress import warn
    from ..outdir import claim
    from .collapse import collapse_sweep

    claim(out or (sweep_dir if sweep_dir.is_dir() else sweep_dir.parent), "collapse")
    res = collapse_sweep(
        sweep_dir,
        prediction,
        beta=beta,
        gamma=gamma,
        context=context,
        n_min=n_min,
        n_max=n_max,
        rel_step=grid_step,
        steps=grid_steps,
    )
    path = res.save(out or (sweep_dir if sweep_dir.is_dir() else sweep_dir.parent))
    con = Console()
    for w in res.warnings:
        warn(w, con)
    for line in res.summary():
        con.print(line)
    con.print(f"-> {path}, {path.with_name('collapse.png')}")


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

    from ..outdir import claim
    from .html import html

    claim(out, "report")
    rep = html(dirs, out, command=shlex.join(["scalinglab", *sys.argv[1:]]))
    typer.echo(f"{len(rep.sections)} sections from {len(rep.inputs)} files -> {rep.path}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` group to the scalinglab app."""
    app.add_typer(report_app, name="report")
