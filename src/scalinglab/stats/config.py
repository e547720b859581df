"""The settings of the two engines, checked once, and the one way a corpus argument is read.

:class:`CorrelationConfig` and :class:`EntropyConfig` hold every setting of
:func:`~scalinglab.stats.correlations` and :func:`~scalinglab.stats.entropy`.
Constructing one checks every setting, including the checks between settings
(a gamma window inside ``max_n``, a beta window holding at least 3 of the given
lags), and raises :class:`~scalinglab.errors.UserError` on bad input; the
checks that need the corpus (lags shorter than it, splits long enough for
``max_n``) are the configs' ``check(corpus)``. ``to_dict()`` is the resolved
form (defaults filled in, plain JSON), fit for cache keys.

:func:`as_corpus` turns any corpus argument (TokenCorpus, token array, path,
None) into a :class:`~scalinglab.corpus.TokenCorpus`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from ._external import _checked_losses, _pairs, load_external_losses
from ._gamma import parse_window

if TYPE_CHECKING:
    from ..corpus import TokenCorpus

__all__ = [
    "CorrelationConfig",
    "DEFAULT_MAX_N",
    "DEFAULT_MAX_TOKENS",
    "ESTIMATORS",
    "EntropyConfig",
    "as_corpus",
    "check_beta_window",
    "default_lags",
    "parse_lags",
]

#: Most lags one call measures (each costs a counting pass).
MAX_LAGS = 100_000
#: Largest context length n of H_n when none is given.
DEFAULT_MAX_N = 32
#: Default cap on training tokens: the suffix array of 1e8 tokens needs about
#: 21 bytes per token at peak (benchmarks/entropy.py: 20.9-21.5 B/token at 1e7 with the
#: Kneser-Ney bound), 2.2 GB.
DEFAULT_MAX_TOKENS = 100_000_000
#: Count-based estimators of H_n; "auto" picks the first.
ESTIMATORS = ("grassberger", "miller-madow", "plugin")


# ----------------------------------------------------------------------------------------
# The corpus argument
def as_corpus(corpus: Any, tokenizer: str | None = None) -> TokenCorpus:
    """``corpus`` as a TokenCorpus: a TokenCorpus as is, a token array wrapped (one
    document), a path or None through :func:`scalinglab.corpus.resolve`."""
    from ..corpus import TokenCorpus, resolve

    if isinstance(corpus, TokenCorpus):
        return corpus
    if corpus is None or isinstance(corpus, str | os.PathLike):
        return resolve(corpus, tokenizer)
    if tokenizer is not None:
        raise UserError("a tokenizer applies to a raw source, not to an array of token ids")
    return TokenCorpus.from_array(np.asarray(corpus))


# ----------------------------------------------------------------------------------------
# Lags
def default_lags(n_tokens: int) -> list[int]:
    """Lags 1..16, then about 8 per decade up to ``min(1024, N / 1000)``.

    Lags above ``N / 2`` are dropped so that every lag keeps at least half of
    the pairs.
    """
    hi = min(1024, n_tokens // 1000)
    lags = list(range(1, 17))
    if hi > 16:
        steps = np.arange(1, int(np.ceil(8 * np.log10(hi / 16))) + 1)
        geo = np.unique(np.round(16 * 10 ** (steps / 8)).astype(int))
        lags += [int(g) for g in geo if 16 < g < hi]
        lags.append(int(hi))
    cap = max(1, n_tokens // 2)
    return [lag for lag in lags if lag <= cap]


def parse_lags(text: str | list[int] | tuple[int, ...] | np.ndarray | None) -> list[int] | None:
    """Lags from ``"1,2,4,8"`` or ``"1-16,32,64"`` (ranges inclusive), or a list of integers."""
    if text is None:
        return None
    if isinstance(text, str):
        out: list[int] = []
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is None:
                raise UserError(f"bad lag list {text!r}: use positive integers like 1,2,4 or 1-16")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise UserError(f"bad lag range {part!r} in {text!r}: write it low-high")
            if len(out) + hi - lo + 1 > MAX_LAGS:
                raise UserError(f"lag list {text!r} holds more than {MAX_LAGS:,} lags")
            out.extend(range(lo, hi + 1))
        return out
    arr = np.asarray(text).ravel()
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise UserError(f"lags must be positive integers, got {arr.tolist()}")
    elif arr.dtype.kind not in "iu":
        raise UserError(f"lags must be positive integers, got {arr.tolist()}")
    return [int(v) for v in arr]


def check_beta_window(window: tuple[int, int], lags: np.ndarray | tuple[int, ...]) -> None:
    """Raise unless the beta window ``lo..hi`` (inclusive) holds at least 3 of ``lags``."""
    arr = np.asarray(lags)
    inside = int(((arr >= window[0]) & (arr <= window[1])).sum())
    if inside < 3:
        raise UserError(
            f"beta window {window[0]}..{window[1]} holds {inside} of the measured lags; "
            "a fit needs at least 3"
        )


# ----------------------------------------------------------------------------------------
# Checks of single settings
def _opt(default: Any, help: str) -> Any:
    """A config field with its default and the help text the ``stats`` verb shows."""
    return field(default=default, metadata={"help": help})


def _name(name: str, flag: str | None) -> str:
    return f"{name} ({flag})" if flag else name


def _int(value: Any, name: str, lo: int, flag: str | None = None, hi: int | None = None) -> int:
    """``value`` as an int in ``lo..hi``, or a UserError naming the setting."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok and isinstance(value, float | np.floating) and float(value).is_integer():
        ok = True
    if not ok or int(value) < lo:
        what = "a non-negative integer" if lo == 0 else f"an integer of at least {lo}"
        raise UserError(f"{_name(name, flag)} must be {what}, got {value!r}")
    if hi is not None and int(value) > hi:
        raise UserError(f"{_name(name, flag)} must be at most {hi:,}, got {value!r}")
    return int(value)


