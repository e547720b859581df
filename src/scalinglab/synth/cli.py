"""Command-line verbs of scalinglab.synth (filled in by the synth subpackage)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's verbs to the scalinglab app."""
