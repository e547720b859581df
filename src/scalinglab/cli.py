"""The ``scalinglab`` command line: a thin layer over the public API.

Each subpackage contributes its verbs through a ``register(app)`` function in
its own ``cli`` module; this file only assembles them and turns user errors
into one-line messages with exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

from .errors import UserError

app = typer.Typer(
    name="scalinglab",
    help="Measure a corpus, predict its data-limited scaling law, verify it by training, "
    "fit scaling laws and generate synthetic corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """scalinglab: the science of neural scaling laws.

    Example: scalinglab predict ../shared/data/tiny-shakespeare.txt --tokenizer char --out out
    """
    from .cluster import CONTEXT_KEY, backend
    from .report import REPORT_KEY, html

    ctx.meta[CONTEXT_KEY] = backend  # --cluster of stats, predict, sweep, validate
    # report.html of predict, sweep and validate: the application composes the verbs with
    # the report writer, so that no engine package imports report
    ctx.meta[REPORT_KEY] = html


# Modules whose register(app) adds verbs, in the order they appear in --help.
_VERB_MODULES = (
    "scalinglab.theory.cli",  # predict
    "scalinglab.validation.cli",  # validate
    "scalinglab.stats.cli",  # stats
    "scalinglab.corpus.cli",  # tokenize
    "scalinglab.train.cli",  # train, sweep
    "scalinglab.fit.cli",  # fit
    "scalinglab.synth.cli",  # synth
    "scalinglab.report.cli",  # report
)

for _name in _VERB_MODULES:
    importlib.import_module(_name).register(app)


try:  # Typer >= 0.20 carries its own copy of Click
    from typer._click.exceptions import ClickException as _ClickException
    from typer._click.exceptions import NoArgsIsHelpError as _NoArgsIsHelp
except ImportError:  # pragma: no cover - older Typer on Click
    from click.exceptions import ClickException as _ClickException  # type: ignore[assignment]
    from click.exceptions import NoArgsIsHelpError as _NoArgsIsHelp  # type: ignore[assignment]


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``scalinglab`` console script."""
    try:
        rv = app(args=argv, standalone_mode=False)
        # --help and friends return their exit code; success exits 0 as Click's standalone
        # mode does, so in-process callers see one SystemExit either way
        sys.exit(rv if isinstance(rv, int) else 0)
    except _ClickException as e:  # a usage error (bad option value, missing argument): one line
        if isinstance(e, _NoArgsIsHelp):
            e.show()
            sys.exit(e.exit_code)
        ctx = getattr(e, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _error(" ".join(e.format_message().split()) + where)
        sys.exit(2)
    except typer.Abort:
        _error("aborted")
        sys.exit(1)
    except UserError as e:
        _error(str(e).splitlines()[0] if str(e) else type(e).__name__)
        sys.exit(2)
    except (
        FileNotFoundError,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    ) as e:
        _error(f"{e.strerror or type(e).__name__}: {e.filename}")
        sys.exit(2)
    except MemoryError as e:  # a size given on the command line too large for this machine
        _error(f"not enough memory{': ' + str(e) if str(e) else ''} (is a size option too large?)")
        sys.exit(2)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
