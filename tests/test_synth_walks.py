"""Random walks on random graphs: stationary law, transitions and entropy rate."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.walks import GraphWalk, random_graph


def _reference(graph, bias):
    """Transition matrix, stationary law (eigenvector) and entropy rate, computed densely."""
    n = graph.number_of_nodes()
    a = nx.to_numpy_array(graph, nodelist=range(n))
    deg = a.sum(axis=1)
    w = a * deg[None, :] ** bias
    p = w / w.sum(axis=1, keepdims=True)
    vals, vecs = np.linalg.eig(p.T)
    pi = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    pi /= pi.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(pi[:, None] * np.where(p > 0, p * np.log(p), 0)).sum()
    return p, pi, h


@pytest.mark.parametrize("bias", [0.0, 1.0, -0.7])
@pytest.mark.parametrize("kind", ["er", "ba", "regular"])
def test_walk_truth_matches_dense_reference(kind, bias):
    g = random_graph(kind, 60, edges=200, attach=3, degree=4, seed=1)
    if not nx.is_connected(g):
        g = nx.convert_node_labels_to_integers(g.subgraph(max(nx.connected_components(g), key=len)))
    walk = GraphWalk.from_graph(g, bias)
    p, pi, h = _reference(g, bias)
    np.testing.assert_allclose(walk.transition_matrix(), p, atol=1e-14)
    np.testing.assert_allclose(walk.stationary(), pi, atol=1e-12)
    assert walk.entropy_rate() == pytest.approx(h, rel=1e-12)


@pytest.mark.parametrize("bias", [0.0, 1.5])
def test_sampled_walk_statistics(bias):
    g = random_graph("ba", 40, attach=2, seed=3)
    walk = GraphWalk.from_graph(g, bias)
    p, pi, _ = _reference(g, bias)
    seg = 2000
    tokens, offsets = walk.sample(1_000_000, seed=2, segment_length=seg)
    segs = tokens.reshape(-1, seg).astype(np.int64)
    a, b = segs[:, :-1].ravel(), segs[:, 1:].ravel()
    counts = np.bincount(a * 40 + b, minlength=1600).reshape(40, 40)
    assert (counts[p == 0] == 0).all()  # only edges are walked
    emp = counts / counts.sum(axis=1, keepdims=True)
    n_i = counts.sum(axis=1, keepdims=True)
    z = np.abs(emp - p) / np.sqrt(np.maximum(p * (1 - p), 1e-12) / n_i)
    assert z[p > 0].max() < 6
    freq = np.bincount(tokens, minlength=40) / tokens.size
    assert np.abs(freq - pi).max() < 6 * np.sqrt(pi.max() / (tokens.size / 20))


def test_disconnected_graph_walks_the_largest_component():
    g = nx.disjoint_union(nx.cycle_graph(10), nx.path_graph(3))
    walk = GraphWalk.from_graph(g, 0.0)
    tokens, _ = walk.sample(10_000, seed=0, segment_length=1000)
    assert tokens.max() < 10 and walk.stationary()[10:].sum() == 0
    assert walk.entropy_rate() == pytest.approx(np.log(2))


def test_generate_walk_corpus(tmp_path):
    corpus = sl.synth.generate_walk(
        tmp_path / "w",
        graph="regular",
        nodes=50,
        degree=3,
        edges=None,
        num_tokens=20_000,
        segment_length=5000,
        seed=1,
    )
    truth = json.loads((tmp_path / "w" / "truth.json").read_text())
    assert corpus.vocab_size == 50 and truth["entropy_rate"]["nats"] == pytest.approx(np.log(3))
    assert truth["H_n"]["nats"][0] == pytest.approx(np.log(50))
    assert len(truth["correlations"]["lags"]) == 32
    assert corpus.meta["generator"]["params"]["degree"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kind="foo"),
        dict(kind="er", edges=None),
        dict(kind="ba", attach=None),
        dict(kind="regular", degree=3, nodes=11),
    ],
)
def test_graph_bad_parameters(kwargs):
    args = {"nodes": 10, "edges": 5, "attach": 2, "degree": 2, **kwargs}
    with pytest.raises(UserError):
        random_graph(args.pop("kind"), args.pop("nodes"), **args)
