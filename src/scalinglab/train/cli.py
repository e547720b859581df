"""Command-line verbs of scalinglab.train (filled in by the train subpackage)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's verbs to the scalinglab app."""
