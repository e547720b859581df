"""Warnings with a short stable code.

Every warning a result carries is a plain string (results stay JSON lists of
strings) that starts with its code in square brackets::

    "[entropy-short-window] the reliable window holds 3 context lengths ..."

The code names the condition and never changes once released; the English
after it may be reworded. Programs and tests match on the code:

>>> w = coded("fit-few-points", "only 3 points")
>>> w
'[fit-few-points] only 3 points'
>>> code_of(w)
'fit-few-points'
>>> has_code([w], "fit-few-points")
True

A code is lower-case kebab-case, starting with the name of the part that
raises it (``entropy-``, ``corr-``, ``predict-``, ``sweep-``, ``fit-``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CODE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
_PREFIX = re.compile(r"^\[([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\] ")


def coded(code: str, text: str) -> str:
    """Return the warning ``text`` tagged with ``code`` (``"[code] text"``)."""
    if not _CODE.match(code):
        raise ValueError(f"warning code {code!r} is not lower-case kebab-case with a prefix")
    if _PREFIX.match(text):  # already coded: keep the innermost code
        return text
    return f"[{code}] {text}"


def code_of(warning: str) -> str | None:
    """The code of a warning string, or None for an uncoded one."""
    m = _PREFIX.match(warning)
    return m.group(1) if m else None


def codes(warnings: Iterable[str]) -> list[str]:
    """The codes of ``warnings``, in order (uncoded ones left out)."""
    return [c for c in (code_of(w) for w in warnings) if c is not None]


def has_code(warnings: Iterable[str], code: str) -> bool:
    """True when one of ``warnings`` carries ``code``."""
    return code in codes(warnings)


def text_of(warning: str) -> str:
    """The English part of a warning, without its code."""
    return _PREFIX.sub("", warning, count=1)


def labelled(warning: str, label: str, code: str) -> str:
    """``warning`` passed on under ``label`` (``"[code] label: text"``), keeping its own code.

    An uncoded warning gets ``code``.
    """
    return coded(code_of(warning) or code, f"{label}: {text_of(warning)}")
