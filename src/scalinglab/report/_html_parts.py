"""The building blocks of the HTML report: section ids, images, tables, number formats.

Shared by the section builders (:mod:`._html_sections`, :mod:`._html_provenance`) and the
page (:mod:`.html`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ._html_inputs import Inputs, Result

#: Section ids in page order, with their titles.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "exponents": "Exponents",
    "curve": "Predicted learning curve",
    "correlations": "Token correlations",
    "entropy": "Conditional entropies",
    "sweep": "Sweep: measured learning curves",
    "validation": "Predicted against measured",
    "collapse": "Collapse of per-position losses",
    "fits": "Scaling-law fits",
    "warnings": "Warnings",
    "provenance": "Provenance",
}


@dataclass
class _Image:
    name: str  # file name
    caption: str
    mime: str
    data: bytes

    @property
    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass
class _Table:
    head: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class _Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    images: list[_Image] = field(default_factory=list)
    tables: list[_Table] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.paragraphs or self.images or self.tables or self.details)


# ---------------------------------------------------------------- formatting


def _f(v: Any, digits: int = 3) -> str:
    """A number to ``digits`` decimals, or 'n/a'."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{v:.{digits}f}"


def _g(v: Any, digits: int = 4) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{v:.{digits}g}"


def _int(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return "n/a"
    return f"{int(v):,}"


def _ci(ci: Any, digits: int = 3) -> str:
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f"[{_f(ci[0], digits)}, {_f(ci[1], digits)}]"
    return "n/a"


def _window(w: Any, unit: str) -> str:
    if isinstance(w, list | tuple) and len(w) == 2 and None not in w:
        return f"{unit} {_int(w[0])}..{_int(w[1])}"
    return "n/a"


def _pm(d: dict[str, Any]) -> str:
    if d.get("value") is None:
        return "n/a"
    text = _f(d["value"])
    if d.get("stderr") is not None:
        text += f" ± {_f(d['stderr'])}"
    return text


def _corpus_line(c: dict[str, Any] | None) -> str:
    if not c:
        return "unknown corpus"
    return (
        f"{c.get('source', '?')} ({_int(c.get('tokens'))} tokens, vocabulary "
        f"{_int(c.get('vocab_size'))}, tokenizer {c.get('tokenizer', '?')})"
    )


def _label(r: Result, inputs: Inputs) -> str:
    """The result's directory, relative to the inputs it came from."""
    for d in inputs.dirs:
        base = d if d.is_dir() else d.parent
        try:
            rel = r.path.parent.resolve().relative_to(base.resolve().parent)
            return str(rel)
        except ValueError:
            continue
    return str(r.path.parent)


def _siblings(r: Result, inputs: Inputs, kind: str) -> Result | None:
    for o in inputs.of(kind):
        if o.path.parent.resolve() == r.path.parent.resolve():
            return o
    return None
