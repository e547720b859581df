"""Progress display shared by every long-running step (Rich progress bars)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Progress and status lines go to standard error so that standard output stays clean.
console = Console(stderr=True)


def progress_enabled() -> bool:
    """Progress bars are shown unless ``SCALINGLAB_NO_PROGRESS`` is set."""
    return not os.environ.get("SCALINGLAB_NO_PROGRESS")


def make_progress(transient: bool = False) -> Progress:
    """A Rich progress bar with count, percentage, elapsed and remaining time."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not progress_enabled(),
    )


def info(message: str) -> None:
    """Print one status line to standard error."""
    console.print(message, highlight=False)


def warning_line(text: str) -> str:
    """Rich markup for one warning: a yellow ``warning:`` and the text escaped, so that its
    ``[code]`` (:mod:`scalinglab.warns`) is printed rather than read as a style tag."""
    from rich.markup import escape

    return f"[yellow]warning:[/yellow] {escape(text)}"


def warn(text: str, to: Console | None = None) -> None:
    """Print one warning line (standard error unless ``to`` is given)."""
    (to or console).print(warning_line(text), highlight=False)


def print_summary(lines: list[str], to: Console | None = None) -> None:
    """Print a result's ``summary()`` lines: ``warning: ...`` ones as :func:`warn` does,
    the rest as plain text (no markup, so brackets in them are printed)."""
    out = to or console
    for line in lines:
        if line.startswith("warning: "):
            out.print(warning_line(line[len("warning: ") :]), highlight=False)
        else:
            out.print(line, highlight=False, markup=False)
