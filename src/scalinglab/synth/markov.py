"""Markov chains of order k and a source with power-law correlations, with their
exact statistics.

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

Power-law source
----------------
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ._common import (
    Progress,
    as_rng,
    check_float,
    check_int,
    entropy,
    nats_bits,
    npy_bytes,
    run_walkers,
    segment_layout,
    token_dtype,
    within_segment_fraction,
    write_synthetic,
)

__all__ = [
    "MarkovChain",
    "PowerLawSource",
    "alias_tables",
    "generate_markov",
    "generate_powerlaw",
    "random_chain",
]

#: Largest transition table (contexts x symbols) a chain may hold.
MAX_TABLE = 1 << 25
#: Default number of tokens per independent segment.
SEGMENT_LENGTH = 1 << 13
#: Longest relaxation time of the power-law source (its lags stay far inside int64).
MAX_TAU = 1e12
#: Most relaxation times (chains) of the power-law source.
MAX_MODES = 4096
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


# ----------------------------------------------------------------------------- alias tables
def alias_tables(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker alias tables for every row of a row-stochastic matrix.

    For row ``r`` and a column ``j`` drawn uniformly from ``V``, the draw is ``j``
    with probability ``accept[r, j]`` and ``alias[r, j]`` otherwise; the result
    has distribution ``prob[r]`` exactly (up to rounding).

    The construction is Vose's pairing of "small" and "large" cells run on each
    row's sorted probabilities, one cell finalised per iteration in every row at
    once (V iterations of NumPy operations over all rows). Sorting makes the
    pairing a two-pointer sweep: small cells are taken from the left, the current
    large cell sits at the right pointer and, once its residual drops below 1,
    becomes small itself and is paired with its left neighbour, which is the
    largest remaining cell and therefore large. No library offers alias tables
    for many rows at once, hence this hand-written version.

    Parameters
    ----------
    prob : (R, V) array
        Non-negative rows summing to 1.

    Returns
    -------
    accept : (R, V) float64 array in [0, 1]
    alias : (R, V) int64 array of column indices
    """
    prob = np.asarray(prob, dtype=np.float64)
    n_rows, v = prob.shape
    q = prob * v
    order = np.argsort(q, axis=1, kind="stable")
    qs = np.take_along_axis(q, order, axis=1)
    acc = np.ones((n_rows, v))
    ali = np.broadcast_to(np.arange(v), (n_rows, v)).copy()
    i = np.zeros(n_rows, dtype=np.int64)
    j = np.full(n_rows, v - 1, dtype=np.int64)
    r = qs[:, v - 1].copy()
    done = np.zeros(n_rows, dtype=bool)
    for _ in range(v):
        last = ~done & (i >= j)  # every other cell is final: this one keeps itself
        small = ~done & ~last & (r >= 1.0)  # pair the next small cell with the large one
        shrink = ~done & ~last & (r < 1.0)  # the large cell became small
        if last.any():
            rows = np.flatnonzero(last)
            acc[rows, j[rows]] = 1.0
            done[rows] = True
        if small.any():
            rows = np.flatnonzero(small)
            ii = i[rows]
            qi = np.minimum(qs[rows, ii], 1.0)
            acc[rows, ii] = qi
            ali[rows, ii] = np.where(qi < 1.0, j[rows], ii)
            r[rows] -= 1.0 - qi
            i[rows] += 1
        if shrink.any():
            rows = np.flatnonzero(shrink)
            jj = j[rows]
            acc[rows, jj] = np.maximum(r[rows], 0.0)
            ali[rows, jj] = jj - 1
            r[rows] = qs[rows, jj - 1] - (1.0 - r[rows])
            j[rows] -= 1
        if done.all():
            break
    accept = np.empty_like(acc)
    alias = np.empty_like(ali)
    np.put_along_axis(accept, order, acc, axis=1)
    np.put_along_axis(alias, order, np.take_along_axis(order, ali, axis=1), axis=1)
    return accept, alias


def _packed_alias(prob: np.ndarray) -> np.ndarray:
    """Alias tables packed as ``threshold << 32 | alias`` in one int64 per cell.

    The threshold is the acceptance probability in units of 2^-31 (at most
    2^31 - 1); a cell that always keeps its column gets itself as alias, so its
    threshold does not matter. One gather per token then serves both the
    comparison and the alias (see :func:`_alias_draws`).
    """
    accept, alias = alias_tables(prob)
    thr = np.floor(accept * 2147483648.0)
    cols = np.broadcast_to(np.arange(prob.shape[1]), prob.shape)
    alias = np.where(thr >= 2147483648.0, cols, alias)
    thr = np.minimum(thr, 2147483647.0).astype(np.int64)
    return (thr << 32) | alias.astype(np.int64)


