"""The grid of a sweep (:class:`SweepGrid`) and the parsers of its axes.

A grid is every combination of training size P, context T, peak learning rate
and seed, with one model shape and one training recipe shared by all of its
runs. It is checked once, on construction, before any corpus is read; the
checks that need the corpus (P against the training split, T against the
held-out split) come when the sweep plans its runs. Checking the device
imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import UserError
from .config import ModelConfig, TrainConfig

#: TrainConfig fields that are axes of the grid, never shared settings.
AXES = ("P", "context", "lr", "seed")
#: ModelConfig fields set from the corpus and the context axis.
_MODEL_FROM_RUN = ("vocab_size", "context")

_NUM = re.compile(r"^\s*(\d+(?:\.\d*)?(?:e\d+)?)\s*([kKmMgG]?)\s*$")
_POW = re.compile(r"^\s*(\d+)\s*(?:\^|\*\*)\s*(\d+)\s*$")


def _parse_int(text: str) -> int:
    if m := _POW.match(text):
        return int(m.group(1)) ** int(m.group(2))
    if m := _NUM.match(text):
        mult = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]
        value = float(m.group(1)) * mult
        if value == int(value):
            return int(value)
    raise UserError(f"not an integer: {text!r} (use e.g. 4096, 2^12, 64k, 1e6)")


def parse_int_list(text: str) -> list[int]:
    """Parse ``4096,16384``, ``2^12:2^20`` (every power), ``2^12:2^20:2`` (every 2nd) or ``64k``.

    A range ``b^i:b^j[:s]`` lists b^i, b^(i+s), ..., b^j; a range of plain
    integers ``a:b[:s]`` lists a, a+s, ..., b. Values are returned sorted and unique.
    """
    out: set[int] = set()
    for item in str(text).split(","):
        if not item.strip():
            continue
        parts = item.split(":")
        if len(parts) == 1:
            out.add(_parse_int(parts[0]))
            continue
        if len(parts) not in (2, 3):
            raise UserError(f"bad range {item!r}; use START:STOP[:STEP]")
        step = _parse_int(parts[2]) if len(parts) == 3 else 1
        if step < 1:
            raise UserError(f"bad range step in {item!r}")
        a, b = _POW.match(parts[0]), _POW.match(parts[1])
        if a and b and a.group(1) == b.group(1):
            base = int(a.group(1))
            out.update(base**e for e in range(int(a.group(2)), int(b.group(2)) + 1, step))
        else:
            out.update(range(_parse_int(parts[0]), _parse_int(parts[1]) + 1, step))
    if not out:
        raise UserError(f"empty list: {text!r}")
    if min(out) < 1:
        raise UserError(f"values must be positive: {text!r}")
    return sorted(out)


def parse_count(text: str | None, option: str) -> int | None:
    """One token count (``4096``, ``2^12``, ``64k``) for ``option``; None passes through."""
    if text is None:
        return None
    values = parse_int_list(text)
    if len(values) != 1:
        raise UserError(f"{option} takes one token count, got {text!r}")
    return values[0]


def parse_float_list(text: str) -> list[float]:
    """Parse ``3e-4,1e-3`` into sorted unique positive floats."""
    try:
        vals = sorted({float(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise UserError(f"not a list of numbers: {text!r}") from None
    if not vals or any(not (math.isfinite(v) and v > 0) for v in vals):
        raise UserError(f"values must be positive numbers: {text!r}")
    return vals


def parse_window(text: str | Sequence[int] | None) -> tuple[int, int] | None:
    """A P range ``LO:HI`` (``2^14:2^20``, ``16k:1m``) or a pair; None passes through."""
    if text is None:
        return None
    if isinstance(text, str):
        lo_hi = text.split(":")
        if len(lo_hi) != 2:
            raise UserError(f"a fit window is LO:HI, got {text!r}")
        pair = (parse_count(lo_hi[0], "LO"), parse_count(lo_hi[1], "HI"))
    else:
        pair = tuple(text)  # type: ignore[assignment]
        if len(pair) != 2:
            raise UserError(f"a fit window is (LO, HI), got {text!r}")
    lo, hi = (int(v) for v in pair)  # type: ignore[arg-type]
    if not 1 <= lo <= hi:
        raise UserError(f"a fit window needs 1 <= LO <= HI, got {lo}:{hi}")
    return lo, hi


def _ints(value: str | int | Sequence[int], name: str) -> tuple[int, ...]:
    if isinstance(value, str):
        return tuple(parse_int_list(value))
    values = [value] if isinstance(value, int) else list(value)
    if not values:
        raise UserError(f"the grid needs at least one {name}")
    if any(isinstance(v, bool) or int(v) != v for v in values):
        raise UserError(f"{name} must be integers, got {list(values)}")
    return tuple(sorted({int(v) for v in values}))


def _floats(value: str | float | Sequence[float], name: str) -> tuple[float, ...]:
    if isinstance(value, str):
        return tuple(parse_float_list(value))
    values = [value] if isinstance(value, int | float) else list(value)
    if not values or any(not (math.isfinite(float(v)) and float(v) > 0) for v in values):
        raise UserError(f"{name} must be positive numbers, got {list(values)}")
    return tuple(sorted({float(v) for v in values}))


@dataclass(frozen=True)
class SweepGrid:
    """The runs of a sweep: every (P, context, lr, seed), one shape, one recipe.

    Attributes
    ----------
    P : tuple of int
        Training sizes (tokens).
    contexts : tuple of int
        Contexts T.
    lrs : tuple of float
        Peak learning rates.
    seeds : tuple of int
        The seeds (``range(n)`` for n seeds).
    model : dict
        :class:`~scalinglab.train.config.ModelConfig` fields shared by every run
        (``vocab_size`` and ``context`` come from the corpus and the context axis).
    train : dict
        :class:`~scalinglab.train.config.TrainConfig` fields other than the axes P,
        context, lr and seed.

    Each axis is stored sorted, unique, as a tuple; a string is parsed as on the
    command line (:func:`parse_int_list`, :func:`parse_float_list`), an int number
    of seeds n means 0..n-1. Every value is checked here, once: sizes, rates and
    seeds, unknown or axis keys in ``model`` and ``train``, and the configurations
    themselves (each field of both, and that the largest context fits the smallest P).
    """

    P: Sequence[int]
    contexts: Sequence[int] = (64,)
    lrs: Sequence[float] = (1e-3,)
    seeds: Sequence[int] = (0,)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        P = _ints(self.P, "P")
        contexts = _ints(self.contexts, "context")
        lrs = _floats(self.lrs, "learning rate")
        seeds_in: Any = self.seeds
        if isinstance(seeds_in, int) and not isinstance(seeds_in, bool):
            if seeds_in < 1:
                raise UserError(f"at least one seed is needed, got seeds={seeds_in}")
            seeds_in = range(seeds_in)
        if isinstance(seeds_in, range) and max(seeds_in.start, seeds_in.stop) > 10**6:
            raise UserError(f"seeds must be below 10^6, got up to {seeds_in.stop - 1:,}")
        seeds = _ints(seeds_in, "seed")
        if min(P) < 2:
            raise UserError(f"P must be at least 2 tokens, got {min(P)}")
        if min(contexts) < 1:
            raise UserError(f"contexts must be positive, got {min(contexts)}")
        if min(seeds) < 0:
            raise UserError(f"seeds must be non-negative, got {min(seeds)}")
        model, train = dict(self.model or {}), dict(self.train or {})
        _known(model, ModelConfig, _MODEL_FROM_RUN, "model")
        _known(train, TrainConfig, AXES, "training")
        for name, value in (("P", P), ("contexts", contexts), ("lrs", lrs), ("seeds", seeds)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "train", train)
        ModelConfig(**{**model, "vocab_size": 1, "context": max(contexts)})
        TrainConfig(P=min(P), context=max(contexts), lr=lrs[0], seed=seeds[0], **train)

    @property
    def size(self) -> int:
        """Runs in the grid."""
        return len(self.P) * len(self.contexts) * len(self.lrs) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "P": list(self.P),
            "contexts": list(self.contexts),
            "lrs": list(self.lrs),
            "seeds": list(self.seeds),
            "model": dict(self.model),
            "train": dict(self.train),
        }


def _known(settings: Mapping[str, Any], cls: type, reserved: Sequence[str], what: str) -> None:
    names = {f.name for f in fields(cls)} - set(reserved)
    bad = sorted(set(settings) - names)
    if not bad:
        return
    if bad[0] in reserved:
        raise UserError(f"{bad[0]} is an axis of the grid, not a shared {what} setting")
    raise UserError(f"unknown {what} setting {bad[0]!r}; known: {', '.join(sorted(names))}")
