"""A Santa Fe process with slowly flipping facts: exact correlations AND exact entropies.

The source
----------
There are K facts ``k = 1..K``. Fact k holds a hidden bit ``z_k(t)`` that
follows its own stationary two-state Markov chain in time, flipping with
probability ``r_k`` at every step, independently of the other facts
(``z_k(0)`` uniform). At each time t an index ``K_t`` is drawn iid with
``P(K_t = k) = p_k``, ``p_k = k^(-a) / Z``, ``Z = sum_{j<=K} j^(-a)``, and the
token ``x_t = 2 (K_t - 1) + z_{K_t}(t)`` is emitted: the vocabulary has
``V = 2K`` symbols, token ``2(k-1) + b`` saying "fact k holds bit b now". The
flip probabilities follow a timescale law

    tau_k = tau0 k^c,   lambda_k = 1 - 2 r_k = exp(-1 / tau_k),

so that ``P(z_k(t + g) = z_k(t)) = (1 + lambda_k^g) / 2`` for any gap g.

Exact statistics (entropies in nats)
------------------------------------
*Token marginal.* ``P(x = 2(k-1) + b) = p_k / 2``.

*Covariance at lag n >= 1.* The indices ``K_0`` and ``K_n`` are independent,
and bits of different facts are independent, so pairs read from two different
facts contribute ``p_k p_j / 4 - (p_k / 2)(p_j / 2) = 0``. For the same fact,
``P(z_k(0) = b, z_k(n) = b') = (1 + s lambda_k^n) / 4`` with ``s = +1`` if
``b = b'`` and ``-1`` otherwise. Hence ``C(n)`` is block diagonal with blocks

    C_k(n) = (p_k^2 lambda_k^n / 4) [[1, -1], [-1, 1]],

whose eigenvalues are 0 and ``p_k^2 lambda_k^n / 2``. Therefore

    ||C(n)||_op = max_k p_k^2 lambda_k^n / 2,
    ||C(n)||_F  = (1/2) sqrt(sum_k p_k^4 lambda_k^(2n)).

*Conditional entropy.* ``H_n = H(x_{n+1} | x_1..x_n)``. The next index is
independent of the past (entropy ``H(p)``), and a token reveals its index, so
``H_n = H(p) + sum_k p_k H(z_k(n+1) | x_1..x_n)``. The context tells about
``z_k`` only through the bits seen at the occurrences of index k, and since
``z_k`` is Markov and independent of the other facts and of the indices, only
the last occurrence matters: at distance d it leaves the binary uncertainty
``h2((1 + lambda_k^d) / 2)``; if k did not occur the bit is uniform
(``ln 2``). The last occurrence is at distance d with probability
``p_k (1 - p_k)^(d-1)`` (none: ``(1 - p_k)^n``), so

    H_n = H(p) + sum_k p_k [ sum_{d=1..n} p_k (1-p_k)^(d-1) h2((1 + lambda_k^d)/2)
                             + (1 - p_k)^n ln 2 ],
    H_inf = H(p) + sum_k p_k sum_{d>=1} p_k (1-p_k)^(d-1) h2((1 + lambda_k^d)/2),

and, with ``g_k(d) = ln 2 - h2((1 + lambda_k^d)/2) >= 0`` the information a
sighting at distance d carries,

    H_n - H_inf = sum_k p_k^2 sum_{d>n} (1 - p_k)^(d-1) g_k(d).

This tail is summed directly up to a distance ``D_k = min(tau_k ln 2,
46 / p_k)``, far enough that ``lambda_k^(D_k+1) <= 1/2`` or
``(1-p_k)^(D_k) <= 1e-20`` (at most 2^26 terms over all facts, else a
UserError: e.g. K <= ~400 at a = c = 2, tau0 = 4), and beyond it in closed
form from ``g(x) = sum_{j>=1} x^(2j) / (2j (2j-1))``:
``sum_{d>D} (1-p)^(d-1) lambda^(2jd) = (1-p)^D lambda^(2j(D+1)) / (1 - (1-p) lambda^(2j))``.

Exponents (continuum limit K -> infinity)
-----------------------------------------
*Operator norm.* Maximising ``-2a ln k - n k^(-c) / tau0`` over k gives
``k*^c = c n / (2 a tau0)`` and ``||C(n)||_op ~ (2 a tau0 / (c n))^(2a/c)
e^(-2a/c) / (2 Z^2)``: ``beta_op = 2a / c``.

*Frobenius norm.* ``sum_k k^(-4a) e^(-2n/(tau0 k^c)) ~ (1/c) (tau0 / (2n))^((4a-1)/c)
Gamma((4a-1)/c)`` (substitute ``u = 2n k^(-c) / tau0``), so
``beta_F = (4a - 1) / (2c)`` for ``a > 1/4``; it is shallower than the
operator norm by ``1/(2c)`` because about ``k*`` facts share the norm.

*Entropy.* Fact k contributes to ``H_n - H_inf`` only while it has probably
not been seen within the context (``p_k n <~ 1``: else the factor
``(1 - p_k)^n`` kills it) and a sighting that old still carries information
(``n <~ tau_k``: else ``g_k ~ lambda_k^(2d) / 2``). The cuts are at
``k_p ~ n^(1/a)`` and ``k_tau ~ n^(1/c)``; the larger one binds at large n.

- ``c >= a`` (facts are *remembered*: ``p_k tau_k`` does not fall with k): the
  contributing facts have ``tau_k >> 1 / p_k``, ``g ~ ln 2``, each gives
  ``p_k ln 2 e^(-p_k n)``, and ``sum_k p_k e^(-p_k n) ~ n^(-(1 - 1/a))``:
  ``gamma = 1 - 1/a`` (a > 1), the Santa Fe result.
- ``c < a`` (facts are *forgotten* before they are seen again): the
  contributing facts have ``p_k tau_k << 1`` and give
  ``p_k^2 tau_k G(n / tau_k)`` with ``G(y) = int_y^inf g(e^(-s)) ds``, whose sum
  scales as ``n^(-(2a - 1 - c)/c)``: ``gamma = (2a - 1 - c) / c`` (2a - 1 > c).

Both read ``gamma = (2a - 1 - m) / m`` with ``m = min(a, c)``. At ``c = a`` the
two cuts coincide (``p_k tau_k = tau0 / Z`` for every k), ``H_n - H_inf`` has an
exact scaling form and its local slope settles fastest: the defaults use
``a = c``. The predicted data exponent is ``alpha_D = gamma / (2 beta)``
(REFERENCE 1.4), i.e. ``(2a - 1 - m) c / (4 a m)`` with the operator beta
and ``(2a - 1 - m) c / (m (4a - 1))`` with the Frobenius one.

With finite K the power laws hold between a lower cut (``k*`` of a few) and
an upper one: the correlations turn exponential beyond lags of about
``2 a tau0 K^c / c`` (operator norm), the entropy beyond ``n ~ Z K^a``
(``c >= a``) or ``tau_K`` (``c < a``). ``truth()`` therefore also records the
exact local log-log slopes (secants over one octave, ``n/sqrt 2 .. n sqrt 2``,
which average the staircase of the operator norm whose maximising fact changes
at discrete lags), the window where each is within 10% of its asymptote
(``power_law_window``), and least-squares slopes of the exact curves over
those windows.

Defaults: K = 32 (V = 64), a = c = 2.5, tau0 = 4: gamma = 0.6, beta_op = 2,
beta_F = 1.8, alpha_D = 0.15 (operator) or 1/6 (Frobenius); ``H_0 - H_inf``
is 0.31 nats and ``H_n`` keeps falling beyond n = 256.

Sampling
--------
Exact and vectorised (no loop over tokens or facts): the indices of a chunk
are drawn at once and grouped by fact (stable sort); the bit at each
occurrence differs from the bit at the fact's previous occurrence (carried
over from the previous chunk) with probability ``(1 - lambda_k^gap) / 2``,
gap being the time between the two occurrences; a fact's first occurrence
ever gets a uniform bit (the chain starts stationary). The bits follow as the
parity of the cumulative flips within each fact's group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
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
from ._exact import power_law_windows, secant_grid, secant_points
from ._facts_exact import (
    MAX_LAG,
    MAX_N,
    MAX_TERMS,
    SLOPES_PER_OCTAVE,
    WINDOW_TOLERANCE,
    alpha_d,
    binary_information,
    entropy_excess,
    facts_truth,
)

__all__ = ["MAX_TERMS", "FactsSource", "alpha_d", "binary_information", "generate_facts"]

#: Most facts (the vocabulary is twice as large).
MAX_FACTS = 4096
#: Longest timescale tau_K (tokens).
MAX_TAU = 1e12
_LN2 = math.log(2.0)


@dataclass
class FactsSource:
    """K facts with flipping bits read at Zipf-distributed times (exactly solvable).

    Parameters
    ----------
    num_facts : int
        K, the number of facts (1..4096); the vocabulary has ``V = 2K`` tokens.
    a : float
        Zipf exponent of the index law, ``p_k ~ k^(-a)`` (0..8).
    tau0 : float
        Timescale of fact 1 in tokens (``0 < tau0``).
    c : float
        Timescale exponent, ``tau_k = tau0 k^c`` (0..8; ``tau_K <= 1e12``).

    Notes
    -----
    The exact statistics, their derivation and the asymptotic exponents are in
    the module docstring.
    """

    num_facts: int = 32
    a: float = 2.5
    tau0: float = 4.0
    c: float = 2.5

    def __post_init__(self) -> None:
        self.num_facts = check_int("num_facts", self.num_facts, minimum=1, maximum=MAX_FACTS)
        self.a = check_float("a", self.a, low=0.0, high=8.0)
        self.tau0 = check_float("tau0", self.tau0, low=0.0, low_open=True, high=MAX_TAU)
        self.c = check_float("c", self.c, low=0.0, high=8.0)
        tau_k = self.tau0 * float(self.num_facts) ** self.c
        if not math.isfinite(tau_k) or tau_k > MAX_TAU:
            raise UserError(
                f"the slowest fact's timescale tau0 K^c = {tau_k:.3g} exceeds {MAX_TAU:g} "
                "tokens; lower tau0, c or the number of facts"
            )

    # -- parameters ------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """``V = 2K``."""
        return 2 * self.num_facts

    @property
    def probs(self) -> np.ndarray:
        """Index law ``p_k = k^(-a) / Z``, k = 1..K."""
        w = np.arange(1, self.num_facts + 1, dtype=np.float64) ** (-self.a)
        return w / w.sum()

    @property
    def taus(self) -> np.ndarray:
        """Timescales ``tau_k = tau0 k^c`` (tokens)."""
        return self.tau0 * np.arange(1, self.num_facts + 1, dtype=np.float64) ** self.c

    @property
    def lambdas(self) -> np.ndarray:
        """Per-step bit correlations ``lambda_k = exp(-1 / tau_k) = 1 - 2 r_k``."""
        return np.exp(-1.0 / self.taus)

    @property
    def flip_probs(self) -> np.ndarray:
        """Per-step flip probabilities ``r_k = (1 - lambda_k) / 2``."""
        return -np.expm1(-1.0 / self.taus) / 2

    def token_marginal(self) -> np.ndarray:
        """``P(x = 2(k-1) + b) = p_k / 2``."""
        return np.repeat(self.probs / 2, 2)

    def index_entropy(self) -> float:
        """``H(p)`` in nats (the entropy of the index, which no context reduces)."""
        return float(entropy(self.probs))

    # -- correlations ----------------------------------------------------------------
    def correlations(self, lags) -> np.ndarray:
        """Exact ``C(n)`` matrices (L, V, V), blocks ``p_k^2 lambda_k^n / 4 [[1, -1], [-1, 1]]``."""
        n = np.atleast_1d(np.asarray(lags, dtype=np.float64))
        amp = self.probs[None, :] ** 2 * np.exp(-n[:, None] / self.taus[None, :]) / 4
        v = self.vocab_size
        out = np.zeros((n.size, v, v))
        idx = np.arange(self.num_facts)
        sign = np.array([[1.0, -1.0], [-1.0, 1.0]])
        for i in range(2):
            for j in range(2):
                out[:, 2 * idx + i, 2 * idx + j] = amp * sign[i, j]
        return out

    def log_operator_norm(self, lags) -> np.ndarray:
        """``ln ||C(n)||_op = max_k (2 ln p_k - n / tau_k) - ln 2`` (no underflow)."""
        n = np.asarray(lags, dtype=np.float64)
        e = 2 * np.log(self.probs) - np.multiply.outer(n, 1.0 / self.taus)
        return e.max(axis=-1) - _LN2

    def log_frobenius(self, lags) -> np.ndarray:
        """``ln ||C(n)||_F = ln(1/2) + (1/2) ln sum_k p_k^4 lambda_k^(2n)`` (no underflow)."""
        n = np.asarray(lags, dtype=np.float64)
        e = 4 * np.log(self.probs) - 2 * np.multiply.outer(n, 1.0 / self.taus)
        top = e.max(axis=-1)
        return -_LN2 + 0.5 * (top + np.log(np.exp(e - top[..., None]).sum(axis=-1)))

    def norms(self, lags) -> dict[str, list]:
        """Exact ``||C(n)||_op`` and ``||C(n)||_F`` at the given lags."""
        lags = np.asarray(lags)
        return {
            "lags": lags.tolist(),
            "operator_norm": np.exp(self.log_operator_norm(lags)).tolist(),
            "frobenius": np.exp(self.log_frobenius(lags)).tolist(),
        }

    # -- entropies -------------------------------------------------------------------
    def entropy_excess(self, ns) -> np.ndarray:
        """Exact ``H_n - H_inf = sum_k p_k^2 sum_{d>n} (1-p_k)^(d-1) g_k(d)`` (nats).

        Parameters
        ----------
        ns : array of int
            Context lengths ``n >= 0``.
        """
        return entropy_excess(self.probs, self.taus, ns)

    def entropy_inf(self) -> float:
        """``H_inf = H(p) + ln 2 - (H_0 - H_inf)`` in nats."""
        return self.index_entropy() + _LN2 - float(self.entropy_excess([0])[0])

    def conditional_entropies(self, max_n: int) -> np.ndarray:
        """Exact ``H_n`` for ``n = 0..max_n`` (nats); ``H_0 = H(p) + ln 2``."""
        max_n = check_int("max_n", max_n, minimum=0, maximum=MAX_N)
        tail = self.entropy_excess(np.arange(max_n + 1))
        h_inf = self.index_entropy() + _LN2 - tail[0]
        return h_inf + tail

    # -- exponents -------------------------------------------------------------------
    def exponents(self) -> dict[str, Any]:
        """Asymptotic exponents (K -> infinity) and the predicted ``alpha_D = gamma / (2 beta)``.

        ``beta_op = 2a/c``, ``beta_F = (4a-1)/(2c)``, ``gamma = (2a-1-m)/m`` with
        ``m = min(a, c)``; None where the law does not hold (module docstring).
        """
        a, c = self.a, self.c
        beta_op = 2 * a / c if c > 0 and a > 0 else None
        beta_f = (4 * a - 1) / (2 * c) if c > 0 and 4 * a > 1 else None
        m = min(a, c)
        gamma = (2 * a - 1 - m) / m if m > 0 and 2 * a - 1 - m > 0 else None
        return {
            "beta_operator": beta_op,
            "beta_frobenius": beta_f,
            "gamma": gamma,
            "alpha_D_operator": alpha_d(gamma, beta_op),
            "alpha_D_frobenius": alpha_d(gamma, beta_f),
            "regime": "remembered (c >= a)" if c >= a else "forgotten (c < a)",
            "formulas": {
                "beta_operator": "2 a / c",
                "beta_frobenius": "(4 a - 1) / (2 c), a > 1/4",
                "gamma": "(2 a - 1 - m) / m, m = min(a, c): 1 - 1/a if c >= a, "
                "(2a - 1 - c) / c if c < a",
                "alpha_D": "gamma / (2 beta)",
            },
        }

    def slope_grid(self, max_lag: int) -> np.ndarray:
        """Log-spaced integer lags (8 per octave) from 2 to ``max_lag / sqrt 2``."""
        return secant_grid(max_lag, SLOPES_PER_OCTAVE)

    def slope_points(self, max_lag: int) -> np.ndarray:
        """Every lag the local slopes use: the grid and the ends of its secants."""
        return secant_points(self.slope_grid(max_lag))

    def local_slopes(
        self, max_lag: int = 1 << 17, excess: dict[int, float] | None = None
    ) -> dict[str, Any]:
        """Exact local slopes, power-law windows and window fits of the three curves.

        The local slope at n is the secant ``-d ln f / d ln n`` between
        ``floor(n/sqrt 2)`` and ``ceil(n sqrt 2)``; a window is the longest run of
        grid lags where it is within 10% of the asymptotic exponent; the window
        fit is the least-squares slope of ``ln f`` against ``ln n`` over the
        grid lags inside it. ``excess`` may hold ``H_n - H_inf`` already computed
        (keyed by n) for the lags :meth:`slope_points` lists.
        """
        max_lag = check_int("max_lag", max_lag, minimum=4, maximum=MAX_LAG)
        grid = self.slope_grid(max_lag)
        points = self.slope_points(max_lag)
        if excess is None:
            values = self.entropy_excess(points)
        else:
            values = np.array([excess[int(n)] for n in points])
        with np.errstate(divide="ignore"):
            log_tail = np.log(values)

        def log_h(n: np.ndarray) -> np.ndarray:
            return log_tail[np.searchsorted(points, n)]

        ex = self.exponents()
        curves = {
            "gamma": (log_h, ex["gamma"]),
            "beta_operator": (self.log_operator_norm, ex["beta_operator"]),
            "beta_frobenius": (self.log_frobenius, ex["beta_frobenius"]),
        }
        return {"n": grid, **power_law_windows(grid, curves, WINDOW_TOLERANCE)}

    # -- sampling --------------------------------------------------------------------
    def sample(
        self,
        num_tokens: int,
        *,
        seed: int | np.random.Generator | None = 0,
        chunk: int = 1 << 22,
        progress: Progress = None,
    ) -> np.ndarray:
        """Draw one stationary stream of ``num_tokens`` tokens (exact, vectorised).

        Parameters
        ----------
        num_tokens : int
            Stream length.
        seed : int or Generator
            Random seed.
        chunk : int
            Tokens drawn at once (bounds memory; the state of every fact is
            carried from chunk to chunk).
        progress : callable, optional
            Called with the number of tokens of each finished chunk.

        Returns
        -------
        (num_tokens,) uint16 array of tokens ``2 (k - 1) + bit``.
        """
        n = check_int("num_tokens", num_tokens)
        chunk = check_int("chunk", chunk)
        rng = as_rng(seed)
        inv_tau = 1.0 / self.taus
        out = np.empty(n, dtype=token_dtype(self.vocab_size))
        last_bit = np.zeros(self.num_facts, dtype=np.int64)
        # gap = inf at a fact's first sighting ever: flip_p = 1/2, a uniform bit
        for ts, ks, first, gap, ends in chain_readings(
            n, chunk, np.cumsum(self.probs), rng, progress
        ):
            flip_p = -np.expm1(-gap * inv_tau[ks]) / 2
            flips = (rng.random(ts.size) < flip_p).astype(np.int64)
            parity = np.cumsum(flips)
            group = np.cumsum(first) - 1
            base = (parity - flips)[first][group]
            bits = (last_bit[ks] + parity - base) & 1
            out[ts] = (2 * ks + bits).astype(out.dtype)
            last_bit[ks[ends]] = bits[ends]
        return out

    # -- truth -----------------------------------------------------------------------
    def truth(self, max_n: int = 1024, max_lag: int = 1 << 17) -> dict[str, Any]:
        """Ground truth: H_n, H_inf, exact norms, exponents, windows and alpha_D.

        Parameters
        ----------
        max_n : int
            ``H_n`` is listed for every ``n = 0..max_n``.
        max_lag : int
            Norms at every lag 1..256 and log-spaced lags up to ``max_lag``; the
            local slopes and windows are searched up to it too.
        """
        return facts_truth(self, max_n, max_lag)


def generate_facts(
    out,
    *,
    num_facts: int = FactsSource.num_facts,
    a: float = FactsSource.a,
    tau0: float = FactsSource.tau0,
    c: float = FactsSource.c,
    num_tokens: int = 1_000_000,
    seed: int = 0,
    max_n: int = 1024,
    max_lag: int = 1 << 17,
    progress: Progress = None,
):
    """Sample :class:`FactsSource` into a corpus directory with truth.json.

    Parameters
    ----------
    out : path
        Corpus directory to write.
    num_facts, a, tau0, c : see :class:`FactsSource`.
    num_tokens : int
        Stream length.
    seed : int
        Random seed (recorded in meta.json).
    max_n, max_lag : int
        Extent of the exact ``H_n`` list and of the correlation lags in truth.json.
    progress : callable, optional
        Advanced by the tokens sampled.

    Returns
    -------
    TokenCorpus
    """
    src = FactsSource(num_facts, a, tau0, c)
    num_tokens = check_int("num_tokens", num_tokens)
    truth = src.truth(max_n=max_n, max_lag=max_lag)  # parameter errors before sampling
    tokens = src.sample(num_tokens, seed=seed, progress=progress)
    name = f"facts-K{src.num_facts}-a{src.a:g}-c{src.c:g}"
    return write_source(out, src, tokens, kind="facts", name=name, seed=seed, truth=truth)
