"""Command-line verbs ``train`` (one data-limited run) and ``sweep`` (a grid of them).

torch is imported inside the verbs only, so ``scalinglab --help`` stays fast.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Annotated, Any

import typer

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


def _opt(help: str, *names: str) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help)


# Options shared by `train` and `sweep`: (name, type, option, default, config field).
# "model." fields go to ModelConfig, "train." fields to TrainConfig.
_SHARED: list[tuple[str, Any, typer.models.OptionInfo, Any, str]] = [
    ("layers", int, _opt("Transformer blocks L."), 2, "model.n_layer"),
    ("width", int, _opt("Model width d."), 64, "model.n_embd"),
    ("heads", int, _opt("Attention heads (divide the width)."), 2, "model.n_head"),
    (
        "arch",
        str,
        _opt("gpt2 (pre-LN, GELU) or llama (RMSNorm, rotary, SwiGLU)."),
        "gpt2",
        "model.arch",
    ),
    (
        "positions",
        str | None,
        _opt("learned or rotary (default: the architecture's)."),
        None,
        "model.positions",
    ),
    (
        "mlp",
        str | None,
        _opt("gelu, relu or swiglu (default: the architecture's)."),
        None,
        "model.mlp",
    ),
    (
        "untied",
        bool,
        _opt("Separate input and output embeddings.", "--untied"),
        False,
        "model.untied",
    ),
    (
        "dropout",
        float,
        _opt("Dropout probability (0: rely on early stopping)."),
        0.0,
        "model.dropout",
    ),
    ("batch_size", int, _opt("Sequences per optimiser step."), 32, "train.batch_size"),
    ("max_epochs", float, _opt("Passes over the P tokens at most."), 100.0, "train.max_epochs"),
    ("max_steps", int, _opt("Optimiser steps at most per run."), 2000, "train.max_steps"),
    (
        "warmup",
        int,
        _opt("Linear warmup steps (at most 10% of the run)."),
        50,
        "train.warmup_steps",
    ),
    (
        "patience",
        int,
        _opt("Stop after this many evaluations without improvement (0: never)."),
        4,
        "train.patience",
    ),
    ("evals", int, _opt("Log-spaced evaluations over a run."), 30, "train.evals"),
    ("eval_blocks", int, _opt("Held-out blocks for early stopping."), 256, "train.eval_blocks"),
    (
        "final_eval_blocks",
        int,
        _opt("Held-out blocks for the reported (per-position) losses."),
        4096,
        "train.final_eval_blocks",
    ),
    (
        "device",
        str,
        _opt("auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:K or mps."),
        "auto",
        "train.device",
    ),
    ("compile", bool, _opt("Use torch.compile.", "--compile"), False, "train.compile"),
]


def _with_shared_options(fn: Any) -> Any:
    """Append the shared model/training options to a verb's signature (read by Typer).

    The verb receives them in ``**shared``; :func:`_settings` turns them into configs.
    """
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[typ, option]
        )
        for name, typ, option, default, _ in _SHARED
    ]
    fn.__signature__ = sig.replace(parameters=own + extra)
    return fn


def _settings(shared: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split the shared options into ModelConfig and TrainConfig fields."""
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for name, _t, _o, _d, target in _SHARED:
        kind, field = target.split(".")
        (model if kind == "model" else train)[field] = shared[name]
    model["tie_embeddings"] = not model.pop("untied")
    return model, train


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``sweep`` to the scalinglab app."""

    @app.command("train")
    @_with_shared_options
    def train_cmd(
        corpus: CorpusArg = None,
        P: Annotated[
            str, typer.Option("--P", "-P", help="Training tokens (4096, 2^16, 64k).")
        ] = "2^16",
        context: Annotated[int, typer.Option(help="Sequence length T.")] = 64,
        tokenizer: Tokenizer = None,
        seed: Annotated[int, typer.Option(help="Seed of slice offset, order and init.")] = 0,
        lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
        threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
        out: Out = Path("train-out"),
        **shared: Any,
    ) -> None:
        """Train one model on exactly P tokens and report its best held-out loss.

        Writes OUT/run.json: best_val_loss (nats/token) with stderr, per_position_loss
        L_n for n = 1..T, steps, tokens seen, wall time, model and settings.

        Example: scalinglab train shakespeare.txt --tokenizer char --P 2^16 --context 64 --out run1
        """
        from rich.console import Console

        from .. import corpus as corpus_mod
        from .._io import write_json
        from .._progress import make_progress
        from .sweep import parse_int_list
        from .trainer import TrainConfig, train

        values = parse_int_list(P)
        if len(values) != 1:
            from ..errors import UserError

            raise UserError("train takes one P; use `scalinglab sweep` for a grid")
        model, tr = _settings(shared)
        cfg = TrainConfig(threads=threads, P=values[0], context=context, seed=seed, lr=lr, **tr)
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

            result = train(c, cfg, model, progress=cb)
        path = write_json(out / "run.json", result.to_dict())
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
            f"non-embedding parameters -> {path}"
        )

    @app.command("sweep")
    @_with_shared_options
    def sweep_cmd(
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
        **shared: Any,
    ) -> None:
        """Train a grid over P, context, learning rate and seed; measure alpha_D.

        Each finished run goes to OUT/runs/<run-id>.json once; repeating the command
        skips finished runs. OUT/sweep.json: runs, curve {P, loss} (best lr per P,
        seed mean), per-position losses L_n(P), alpha_D with bootstrap 95% interval.

        Example: scalinglab sweep ts.txt --tokenizer char --P 2^12:2^20 --lr 1e-3,3e-3 --out sw
        """
        from .. import corpus as corpus_mod
        from ..errors import UserError
        from .sweep import parse_float_list, parse_int_list, run_sweep

        window = None
        if fit_window:
            lo_hi = fit_window.split(":")
            if len(lo_hi) != 2:
                raise UserError(f"--fit-window takes LO:HI, got {fit_window!r}")
            window = (parse_int_list(lo_hi[0])[0], parse_int_list(lo_hi[1])[0])
        model, tr = _settings(shared)
        c = corpus_mod.resolve(corpus, tokenizer)
        result = run_sweep(
            c,
            out,
            parse_int_list(P),
            parse_int_list(context),
            parse_float_list(lr),
            seeds,
            model=model,
            train=tr,
            workers=workers,
            threads=threads,
            fit_window=window,
            n_boot=bootstrap,
        )
        _print_sweep(result.to_dict(), out)


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
