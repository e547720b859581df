"""Random walks on random graphs (networkx), tokens being node ids.

Graphs
    ``er``: Erdos-Renyi G(n, M) with exactly ``edges`` edges;
    ``ba``: Barabasi-Albert, each new node attaching ``attach`` edges;
    ``regular``: uniform random ``degree``-regular graph.
    Walks stay on the largest connected component (the vocabulary still
    numbers every node; nodes outside it never occur).

Walks
    From node i the walk moves to a neighbour j with probability
    ``P(i -> j) = d_j^b / sum_{k ~ i} d_k^b`` where ``d`` is the degree and
    ``b`` the **bias**: ``b = 0`` is the unbiased walk, ``b > 0`` prefers hubs,
    ``b < 0`` avoids them. The walk is reversible with edge weights
    ``(d_i d_j)^b``, so its stationary law is ``pi_i ~ d_i^b S_i`` with
    ``S_i = sum_{k ~ i} d_k^b`` (``pi_i ~ d_i`` for b = 0), and its entropy rate
    is ``h = sum_i pi_i H(P(i, .))`` nats per token. The token sequence is a
    first-order Markov chain: ``H_0 = H(pi)`` and ``H_n = h`` for n >= 1.

Sampling
    As for Markov chains, independent stationary segments are walked in
    parallel (segment starts drawn from pi), one vectorised step for all
    walkers: a uniform neighbour by CSR offset for b = 0, otherwise Walker alias
    tables over each node's neighbours (padded to the largest degree), or an
    inverse-CDF search over per-node cumulative weights when that padded table
    would exceed 2^25 cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ._alias import alias_draw, alias_draws, packed_alias
from ._common import (
    SEGMENT_LENGTH,
    Prepare,
    Progress,
    SegmentSampler,
    Step,
    check_float,
    check_int,
    draw_from_cdf,
    entropy,
    nats_bits,
    token_dtype,
    uniform_draws,
    write_synthetic,
)
from .markov import MAX_TABLE, MarkovChain

__all__ = ["GRAPHS", "GraphWalk", "generate_walk", "random_graph"]

GRAPHS = ("er", "ba", "regular")
#: Graphs up to this many nodes also get exact correlation norms in truth.json.
EXACT_MAX_NODES = 2048


def random_graph(
    kind: str,
    nodes: int,
    *,
    edges: int | None = None,
    attach: int | None = None,
    degree: int | None = None,
    seed: int = 0,
):
    """A networkx graph: ``er`` (nodes, edges), ``ba`` (nodes, attach) or ``regular``
    (nodes, degree)."""
    import networkx as nx

    n = check_int("nodes", nodes, minimum=2, maximum=1 << 26)
    if kind == "er":
        if edges is None:
            raise UserError("an Erdos-Renyi graph needs --edges")
        e = check_int("edges", edges, maximum=n * (n - 1) // 2)
        return nx.gnm_random_graph(n, e, seed=seed)
    if kind == "ba":
        if attach is None:
            raise UserError("a Barabasi-Albert graph needs --attach (edges per new node)")
        return nx.barabasi_albert_graph(n, check_int("attach", attach, maximum=n - 1), seed=seed)
    if kind == "regular":
        if degree is None:
            raise UserError("a random regular graph needs --degree")
        d = check_int("degree", degree, maximum=n - 1)
        if (n * d) % 2:
            raise UserError(f"nodes x degree must be even for a regular graph ({n} x {d})")
        return nx.random_regular_graph(d, n, seed=seed)
    raise UserError(f"unknown graph {kind!r}; choose from {', '.join(GRAPHS)}")


@dataclass
class GraphWalk(SegmentSampler):
    """A (degree-)biased random walk on an undirected graph.

    Attributes
    ----------
    indptr, indices : CSR adjacency (neighbours of node i are
        ``indices[indptr[i]:indptr[i+1]]``)
    bias : float
        Exponent b of the degree bias.
    """

    indptr: np.ndarray
    indices: np.ndarray
    bias: float = 0.0
    _cdf: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_graph(cls, graph, bias: float = 0.0) -> GraphWalk:
        import networkx as nx

        n = graph.number_of_nodes()
        if n < 2 or graph.number_of_edges() == 0:
            raise UserError("the graph has no edge to walk on")
        adj = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr", dtype=np.float64)
        adj.sort_indices()
        return cls(
            adj.indptr.astype(np.int64),
            adj.indices.astype(np.int64),
            check_float("bias", bias, low=-8.0, high=8.0),
        )

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def component(self) -> np.ndarray:
        """Boolean mask of the largest connected component."""
        from scipy import sparse
        from scipy.sparse.csgraph import connected_components

        n = self.num_nodes
        adj = sparse.csr_matrix((np.ones(self.indices.size), self.indices, self.indptr), (n, n))
        _, labels = connected_components(adj, directed=False)
        return labels == np.argmax(np.bincount(labels))

    def edge_probabilities(self) -> np.ndarray:
        """``P(i -> j)`` for every CSR entry (i, j)."""
        deg = self.degree.astype(np.float64)
        w = np.where(deg[self.indices] > 0, deg[self.indices], 1.0) ** self.bias
        rows = np.repeat(np.arange(self.num_nodes), self.degree)
        tot = np.bincount(rows, weights=w, minlength=self.num_nodes)
        return w / tot[rows]

    def stationary(self) -> np.ndarray:
        """``pi_i ~ d_i^b S_i`` on the largest component (0 elsewhere)."""
        deg = self.degree.astype(np.float64)
        safe = np.where(deg > 0, deg, 1.0)
        rows = np.repeat(np.arange(self.num_nodes), self.degree)
        s = np.bincount(rows, weights=safe[self.indices] ** self.bias, minlength=self.num_nodes)
        pi = np.where(self.component() & (deg > 0), safe**self.bias * s, 0.0)
        return pi / pi.sum()

    def entropy_rate(self) -> float:
        """``h = sum_i pi_i H(P(i, .))`` in nats per step."""
        p = self.edge_probabilities()
        rows = np.repeat(np.arange(self.num_nodes), self.degree)
        h_row = np.bincount(rows, weights=-p * np.log(p), minlength=self.num_nodes)
        return float(self.stationary() @ h_row)

    def transition_matrix(self) -> np.ndarray:
        """Dense ``P`` (small graphs only)."""
        n = self.num_nodes
        p = np.zeros((n, n))
        rows = np.repeat(np.arange(n), self.degree)
        p[rows, self.indices] = self.edge_probabilities()
        return p

    def _walkers(
        self, n_seg: int, seg_len: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, Step, Prepare]:
        """Walkers from nodes drawn from ``pi``, each segment opening with its start node."""
        start = draw_from_cdf(np.cumsum(self.stationary()), n_seg, rng)
        head = start.astype(token_dtype(self.num_nodes))[:, None]
        indptr, indices, deg = self.indptr, self.indices, self.degree
        if self.bias == 0.0:

            def step(state: np.ndarray, u: np.ndarray):
                k = (u * deg[state]).astype(np.int64)
                nxt = indices[indptr[state] + k]
                return nxt, nxt

            return start, head, step, uniform_draws
        if self.num_nodes * int(deg.max()) <= MAX_TABLE:
            # alias tables over each node's neighbours, padded to the largest degree
            width = int(deg.max())
            rows = np.repeat(np.arange(self.num_nodes), deg)
            prob = np.zeros((self.num_nodes, width))
            prob[rows, np.arange(rows.size) - indptr[rows]] = self.edge_probabilities()
            prob[deg == 0, 0] = 1.0
            packed = packed_alias(prob).ravel()

            def alias_step(state: np.ndarray, col: np.ndarray, key: np.ndarray):
                nxt = indices[indptr[state] + alias_draw(packed, state, col, key, width)]
                return nxt, nxt

            return start, head, alias_step, lambda bits: alias_draws(bits, width)
        # node i's cumulative weights, shifted by i: one global sorted array
        rows = np.repeat(np.arange(self.num_nodes), deg)
        cum = np.cumsum(self.edge_probabilities())
        base = np.concatenate([[0.0], cum])[indptr[:-1]]
        glob = rows + (cum - base[rows])
        glob[indptr[1:][deg > 0] - 1] = np.flatnonzero(deg > 0) + 1.0

        def cdf_step(state: np.ndarray, u: np.ndarray):
            e = np.searchsorted(glob, state + u, side="right")
            nxt = indices[np.minimum(e, indptr[state + 1] - 1)]
            return nxt, nxt

        return start, head, cdf_step, uniform_draws

    def truth(self, max_lag: int = 32) -> dict[str, Any]:
        pi = self.stationary()
        comp = self.component()
        h = self.entropy_rate()
        out: dict[str, Any] = {
            "kind": "walk",
            "nodes": self.num_nodes,
            "edges": int(self.indices.size // 2),
            "component_nodes": int(comp.sum()),
            "bias": self.bias,
            "bias_definition": "P(i -> j) proportional to degree(j)^bias",
            "entropy_rate": nats_bits(h),
            "H_n": {
                "n": [0, 1],
                "nats": [float(entropy(pi)), h],
                "note": "exact; H_n = entropy rate for every n >= 1 (first-order chain)",
            },
            "degree": {"mean": float(self.degree.mean()), "max": int(self.degree.max())},
        }
        if self.num_nodes <= EXACT_MAX_NODES and comp.all() and max_lag > 0:
            chain = MarkovChain.with_stationary(self.transition_matrix(), pi)
            out["correlations"] = chain.correlation_norms(np.arange(1, max_lag + 1))
        return out


def generate_walk(
    out,
    *,
    graph: str = "er",
    nodes: int = 8192,
    edges: int | None = 50_000,
    attach: int | None = None,
    degree: int | None = None,
    bias: float = 0.0,
    num_tokens: int = 1_000_000,
    segment_length: int = SEGMENT_LENGTH,
    seed: int = 0,
    progress: Progress = None,
):
    """Walk a random graph into a corpus (tokens = node ids) with truth.json."""
    g = random_graph(graph, nodes, edges=edges, attach=attach, degree=degree, seed=seed)
    walk = GraphWalk.from_graph(g, bias)
    tokens, offsets = walk.sample(
        num_tokens, seed=seed, segment_length=segment_length, progress=progress
    )
    truth = walk.truth()
    truth["segments"] = {"count": int(offsets.size), "length": int(segment_length)}
    params = {
        "graph": graph,
        "nodes": int(nodes),
        "edges": edges,
        "attach": attach,
        "degree": degree,
        "bias": walk.bias,
        "num_tokens": int(num_tokens),
        "segment_length": int(segment_length),
    }
    return write_synthetic(
        out,
        tokens,
        walk.num_nodes,
        kind="walk",
        name=f"walk-{graph}-n{nodes}",
        params=params,
        seed=seed,
        truth=truth,
        doc_offsets=offsets,
    )
