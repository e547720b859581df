"""The ``stats`` verb: correlations and conditional entropies of a corpus.

A thin layer over :func:`~scalinglab.stats.measure`: the options build a
:class:`~scalinglab.stats.CorrelationConfig` and an
:class:`~scalinglab.stats.EntropyConfig` (their defaults and help come from the
configs' fields), and every check is the configs' own.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .config import CorrelationConfig, EntropyConfig, field_default, field_help

# The option annotations are evaluated by Typer in this module's globals.
C, E = CorrelationConfig, EntropyConfig


class Only(StrEnum):
    correlations = "correlations"
    entropy = "entropy"


#: Help of --cluster (the backend comes from scalinglab.cli: ctx.meta[CLUSTER]).
CLUSTER_HELP = "Run on a Dask cluster: ADDRESS, local[:N] or slurm:FILE (docs/cluster.md)."
CLUSTER = "scalinglab.cluster.backend"


def register(app: typer.Typer) -> None:
    """Add ``scalinglab stats``."""

    @app.command("stats")
    def stats_cmd(
        ctx: typer.Context,
        corpus: Annotated[
            str | None,
            typer.Argument(help="A corpus directory or raw source (default: python-stdlib)."),
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
            "results/stats"
        ),
        tokenizer: Annotated[
            str | None, typer.Option(help="Tokenizer for a raw source (default bpe:8192).")
        ] = None,
        only: Annotated[Only | None, typer.Option(help="Compute only one of the two.")] = None,
        lags: Annotated[str | None, typer.Option(help=field_help(C, "lags"))] = None,
        within_documents: Annotated[
            bool, typer.Option(help=field_help(C, "within_documents"))
        ] = field_default(C, "within_documents"),
        floor_factor: Annotated[
            float, typer.Option(help=field_help(C, "floor_factor"))
        ] = field_default(C, "floor_factor"),
        beta_window: Annotated[str | None, typer.Option(help=field_help(C, "beta_window"))] = None,
        max_pairs: Annotated[
            int | None, typer.Option(help=field_help(C, "max_pairs"))
        ] = field_default(C, "max_pairs"),
        top_k: Annotated[int, typer.Option(help=field_help(C, "top_k"))] = field_default(
            C, "top_k"
        ),
        first_lag: Annotated[int, typer.Option(help=field_help(C, "first_lag"))] = field_default(
            C, "first_lag"
        ),
        debias_beta: Annotated[
            bool, typer.Option(help=field_help(C, "debias_beta"))
        ] = field_default(C, "debias_beta"),
        max_n: Annotated[int, typer.Option(help=field_help(E, "max_n"))] = field_default(
            E, "max_n"
        ),
        entropy_from: Annotated[
            Path | None, typer.Option(help=field_help(E, "entropy_from"))
        ] = None,
        gamma_window: Annotated[
            str | None, typer.Option(help=field_help(E, "gamma_window"))
        ] = None,
        fit_offset: Annotated[bool, typer.Option(help=field_help(E, "fit_offset"))] = field_default(
            E, "fit_offset"
        ),
        boot: Annotated[
            int,
            typer.Option(
                help="Bootstrap replicates, for both statistics (the entropy default; "
                "--only correlations may use 0 or 1: no standard errors)."
            ),
        ] = field_default(E, "n_boot"),
        seed: Annotated[int, typer.Option(help=field_help(E, "seed"))] = field_default(E, "seed"),
        cluster: Annotated[str | None, typer.Option(help=CLUSTER_HELP)] = None,
    ) -> None:
        """Measure token correlations ||C(n)|| and conditional entropies H_n of a corpus.

        Writes correlations.json/png (norms, floors, errors, beta) and
        entropy.json/png (H_n, bounds, reliability, gamma) to --out.

        Examples:

          scalinglab stats tiny-shakespeare.txt --tokenizer char --out st

          scalinglab stats --only correlations --lags 1-64 --beta-window 1,32 -o st

          scalinglab stats DIR --only correlations --within-documents --top-k 8 -o st

          scalinglab stats DIR --max-n 16 --entropy-from sweep.json -o st
        """
        from rich.console import Console
        from rich.markup import escape

        from ..outdir import claim
        from .measure import measure

        claim(out, "stats")
        # The configs check every option on construction: a bad entropy option fails
        # before anything is counted or written.
        cc = ec = None
        if only in (None, Only.correlations):
            cc = CorrelationConfig(
                lags=lags,  # type: ignore[arg-type]  # parsed by the config
                within_documents=within_documents,
                floor_factor=floor_factor,
                beta_window=beta_window,  # type: ignore[arg-type]
                max_pairs=max_pairs,
                top_k=top_k,
                first_lag=first_lag,
                debias_beta=debias_beta,
                n_boot=boot,
                seed=seed,
            )
        if only in (None, Only.entropy):
            ec = EntropyConfig(
                max_n=max_n,
                gamma_window=gamma_window,  # type: ignore[arg-type]
                fit_offset=fit_offset,
                entropy_from=str(entropy_from) if entropy_from is not None else None,
                n_boot=boot,
                seed=seed,
            )
        stdout = Console()
        m = measure(
            corpus,
            correlations=cc if cc is not None else False,
            entropy=ec if ec is not None else False,
            out=out,
            tokenizer=tokenizer,
            cluster=ctx.meta[CLUSTER](cluster) if cluster else None,
        )
        stdout.print(m.summary(), highlight=False)
        names = ", ".join(p.name for p in m.written)
        stdout.print(escape(f"results in {out}/ ({names})"), highlight=False)
