"""The ``validate`` verb: predicted against measured alpha_D in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .core import DEFAULT_BUDGET_S, MIN_STEPS

#: Help of --cluster (the backend comes from scalinglab.cli: ctx.meta[CLUSTER]).
CLUSTER_HELP = "Run on a Dask cluster: ADDRESS, local[:N] or slurm:FILE (docs/cluster.md)."
CLUSTER = "scalinglab.cluster.backend"


def register(app: typer.Typer) -> None:
    """Add ``scalinglab validate``."""

    @app.command("validate")
    def validate_cmd(
        ctx: typer.Context,
        corpus: Annotated[
            str | None,
            typer.Argument(help="A corpus directory or raw source (default: python-stdlib)."),
        ] = None,
        tokenizer: Annotated[
            str | None, typer.Option(help="Tokenizer for a raw source (default bpe:8192).")
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
            "results/validate"
        ),
        budget: Annotated[
            float, typer.Option(help="Wall seconds for the whole validation (sizes the grid).")
        ] = DEFAULT_BUDGET_S,
        p_max: Annotated[
            str | None, typer.Option(help="Largest training size of the sweep (e.g. 2^18).")
        ] = None,
        p_min: Annotated[
            str, typer.Option(help="Smallest training size; the grid doubles from it.")
        ] = "2^12",
        max_n: Annotated[int | None, typer.Option(help="Largest context length for H_n.")] = None,
        workers: Annotated[int, typer.Option(help="Sweep runs in parallel processes.")] = 2,
        min_steps: Annotated[
            int, typer.Option(help="Optimiser steps at least per sweep run.")
        ] = MIN_STEPS,
        device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:K or mps.")] = "auto",
        boot: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        cluster: Annotated[str | None, typer.Option(help=CLUSTER_HELP)] = None,
        report: Annotated[
            bool, typer.Option("--report/--no-report", help="Write report.html into --out.")
        ] = True,
    ) -> None:
        """Predict alpha_D, measure it with a data-limited sweep, and compare.

        Writes DIR/validation.json and DIR/validation.png (and DIR/predict, DIR/sweep,
        DIR/width_check). Resumable: a second run reuses every finished step.

        Example: scalinglab validate ../shared/data/tiny-shakespeare.txt --tokenizer char
        --budget 900 --out val
        """
        from .._progress import console, print_summary
        from ..outdir import claim
        from ..train.sweep import parse_count
        from .core import validate

        spec = ctx.meta[CLUSTER](cluster) if cluster else None  # before --out is claimed
        claim(out, "validation")
        pm = parse_count(p_max, "--p-max")
        p0 = parse_count(p_min, "--p-min")
        assert p0 is not None  # the option has a default
        opts = {"max_n": max_n} if max_n is not None else {}
        res = validate(
            corpus,
            out=out,
            tokenizer=tokenizer,
            budget=budget,
            p_max=pm,
            p_min=p0,
            workers=workers,
            min_steps=min_steps,
            device=device,
            seed=seed,
            n_boot=boot,
            predict_options=opts,
            cluster=spec,
        )
        stdout = console.__class__()
        print_summary(res.summary(), stdout)
        stdout.print(f"results in {out}/ (validation.json, validation.png)", highlight=False)
        if report:  # one page of validation.json, predict/ and sweep/ (sl.report.html)
            html = ctx.meta["scalinglab.report.html"]  # from scalinglab.cli

            page = html(out, out, filename="report.html", figure_dir=None).path
            stdout.print(f"report: {page}", highlight=False)
