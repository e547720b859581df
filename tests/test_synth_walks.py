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


def _transition_z(tokens, seg, p):
    """Largest z-score of the empirical transition frequencies against P (within segments)."""
    n = p.shape[0]
    segs = tokens.reshape(-1, seg).astype(np.int64)
    a, b = segs[:, :-1].ravel(), segs[:, 1:].ravel()
    counts = np.bincount(a * n + b, minlength=n * n).reshape(n, n)
    assert (counts[p == 0] == 0).all()  # only edges are walked
    n_i = counts.sum(axis=1, keepdims=True)
    emp = counts / np.maximum(n_i, 1)
    z = np.abs(emp - p) / np.sqrt(np.maximum(p * (1 - p), 1e-12) / np.maximum(n_i, 1))
    return z[p > 0].max()


@pytest.mark.parametrize("bias", [1.5, -0.7])
def test_inverse_cdf_sampler_matches_the_transitions(monkeypatch, bias):
    """The sampler used when alias tables would be too large, forced on a small graph."""
    import scalinglab.synth.walks as walks

    g = random_graph("ba", 40, attach=2, seed=3)
    walk = GraphWalk.from_graph(g, bias)
    p, pi, _ = _reference(g, bias)
    monkeypatch.setattr(walks, "MAX_TABLE", 0)

    def no_alias(*args):
        raise AssertionError("the alias sampler was used")

    monkeypatch.setattr(walks, "packed_alias", no_alias)
    tokens, _ = walk.sample(600_000, seed=4, segment_length=2000)
    assert _transition_z(tokens, 2000, p) < 6
    freq = np.bincount(tokens, minlength=40) / tokens.size
    assert np.abs(freq - pi).max() < 6 * np.sqrt(pi.max() / (tokens.size / 20))


def test_walk_corpus_agrees_with_its_truth_json(tmp_path):
    """Plug-in H_0 and H_1 of the written corpus against truth.json's exact values."""
    seg = 10_000
    corpus = sl.synth.generate_walk(
        tmp_path / "w", graph="ba", nodes=100, edges=None, attach=2, bias=1.0,
        num_tokens=1_000_000, segment_length=seg, seed=7,
    )  # fmt: skip
    truth = json.loads((tmp_path / "w" / "truth.json").read_text())
    x = np.asarray(corpus.tokens).astype(np.int64)
    segs = x.reshape(-1, seg)
    pair = (segs[:, :-1] * 100 + segs[:, 1:]).ravel()

    def h(counts):
        q = counts[counts > 0] / counts.sum()
        return float(-(q * np.log(q)).sum())

    h0 = h(np.bincount(x, minlength=100))
    h1 = h(np.bincount(pair)) - h(np.bincount(segs[:, :-1].ravel()))
    assert truth["bias"] == 1.0 and truth["H_n"]["n"] == [0, 1]
    assert h0 == pytest.approx(truth["H_n"]["nats"][0], abs=5e-3)
    assert h1 == pytest.approx(truth["entropy_rate"]["nats"], abs=5e-3)
    assert truth["H_n"]["nats"][1] == truth["entropy_rate"]["nats"]
    # the exact C(1) of truth.json against the empirical one within segments
    p = np.bincount(x, minlength=100) / x.size
    joint = np.bincount(pair, minlength=100 * 100).reshape(100, 100) / pair.size
    c1 = np.linalg.norm(joint - np.outer(p, p))
    assert c1 == pytest.approx(truth["correlations"]["frobenius"][0], rel=0.03), c1
