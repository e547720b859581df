"""A stationary source whose token correlations decay as an exact power law.

:class:`PowerLawSource` superposes K "sticky" chains with log-spaced relaxation
times ``tau_k``. Every chain evolves at every step (keep its symbol with
probability ``lambda_k = exp(-1/tau_k)``, else redraw it uniformly from V); the
emitted token is the current symbol of a chain picked independently at each
step with probability ``w_k``. Two tokens are correlated only when they were
read from the same chain, hence exactly

    C(n) = c(n) (I/V - 1 1^T / V^2),   c(n) = sum_k w_k^2 lambda_k^n,

with ``||C(n)||_op = c(n)/V`` and ``||C(n)||_F = c(n) sqrt(V-1)/V``. Choosing
``w_k^2 ~ tau_k^(-beta)`` with log-spaced ``tau_k`` makes
``c(n) ~ Gamma(beta) n^(-beta) / dln(tau)`` for ``tau_min << n << tau_max``
(the exact local slope and the lag window where it is within 5% of -beta are
in ``truth.json``).
The sampler is exact and fully vectorised (no loop over time): for each chain,
the gap g between two successive readings is refreshed with probability
``1 - lambda^g``, and symbols are forward-filled from the last refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ..warns import coded
from ._common import (
    Progress,
    as_rng,
    chain_readings,
    check_float,
    check_int,
    entropy,
    token_dtype,
    write_source,
)
from ._exact import true_runs

__all__ = ["MAX_MODES", "MAX_TAU", "PowerLawSource", "generate_powerlaw"]

#: Longest relaxation time of the power-law source (its lags stay far inside int64).
MAX_TAU = 1e12
#: Most relaxation times (chains) of the power-law source.
MAX_MODES = 4096


@dataclass
class PowerLawSource:
    """A stationary source whose correlations decay as ``n^(-beta)`` (exactly known).

    Parameters
    ----------
    vocab_size : int
        Number of symbols V (the stationary law is uniform).
    beta : float
        Exponent of ``||C(n)|| ~ n^(-beta)`` inside ``[tau_min, tau_max]``.
    tau_min, tau_max : float
        Shortest and longest relaxation time (tokens); ``tau_max <= 1e12``.
    modes_per_octave : float
        Density of the log-spaced relaxation times; 2 keeps the ripple of the
        local slope below 0.1%.
    """

    vocab_size: int = 64
    beta: float = 0.5
    tau_min: float = 1.0
    tau_max: float = 1.0e4
    modes_per_octave: float = 2.0

    def __post_init__(self) -> None:
        self.vocab_size = check_int("vocab_size", self.vocab_size, minimum=2)
        self.beta = check_float("beta", self.beta, low=0.0, low_open=True, high=8.0)
        self.tau_min = check_float("tau_min", self.tau_min, low=0.0, low_open=True)
        self.tau_max = check_float("tau_max", self.tau_max, low=self.tau_min, high=MAX_TAU)
        self.modes_per_octave = check_float(
            "modes_per_octave", self.modes_per_octave, low=0.25, high=64.0
        )
        ratio = self.tau_max / self.tau_min
        if not math.isfinite(ratio) or self.taus.size > MAX_MODES:
            raise UserError(
                f"tau_max / tau_min = {ratio:.3g} at {self.modes_per_octave:g} modes per "
                f"octave needs more than {MAX_MODES} relaxation times; narrow the range "
                "or lower modes_per_octave"
            )

    @property
    def taus(self) -> np.ndarray:
        """Log-spaced relaxation times tau_k."""
        octaves = math.log2(self.tau_max / self.tau_min)
        k = max(1, int(round(octaves * self.modes_per_octave)) + 1)
        return self.tau_min * (self.tau_max / self.tau_min) ** (np.arange(k) / max(k - 1, 1))

    @property
    def weights(self) -> np.ndarray:
        """Probability ``w_k`` of reading chain k, ``w_k^2 ~ tau_k^(-beta)``.

        The slowest chain also carries the weight ``sum_{j>=1} (tau_K r^j)^(-beta)``
        of the modes the log-spaced ladder (ratio r) would continue with beyond
        ``tau_max``; without it the missing constant bends ``c(n)`` well before
        ``tau_max`` when beta is small.
        """
        taus = self.taus
        w2 = taus ** (-self.beta)
        if taus.size > 1:
            ratio = taus[1] / taus[0]
            w2[-1] += taus[-1] ** (-self.beta) * ratio ** (-self.beta) / (1 - ratio ** (-self.beta))
        w = np.sqrt(w2)
        return w / w.sum()

    @property
    def lambdas(self) -> np.ndarray:
        """Per-step persistence ``lambda_k = exp(-1/tau_k)``."""
        return np.exp(-1.0 / self.taus)

    def c(self, lags) -> np.ndarray:
        """``c(n) = sum_k w_k^2 lambda_k^n`` (so that ``C(n) = c(n)(I/V - 11^T/V^2)``)."""
        n = np.asarray(lags, dtype=np.float64)
        w2 = self.weights**2
        return np.exp(np.multiply.outer(n, -1.0 / self.taus)) @ w2

    def correlations(self, lags) -> np.ndarray:
        """Exact ``C(n)`` matrices (L, V, V)."""
        v = self.vocab_size
        base = np.eye(v) / v - 1.0 / v**2
        return self.c(lags)[:, None, None] * base

    def norms(self, lags) -> dict[str, list]:
        """Exact operator (``c/V``) and Frobenius (``c sqrt(V-1)/V``) norms of C(n)."""
        c = self.c(lags)
        v = self.vocab_size
        return {
            "lags": np.asarray(lags).tolist(),
            "operator_norm": (c / v).tolist(),
            "frobenius": (c * math.sqrt(v - 1) / v).tolist(),
        }

    def local_slope(self, lags) -> np.ndarray:
        """Exact ``d ln c / d ln n`` at each lag."""
        n = np.asarray(lags, dtype=np.float64)
        w2 = self.weights**2
        e = np.exp(np.multiply.outer(n, -1.0 / self.taus)) * w2
        return -(e @ (1.0 / self.taus)) * n / e.sum(axis=1)

    def power_law_window(self, tolerance: float = 0.05) -> tuple[int, int]:
        """Widest lag range where the local slope is within ``tolerance * beta`` of -beta."""
        lags = np.unique(np.geomspace(1, max(2.0, 100 * self.tau_max), 4000).astype(np.int64))
        ok = np.abs(self.local_slope(lags) + self.beta) <= tolerance * self.beta
        if not ok.any():
            return (0, 0)
        runs = true_runs(ok)
        best = runs[np.argmax(runs[:, 1] - runs[:, 0])]
        return int(lags[best[0]]), int(lags[best[1] - 1])

    def conditional_entropies(self) -> dict[str, float]:
        """Exact ``H_0 = ln V`` and ``H_1`` (from the exact pair law), in nats."""
        v = self.vocab_size
        c1 = float(self.c([1])[0])
        same = 1.0 / v + c1 * (1.0 - 1.0 / v)
        other = (1.0 - same) / (v - 1)
        h1 = float(entropy(np.array([same] + [other] * (v - 1))))
        return {"H_0": math.log(v), "H_1": h1}

    def sample(
        self,
        num_tokens: int,
        *,
        seed: int | np.random.Generator | None = 0,
        chunk: int = 1 << 22,
        progress: Progress = None,
    ) -> np.ndarray:
        """Draw one stationary stream of ``num_tokens`` tokens (exact, vectorised)."""
        n = check_int("num_tokens", num_tokens)
        rng = as_rng(seed)
        v, loglam = self.vocab_size, -1.0 / self.taus
        out = np.empty(n, dtype=token_dtype(v))
        last_val = np.zeros(loglam.size, dtype=np.int64)
        for ts, cs, first, gap, ends in chain_readings(
            n, chunk, np.cumsum(self.weights), rng, progress
        ):
            m = ts.size
            # a chain never read before has gap = inf: exp(-inf) = 0, always refreshed
            refresh = rng.random(m) >= np.exp(gap * loglam[cs])
            vals = rng.integers(0, v, size=m)
            # A chain's first reading in this chunk that is not refreshed keeps the
            # symbol carried over from the previous chunk: treat it as a refresh
            # to that old value so the forward fill below starts from it.
            carry = first & ~refresh
            vals[carry] = last_val[cs[carry]]
            anchor = np.where(refresh | carry, np.arange(m), 0)
            np.maximum.accumulate(anchor, out=anchor)
            filled = vals[anchor]
            out[ts] = filled
            last_val[cs[ends]] = filled[ends]
        return out

    def truth(self, max_lag: int = 100_000) -> dict[str, Any]:
        """Exact correlations (log-spaced lags up to ``max_lag``), window and entropies."""
        lags = np.unique(np.geomspace(1, max_lag, 200).astype(np.int64))
        lo, hi = self.power_law_window()
        return {
            "kind": "powerlaw",
            "vocab_size": self.vocab_size,
            "beta": self.beta,
            "power_law_window": [lo, hi],
            "window_rule": "lags where the exact local slope d ln C / d ln n is within 5% of -beta",
            "taus": self.taus.tolist(),
            "weights": self.weights.tolist(),
            "correlations": {
                **self.norms(lags),
                "c": self.c(lags).tolist(),
                "formula": "C(n) = c(n) (I/V - 11^T/V^2), c(n) = sum_k w_k^2 exp(-n/tau_k)",
            },
            "entropy": {
                **self.conditional_entropies(),
                "note": "H_n for n >= 2 has no closed form; H_n <= H_1",
            },
            "unigram": "uniform",
        }


def generate_powerlaw(
    out,
    *,
    vocab_size: int = PowerLawSource.vocab_size,
    beta: float = PowerLawSource.beta,
    tau_min: float = PowerLawSource.tau_min,
    tau_max: float = PowerLawSource.tau_max,
    modes_per_octave: float = PowerLawSource.modes_per_octave,
    num_tokens: int = 1_000_000,
    seed: int = 0,
    progress: Progress = None,
):
    """Sample :class:`PowerLawSource` into a corpus directory with truth.json."""
    src = PowerLawSource(vocab_size, beta, tau_min, tau_max, modes_per_octave)
    tokens = src.sample(num_tokens, seed=seed, progress=progress)
    truth = src.truth(max_lag=max(10, int(num_tokens) // 10))
    hi = truth["power_law_window"][1]
    truth["warnings"] = (
        [
            coded(
                "synth-powerlaw-short-stream",
                f"the exact power law holds up to lag {hi:,} but a stream of "
                f"{int(num_tokens):,} tokens measures C(n) only to about a tenth of its "
                "length: generate more tokens or lower --tau-max",
            )
        ]
        if hi > int(num_tokens) // 10
        else []
    )
    name = f"powerlaw-V{src.vocab_size}-beta{src.beta:g}"
    return write_source(out, src, tokens, kind="powerlaw", name=name, seed=seed, truth=truth)
