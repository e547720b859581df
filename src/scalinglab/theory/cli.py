"""The ``predict`` verb: the main job of scalinglab."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..stats.config import CorrelationConfig as C
from ..stats.config import EntropyConfig as E
from ..stats.config import field_default, field_help
from ..train.reference import DEFAULT_BUDGET_S

#: Help of --cluster (the backend comes from scalinglab.cli: ctx.meta[CLUSTER]).
CLUSTER_HELP = "Run on a Dask cluster: ADDRESS, local[:N] or slurm:FILE (docs/cluster.md)."
CLUSTER = "scalinglab.cluster.backend"


def register(app: typer.Typer) -> None:
    """Add ``scalinglab predict``."""

    @app.command("predict")
    def predict_cmd(
        ctx: typer.Context,
        corpus: Annotated[
            str | None,
            typer.Argument(help="A corpus directory or raw source (default: python-stdlib)."),
        ] = None,
        tokenizer: Annotated[
            str | None, typer.Option(help="Tokenizer for a raw source (default bpe:8192).")
        ] = None,
        context: Annotated[
            int | None, typer.Option("--context", "-T", help="Model context length T to check.")
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
            "results/predict"
        ),
        lags: Annotated[str | None, typer.Option(help=field_help(C, "lags"))] = None,
        max_n: Annotated[int, typer.Option(help=field_help(E, "max_n"))] = field_default(
            E, "max_n"
        ),
        beta_window: Annotated[str | None, typer.Option(help=field_help(C, "beta_window"))] = None,
        first_lag: Annotated[int, typer.Option(help=field_help(C, "first_lag"))] = field_default(
            C, "first_lag"
        ),
        gamma_window: Annotated[
            str | None, typer.Option(help=field_help(E, "gamma_window"))
        ] = None,
        entropy: Annotated[
            str,
            typer.Option(
                help="Where H_n comes from: counts, model (a trained model's per-position "
                "losses) or auto (model when the count-based reliable window holds < 5 "
                "context lengths and PyTorch is installed)."
            ),
        ] = "auto",
        entropy_from: Annotated[
            Path | None,
            typer.Option(
                help="A model's per-position losses (JSON/CSV) or a local Hugging Face "
                "checkpoint directory (config.json, weights, tokenizer.json)."
            ),
        ] = None,
        budget: Annotated[
            float,
            typer.Option(help="Wall seconds for training the reference model (entropy=model)."),
        ] = DEFAULT_BUDGET_S,
        calibrate: Annotated[
            str | None,
            typer.Option(
                help="Fix the horizon's threshold constant with one data-limited run at P0 "
                "tokens (e.g. 2^12)."
            ),
        ] = None,
        device: Annotated[
            str, typer.Option(help="Device for model training/scoring: auto, cpu, cuda, mps.")
        ] = "auto",
        target_loss: Annotated[
            float | None, typer.Option(help="Report the tokens needed to reach this loss.")
        ] = None,
        compare_measured: Annotated[
            Path | None, typer.Option(help="A sweep.json whose measured curve to overlay.")
        ] = None,
        p_min: Annotated[float, typer.Option(help="Smallest P of the predicted curve.")] = 1e4,
        p_max: Annotated[float, typer.Option(help="Largest P of the predicted curve.")] = 1e12,
        boot: Annotated[int, typer.Option(help="Joint bootstrap replicates.")] = 1000,
        report: Annotated[
            bool, typer.Option("--report/--no-report", help="Write report.html into --out.")
        ] = True,
        seed: Annotated[int, typer.Option(help=field_help(C, "seed"))] = field_default(C, "seed"),
        cluster: Annotated[str | None, typer.Option(help=CLUSTER_HELP)] = None,
    ) -> None:
        """Predict the data-limited scaling law of a corpus from its statistics.

        Measures token correlations ||C(n)|| ~ n^-beta and conditional entropies
        H_n ~ n^-gamma, then predicts alpha_D = gamma / (2 beta), the horizon n*(P)
        and the learning curve L(P). Writes prediction.json, correlations.json,
        entropy.json and their figures to --out.

        Example: scalinglab predict ../shared/data/tiny-shakespeare.txt --tokenizer char --out ts
        """
        from .._progress import console, print_summary
        from ..outdir import claim
        from ..stats import parse_lags
        from ..stats.config import parse_window
        from ..train.sweep import parse_count
        from .predict import predict

        spec = ctx.meta[CLUSTER](cluster) if cluster else None  # before --out is claimed
        claim(out, "prediction")
        pred = predict(
            corpus,
            tokenizer=tokenizer,
            context=context,
            out=out,
            lags=parse_lags(lags),
            max_n=max_n,
            beta_window=parse_window(beta_window),
            first_lag=first_lag,
            gamma_window=parse_window(gamma_window),
            entropy=entropy,
            entropy_from=entropy_from,
            budget=budget,
            calibrate=parse_count(calibrate, "--calibrate"),
            device=device,
            target_loss=target_loss,
            compare_measured=compare_measured,
            p_min=p_min,
            p_max=p_max,
            n_boot=boot,
            seed=seed,
            cluster=spec,
        )
        out_console = console.__class__()  # the summary goes to standard output
        out_console.print(pred.summary_table())
        print_summary(pred.summary(), out_console)
        out_console.print(
            f"results in {out}/ (prediction.json, prediction.png, "
            "correlations.json/png, entropy.json/png)",
            highlight=False,
        )
        if report:  # one page of what predict wrote (sl.report.html)
            html = ctx.meta["scalinglab.report.html"]  # from scalinglab.cli

            own = ("prediction.json", "correlations.json", "entropy.json", "calibration.json")
            files = [out / f for f in own if (out / f).exists()]
            page = html(files, out, filename="report.html", figure_dir=None).path
            out_console.print(f"report: {page}", highlight=False)
