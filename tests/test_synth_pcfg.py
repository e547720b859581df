"""Varying-tree PCFG: exact sequence law of a tiny grammar, length law, corpus layout."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.pcfg import VaryingTreePCFG


def _sequence_law(g: VaryingTreePCFG) -> dict[tuple, float]:
    """Probability of every sequence by recursive enumeration of derivations (slow)."""

    def expand(sym: int, h: int) -> dict[tuple, float]:
        if h == 0:
            return {(sym,): 1.0}
        out: Counter = Counter()
        for rules, p in ((g.binary[h - 1], g.p2), (g.ternary[h - 1], g.p3)):
            for rule in rules[sym]:
                parts = [expand(int(c), h - 1) for c in rule]
                combos = [((), p / rules.shape[1])]
                for part in parts:
                    combos = [(a + b, pa * pb) for a, pa in combos for b, pb in part.items()]
                for seq, pr in combos:
                    out[seq] += pr
        return out

    law: Counter = Counter()
    for root in range(g.n_c):
        for seq, pr in expand(root, g.L).items():
            law[seq] += pr / g.n_c
    return law


def test_sampled_sequences_follow_the_exact_law():
    g = VaryingTreePCFG.random(2, 0.5, 2, p2=0.6, seed=3)
    law = _sequence_law(g)
    assert sum(law.values()) == pytest.approx(1.0)
    n = 100_000
    tokens, lengths = g.sample(n, seed=1)
    ends = np.cumsum(lengths)
    seqs = Counter(tuple(s) for s in np.split(tokens, ends[:-1]))
    assert set(seqs) <= set(law)  # every sampled sequence is derivable
    for seq, p in law.items():
        sd = math.sqrt(p * (1 - p) / n)
        assert abs(seqs.get(seq, 0) / n - p) < 5 * sd + 1e-12, (seq, p)


def test_length_law_and_moments():
    g = VaryingTreePCFG.random(8, 0.25, 4, p2=0.3, seed=0)
    lengths, prob = g.length_distribution()
    assert lengths.min() == 2**4 and lengths.max() == 3**4 and prob.sum() == pytest.approx(1)
    mean, var = g.length_moments()
    assert (lengths * prob).sum() == pytest.approx(mean)
    assert ((lengths - mean) ** 2 * prob).sum() == pytest.approx(var)
    _, sampled = g.sample(50_000, seed=2)
    emp = np.bincount(sampled, minlength=lengths.max() + 1)[lengths] / sampled.size
    assert np.abs(emp - prob).max() < 5 * np.sqrt(prob.max() / sampled.size)


def test_rules_are_unique_tuples_and_derivation_entropy():
    g = VaryingTreePCFG.random(6, 0.5, 3, seed=4)
    assert g.m2 == 3 and g.m3 == 18
    for rules in g.binary + g.ternary:
        t = rules.reshape(-1, rules.shape[-1])
        assert np.unique(t, axis=0).shape[0] == t.shape[0]
    mu = 2.5
    per = math.log(2) + 0.5 * math.log(3) + 0.5 * math.log(18)
    assert g.derivation_entropy() == pytest.approx(math.log(6) + (1 + mu + mu**2) * per)


def test_generate_pcfg_layout(tmp_path):
    corpus = sl.synth.generate_pcfg(tmp_path / "g", v=8, f=0.25, L=3, num_sequences=500, seed=1)
    truth = json.loads((tmp_path / "g" / "truth.json").read_text())
    toks = np.asarray(corpus.tokens)
    assert corpus.eod_token == 8 and (toks[corpus.doc_offsets[1:] - 1] == 8).all()
    assert toks[-1] == 8 and (toks == 8).sum() == 500
    assert truth["length_mean"] == pytest.approx(2.5**3)
    assert corpus.meta["generator"]["params"]["f"] == 0.25


@pytest.mark.parametrize(
    "kwargs", [dict(f=1.5), dict(f=0.0), dict(p2=0.5, p3=0.6), dict(f=0.01), dict(n_c=9), dict(L=0)]
)
def test_pcfg_bad_parameters(kwargs):
    args = {"v": 8, "f": 0.25, "L": 3, **kwargs}
    with pytest.raises(UserError):
        VaryingTreePCFG.random(args.pop("v"), args.pop("f"), args.pop("L"), **args)