SEED_MAX = 2**32 - 1  # what every random generator used downstream accepts
BOOT_MAX = 10**6


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # a frozen dataclass resolving itself


def _window(value: Any) -> tuple[int, int] | None:
    return parse_window(value) if value is not None else None


def field_help(cls: type, name: str) -> str:
    """The help text of one config field (the ``stats`` verb's option help)."""
    return str({f.name: f for f in dataclasses.fields(cls)}[name].metadata.get("help", ""))


def field_default(cls: type, name: str) -> Any:
    """The default of one config field (the ``stats`` verb's option default)."""
    return {f.name: f for f in dataclasses.fields(cls)}[name].default


# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorrelationConfig:
    """Every setting of :func:`~scalinglab.stats.correlations` (see its parameters).

    ``lags`` accepts ``"1,2,4"``, ``"1-16"`` or a list and is kept as a sorted tuple
    without repeats (None: :func:`default_lags` of the corpus); ``beta_window``
    accepts ``"lo,hi"`` or a pair.
    """

    lags: tuple[int, ...] | None = _opt(None, "Lags, e.g. 1,2,4 or 1-64.")
    within_documents: bool = _opt(False, "Count only pairs inside one document.")
    floor_factor: float = _opt(2.0, "Resolvable: signal > factor x noise floor.")
    n_shuffles: int = _opt(3, "Shuffled surrogates per lag for the noise floor.")
    n_boot: int = _opt(200, "Block-bootstrap replicates (0: no standard errors).")
    beta_window: tuple[int, int] | None = _opt(None, "Lag window lo,hi for beta.")
    first_lag: int = _opt(1, "First lag of the automatic beta window.")
    debias_beta: bool = _opt(
        True, "Fit beta to sqrt(norm^2 - floor^2) (--no-debias-beta: raw norms)."
    )
    top_k: int = _opt(0, "Also report the top-k singular values.")
    max_pairs: int | None = _opt(None, "Subsample at most this many pairs per lag.")
    seed: int = _opt(0, "Random seed.")
    n_blocks: int | None = _opt(None, "Bootstrap blocks (default clip(N / (10 max_lag), 10, 100)).")
    chunk_tokens: int = _opt(1 << 22, "Left positions counted at once.")

    def __post_init__(self) -> None:
        if self.lags is not None:
            lags = parse_lags(self.lags)  # type: ignore[arg-type]
            if not lags:
                raise UserError("no lags given")
            bad = [v for v in lags if v < 1]
            if bad:
                raise UserError(f"lag {bad[0]} is out of range: lags must be positive integers")
            _set(self, "lags", tuple(sorted(set(lags))))
        ff = self.floor_factor
        if isinstance(ff, bool) or not isinstance(ff, int | float | np.number):
            raise UserError(f"floor_factor (--floor-factor) must be a number, got {ff!r}")
        if not math.isfinite(float(ff)) or ff <= 0:
            raise UserError(f"floor_factor (--floor-factor) must be positive, got {ff}")
        _set(self, "floor_factor", float(ff))
        _set(self, "n_shuffles", _int(self.n_shuffles, "n_shuffles", 0))
        _set(self, "n_boot", _int(self.n_boot, "n_boot", 0, "--boot", BOOT_MAX))
        _set(self, "top_k", _int(self.top_k, "top_k", 0, "--top-k"))
        _set(self, "first_lag", _int(self.first_lag, "first_lag", 1, "--first-lag"))
        _set(self, "seed", _int(self.seed, "seed", 0, "--seed", SEED_MAX))
        _set(self, "chunk_tokens", _int(self.chunk_tokens, "chunk_tokens", 1))
        if self.max_pairs is not None:
            _set(self, "max_pairs", _int(self.max_pairs, "max_pairs", 1, "--max-pairs"))
        if self.n_blocks is not None:
            _set(self, "n_blocks", _int(self.n_blocks, "n_blocks", 1))
        _set(self, "within_documents", bool(self.within_documents))
        _set(self, "debias_beta", bool(self.debias_beta))
        bw = _window(self.beta_window)
        _set(self, "beta_window", bw)
        if bw is not None and self.lags is not None:
            check_beta_window(bw, self.lags)

    def check(self, corpus: TokenCorpus) -> np.ndarray:
        """The checks that need the corpus; returns the lags to measure (sorted)."""
        n_tok = int(corpus.num_tokens)
        if n_tok < 3:
            raise UserError(f"a corpus of {n_tok} tokens is too short to measure correlations")
        if self.top_k >= corpus.vocab_size:
            raise UserError(f"top_k must be below the vocabulary size {corpus.vocab_size}")
        if self.lags is None:
            lag_arr = np.asarray(default_lags(n_tok), dtype=np.int64)
        else:
            lag_arr = np.asarray(self.lags, dtype=np.int64)
            bad = lag_arr[lag_arr >= n_tok]
            if bad.size:
                raise UserError(
                    f"lag {int(bad[0])} is out of range: lags must be integers in "
                    f"1..{n_tok - 1} for a corpus of {n_tok} tokens"
                )
        if self.beta_window is not None and self.lags is None:
            check_beta_window(self.beta_window, lag_arr)
        return lag_arr

    def to_dict(self) -> dict[str, Any]:
        """The resolved settings as plain JSON (lists for tuples)."""
        d = dataclasses.asdict(self)
        for k in ("lags", "beta_window"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d


@dataclass(frozen=True)
class EntropyConfig:
    """Every setting of :func:`~scalinglab.stats.entropy` (see its parameters).

    ``max_n`` None means :data:`DEFAULT_MAX_N`; ``estimator`` "auto" resolves to
    the first of :data:`ESTIMATORS`; ``gamma_window`` accepts ``"lo,hi"`` or a pair;
    ``entropy_from`` is a losses file (read and checked here, kept as its path) or a
    mapping ``{n: loss}`` (kept as sorted ``(n, loss)`` pairs).
    """

    max_n: int = _opt(DEFAULT_MAX_N, "Largest context length for H_n.")
    estimator: str = _opt("auto", f"Estimator of H_n: auto or {', '.join(ESTIMATORS)}.")
    reliability_tol: float = _opt(0.05, "Relative tolerance of the reliability rule.")
    coverage_k: int = _opt(10, "A held-out context is covered when seen k times in training.")
    gamma_window: tuple[int, int] | None = _opt(None, "n window lo,hi for gamma.")
    fit_offset: bool = _opt(False, "Also fit H_n - H_inf ~ n^-gamma with H_inf free.")
    entropy_from: (
        str | os.PathLike[str] | Mapping[int, float] | tuple[tuple[int, float], ...] | None
    ) = _opt(None, "Per-position losses of a model (upper bounds).")
    n_boot: int = _opt(1000, "Bootstrap replicates.")
    seed: int = _opt(0, "Random seed.")
    max_tokens: int = _opt(DEFAULT_MAX_TOKENS, "Subsample larger training splits by documents.")
    _losses: dict[int, float] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        max_n = DEFAULT_MAX_N if self.max_n is None else self.max_n
        _set(self, "max_n", _int(max_n, "max_n", 1, "--max-n"))
        est = "grassberger" if self.estimator == "auto" else str(self.estimator).lower()
        if est == "nsb":
            raise UserError(
                "the NSB estimator is not available: no maintained implementation installs "
                "here (ndd does not build; infomeasure's needs raw samples) "
                f"- choose one of {', '.join(ESTIMATORS)}"
            )
        if est not in ESTIMATORS:
            raise UserError(
                f"unknown estimator {self.estimator!r}; choose auto or {', '.join(ESTIMATORS)}"
            )
        _set(self, "estimator", est)
        tol = self.reliability_tol
        if not isinstance(tol, int | float | np.number) or not 0 < tol < 1:
            raise UserError(f"reliability_tol must be in (0, 1), got {tol}")
        _set(self, "reliability_tol", float(tol))
        _set(self, "coverage_k", _int(self.coverage_k, "coverage_k", 1))
        _set(self, "n_boot", _int(self.n_boot, "n_boot", 2, "--boot", BOOT_MAX))
        _set(self, "seed", _int(self.seed, "seed", 0, "--seed", SEED_MAX))
        _set(self, "max_tokens", _int(self.max_tokens, "max_tokens", 1))
        _set(self, "fit_offset", bool(self.fit_offset))
        gw = _window(self.gamma_window)
        if gw is not None and gw[1] > self.max_n:
            raise UserError(
                f"gamma window (--gamma-window) {gw[0]},{gw[1]} reaches beyond "
                f"max_n = {self.max_n} (--max-n)"
            )
        _set(self, "gamma_window", gw)
        src = self.entropy_from
        if isinstance(src, Mapping) or isinstance(src, tuple | list):
            items = list(src.items()) if isinstance(src, Mapping) else list(src)
            try:
                ns, ls = [k for k, _ in items], [v for _, v in items]
            except (TypeError, ValueError):
                raise UserError("entropy_from: give a mapping {n: loss}") from None
            losses = _checked_losses(_pairs(ns, ls, "entropy_from"), "entropy_from")
            _set(self, "entropy_from", tuple(sorted(losses.items())))
            _set(self, "_losses", losses)
        elif src is not None:
            _set(self, "_losses", load_external_losses(src))
            _set(self, "entropy_from", os.fspath(src))

    @property
    def external_losses(self) -> dict[int, float] | None:
        """The losses of ``entropy_from`` as ``{n: loss}`` (None without one)."""
        return dict(self._losses) if self._losses is not None else None

    def check(self, corpus: TokenCorpus) -> None:
        """Raise the :class:`UserError` of a corpus whose splits are too short for
        ``max_n`` (the training split as capped by ``max_tokens``), counting nothing."""
        n_train = min(int(corpus.split_index), self.max_tokens)
        check_split_sizes(n_train, int(corpus.num_tokens) - int(corpus.split_index), self.max_n)

    def to_dict(self) -> dict[str, Any]:
        """The resolved settings as plain JSON (lists for tuples, losses as ``{n: loss}``)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["gamma_window"] = list(self.gamma_window) if self.gamma_window else None
        if isinstance(self.entropy_from, tuple):
            d["entropy_from"] = {str(k): v for k, v in self.entropy_from}
        return d


def check_split_sizes(n_train: int, n_heldout: int, max_n: int) -> None:
    """Raise unless the training and held-out splits are long enough for ``max_n``."""
    if n_train < 4 * (max_n + 2):
        raise UserError(f"training split has {n_train} tokens, too few for max_n = {max_n}")
    if n_heldout <= max_n:
        raise UserError(
            f"held-out split has {n_heldout} tokens; it needs more than max_n = {max_n} "
            "(lower --max-n or use a larger corpus)"
        )


def build_config(cls: type[Any], config: Any, settings: dict[str, Any], what: str) -> Any:
    """The config an engine runs with: ``config`` (or the defaults) with the keyword
    ``settings`` replacing its values; checked by the config itself."""
    if config is not None and not isinstance(config, cls):
        raise UserError(f"{what} config must be a {cls.__name__}, got {type(config).__name__}")
    if config is None:
        return cls(**settings)
    return dataclasses.replace(config, **settings) if settings else config
