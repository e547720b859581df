"""Command-line verb ``scalinglab fit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from .core import FitResult


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.5g}"


def print_summary(result: FitResult, json_path: Path) -> None:
    """A short human summary of a fit on standard output."""
    from rich.console import Console
    from rich.table import Table

    from .._progress import warn

    console = Console()
    table = Table(title=f"{result.form.name}: {result.form.formula}", title_justify="left")
    for col in ("param", "value", "stderr", "95% CI"):
        table.add_column(col, justify="right" if col != "param" else "left")
    for name, value in result.params.items():
        ci = result.ci95.get(name)
        table.add_row(
            name,
            f"{value:.6g}",
            _fmt(result.stderr.get(name)),
            "-" if ci is None else f"[{ci[0]:.5g}, {ci[1]:.5g}]",
        )
    console.print(table)
    line = (
        f"{result.n_points} points, objective {result.objective:.6g} ({result.loss.name}), "
        f"RMSLE on fitted points {result.train['rmsle']:.4g}"
    )
    ex = result.extrapolation
    if ex is not None:
        ci = ex.get("ci95")
        line += f"; on {ex['n_points']} held-out points {ex['rmsle']:.4g}"
        if ci:
            line += f" (95% CI {ci[0]:.3g}..{ci[1]:.3g})"
    console.print(line, highlight=False)
    if result.ranking:
        rank = Table(title="ranking", title_justify="left")
        for col in ("rank", "form", "params", "train RMSLE", "held-out RMSLE", "dAIC", "dBIC"):
            rank.add_column(col, justify="right" if col not in ("form",) else "left")
        for e in result.ranking:
            rank.add_row(
                str(e["rank"]),
                e["form"],
                str(e["n_params"]),
                f"{e['train_rmsle']:.4g}",
                _fmt(e.get("heldout_rmsle")),
                f"{e['delta_aic']:.2f}",
                f"{e['delta_bic']:.2f}",
            )
        console.print(rank)
    for note in result.data.dropped:
        console.print(f"note: {note}", highlight=False)
    for w in result.warnings:
        warn(w, console)
    console.print(f"wrote {json_path} and {json_path.with_name('fit.png')}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``fit`` to the scalinglab app."""

    @app.command("fit")
    def fit_cmd(
        data: Path = typer.Argument(..., help="CSV or Parquet file with one row per run."),
        x: list[str] = typer.Option(
            ...,
            "--x",
            help="Input column, repeat for several (N then D for chinchilla/kaplan). "
            "Arithmetic of columns is allowed: 'Training FLOP / (6 * Model Size)'.",
        ),
        y: str = typer.Option(..., "--y", help="Target column (a loss)."),
        out: Path = typer.Option(..., "--out", help="Output directory for fit.json and fit.png."),
        form: str = typer.Option(
            "auto",
            "--form",
            help="power_law, power_law_offset, chinchilla, kaplan, dynamical, bnsl, bnsl2, "
            "bnsl3; a comma list, or 'auto' (all forms for this many inputs), ranked.",
        ),
        loss: str = typer.Option(
            "huber", "--loss", help="huber or least_squares (on log residuals)."
        ),
        delta: float = typer.Option(1e-3, "--delta", help="Huber delta."),
        holdout_last: int | None = typer.Option(
            None,
            "--holdout-last",
            help="Hold out the K points with the largest inputs (x, or N*D).",
        ),
        holdout_above: str | None = typer.Option(
            None, "--holdout-above", help="Hold out points whose first input exceeds X (or COL=X)."
        ),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: none)."),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        profile: bool = typer.Option(
            False, "--profile", help="Profile-likelihood CIs of exponents."
        ),
        drop_highest: int = typer.Option(
            0, "--drop-highest", help="Drop the K points with the highest y (the recipe drops 5)."
        ),
        drop_invalid: bool = typer.Option(
            False,
            "--drop-invalid",
            help="Drop rows with NaN/inf/non-positive values instead of failing.",
        ),
        jobs: int | None = typer.Option(
            None, "--jobs", help="Worker processes (default: all cores)."
        ),
    ) -> None:
        """Fit a scaling law robustly, with bootstrap intervals and held-out extrapolation error.

        Example: scalinglab fit chinchilla.csv --form chinchilla --x "Model Size"
        --x "Training FLOP / (6 * Model Size)" --y loss --drop-highest 5 --out results/chinchilla
        """
        from ..outdir import claim
        from .core import fit

        claim(out, "fit")
        result = fit(
            data,
            y,
            x=x,
            form=form,
            loss=loss,
            delta=delta,
            holdout_last=holdout_last,
            holdout_above=holdout_above,
            n_boot=bootstrap,
            seed=seed,
            profile=profile,
            drop_highest=drop_highest,
            drop_invalid=drop_invalid,
            n_jobs=jobs,
        )
        path = result.save(out)
        print_summary(result, path)
