"""Command-line verbs of scalinglab.fit (filled in by the fit subpackage)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's verbs to the scalinglab app."""
