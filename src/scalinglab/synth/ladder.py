"""Language ladder: samples of a corpus's k-gram models, the rungs between a
bigram model and the corpus itself.

The k-gram model of a token stream ``x_0..x_{N-1}`` draws the next token from
the empirical law of what followed the current context (the last ``k - 1``
tokens) in the corpus. Sampling it needs no table: with the chain's state kept
as a corpus position p whose context is the current one, a step picks a
uniformly random occurrence q of that context (among those followed by a
token), emits ``x_{q+1}`` and moves to ``q + 1``, whose context is the new one.
Occurrences are grouped by sorting the packed contexts once; every step is a
few gathers for all walkers at once. k = 1 samples tokens independently from
the unigram law. A context seen only at the very end of the corpus has no
successor; the walk then restarts from a random position and goes on from its
context (counted in the truth as ``restarts``; the entropy rate accounts for it).

Truth: the entropy rate of the sampled chain, ``h_k = sum_g pi_g H(next | g)``
over contexts g with the chain's own stationary law pi (power iteration on the
sparse context chain, lazy to avoid periodicity), next to the plug-in
conditional entropy of the corpus with empirical context frequencies. Both are
in nats; ``h_k`` decreases with k toward the corpus's (overfitted) plug-in
entropy, which collapses to 0 once contexts become unique.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..warns import coded
from ._common import (
    SEGMENT_LENGTH,
    Prepare,
    Progress,
    SegmentSampler,
    Step,
    check_int,
    entropy,
    nats_bits,
    token_dtype,
    uniform_draws,
    write_synthetic,
)

__all__ = ["KGramModel", "generate_ladder", "parse_orders"]

MAX_ORDER = 16


def _context_groups(tokens: np.ndarray, ctx: int, vocab: int) -> tuple[np.ndarray, int]:
    """Group id of the length-``ctx`` context ending at each position ``p >= ctx - 1``.

    Contexts are packed into 64-bit words (``ceil(log2 V)`` bits per token) and
    grouped with one lexicographic sort. Returns ``gid`` (N,) with -1 for the
    first ``ctx - 1`` positions, and the number of groups.
    """
    n = tokens.size
    bits = max(1, int(vocab - 1).bit_length())
    per_word = 64 // bits
    words = -(-ctx // per_word)
    m = n - ctx + 1
    keys = np.zeros((words, m), dtype=np.uint64)
    t = tokens.astype(np.uint64)
    for i in range(ctx):  # token i of the context (oldest first)
        w = i // per_word
        keys[w] = (keys[w] << np.uint64(bits)) | t[i : i + m]
    order = np.lexsort(keys[::-1])
    sk = keys[:, order]
    new = np.ones(m, dtype=bool)
    new[1:] = (sk[:, 1:] != sk[:, :-1]).any(axis=0)
    gid_sorted = np.cumsum(new) - 1
    gid = np.full(n, -1, dtype=np.int64)
    gid[ctx - 1 + order] = gid_sorted
    return gid, int(gid_sorted[-1]) + 1


@dataclass
class KGramModel(SegmentSampler):
    """The empirical k-gram model of a token stream (context of k - 1 tokens).

    :meth:`sample` draws independent segments of the k-gram chain and returns the
    tokens, the segment offsets and the number of restarts at dead-end contexts.
    """

    tokens: np.ndarray
    order: int
    vocab_size: int
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _restarts: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.tokens = np.asarray(self.tokens)
        self.order = check_int("order", self.order, minimum=1, maximum=MAX_ORDER)
        if self.tokens.ndim != 1 or self.tokens.size < self.order + 1:
            raise UserError(
                f"the corpus needs more than {self.order} tokens for order {self.order}"
            )

    def _tables(self) -> dict[str, Any]:
        """Occurrence lists of every context (positions followed by a token)."""
        if self._built:
            return self._built
        ctx = self.order - 1
        n = self.tokens.size
        if ctx == 0:
            gid, n_groups = np.zeros(n, dtype=np.int64), 1
        else:
            gid, n_groups = _context_groups(self.tokens, ctx, self.vocab_size)
        succ = np.arange(max(ctx - 1, 0), n - 1)  # positions with a following token
        order = np.argsort(gid[succ], kind="stable")
        occ = succ[order]
        count = np.bincount(gid[succ], minlength=n_groups)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        self._built = {
            "gid": gid,
            "occ": occ,
            "count": count,
            "start": start,
            "groups": n_groups,
            "succ": succ,
        }
        return self._built

    def _walkers(
        self, n_seg: int, seg_len: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, Step, Prepare]:
        """Walkers on corpus positions; each segment starts at a random position (so its
        first context is drawn from the empirical context law), with no opening tokens."""
        tb = self._tables()
        gid, occ, count, start, succ = tb["gid"], tb["occ"], tb["count"], tb["start"], tb["succ"]
        toks = self.tokens
        init = succ[rng.integers(0, succ.size, size=n_seg)]
        self._restarts = 0

        def step(pos: np.ndarray, u: np.ndarray):
            g = gid[pos]
            c = count[g]
            dead = c == 0
            if dead.any():  # a context with no successor: restart anywhere
                self._restarts += int(dead.sum())
                pos = pos.copy()
                pos[dead] = succ[rng.integers(0, succ.size, size=int(dead.sum()))]
                g = gid[pos]
                c = count[g]
            q = occ[start[g] + (u * c).astype(np.int64)]
            return toks[q + 1], q + 1

        head = np.empty((n_seg, 0), dtype=token_dtype(self.vocab_size))
        return init, head, step, uniform_draws

    def _sampled(self, tokens: np.ndarray, offsets: np.ndarray) -> tuple[Any, ...]:
        """:meth:`sample` returns tokens, segment offsets and the number of restarts at
        dead-end contexts."""
        return tokens, offsets, self._restarts

    def entropy_rates(self, max_iter: int = 2000, tol: float = 1e-13) -> dict[str, float]:
        """Entropy rate of the k-gram chain (stationary law) and the plug-in H_{k-1}.

        Returns nats per token: ``chain`` (with the chain's stationary context
        law), ``plugin`` (empirical context frequencies), and the iterations used.
        """
        from scipy import sparse

        tb = self._tables()
        gid, occ, count, succ, n_groups = (
            tb["gid"],
            tb["occ"],
            tb["count"],
            tb["succ"],
            tb["groups"],
        )
        v = self.vocab_size
        # H(next | g) from the counts of (g, next token)
        pair = gid[succ] * v + self.tokens[succ + 1].astype(np.int64)
        keys, cnt = np.unique(pair, return_counts=True)
        g_of = keys // v
        c = count[g_of].astype(np.float64)
        h_g = np.bincount(g_of, weights=-(cnt / c) * np.log(cnt / c), minlength=n_groups)
        mu = count / count.sum()  # empirical context law = restart law
        plugin = float(mu @ h_g)
        # a dead context restarts from a context drawn from mu and emits from it
        nxt = np.bincount(self.tokens[succ + 1].astype(np.int64), minlength=v) / succ.size
        h_g[count == 0] = float(entropy(nxt))
        # context chain: g -> gid[q + 1] for each occurrence q of g
        rows = gid[occ]
        mat = sparse.csr_matrix(
            (1.0 / count[rows], (rows, gid[occ + 1])), shape=(n_groups, n_groups)
        )
        dead = (count == 0).astype(np.float64)
        after_restart = mat.T @ mu
        pi = mu.copy()
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007
            step = mat.T @ pi + (pi @ dead) * after_restart
            new = 0.5 * (pi + step)
            if np.abs(new - pi).sum() < tol:
                pi = new
                break
            pi = new
        return {"chain": float(pi @ h_g), "plugin": plugin, "iterations": it}

    def truth(self) -> dict[str, Any]:
        rates = self.entropy_rates()
        tb = self._tables()
        return {
            "kind": "ladder",
            "order": self.order,
            "context_length": self.order - 1,
            "contexts": int(tb["groups"]),
            "entropy_rate": nats_bits(rates["chain"]),
            "plugin_conditional_entropy": nats_bits(rates["plugin"]),
            "stationary_iterations": rates["iterations"],
            "note": "entropy_rate: exact for the sampled k-gram chain (stationary context law); "
            "plugin: empirical H_{k-1} of the source corpus",
        }


def parse_orders(orders: str | Iterable[int]) -> list[int]:
    """The distinct orders of a ladder, sorted: from integers or a text ``"1,2,3"``."""
    if isinstance(orders, str):
        try:
            orders = [int(x) for x in orders.split(",") if x.strip()]
        except ValueError:
            raise UserError(
                f"orders must be integers separated by commas, got {orders!r}"
            ) from None
    ks = sorted({check_int("order", k, minimum=1, maximum=MAX_ORDER) for k in orders})
    if not ks:
        raise UserError("the ladder needs at least one order")
    return ks


def generate_ladder(
    out,
    corpus,
    *,
    orders: str | Iterable[int] = (1, 2, 3, 4),
    num_tokens: int = 1_000_000,
    segment_length: int = SEGMENT_LENGTH,
    seed: int = 0,
    progress: Progress = None,
) -> dict[int, Any]:
    """Sample the k-gram models of ``corpus`` for every k in ``orders`` into ``out/k{k}``.

    ``orders`` are integers or a text ``"1,2,3"``. Writes ``out/ladder.json``
    with the entropy rate of every rung; returns ``{k: TokenCorpus}``.
    """
    from pathlib import Path

    from .._io import write_json
    from ..corpus import resolve

    orders = parse_orders(orders)  # before the corpus is read
    src = resolve(corpus)
    tokens = np.asarray(src.tokens)
    rungs, summary = {}, []
    for k in orders:
        model = KGramModel(tokens, k, src.vocab_size)
        toks, offsets, restarts = model.sample(
            num_tokens, seed=seed + k, segment_length=segment_length, progress=progress
        )
        truth = model.truth()
        truth.update(restarts=restarts, source=src.describe(), warnings=[])
        if restarts:
            truth["warnings"].append(
                coded(
                    "synth-ladder-restarts",
                    f"the order-{k} walk reached a context with no successor {restarts} times "
                    "and restarted from a random position (the entropy rate accounts for it)",
                )
            )
        params = {
            "order": k,
            "num_tokens": int(num_tokens),
            "segment_length": segment_length,
            "source": src.name,
            "source_hash": src.content_hash,
        }
        rungs[k] = write_synthetic(
            Path(out) / f"k{k}",
            toks,
            src.vocab_size,
            kind="ladder",
            name=f"{src.name}-{k}gram",
            params=params,
            seed=seed + k,
            truth=truth,
            doc_offsets=offsets,
            eod_token=src.eod_token,
        )
        summary.append(
            {
                "order": k,
                "entropy_rate": truth["entropy_rate"],
                "plugin_conditional_entropy": truth["plugin_conditional_entropy"],
                "contexts": truth["contexts"],
                "restarts": restarts,
                "path": str(Path(out) / f"k{k}"),
            }
        )
    write_json(Path(out) / "ladder.json", {"source": src.describe(), "rungs": summary})
    return rungs
