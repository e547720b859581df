"""Headline numbers of a generated corpus, read back from its ``truth.json``.

What ``scalinglab synth KIND`` prints after writing a corpus, available to
Python as well::

    corpus = sl.synth.generate_markov("out/mk", vocab_size=64, num_tokens=10**6)
    sl.synth.summarize(corpus).to_dict()
    # {"kind": "markov", "tokens": 1000000, ..., "highlights": {"entropy rate (nats)": ...}}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SynthSummary", "highlights", "read_truth", "summarize"]


def read_truth(corpus: Any) -> dict[str, Any]:
    """The ``truth.json`` of a generated corpus (a TokenCorpus or its directory)."""
    from .._io import read_json
    from ..errors import UserError

    path = Path(corpus.path if hasattr(corpus, "path") else os.fspath(corpus)) / "truth.json"
    if not path.is_file():
        raise UserError(f"{path.parent} has no truth.json: not a synthetic corpus")
    return read_json(path)


def _csv(values: list[Any], fmt: str = "{:.4g}") -> str:
    return ", ".join("-" if v is None else fmt.format(v) for v in values)


def _markov(tr: Mapping[str, Any]) -> dict[str, Any]:
    out = {"entropy rate (nats)": tr["entropy_rate"]["nats"], "H_0 (nats)": tr["H_n"]["nats"][0]}
    if "correlations" in tr:
        out["||C(1)||_op"] = tr["correlations"]["operator_norm"][0]
    return out


def _powerlaw(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "beta": tr["beta"],
        "power-law window": tr["power_law_window"],
        "||C(1)||_op": tr["correlations"]["operator_norm"][0],
    }


def _facts(tr: Mapping[str, Any]) -> dict[str, Any]:
    ex, hn, win = tr["exponents"], tr["H_n"]["nats"], tr["power_law_window"]
    alpha = ex["alpha_D_operator"]
    return {
        "H_0, H_1 (nats)": f"{hn[0]:.4f}, {hn[1]:.4f}",
        "H_inf (nats)": tr["H_inf"]["nats"],
        "gamma, beta_op, beta_F (asymptotic)": _csv(
            [ex[k] for k in ("gamma", "beta_operator", "beta_frobenius")]
        ),
        "alpha_D = gamma / (2 beta_op)": alpha if alpha is not None else "-",
        "power-law windows (gamma; beta_op)": f"{win['gamma']}; {win['beta_operator']}",
    }


def _rhm(tr: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "distinct sequences": f"10^{tr['log10_num_sequences']:.1f}",
        "beta = ln m / ln s": tr["beta"],
    }
    if "beta_fit" in tr:
        out["beta of exact stream C(n)"] = tr["beta_fit"]["stream"]
    out["entropy rate (nats)"] = tr["entropy_rate"]["nats"]
    return out


def _pcfg(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mean length": tr["length_mean"],
        "m2, m3": f"{tr['m2']}, {tr['m3']}",
        "derivation entropy (nats)": tr["derivation_entropy"]["nats"],
    }


def _walk(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "entropy rate (nats)": tr["entropy_rate"]["nats"],
        "H_0 (nats)": tr["H_n"]["nats"][0],
        "component nodes": tr["component_nodes"],
    }


def _ladder(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "contexts": tr["contexts"],
        "entropy rate (nats)": tr["entropy_rate"]["nats"],
        "plug-in H_{k-1} (nats)": tr["plugin_conditional_entropy"]["nats"],
    }


def _lcg(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "modulus": tr["modulus"],
        "digits per number": tr["digits_per_number"],
        "full-period pairs": sum(tr["full_period"]),
    }


def _pcg(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {"output": tr["output"], "digits per number": tr["digits_per_number"]}


def _group(tr: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "group": tr["name"],
        "order": tr["order"],
        "abelian": tr["abelian"],
        "train / test triples": f"{tr['train_triples']} / {tr['test_triples']}",
    }


_HIGHLIGHTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "markov": _markov,
    "powerlaw": _powerlaw,
    "facts": _facts,
    "rhm": _rhm,
    "pcfg": _pcfg,
    "walk": _walk,
    "ladder": _ladder,
    "lcg": _lcg,
    "pcg": _pcg,
    "group": _group,
}


def highlights(truth: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers of a generator's truth (label -> value), by its ``kind``."""
    from ..errors import UserError

    kind = truth.get("kind")
    if kind not in _HIGHLIGHTS:
        raise UserError(f"no summary for a truth of kind {kind!r}")
    return _HIGHLIGHTS[kind](truth)


@dataclass
class SynthSummary:
    """Size of a generated corpus, the headline numbers of its truth and its coded warnings."""

    kind: str
    path: str
    tokens: int
    vocab_size: int
    documents: int
    highlights: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(corpus: Any, seconds: float | None = None) -> SynthSummary:
    """Summary of a generated corpus (``seconds``: how long generating it took, if known)."""
    truth = read_truth(corpus)
    return SynthSummary(
        kind=str(corpus.meta["generator"]["kind"]),
        path=str(corpus.path),
        tokens=int(corpus.num_tokens),
        vocab_size=int(corpus.vocab_size),
        documents=int(corpus.num_documents),
        highlights=highlights(truth),
        seconds=seconds,
        warnings=list(truth.get("warnings", [])),
    )
