"""Errors a user can cause.

Every problem that comes from the user's input (a missing file, an empty corpus,
a bad tokenizer spec, a fit with too few points, ...) raises :class:`UserError`.
The command-line layer turns it into a one-line message and exit code 2; the
Python API lets it propagate like any other exception.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, reported as one line (CLI exit code 2)."""
