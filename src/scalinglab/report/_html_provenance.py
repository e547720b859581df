"""The HTML report's closing sections: the warnings of every input and the provenance."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from typing import Any

from ..warns import code_of, text_of
from ._html_inputs import Inputs
from ._html_parts import SECTIONS, _int, _label, _Section, _Table


def _warnings(inputs: Inputs) -> _Section:
    s = _Section("warnings", SECTIONS["warnings"])
    rows: list[list[str]] = []
    every = [
        (r, str(w))
        for r in inputs.results
        if isinstance(r.doc.get("warnings"), list)
        for w in r.doc["warnings"]
    ]
    # predict passes on its statistics' warnings and validate those of its predict and
    # sweep, each as "label: text": show the passed-on one (it says where it comes from).
    relayed = {text_of(w) for _, w in every}
    seen: set[tuple[str, str]] = set()
    for r, w in every:
        text = text_of(w)
        if any(t != text and t.endswith(": " + text) for t in relayed):
            continue
        key = (str(r.path.parent.resolve()), text)
        if key in seen:
            continue
        seen.add(key)
        rows.append([f"{_label(r, inputs)}/{r.path.name}", code_of(w) or "", text])
    if rows:
        s.tables.append(_Table(["from", "code", "warning"], rows))
    return s


def _software(doc: Any, found: dict[str, set[str]], depth: int = 0) -> None:
    """Collect every ``software`` mapping (package -> version) inside ``doc``."""
    if depth > 6:
        return
    if isinstance(doc, dict):
        sw = doc.get("software")
        if isinstance(sw, dict):
            for k, v in sw.items():
                found.setdefault(str(k), set()).add(str(v))
        for k, v in doc.items():
            if k != "software" and isinstance(v, dict | list):
                _software(v, found, depth + 1)
    elif isinstance(doc, list):
        for v in doc[:1000]:
            if isinstance(v, dict | list):
                _software(v, found, depth + 1)


def _provenance(inputs: Inputs, command: str | None) -> _Section:
    from .. import __version__

    s = _Section("provenance", SECTIONS["provenance"])
    corpora: dict[str, list[str]] = {}
    for r in inputs.results:
        c = r.doc.get("corpus")
        if isinstance(c, dict):
            key = str(c.get("content_hash") or c.get("path") or c.get("source"))
            corpora.setdefault(
                key,
                [
                    str(c.get("source", "?")),
                    _int(c.get("tokens")),
                    _int(c.get("vocab_size")),
                    str(c.get("tokenizer", "?")),
                    str(c.get("content_hash", "n/a")),
                ],
            )
    if corpora:
        s.tables.append(
            _Table(
                ["corpus", "tokens", "vocabulary", "tokenizer", "content hash"],
                list(corpora.values()),
                "Corpora",
            )
        )
    found: dict[str, set[str]] = {}
    for r in inputs.results:
        _software(r.doc, found)
    rows = [[k, ", ".join(sorted(v))] for k, v in sorted(found.items())]
    rows.append(["scalinglab (this report)", __version__])
    rows.append(["python (this report)", platform.python_version()])
    s.tables.append(_Table(["software", "version"], rows, "Versions"))
    cmds = [
        [f"{_label(r, inputs)}/{r.path.name}", str(r.doc[k])]
        for r in inputs.results
        for k in ("command", "argv")
        if r.doc.get(k)
    ]
    if command:
        cmds.append(["this report", command])
    if cmds:
        s.tables.append(_Table(["result", "command"], cmds, "Commands"))
    files = []
    for r in inputs.results:
        st = r.path.stat()
        when = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
        files.append([str(r.path), r.kind, f"{st.st_size:,} bytes", when])
    s.tables.append(_Table(["file", "kind", "size", "written"], files, "Input files"))
    for r in inputs.results:
        settings = {
            k: r.doc[k]
            for k in (
                "settings",
                "predict_settings",
                "grid",
                "method",
                "bootstrap",
                "loss",
                "starts",
            )
            if isinstance(r.doc.get(k), dict)
        }
        if r.kind == "validation" and isinstance(r.doc.get("measured"), dict):
            settings["width_check"] = r.doc.get("width_check")
        if settings:
            s.details.append(
                (f"settings of {_label(r, inputs)}/{r.path.name}", json.dumps(settings, indent=1))
            )
    return s
