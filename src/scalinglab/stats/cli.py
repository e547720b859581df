"""The ``stats`` verb: correlations and conditional entropies of a corpus."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .entropy import DEFAULT_MAX_N


class Only(StrEnum):
    correlations = "correlations"
    entropy = "entropy"


def register(app: typer.Typer) -> None:
    """Add ``scalinglab stats``."""

    @app.command("stats")
    def stats_cmd(
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
        lags: Annotated[str | None, typer.Option(help="Lags, e.g. 1,2,4 or 1-64.")] = None,
        within_documents: Annotated[
            bool, typer.Option(help="Count only pairs inside one document.")
        ] = False,
        floor_factor: Annotated[
            float, typer.Option(help="Resolvable: signal > factor x noise floor.")
        ] = 2.0,
        beta_window: Annotated[str | None, typer.Option(help="Lag window lo,hi for beta.")] = None,
        max_pairs: Annotated[
            int | None, typer.Option(help="Subsample at most this many pairs per lag.")
        ] = None,
        top_k: Annotated[int, typer.Option(help="Also report the top-k singular values.")] = 0,
        first_lag: Annotated[int, typer.Option(help="First lag of the automatic beta window.")] = 1,
        debias_beta: Annotated[
            bool,
            typer.Option(help="Fit beta to sqrt(norm^2 - floor^2) (--no-debias-beta: raw norms)."),
        ] = True,
        max_n: Annotated[int, typer.Option(help="Largest context length for H_n.")] = DEFAULT_MAX_N,
        entropy_from: Annotated[
            Path | None, typer.Option(help="Per-position losses of a model (upper bounds).")
        ] = None,
        gamma_window: Annotated[str | None, typer.Option(help="n window lo,hi for gamma.")] = None,
        fit_offset: Annotated[
            bool, typer.Option(help="Also fit H_n - H_inf ~ n^-gamma with H_inf free.")
        ] = False,
        boot: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
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

        from ..corpus import resolve
        from ..errors import UserError
        from .correlations import correlations, parse_lags
        from .entropy import check_corpus_size, entropy, load_external_losses, parse_window

        # Check every option before any work, so that a bad entropy option cannot
        # fail after correlations.json has been written.
        lag_list, bw, gw = parse_lags(lags), parse_window(beta_window), parse_window(gamma_window)
        if floor_factor <= 0:
            raise UserError(f"--floor-factor must be positive, got {floor_factor}")
        if boot < 0 or top_k < 0:
            raise UserError("--boot and --top-k must be non-negative")
        if first_lag < 1:
            raise UserError(f"--first-lag must be at least 1, got {first_lag}")
        if only in (None, Only.entropy):
            if boot < 2:
                raise UserError(
                    f"n_boot (--boot) must be at least 2 for the gamma fit, got {boot} "
                    "(--only correlations runs without a bootstrap)"
                )
            if max_n < 1:
                raise UserError(f"max_n (--max-n) must be at least 1, got {max_n}")
            if gw is not None and gw[1] > max_n:
                raise UserError(
                    f"--gamma-window {gw[0]},{gw[1]} reaches beyond max_n = {max_n} (--max-n)"
                )
            if entropy_from is not None:
                load_external_losses(entropy_from)
        c = resolve(corpus, tokenizer)
        if only in (None, Only.entropy):
            check_corpus_size(c, max_n)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create the output directory {out}: {e.strerror}") from None
        stdout = Console()
        written: list[str] = []
        if only in (None, Only.correlations):
            res = correlations(
                c,
                lag_list,
                within_documents=within_documents,
                floor_factor=floor_factor,
                beta_window=bw,
                max_pairs=max_pairs,
                top_k=top_k,
                first_lag=first_lag,
                debias_beta=debias_beta,
                n_boot=boot,
                seed=seed,
            )
            res.save(out)
            stdout.print(res.summary(), highlight=False)
            written += ["correlations.json", "correlations.png"]
        if only in (None, Only.entropy):
            ent = entropy(
                c,
                max_n=max_n,
                gamma_window=gw,
                fit_offset=fit_offset,
                entropy_from=entropy_from,
                n_boot=boot,
                seed=seed,
            )
            ent.save(out)
            stdout.print(ent.summary(), highlight=False)
            written += ["entropy.json", "entropy.png"]
        stdout.print(f"results in {out}/ ({', '.join(written)})", highlight=False)
