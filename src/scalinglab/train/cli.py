"""Command-line verbs ``train`` (one data-limited run) and ``sweep`` (a grid of them).

A thin layer over :func:`scalinglab.train.train` and :func:`scalinglab.train.run_sweep`:
the model and training options are generated from the fields of
:class:`~scalinglab.train.config.ModelConfig` and
:class:`~scalinglab.train.config.TrainConfig` (name, type, default and help from
each field and its metadata), so they are stated once, in those dataclasses.
torch is imported inside the verbs only, so ``scalinglab --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from typer.core import TyperCommand
from typer.models import ParamMeta

from .config import ModelConfig, TrainConfig

CorpusArg = Annotated[
    str | None,
    typer.Argument(
        help="Corpus directory or raw source (.txt, .jsonl, ...); default: python-stdlib."
    ),
]
Tokenizer = Annotated[
    str | None,
    typer.Option(help="Tokenizer for a raw source: char, byte, bpe:N or a tokenizer.json."),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]

#: ctx.meta key of the generated settings: {"model": {...}, "train": {...}}.
SETTINGS = "scalinglab.train.settings"


def field_options(cls: type, exclude: frozenset[str], panel: str) -> list[Any]:
    """One Typer option per command-line field of the dataclass ``cls``.

    The option's name is the field's (``--field-name``, or the metadata's ``flag``),
    its type and default the field's, its help the metadata's ``help``. Fields with
    ``cli=False`` metadata and those in ``exclude`` are left out.
    """
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.metadata.get("cli", True):
            continue
        flag = f.metadata.get("flag")
        if flag is None and hints[f.name] is bool and f.default is False:
            flag = "--" + f.name.replace("_", "-")
        info = typer.Option(
            f.default,
            *([flag] if flag else []),
            help=f.metadata.get("help"),
            show_default=True,
            rich_help_panel=panel,
        )
        out.append(_typer_param(ParamMeta(name=f.name, default=info, annotation=hints[f.name])))
    return out


def _typer_param(meta: ParamMeta) -> Any:
    """The click parameter Typer makes of a function parameter ``meta``."""
    import typer.main as tm

    build = getattr(tm, "_get_param", None)  # Typer >= 0.24
    if build is not None:
        return build(meta)
    return tm.get_click_param(meta)[0]  # type: ignore[attr-defined]


def config_command(model_exclude: frozenset[str], train_exclude: frozenset[str]) -> type:
    """A Typer command class that adds the ModelConfig and TrainConfig options.

    Their values reach the verb as ``ctx.meta[SETTINGS]`` = {"model": ..., "train": ...}
    (field name to value), not as arguments of the verb function.
    """
    groups = {
        "model": field_options(ModelConfig, model_exclude, "Model"),
        "train": field_options(TrainConfig, train_exclude, "Training"),
    }

    class ConfigCommand(TyperCommand):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            own = {p.name for p in self.params}
            for params in groups.values():
                clash = own & {p.name for p in params}
                assert not clash, f"options declared twice: {clash}"
                self.params.extend(params)

        def invoke(self, ctx: Any) -> Any:
            ctx.meta[SETTINGS] = {
                group: {p.name: ctx.params.pop(p.name) for p in params}
                for group, params in groups.items()
            }
            return super().invoke(ctx)

    return ConfigCommand


#: TrainConfig fields that ``sweep`` takes as grid axes or sets per worker.
_SWEEP_OWN = frozenset({"context", "lr", "seed", "threads"})


#: Help of --cluster (the backend comes from scalinglab.cli: ctx.meta[CLUSTER]).
CLUSTER_HELP = "Run on a Dask cluster: ADDRESS, local[:N] or slurm:FILE (docs/cluster.md)."
CLUSTER = "scalinglab.cluster.backend"


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``sweep`` to the scalinglab app."""

    @app.command("train", cls=config_command(frozenset(), frozenset()))
    def train_cmd(
        ctx: typer.Context,
        corpus: CorpusArg = None,
        P: Annotated[
            str, typer.Option("--P", "-P", help="Training tokens (4096, 2^16, 64k).")
        ] = "2^16",
        tokenizer: Tokenizer = None,
        out: Out = Path("train-out"),
    ) -> None:
        """Train one model on exactly P training tokens and report its best held-out loss.

        Writes OUT/run.json: best_val_loss (nats/token) with stderr, per_position_loss
        L_n for n = 1..T, steps, tokens seen, wall time, model and settings.

        Example: scalinglab train shakespeare.txt --tokenizer char --P 2^16 --context 64 --out run1
        """
        from rich.console import Console

        from .. import corpus as corpus_mod
        from .._progress import make_progress, warn
        from ..errors import UserError
        from ..outdir import claim
        from .grid import parse_int_list
        from .trainer import train

        claim(out, "run")
        values = parse_int_list(P)
        if len(values) != 1:
            raise UserError("train takes one P; use `scalinglab sweep` for a grid")
        settings = ctx.meta[SETTINGS]
        cfg = TrainConfig(P=values[0], **settings["train"])
        c = corpus_mod.resolve(corpus, tokenizer)
        with make_progress() as prog:
            task = prog.add_task(f"training P={cfg.P}", total=None)

            def cb(step: int, planned: int, m: dict[str, float]) -> None:
                prog.update(
                    task,
                    completed=step,
                    total=planned,
                    description=f"training P={cfg.P} val {m['val_loss']:.3f}",
                )

            result = train(c, cfg, settings["model"], progress=cb, out=out)
        con = Console()
        con.print(
            f"P={result.P} T={result.context} lr={result.lr:g}: best held-out loss "
            f"[bold]{result.best_val_loss:.4f}[/] ± {result.best_val_loss_stderr:.4f} nats "
            f"at step {result.best_step}/{result.steps} ({result.stop_reason}, "
            f"{result.epochs:.1f} epochs, {result.tokens_per_s:,.0f} tok/s on {result.device})"
        )
        con.print(
            f"L_1 = {result.per_position_loss[0]:.3f}, L_{result.context} = "
            f"{result.per_position_loss[-1]:.3f} nats; {result.params_non_embedding:,} "
            f"non-embedding parameters -> {out / 'run.json'}"
        )
        for w in result.warnings:
            warn(w, con)

    @app.command("sweep", cls=config_command(frozenset(), _SWEEP_OWN))
    def sweep_cmd(
        ctx: typer.Context,
        corpus: CorpusArg = None,
        P: Annotated[
            str, typer.Option("--P", "-P", help="Training sizes: 4096,16384 or 2^12:2^20[:step].")
        ] = "2^12:2^16",
        context: Annotated[str, typer.Option(help="Context(s) T, comma-separated.")] = "64",
        tokenizer: Tokenizer = None,
        seeds: Annotated[int, typer.Option(help="Seeds per grid point (0..seeds-1).")] = 1,
        lr: Annotated[str, typer.Option(help="Learning rates, comma-separated.")] = "1e-3,3e-3",
        threads: Annotated[
            int | None, typer.Option(help="CPU threads per worker (default: CPUs / workers).")
        ] = None,
        workers: Annotated[int, typer.Option(help="Runs in parallel processes.")] = 1,
        fit_window: Annotated[
            str | None, typer.Option(help="P range for the alpha_D fit, e.g. 2^14:2^20.")
        ] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of the fits.")] = 1000,
        out: Out = Path("sweep-out"),
        cluster: Annotated[str | None, typer.Option(help=CLUSTER_HELP)] = None,
        report: Annotated[
            bool, typer.Option("--report/--no-report", help="Write report.html into --out.")
        ] = True,
    ) -> None:
        """Train a grid over P, context, learning rate and seed; measure alpha_D.

        Each finished run goes to OUT/runs/<run-id>.json once; repeating the command
        skips finished runs. OUT/sweep.json: runs, curve {P, loss} (best lr per P,
        seed mean), per-position losses L_n(P), alpha_D with bootstrap 95% interval.

        Example: scalinglab sweep ts.txt --tokenizer char --P 2^12:2^20 --lr 1e-3,3e-3 --out sw
        """
        from .. import corpus as corpus_mod
        from ..outdir import claim
        from .grid import SweepGrid, parse_float_list, parse_int_list, parse_window
        from .sweep import run_sweep

        spec = ctx.meta[CLUSTER](cluster) if cluster else None  # before --out is claimed
        claim(out, "sweep")
        settings = ctx.meta[SETTINGS]
        grid = SweepGrid(
            P=parse_int_list(P),
            contexts=parse_int_list(context),
            lrs=parse_float_list(lr),
            seeds=range(seeds),
            model=settings["model"],
            train=settings["train"],
        )
        window = parse_window(fit_window)
        c = corpus_mod.resolve(corpus, tokenizer)
        result = run_sweep(
            c, out, grid, workers=workers, threads=threads, fit_window=window, n_boot=bootstrap,
            cluster=spec,
        )  # fmt: skip
        _print_sweep(result.to_dict(), out)
        if report:  # one page of the sweep (sl.report.html)
            html = ctx.meta["scalinglab.report.html"]  # from scalinglab.cli

            page = html(out / "sweep.json", out, filename="report.html", figure_dir=None)
            typer.echo(f"report: {page.path}")


def _print_sweep(res: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from .._progress import warn

    con = Console()
    curve = res["curve"]
    table = Table(title=f"data-limited loss curve ({res['corpus']['source']})")
    for col in ("P", "loss (nats)", "± stderr", "T", "best lr", "seeds", "converged"):
        table.add_column(col, justify="right")
    for i, P in enumerate(curve["P"]):
        table.add_row(
            f"{P:,}",
            f"{curve['loss'][i]:.4f}",
            f"{curve['stderr'][i]:.4f}",
            str(curve["context"][i]),
            f"{curve['lr'][i]:g}",
            str(curve["seeds"][i]),
            "yes" if curve["converged"][i] else "[yellow]no[/]",
        )
    con.print(table)
    a = res["alpha_D"]
    for form in ("no_offset", "with_offset"):
        f = a.get(form)
        if f:
            lo, hi = (v if v is not None else math.nan for v in f["alpha_ci95"])
            ci = (
                f"95% CI \\[{lo:.3f}, {hi:.3f}]"
                if math.isfinite(lo) and math.isfinite(hi)
                else "no bootstrap interval (too few points)"
            )
            extra = f", E = {f['E']:.3f}" if form == "with_offset" else ""
            con.print(
                f"alpha_D ({form.replace('_', ' ')}): [bold]{f['alpha']:.3f}[/] ± "
                f"{f['alpha_stderr']:.3f}, {ci}{extra} "
                f"(P {f['window'][0]:,}..{f['window'][1]:,}, {f['n_points']} points)"
            )
    for w in res["warnings"]:
        warn(w, con)
    con.print(
        f"{len(res['runs_trained'])} runs trained, {len(res['runs_reused'])} reused, "
        f"{res['wall_time_s']:.0f} s -> {out / 'sweep.json'}"
    )
