"""Group composition tables: group axioms, orders and the split corpus."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.groups import group, triples


@pytest.mark.parametrize(
    ("kind", "n", "order"),
    [
        ("cyclic", 12, 12),
        ("dihedral", 7, 14),
        ("symmetric", 4, 24),
        ("symmetric", 5, 120),
        ("alternating", 5, 60),
        ("alternating", 4, 12),
    ],
)
def test_group_axioms(kind, n, order):
    g = group(kind, n)
    t = g.table.astype(np.int64)
    assert g.order == order
    e = g.identity
    assert e == 0
    x = np.arange(order)
    assert (t[e] == x).all() and (t[:, e] == x).all()
    inv = g.inverse()
    assert (t[x, inv] == e).all()
    assert all(sorted(row) == list(range(order)) for row in t.tolist())  # Latin square
    a, b, c = np.meshgrid(x, x, x, indexing="ij")
    assert (t[t[a, b], c] == t[a, t[b, c]]).all()  # associativity


def test_abelian_flags():
    assert group("cyclic", 9).is_abelian
    assert not group("dihedral", 5).is_abelian
    assert not group("symmetric", 3).is_abelian
    assert group("alternating", 3).is_abelian  # A_3 = C_3


def test_s3_table_is_composition():
    g = group("symmetric", 3)
    perms = [tuple(p) for p in g.elements.tolist()]
    assert perms == sorted(itertools.permutations(range(3)))
    for i, p in enumerate(perms):
        for j, q in enumerate(perms):
            assert perms[g.table[i, j]] == tuple(p[q[k]] for k in range(3))


def test_dihedral_generators():
    n = 6
    g = group("dihedral", n)
    perms = [tuple(p) for p in g.elements.tolist()]
    r = perms.index(tuple((i + 1) % n for i in range(n)))
    s = perms.index(tuple((-i) % n for i in range(n)))
    t = g.table
    power = 0
    for _ in range(n):
        power = t[power, r]
    assert power == 0  # r^n = e
    assert t[s, s] == 0 and t[t[s, r], s] == g.inverse()[r]  # s r s = r^-1


def test_group_corpus_split(tmp_path):
    corpus = sl.synth.generate_group(
        tmp_path / "d", kind="dihedral", n=5, train_fraction=0.3, seed=1
    )
    truth = json.loads((tmp_path / "d" / "truth.json").read_text())
    assert truth["order"] == 10 and truth["triples"] == 100 and truth["train_triples"] == 30
    toks = np.asarray(corpus.tokens).reshape(100, 4)
    assert (toks[:, 3] == 10).all() and corpus.eod_token == 10 and corpus.vocab_size == 11
    table = np.load(tmp_path / "d" / "table.npy")
    assert (table[toks[:, 0], toks[:, 1]] == toks[:, 2]).all()
    pairs = toks[:, 0] * 10 + toks[:, 1]
    assert np.unique(pairs).size == 100  # every (x, y) once
    assert corpus.train.size == 120 and corpus.heldout.size == 280
    tr = set((np.asarray(corpus.train).reshape(-1, 4)[:, :2] @ [10, 1]).tolist())
    te = set((np.asarray(corpus.heldout).reshape(-1, 4)[:, :2] @ [10, 1]).tolist())
    assert not tr & te
    again = triples(group("dihedral", 5), seed=1)
    np.testing.assert_array_equal(again, toks[:, :3])


def test_symmetric_order_is_factorial():
    for n in range(1, 6):
        assert group("symmetric", n).order == math.factorial(n)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kind="foo"),
        dict(kind="symmetric", n=9),
        dict(kind="dihedral", n=2),
        dict(train_fraction=1.0),
        dict(train_fraction=0.0),
        dict(kind="cyclic", n=0),
    ],
)
def test_group_bad_parameters(tmp_path, kwargs):
    with pytest.raises(UserError):
        sl.synth.generate_group(tmp_path / "g", **{"kind": "cyclic", "n": 5, **kwargs})


def _sign_by_cycles(p: list[int]) -> int:
    """Sign of a permutation from its cycle decomposition: (-1)^(n - #cycles)."""
    seen, cycles = set(), 0
    for i in range(len(p)):
        if i not in seen:
            cycles += 1
            while i not in seen:
                seen.add(i)
                i = p[i]
    return (-1) ** (len(p) - cycles)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_alternating_group_is_the_even_permutations(n):
    a = group("alternating", n)
    perms = {tuple(p) for p in a.elements.tolist()}
    even = {p for p in itertools.permutations(range(n)) if _sign_by_cycles(list(p)) == 1}
    assert perms == even and a.order == math.factorial(n) // 2
    for i, p in enumerate(a.elements.tolist()):  # the table is composition, x(y(i))
        for j, q in enumerate(a.elements.tolist()):
            assert a.elements[a.table[i, j]].tolist() == [p[q[k]] for k in range(n)]
