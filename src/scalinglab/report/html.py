"""One self-contained HTML page for any mix of scalinglab result directories.

>>> import scalinglab as sl
>>> rep = sl.report.html(["out/predict", "out/sweep"], "out/report")  # doctest: +SKIP
>>> rep.path, rep.sections                                            # doctest: +SKIP
(PosixPath('out/report/index.html'), ['summary', 'exponents', 'curve', ...])

The page (``index.html`` by default) carries every figure inline as a data URI
(Matplotlib SVG), so it opens anywhere without network access; the figures are
also written as files beside it. A section whose input is missing is left out.
Every input is read and checked before anything is drawn, and the page is
rendered in memory before anything is written: a bad input (no known file, a
malformed JSON, a file of another format version) raises
:class:`~scalinglab.errors.UserError` naming the file and leaves ``out``
untouched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ._html_inputs import Inputs, find_inputs
from ._html_parts import SECTIONS as SECTIONS  # section ids in page order, with their titles
from ._html_parts import _Image
from ._html_provenance import _provenance, _warnings
from ._html_sections import (
    _collapse,
    _correlations,
    _curve,
    _entropy,
    _exponents,
    _fits,
    _summary,
    _sweep,
    _validation,
)
from ._html_sections import _sentence as _sentence  # the 10x sentence, as predict words it


@dataclass
class HtmlReport:
    """What :func:`html` wrote: the page, its figure files, its sections and inputs."""

    path: Path
    figures: list[Path]
    sections: list[str]
    inputs: list[Path]


# ---------------------------------------------------------------- the page


def render(
    inputs: Inputs, *, title: str | None = None, command: str | None = None
) -> tuple[str, list[_Image], list[str]]:
    """The page as text, its images and the ids of its sections (nothing written)."""
    import jinja2

    images: list[_Image] = []
    sections = [
        _summary(inputs),
        _exponents(inputs),
        _curve(inputs, images),
        _correlations(inputs, images),
        _entropy(inputs, images),
        _sweep(inputs, images),
        _validation(inputs, images),
        _collapse(inputs, images),
        _fits(inputs, images),
        _warnings(inputs),
        _provenance(inputs, command),
    ]
    present = [s for s in sections if not s.empty()]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scalinglab.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    corpora = [r.doc["corpus"] for r in inputs.results if isinstance(r.doc.get("corpus"), dict)]
    sources = sorted({str(c.get("source")) for c in corpora}) or [str(d) for d in inputs.dirs]
    page = env.get_template("report.html.j2").render(
        title=title or f"scalinglab report: {', '.join(sources)}",
        sections=present,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return page, images, [s.id for s in present]


def html(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    filename: str = "index.html",
    figure_dir: str | None = "figures",
    title: str | None = None,
    command: str | None = None,
) -> HtmlReport:
    """Write one self-contained HTML page of the results in ``inputs``.

    Parameters
    ----------
    inputs
        Output directories of ``predict``, ``stats``, ``sweep``, ``validate``,
        ``report collapse`` and ``fit`` (any mix, or their JSON files).
    out
        Directory for the page (created when missing).
    filename
        Name of the page in ``out`` (``index.html``; the verbs' hooks use ``report.html``).
    figure_dir
        Sub-directory of ``out`` for the figures as files, or None for the page only
        (it embeds every figure either way).
    title
        Page title (default: from the corpus).
    command
        The command line that made the report, shown under provenance.

    Returns
    -------
    HtmlReport
        The page's path, the figure files, the section ids, the input files.

    Raises
    ------
    UserError
        An input with no known result file, a malformed file, or a file of a format
        version other than the one this scalinglab reads; nothing is written then.
    """
    from .._io import atomic_path

    found = find_inputs(inputs)
    page, images, ids = render(found, title=title, command=command)
    out_dir = Path(out)
    written: list[Path] = []
    if figure_dir is not None:
        for im in images:
            with atomic_path(out_dir / figure_dir / im.name) as tmp:
                tmp.write_bytes(im.data)
            written.append(out_dir / figure_dir / im.name)
    with atomic_path(out_dir / filename) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return HtmlReport(out_dir / filename, written, ids, found.files())
