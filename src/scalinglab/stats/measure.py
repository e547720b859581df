"""Both statistics of a corpus in one call, every check made before any work or file::

    m = measure(corpus, correlations=CorrelationConfig(lags=(1, 2, 4)), entropy=False)
    m.correlations.beta.value

``measure`` is what the ``stats`` verb runs, and what ``predict`` measures with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from ._corr_result import CorrelationResult
from ._entropy_result import EntropyResult
from .config import CorrelationConfig, EntropyConfig, as_corpus

__all__ = ["Measurement", "measure"]


@dataclass
class Measurement:
    """The results of :func:`measure` (None for a statistic that was not asked for).

    ``correlation_config`` / ``entropy_config`` are the settings each was measured
    with (their ``to_dict()`` is a cache key); ``written`` lists the files written
    into ``out``.
    """

    corpus: dict[str, Any]
    correlations: CorrelationResult | None = None
    entropy: EntropyResult | None = None
    correlation_config: CorrelationConfig | None = None
    entropy_config: EntropyConfig | None = None
    written: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"corpus", "correlations", "entropy"}``: the two documents (None when skipped)."""
        return {
            "corpus": self.corpus,
            "correlations": self.correlations.to_dict() if self.correlations else None,
            "entropy": self.entropy.to_dict() if self.entropy else None,
        }

    def summary(self) -> str:
        """The summaries of both results (Rich markup)."""
        from rich.markup import escape

        parts = []
        if self.correlations is not None:
            parts.append(escape(self.correlations.summary()))
        if self.entropy is not None:
            parts.append(self.entropy.summary())
        return "\n".join(parts)

    def save(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write correlations.json/png and entropy.json/png (those measured) into ``out_dir``."""
        out = make_out_dir(out_dir)
        paths: list[Path] = []
        if self.correlations is not None:
            paths += self.correlations.save(out)
        if self.entropy is not None:
            paths += [self.entropy.save(out), out / "entropy.png"]
        return paths


def _config(value: Any, cls: type[Any], what: str) -> Any:
    if value is False:
        return None
    if value is None or value is True:
        return cls()
    if isinstance(value, cls):
        return value
    raise UserError(f"{what} must be a {cls.__name__}, None (defaults) or False (skip)")


def make_out_dir(out: str | os.PathLike[str]) -> Path:
    """Create the output directory, or a one-line UserError."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the output directory {path}: {e.strerror}") from None
    return path


def measure(
    corpus: Any = None,
    correlations: CorrelationConfig | Literal[False] | None = None,
    entropy: EntropyConfig | Literal[False] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    tokenizer: str | None = None,
    progress: bool = True,
    cluster: Any = None,
) -> Measurement:
    """Measure ``||C(n)||`` and ``H_n`` of a corpus with one set of checks.

    Parameters
    ----------
    corpus : TokenCorpus, 1-D integer array, path or None
        Read by :func:`~scalinglab.stats.config.as_corpus` (a raw source is
        tokenized with ``tokenizer``; None is the built-in default corpus).
    correlations, entropy : config, None or False
        The settings of each statistic (None: the defaults; False: skip it).
    out : path, optional
        Directory for correlations.json/png and entropy.json/png. Nothing is
        written before every check (settings, corpus, lags against its length,
        splits against ``max_n``, the directory itself) has passed; each result
        is written as soon as it is computed, so a later failure leaves the
        earlier file valid.
    tokenizer : str, optional
        Tokenizer spec for a raw source.
    progress : bool
        Show progress bars.
    cluster : backend, optional
        Count on a Dask cluster: ``scalinglab.cluster.backend(client or
        "ADDRESS|local[:N]|slurm:FILE")``, any object with its ``run_correlations``
        and ``run_entropy``; the same numbers as one process.

    Returns
    -------
    Measurement
    """
    from .correlations import run_correlations
    from .entropy import run_entropy

    if cluster is not None:
        run_correlations, run_entropy = cluster.run_correlations, cluster.run_entropy

    cc = _config(correlations, CorrelationConfig, "correlations")
    ec = _config(entropy, EntropyConfig, "entropy")
    if cc is None and ec is None:
        raise UserError("nothing to measure: both correlations and entropy are off")
    c = as_corpus(corpus, tokenizer)
    lags = cc.check(c) if cc is not None else None
    if ec is not None:
        ec.check(c)
    out_p = make_out_dir(out) if out is not None else None
    m = Measurement(corpus=c.describe(), correlation_config=cc, entropy_config=ec)
    if cc is not None:
        assert lags is not None
        m.correlations = run_correlations(c, cc, lags, progress=progress)
        if out_p is not None:
            m.written += m.correlations.save(out_p)
    if ec is not None:
        m.entropy = run_entropy(c, ec, progress=progress)
        if out_p is not None:
            m.written += [m.entropy.save(out_p), out_p / "entropy.png"]
    return m
