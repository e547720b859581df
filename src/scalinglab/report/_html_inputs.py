"""Finding and checking the result files an HTML report is built from.

Every verb writes its results as JSON into its ``--out`` directory. This module
recognises those files by name, reads them, and checks that each has the keys
of the format this version of scalinglab writes. A file that fails (malformed
JSON, a missing key, a version stamp other than the one understood here) is
refused with a one-line :class:`~scalinglab.errors.UserError` naming the file,
before anything is rendered or written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

#: The one version of every result format this reader understands. No writer
#: stamps its files yet; an unstamped file is read as this version, and a stamp
#: (any of :data:`VERSION_KEYS` at the top level) must equal it.
FORMAT_VERSION = 1

#: Top-level keys that would carry a format version.
VERSION_KEYS = ("schema", "schema_version", "format_version", "format")

#: Result files by name: the kind of result and the keys its format requires
#: (the keys ``docs`` and DESIGN.md promise; extra keys are always welcome).
KNOWN_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "prediction.json": (
        "prediction",
        (
            "corpus",
            "correlations",
            "entropy",
            "beta",
            "gamma",
            "alpha_D",
            "horizon",
            "predicted_loss",
            "warnings",
        ),
    ),
    "correlations.json": (
        "correlations",
        ("lags", "operator_norm", "noise_floor", "resolvable", "beta"),
    ),
    "entropy.json": ("entropy", ("n", "estimate", "upper", "lower", "reliable", "gamma")),
    "sweep.json": ("sweep", ("runs", "grid", "curve", "per_position", "alpha_D")),
    "validation.json": ("validation", ("predicted", "measured", "agreement", "verdict")),
    "collapse.json": (
        "collapse",
        ("beta", "gamma", "at_given", "best_on_grid", "grid_beta", "grid_gamma", "grid_score"),
    ),
    "fit.json": ("fit", ("form", "formula", "params", "stderr", "ci95", "n_points")),
    "calibration.json": ("calibration", ("settings", "calibration")),
}

#: Sub-directories of a ``validate`` output that hold results of their own.
VALIDATE_SUBDIRS = ("predict", "sweep")


@dataclass
class Result:
    """One result file: its kind, where it is, its document."""

    kind: str
    path: Path
    doc: dict[str, Any]

    @property
    def label(self) -> str:
        """A short name for the result's directory, for section titles."""
        return self.path.parent.name or str(self.path.parent)


@dataclass
class Inputs:
    """Every result found under the report's input directories, in order."""

    dirs: list[Path]
    results: list[Result] = field(default_factory=list)

    def of(self, kind: str) -> list[Result]:
        """The results of one kind, in the order they were found."""
        return [r for r in self.results if r.kind == kind]

    def files(self) -> list[Path]:
        return [r.path for r in self.results]


def _check_version(path: Path, doc: dict[str, Any]) -> None:
    for key in VERSION_KEYS:
        if key in doc and doc[key] != FORMAT_VERSION and str(doc[key]) != str(FORMAT_VERSION):
            raise UserError(
                f"{path}: format version {doc[key]!r} ({key}); this scalinglab reads version "
                f"{FORMAT_VERSION} only (written by a newer or older scalinglab?)"
            )


def _check_sweep_runs(path: Path, doc: dict[str, Any]) -> None:
    """Each run record of sweep.json carries its own format number."""
    from ..train.sweep import RUN_FORMAT

    runs = doc["runs"]
    if not isinstance(runs, list):
        raise UserError(f"{path}: 'runs' must be a list of run records")
    for run in runs:
        fmt = run.get("format") if isinstance(run, dict) else None
        if fmt != RUN_FORMAT:
            rid = run.get("run_id", "?") if isinstance(run, dict) else "?"
            raise UserError(
                f"{path}: run {rid} has format {fmt!r}; this scalinglab reads run format "
                f"{RUN_FORMAT} only (written by a newer or older scalinglab?)"
            )


def read_result(path: str | os.PathLike[str]) -> Result:
    """Read and check one known result file (its kind is given by its name)."""
    path = Path(path)
    if path.name not in KNOWN_FILES:
        raise UserError(f"{path}: not a result file the report reads ({', '.join(KNOWN_FILES)})")
    kind, required = KNOWN_FILES[path.name]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    _check_version(path, doc)
    missing = [k for k in required if k not in doc]
    if missing:
        raise UserError(
            f"{path}: not the {kind} format this scalinglab reads (no {', '.join(missing)}; "
            "written by a newer or older scalinglab?)"
        )
    if kind == "sweep":
        _check_sweep_runs(path, doc)
    return Result(kind, path, doc)


def _results_in(directory: Path) -> list[Result]:
    found = [read_result(directory / name) for name in KNOWN_FILES if (directory / name).is_file()]
    if any(r.kind == "validation" for r in found):
        for sub in VALIDATE_SUBDIRS:
            if (directory / sub).is_dir():
                found += _results_in(directory / sub)
    return found


def find_inputs(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> Inputs:
    """Every known result file in ``paths`` (directories, or result files themselves).

    A ``validate`` directory brings its ``predict/`` and ``sweep/`` results along.
    A directory with none of the known files, a path that does not exist, or a
    file that fails its check is a :class:`UserError` naming it.
    """
    items: Iterable[str | os.PathLike[str]]
    items = [paths] if isinstance(paths, str | os.PathLike) else paths
    dirs = [Path(p) for p in items]
    if not dirs:
        raise UserError("no result directories given")
    inputs = Inputs(dirs)
    seen: set[Path] = set()
    for d in dirs:
        if d.is_file():
            found = [read_result(d)]
        elif d.is_dir():
            found = _results_in(d)
            if not found:
                raise UserError(
                    f"{d}: no scalinglab results here (none of {', '.join(KNOWN_FILES)})"
                )
        else:
            raise UserError(f"{d}: no such file or directory")
        for r in found:
            key = r.path.resolve()
            if key not in seen:
                seen.add(key)
                inputs.results.append(r)
    return inputs
