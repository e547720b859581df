"""Reuse of earlier statistics in an output directory.

``predict --out DIR`` writes correlations.json and entropy.json with the
settings that produced them (``predict_settings``: the *resolved* settings, so
that a default and the same value given explicitly share one entry) and the
corpus's content hash. A later run on the same corpus with the same settings
reads them instead of recounting. A file that cannot be read, or whose corpus
or settings differ, is recomputed (and overwritten atomically), never trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._io import _jsonable, read_json, write_json
from .._progress import info

#: The key under which the settings of a cached document are stored.
SETTINGS_KEY = "predict_settings"


def lookup(path: Path | None, corpus_hash: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The cached document at ``path`` if it was made from this corpus with ``settings``."""
    if path is None or not path.is_file():
        return None
    try:
        d = read_json(path)
    except (OSError, ValueError):  # unreadable or half-written by a killed process
        return None
    if not isinstance(d, dict):
        return None
    c = d.get("corpus") or {}
    if c.get("content_hash") != corpus_hash or d.get(SETTINGS_KEY) != _jsonable(settings):
        return None
    info(f"reusing {path} (same corpus and settings)")
    return d


def keep(
    result: Any,
    out: Path | None,
    name: str,
    corpus: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The document to cache for ``result`` (its ``to_dict()`` tagged with corpus and
    settings); with ``out``, written once as ``out/NAME.json`` (atomically) beside the
    result's figure ``out/NAME.png``."""
    doc = _jsonable({**result.to_dict(), "corpus": corpus, SETTINGS_KEY: settings})
    if out is not None:
        store(out / f"{name}.json", doc)
        result.plot(out / f"{name}.png")
    return doc


def store(path: Path | None, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (nothing when ``path`` is None)."""
    if path is not None:
        write_json(path, doc)
