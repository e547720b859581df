"""Per-position held-out losses of one trained model: upper bounds on ``H_n``.

    L_n = - < log p_theta(x_{n+1} | x_1 .. x_n) >     (nats), n = 1 .. T

A model's held-out cross-entropy is, in expectation, an upper bound on the
entropy it predicts (Gibbs' inequality); the bound converges from above as the
model and its training data grow (REFERENCE 1.2). The result type is shared by
every source of such losses: the reference model ``predict`` trains itself,
a user's Hugging Face checkpoint, and a ``scalinglab train`` run file. It is
plain NumPy (no torch), so the theory can read it without the training extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._io import _jsonable
from ..errors import UserError

#: Where a set of per-position losses came from.
SOURCES = ("reference", "hf-checkpoint", "file")


@dataclass(frozen=True)
class ModelLosses:
    """Held-out per-position losses ``L_n`` of one model, with standard errors.

    Attributes
    ----------
    n : np.ndarray of int
        Context lengths (tokens seen), increasing, ``n >= 1``.
    loss, stderr : np.ndarray of float
        ``L_n`` in nats per token and its standard error over held-out blocks.
    source : {"reference", "hf-checkpoint", "file"}
        Who produced the losses.
    model : dict
        Description of the model (architecture, shape, parameter count, path).
    training : dict
        How it was trained (steps, tokens seen, P, budget, wall time, device);
        empty for a checkpoint trained elsewhere.
    eval_tokens : int
        Held-out targets scored per position (blocks).
    corpus : dict
        The corpus block (source, tokens, vocab_size, tokenizer, content_hash).
    drop_stderr : np.ndarray of float, optional
        Standard error of ``L_{n_prev} - L_n`` (the previous entry's loss minus this
        one's), paired over the same held-out blocks or targets; NaN where unknown
        (always at the first entry). Far smaller than either point's error.
    """

    n: np.ndarray
    loss: np.ndarray
    stderr: np.ndarray
    source: str
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    eval_tokens: int = 0
    corpus: dict[str, Any] = field(default_factory=dict)
    drop_stderr: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = np.asarray(self.n, dtype=np.int64)
        loss = np.asarray(self.loss, dtype=np.float64)
        se = np.asarray(self.stderr, dtype=np.float64)
        if n.ndim != 1 or n.size == 0 or loss.shape != n.shape or se.shape != n.shape:
            raise UserError("model losses need equal-length 1-D n, loss and stderr")
        if n.min() < 1 or np.any(np.diff(n) <= 0):
            raise UserError("model losses: context lengths n must be increasing and >= 1")
        if self.source not in SOURCES:
            raise UserError(f"model losses: unknown source {self.source!r}")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "stderr", se)
        ds = (
            np.full(n.shape, np.nan)
            if self.drop_stderr is None
            else np.asarray(self.drop_stderr, dtype=np.float64)
        )
        if ds.shape != n.shape:
            raise UserError("model losses: drop_stderr must have one entry per n")
        object.__setattr__(self, "drop_stderr", ds)

    @property
    def context(self) -> int:
        """Largest context length scored."""
        return int(self.n[-1])

    def as_bounds(self) -> dict[int, float]:
        """``{n: L_n}`` for the finite entries (the form ``stats.entropy`` takes)."""
        ok = np.isfinite(self.loss)
        return {int(k): float(v) for k, v in zip(self.n[ok], self.loss[ok], strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (NaN as null)."""
        return _jsonable(
            {
                "n": self.n,
                "loss": self.loss,
                "stderr": self.stderr,
                "source": self.source,
                "model": self.model,
                "training": self.training,
                "eval_tokens": self.eval_tokens,
                "corpus": self.corpus,
                "drop_stderr": self.drop_stderr,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelLosses:
        """Inverse of :meth:`to_dict`; a malformed document is a :class:`UserError`."""
        try:
            loss = [np.nan if v is None else v for v in d["loss"]]
            se = [np.nan if v is None else v for v in d.get("stderr") or [None] * len(loss)]
            return cls(
                n=np.asarray(d["n"], dtype=np.int64),
                loss=np.asarray(loss, dtype=np.float64),
                stderr=np.asarray(se, dtype=np.float64),
                source=str(d.get("source", "file")),
                model=dict(d.get("model") or {}),
                training=dict(d.get("training") or {}),
                eval_tokens=int(d.get("eval_tokens") or 0),
                corpus=dict(d.get("corpus") or {}),
                drop_stderr=np.asarray(
                    [np.nan if v is None else v for v in d["drop_stderr"]], dtype=np.float64
                )
                if d.get("drop_stderr") is not None
                else None,
            )
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, UserError):
                raise
            raise UserError(f"malformed model losses ({e})") from None
