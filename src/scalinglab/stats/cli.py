"""Command-line verbs of scalinglab.stats (filled in by the stats subpackage)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's verbs to the scalinglab app."""
