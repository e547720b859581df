"""Markov chains of order k, with their exact statistics.

Order-k chain
-------------
A chain over ``V`` symbols whose next token depends on the last ``k`` tokens.
Its transition tensor is stored as a ``(V**k, V)`` row-stochastic matrix whose
row ``s`` is the context ``(x_{t-k+1}, .., x_t)`` read as a base-V number, oldest
token first (``s = sum_i x_{t-k+1+i} V^(k-1-i)``).

Exact statistics (all entropies in nats):

- stationary distribution ``pi`` of the contexts, solving ``pi P = pi`` for the
  context chain ``P[s, (s V + x) mod V^k] = T[s, x]``;
- entropy rate ``h = sum_s pi(s) H(T[s, :])``;
- ``H_n = H(x_{n+1} | x_1..x_n)`` for every n: the difference of block
  entropies of the stationary n- and (n+1)-grams for ``n < k``, and ``h`` for
  ``n >= k``;
- ``C(n)[a, b] = P(x_i = a, x_{i+n} = b) - p(a) p(b) = (D^T diag(pi) P^n D)[a, b]
  - p(a) p(b)`` with ``D`` mapping a context to its last token; for order 1 this
  is ``diag(pi) (T^n - 1 pi^T)``.

Sampling
--------
A chain is sequential in time, so :meth:`MarkovChain.sample` vectorises across
independent walkers: the requested ``N`` tokens are cut into segments of
``segment_length`` tokens, each segment an independent stretch of the
stationary chain (its first ``k`` tokens drawn from ``pi``), and all segments
are stepped at once. Each step draws from every walker's row with Walker's alias
method (one gather and one comparison per token). Within a segment the
statistics above hold exactly; a pair of tokens in two different segments is
independent, so a correlation measured on the concatenated stream equals
``C(n)`` times the fraction of pairs that share a segment (recorded in
``truth.json`` as ``within_segment_fraction``). Segment starts are the corpus's
document offsets.

The power-law source is :mod:`scalinglab.synth.powerlaw` (its names are
re-exported here); the alias tables are :mod:`scalinglab.synth._alias`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..warns import coded
from ._alias import alias_draw, alias_draws, alias_tables, packed_alias
from ._common import (
    SEGMENT_LENGTH,
    Prepare,
    Progress,
    SegmentSampler,
    Step,
    as_rng,
    check_float,
    check_int,
    draw_from_cdf,
    entropy,
    nats_bits,
    npy_bytes,
    token_dtype,
    within_segment_fraction,
    write_synthetic,
)
from ._exact import operator_norms, sparse_stationary
from .powerlaw import PowerLawSource, generate_powerlaw

__all__ = [
    "MarkovChain",
    "PowerLawSource",
    "alias_tables",
    "generate_markov",
    "generate_powerlaw",
    "load_transition",
    "random_chain",
]

#: Largest transition table (contexts x symbols) a chain may hold.
MAX_TABLE = 1 << 25


@dataclass
class MarkovChain(SegmentSampler):
    """A stationary Markov chain of order ``order`` over ``V`` symbols.

    Attributes
    ----------
    transition : (V**order, V) array, or a (V,) * (order + 1) tensor
        ``transition[s, x] = P(x_{t+1} = x | context s)``, the context being the
        last ``order`` tokens read as a base-V number, oldest first. A tensor
        ``T[x_{t-k+1}, .., x_t, x]`` with k + 1 axes of length V is the same
        table (its order is k); it is stored reshaped to (V**k, V).
    order : int
        Memory k of the chain (k >= 1).
    """

    transition: np.ndarray
    order: int = 1
    _pi: np.ndarray | None = field(default=None, repr=False, compare=False)
    _packed: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = np.asarray(self.transition, dtype=np.float64)
        self.order = check_int("order", self.order)
        if t.ndim > 2:  # a tensor T[x_{t-k+1}, .., x_t, x_{t+1}]
            if len(set(t.shape)) != 1:
                raise UserError(
                    f"a transition tensor needs k + 1 axes of equal length V, got shape {t.shape}"
                )
            if self.order not in (1, t.ndim - 1):
                raise UserError(
                    f"a transition tensor with {t.ndim} axes is of order {t.ndim - 1}, "
                    f"not {self.order}"
                )
            self.order = t.ndim - 1
            t = t.reshape(-1, t.shape[-1])
        if t.ndim != 2 or t.shape[1] < 2:
            raise UserError("transition must be a 2-D (V**order, V) matrix with V >= 2")
        v = t.shape[1]
        if t.shape[0] != v**self.order:
            raise UserError(
                f"transition has {t.shape[0]} rows; order {self.order} over "
                f"{v} symbols needs {v}**{self.order} = {v**self.order}"
            )
        if t.size > MAX_TABLE:
            raise UserError(f"transition table of {t.size} cells exceeds {MAX_TABLE}")
        if not np.all(np.isfinite(t)) or (t < 0).any():
            raise UserError("transition probabilities must be finite and non-negative")
        if not np.allclose(t.sum(axis=1), 1.0, atol=1e-9):
            raise UserError("every row of the transition matrix must sum to 1")
        self.transition = t / t.sum(axis=1, keepdims=True)

    @classmethod
    def with_stationary(cls, transition: np.ndarray, pi: np.ndarray, order: int = 1) -> MarkovChain:
        """A chain whose stationary law over contexts ``pi`` is already known exactly.

        The law is taken as given (not solved for again): for chains built from a
        structure with a closed-form ``pi``, such as the reversible graph walks.
        """
        chain = cls(transition, order=order)
        chain._pi = np.asarray(pi, dtype=np.float64)
        return chain

    # -- basic properties ------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self.transition.shape[1])

    @property
    def num_contexts(self) -> int:
        return int(self.transition.shape[0])

    def _context_chain(self):
        """Sparse transition matrix of the chain over contexts (V**k states)."""
        from scipy import sparse

        v, r = self.vocab_size, self.num_contexts
        rows = np.repeat(np.arange(r), v)
        cols = (rows * v + np.tile(np.arange(v), r)) % r
        return sparse.csr_matrix((self.transition.ravel(), (rows, cols)), shape=(r, r))

    def stationary(self) -> np.ndarray:
        """Stationary distribution ``pi`` over contexts (solves ``pi P = pi``, sum 1)."""
        if self._pi is not None:
            return self._pi
        r = self.num_contexts
        if r == 1:
            pi = np.ones(1)
        elif r <= 4096:
            p = self._context_chain().toarray()
            a = p.T - np.eye(r)
            a[-1, :] = 1.0
            b = np.zeros(r)
            b[-1] = 1.0
            try:
                pi = np.linalg.solve(a, b)
            except np.linalg.LinAlgError:
                raise UserError(
                    "the chain has no unique stationary distribution "
                    "(transition matrix not irreducible)"
                ) from None
        else:
            pi = sparse_stationary(self._context_chain())
        if not np.all(np.isfinite(pi)) or pi.min() < -1e-9:
            raise UserError(
                "the chain has no unique stationary distribution "
                "(transition matrix not irreducible)"
            )
        pi = np.clip(pi, 0.0, None)
        self._pi = pi / pi.sum()
        return self._pi

    def token_marginal(self) -> np.ndarray:
        """Stationary probability of each token, ``p(x)`` (V,)."""
        return self.stationary().reshape(-1, self.vocab_size).sum(axis=0)

    def entropy_rate(self) -> float:
        """``h = sum_s pi(s) H(T[s, :])`` in nats per token."""
        return float(self.stationary() @ entropy(self.transition, axis=1))

    def block_entropy(self, n: int) -> float:
        """Entropy ``H(x_1..x_n)`` of the stationary n-gram distribution (nats)."""
        n = check_int("n", n, minimum=0)
        if n == 0:
            return 0.0
        k, v = self.order, self.vocab_size
        if n <= k:
            pk = self.stationary().reshape((v,) * k)
            marg = pk.sum(axis=tuple(range(k - n))) if n < k else pk
            return float(entropy(marg.ravel()))
        return self.block_entropy(k) + (n - k) * self.entropy_rate()

    def conditional_entropies(self, n_max: int) -> np.ndarray:
        """Exact ``H_n = H(x_{n+1} | x_1..x_n)`` for ``n = 0..n_max`` (nats).

        ``H_n = H_block(n+1) - H_block(n)`` for ``n < k``, and ``H_n = h`` beyond.
        """
        n_max = check_int("n_max", n_max, minimum=0)
        k = self.order
        blocks = [self.block_entropy(n) for n in range(min(n_max, k) + 2)]
        out = np.empty(n_max + 1)
        h = self.entropy_rate()
        for n in range(n_max + 1):
            out[n] = blocks[n + 1] - blocks[n] if n < k else h
        return out

    def correlations(self, lags) -> np.ndarray:
        """Exact ``C(n)[a, b] = P(x_i=a, x_{i+n}=b) - p(a) p(b)`` for each lag (L, V, V).

        For order 1, ``C(n) = diag(pi) (T^n - 1 pi^T)`` (reported as exactly 0 once
        ``T^n - 1 pi^T`` has decayed below 1e-17 in every entry); for higher
        orders the joint law is ``D^T diag(pi) P^n D`` on the context chain ``P``.
        """
        lags = np.asarray(lags, dtype=np.int64).ravel()
        if lags.size == 0 or lags.min() < 1:
            raise UserError("lags must be integers >= 1")
        v, r = self.vocab_size, self.num_contexts
        pi = self.stationary()
        p = self.token_marginal()
        order = np.argsort(lags)
        out = np.empty((lags.size, v, v))
        if self.order == 1:
            # D_n = T^n - 1 pi^T obeys D_{n+1} = D_n T. Once D_n is at rounding
            # level it stays there, and C(n) is zero to double precision.
            dn, power = self.transition - pi[None, :], 1
            floor = 1e-17
            for idx in order:
                n = int(lags[idx])
                while power < n and np.abs(dn).max() > floor:
                    dn = dn @ self.transition
                    power += 1
                out[idx] = pi[:, None] * dn if np.abs(dn).max() > floor else 0.0
            return out
        if r * v > MAX_TABLE:
            raise UserError("exact correlations need (V**k) x V <= 2^25 cells")
        pmat = self._context_chain()
        last = np.arange(r) % v
        cur = np.zeros((r, v))
        cur[np.arange(r), last] = 1.0  # P^0 D
        weighted = np.zeros((v, r))
        weighted[last, np.arange(r)] = pi  # D^T diag(pi)
        power = 0
        for idx in order:
            n = int(lags[idx])
            while power < n:
                cur = pmat @ cur
                power += 1
            out[idx] = weighted @ cur - np.outer(p, p)
        return out

    def correlation_norms(self, lags) -> dict[str, list]:
        """Operator and Frobenius norms of the exact ``C(n)`` at the given lags."""
        lags = np.asarray(lags, dtype=np.int64).ravel()
        op = np.empty(lags.size)
        fro = np.empty(lags.size)
        step = max(1, (1 << 24) // (self.vocab_size**2))
        for s in range(0, lags.size, step):
            c = self.correlations(lags[s : s + step])
            fro[s : s + step] = np.sqrt((c * c).sum(axis=(1, 2)))
            op[s : s + step] = operator_norms(c)
        return {"lags": lags.tolist(), "operator_norm": op.tolist(), "frobenius": fro.tolist()}

    # -- sampling ----------------------------------------------------------------
    def _table(self) -> np.ndarray:
        if self._packed is None:
            self._packed = packed_alias(self.transition).ravel()
        return self._packed

    def initial_contexts(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` contexts drawn from the stationary distribution."""
        return draw_from_cdf(np.cumsum(self.stationary()), count, rng)

    def _walkers(
        self, n_seg: int, seg_len: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, Step, Prepare]:
        """Walkers on contexts drawn from ``pi``; a segment opens with its context's k tokens."""
        k, v, r = self.order, self.vocab_size, self.num_contexts
        if seg_len < k:
            raise UserError(f"segments of {seg_len} tokens are shorter than the order {k}")
        ctx = self.initial_contexts(n_seg, rng)
        head = np.stack([(ctx // v ** (k - 1 - i)) % v for i in range(k)], axis=1)
        packed = self._table()

        def prepare(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return alias_draws(bits, v)

        def step(state: np.ndarray, col: np.ndarray, key: np.ndarray):
            x = alias_draw(packed, state, col, key, v)
            return x, ((state * v + x) % r if k > 1 else x)

        return ctx, head.astype(token_dtype(v)), step, prepare

    def truth(self, *, max_lag: int = 64, n_max: int = 16) -> dict[str, Any]:
        """Ground truth of the chain: entropies, token marginal and exact correlations.

        ``H_n`` is listed up to ``max(n_max, order)``: every n where it can differ
        from the entropy rate, and the first n where it equals it.
        """
        n_max = max(check_int("n_max", n_max, minimum=0), self.order)
        hn = self.conditional_entropies(n_max)
        out: dict[str, Any] = {
            "kind": "markov",
            "vocab_size": self.vocab_size,
            "order": self.order,
            "entropy_rate": nats_bits(self.entropy_rate()),
            "H_n": {
                "n": list(range(n_max + 1)),
                "nats": hn.tolist(),
                "note": "exact; H_n equals the entropy rate for n >= order",
            },
            "unigram": self.token_marginal().tolist(),
        }
        if max_lag > 0 and self.num_contexts * self.vocab_size <= MAX_TABLE:
            out["correlations"] = self.correlation_norms(np.arange(1, max_lag + 1))
        return out


def random_chain(
    vocab_size: int,
    order: int = 1,
    *,
    alpha: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> MarkovChain:
    """A chain whose rows are independent Dirichlet(alpha, .., alpha) draws.

    Small ``alpha`` gives peaked, low-entropy rows; ``alpha = 1`` uniform on the
    simplex; large ``alpha`` rows close to uniform.
    """
    v = check_int("vocab_size", vocab_size, minimum=2)
    k = check_int("order", order)
    a = check_float("alpha", alpha, low=0.0, low_open=True)
    if v ** (k + 1) > MAX_TABLE:
        raise UserError(f"V^(k+1) = {v}^{k + 1} cells exceeds the limit of {MAX_TABLE}")
    rng = as_rng(seed)
    g = rng.standard_gamma(a, size=(v**k, v))
    g = np.maximum(g, np.finfo(float).tiny)  # tiny alpha can underflow a whole row to 0
    return MarkovChain(g / g.sum(axis=1, keepdims=True), order=k)


def load_transition(path: str | os.PathLike[str]) -> np.ndarray:
    """A transition table or tensor from a ``.npy`` file (UserError if missing or not one)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"transition file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        raise UserError(f"{path}: not a .npy array ({e})") from None


def generate_markov(
    out,
    *,
    vocab_size: int = 1024,
    order: int = 1,
    alpha: float = 1.0,
    num_tokens: int = 1_000_000,
    seed: int = 0,
    segment_length: int = SEGMENT_LENGTH,
    transition: np.ndarray | str | os.PathLike[str] | None = None,
    max_lag: int = 64,
    progress: Progress = None,
):
    """Sample a Markov chain (random or given) into a corpus directory with truth.json.

    ``transition`` is a table or tensor (see :class:`MarkovChain`), or the path of
    a ``.npy`` file holding one. ``transition.npy`` beside the tokens holds the
    exact transition table, and ``truth.json`` the exact entropies and
    correlation norms of the chain.
    """
    rng = as_rng(seed)
    if isinstance(transition, str | os.PathLike):
        transition = load_transition(transition)
    if transition is None:
        chain = random_chain(vocab_size, order, alpha=alpha, seed=rng)
        params: dict[str, Any] = {
            "vocab_size": chain.vocab_size,
            "order": order,
            "alpha": alpha,
            "transition": "dirichlet",
        }
    else:
        chain = MarkovChain(np.asarray(transition), order=order)
        params = {"vocab_size": chain.vocab_size, "order": chain.order, "transition": "given"}
    params.update(num_tokens=int(num_tokens), segment_length=int(segment_length))
    tokens, offsets = chain.sample(
        num_tokens, seed=rng, segment_length=segment_length, progress=progress
    )
    truth = chain.truth(max_lag=max_lag)
    warnings: list[str] = []
    if "correlations" in truth:
        lags = np.asarray(truth["correlations"]["lags"])
        within = within_segment_fraction(lags, tokens.size, offsets)
        truth["correlations"]["within_segment_fraction"] = within.tolist()
        if offsets.size > 1 and within[-1] < 0.5:
            warnings.append(
                coded(
                    "synth-short-segments",
                    f"segments of {int(segment_length)} tokens: at lag {int(lags[-1])} only "
                    f"{within[-1]:.0%} of the pairs share a segment, so a correlation measured "
                    "on the stream is the exact C(n) times within_segment_fraction; raise "
                    "--segment-length",
                )
            )
    truth["segments"] = {
        "count": int(offsets.size),
        "length": int(segment_length),
        "note": "segments are independent stationary stretches of the chain",
    }
    truth["warnings"] = warnings
    return write_synthetic(
        out,
        tokens,
        chain.vocab_size,
        kind="markov",
        name=f"markov-V{chain.vocab_size}-k{chain.order}",
        params=params,
        seed=seed,
        truth=truth,
        doc_offsets=offsets,
        side_files={"transition.npy": npy_bytes(chain.transition)},
    )