def _alias_draws(bits: np.ndarray, v: int) -> tuple[np.ndarray, np.ndarray]:
    """Split 64 random bits into a uniform column and a comparison key.

    The column is ``floor(hi32 * v / 2^32)``; with ``f`` the next 31 bits,
    ``f < threshold`` holds exactly when the packed cell exceeds
    ``key = f << 32 | (2^32 - 1)``, so a draw is ``col if cell > key else alias``.
    """
    col = ((bits >> _S32) * np.uint64(v)) >> _S32
    key = (((bits >> np.uint64(1)) & np.uint64(0x7FFFFFFF)) << _S32) | _M32
    return col.view(np.int64), key.view(np.int64)  # both < 2^63: same values


def _draw(
    packed: np.ndarray, rows: np.ndarray, col: np.ndarray, key: np.ndarray, v: int
) -> np.ndarray:
    """One alias draw from row ``rows[i]`` of the flattened packed table, for every i."""
    cell = packed.take(rows * v + col)
    return np.where(cell > key, col, cell & 0xFFFFFFFF)


def _operator_norms(mats: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix of a stack (exact)."""
    if mats.shape[-1] <= 512:
        return np.linalg.svd(mats, compute_uv=False)[..., 0]
    from scipy.sparse.linalg import svds

    out = np.empty(mats.shape[0])
    for t, m in enumerate(mats):
        try:
            out[t] = svds(m, k=1, return_singular_vectors=False, random_state=0)[0]
        except Exception:  # ARPACK failed to converge: fall back to a full SVD
            out[t] = np.linalg.svd(m, compute_uv=False)[0]
    return out


# ----------------------------------------------------------------------------- Markov chains
def _sparse_stationary(p, *, power_steps: int = 300, tol: float = 1e-13) -> np.ndarray:
    """Stationary law of a sparse row-stochastic matrix ``p`` with many states.

    A direct sparse LU of ``P^T - I`` fills in badly on the de Bruijn-like
    graph of the contexts of an order-k chain (minutes and gigabytes already at
    16384 contexts). Instead: the strongly connected components must hold
    exactly one closed class (else the stationary law is not unique); power
    iterations from the uniform law follow, finished if needed by BiCGSTAB on
    the non-singular ``I - P^T + 1 1^T / r``, whose solution for the
    right-hand side ``1 / r`` is ``pi``. The result satisfies
    ``||P^T pi - pi||_1 < 1e-10`` (about 1e-13 in practice).
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import LinearOperator, bicgstab

    p = p.tocsr(copy=True)
    p.eliminate_zeros()
    r = p.shape[0]
    n_comp, labels = connected_components(p, directed=True, connection="strong")
    if n_comp > 1:
        coo = p.tocoo()
        leaving = labels[coo.row] != labels[coo.col]
        closed = n_comp - np.unique(labels[coo.row[leaving]]).size
        if closed != 1:
            raise UserError(
                f"the chain has no unique stationary distribution ({closed} closed classes "
                "of contexts: transition matrix not irreducible)"
            )
    pt = p.T.tocsr()
    x = np.full(r, 1.0 / r)
    for _ in range(power_steps):
        nxt = pt @ x
        err = float(np.abs(nxt - x).sum())
        x = nxt
        if err < tol:
            return x
    op = LinearOperator((r, r), matvec=lambda y: y - pt @ y + y.sum() / r, dtype=np.float64)
    x, _info = bicgstab(op, np.full(r, 1.0 / r), x0=x, rtol=tol, maxiter=5000)
    residual = float(np.abs(pt @ x - x).sum())
    if not np.isfinite(residual) or residual > 1e-10:
        raise UserError(
            f"the stationary distribution of {r} contexts did not converge "
            f"(residual {residual:.1e}); the chain mixes too slowly"
        )
    return x


@dataclass
class MarkovChain:
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
            pi = _sparse_stationary(self._context_chain())
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
            op[s : s + step] = _operator_norms(c)
        return {"lags": lags.tolist(), "operator_norm": op.tolist(), "frobenius": fro.tolist()}

    # -- sampling ----------------------------------------------------------------
    def _table(self) -> np.ndarray:
        if self._packed is None:
            self._packed = _packed_alias(self.transition).ravel()
        return self._packed

    def initial_contexts(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` contexts drawn from the stationary distribution."""
        cdf = np.cumsum(self.stationary())
        u = rng.random(count) * cdf[-1]
        return np.minimum(np.searchsorted(cdf, u, side="right"), self.num_contexts - 1)

    def sample(
        self,
        num_tokens: int,
        *,
        seed: int | np.random.Generator | None = 0,
        segment_length: int = SEGMENT_LENGTH,
        progress: Progress = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``num_tokens`` tokens as independent stationary segments.

        Returns
        -------
        tokens : (num_tokens,) uint16/uint32 array
        offsets : int64 start of each segment (segment b is one walker's path)
        """
        rng = as_rng(seed)
        n_seg, offsets, seg_len = segment_layout(num_tokens, segment_length)
        k, v, r = self.order, self.vocab_size, self.num_contexts
        if seg_len < k:
            raise UserError(f"segments of {seg_len} tokens are shorter than the order {k}")
        dt = token_dtype(v)
        ctx = self.initial_contexts(n_seg, rng)
        head = np.stack([(ctx // v ** (k - 1 - i)) % v for i in range(k)], axis=1)
        packed = self._table()

        def prepare(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _alias_draws(bits, v)

        def step(state: np.ndarray, col: np.ndarray, key: np.ndarray):
            x = _draw(packed, state, col, key, v)
            return x, ((state * v + x) % r if k > 1 else x)

        body = run_walkers(ctx, seg_len - k, step, rng, dt, progress, prepare)
        tokens = np.concatenate([head.astype(dt), body], axis=1).ravel()[: int(num_tokens)]
        return tokens, offsets

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


def generate_markov(
    out,
    *,
    vocab_size: int = 1024,
    order: int = 1,
    alpha: float = 1.0,
    num_tokens: int = 1_000_000,
    seed: int = 0,
    segment_length: int = SEGMENT_LENGTH,
    transition: np.ndarray | None = None,
    max_lag: int = 64,
    progress: Progress = None,
):
    """Sample a Markov chain (random or given) into a corpus directory with truth.json.

    ``transition.npy`` beside the tokens holds the exact transition table, and
    ``truth.json`` the exact entropies and correlation norms of the chain.
    """
    rng = as_rng(seed)
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
    if "correlations" in truth:
        truth["correlations"]["within_segment_fraction"] = within_segment_fraction(
            np.asarray(truth["correlations"]["lags"]), tokens.size, offsets
        ).tolist()
    truth["segments"] = {
        "count": int(offsets.size),
        "length": int(segment_length),
        "note": "segments are independent stationary stretches of the chain",
    }
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


# ----------------------------------------------------------------------------- power law
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
        # longest run of consecutive True
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(int), [0]])))
        runs = edges.reshape(-1, 2)
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
        v, w, loglam = self.vocab_size, self.weights, -1.0 / self.taus
        kk = w.size
        out = np.empty(n, dtype=token_dtype(v))
        last_val = np.zeros(kk, dtype=np.int64)
        last_t = np.full(kk, -1, dtype=np.int64)  # -1: never read yet
        cdf = np.cumsum(w)
        for t0 in range(0, n, chunk):
            m = min(chunk, n - t0)
            comp = np.minimum(
                np.searchsorted(cdf, rng.random(m) * cdf[-1], side="right"), kk - 1
            ).astype(np.int16)
            order = np.argsort(comp, kind="stable")  # times grouped by chain, in order
            cs = comp[order].astype(np.int64)
            ts = order.astype(np.int64) + t0
            first = np.ones(m, dtype=bool)
            first[1:] = cs[1:] != cs[:-1]
            prev_t = np.empty(m, dtype=np.int64)
            prev_t[1:] = ts[:-1]
            prev_t[first] = last_t[cs[first]]
            gap = (ts - prev_t).astype(np.float64)
            never = first & (prev_t < 0)
            refresh = never | (rng.random(m) >= np.exp(gap * loglam[cs]))
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
            ends = np.flatnonzero(np.append(first[1:], True))
            last_val[cs[ends]] = filled[ends]
            last_t[cs[ends]] = ts[ends]
            if progress is not None:
                progress(m)
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
    vocab_size: int = 64,
    beta: float = 0.5,
    tau_min: float = 1.0,
    tau_max: float = 1.0e4,
    modes_per_octave: float = 2.0,
    num_tokens: int = 1_000_000,
    seed: int = 0,
    progress: Progress = None,
):
    """Sample :class:`PowerLawSource` into a corpus directory with truth.json."""
    src = PowerLawSource(vocab_size, beta, tau_min, tau_max, modes_per_octave)
    tokens = src.sample(num_tokens, seed=seed, progress=progress)
    params = {
        "vocab_size": src.vocab_size,
        "beta": src.beta,
        "tau_min": src.tau_min,
        "tau_max": src.tau_max,
        "modes_per_octave": src.modes_per_octave,
        "num_tokens": int(num_tokens),
    }
    return write_synthetic(
        out,
        tokens,
        src.vocab_size,
        kind="powerlaw",
        name=f"powerlaw-V{src.vocab_size}-beta{src.beta:g}",
        params=params,
        seed=seed,
        truth=src.truth(max_lag=max(10, int(num_tokens) // 10)),
    )
