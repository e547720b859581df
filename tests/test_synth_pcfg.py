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


def _derivations(g: VaryingTreePCFG) -> list[tuple[float, tuple]]:
    """Every derivation (root, arities, rules) with its probability and its sequence (slow)."""

    def expand(sym: int, h: int) -> list[tuple[float, tuple]]:
        if h == 0:
            return [(1.0, (sym,))]
        out = []
        for rules, p in ((g.binary[h - 1], g.p2), (g.ternary[h - 1], g.p3)):
            for rule in rules[sym]:
                combos = [(p / rules.shape[1], ())]
                for child in rule:
                    sub = expand(int(child), h - 1)
                    combos = [(pa * pb, a + b) for pa, a in combos for pb, b in sub]
                out.extend(combos)
        return out

    return [(pr / g.n_c, seq) for root in range(g.n_c) for pr, seq in expand(root, g.L)]


@pytest.mark.parametrize(("v", "f", "L", "p2"), [(2, 0.5, 2, 0.6), (3, 0.34, 2, 0.3)])
def test_derivation_entropy_is_the_entropy_of_the_enumerated_derivations(v, f, L, p2):
    g = VaryingTreePCFG.random(v, f, L, p2=p2, seed=5)
    derivs = _derivations(g)
    probs = np.array([p for p, _ in derivs])
    assert probs.sum() == pytest.approx(1.0)
    h_deriv = float(-(probs * np.log(probs)).sum())
    assert g.derivation_entropy() == pytest.approx(h_deriv, rel=1e-12)
    # the sequence law merges derivations with the same leaves: never more entropy
    law = _sequence_law(g)
    h_seq = -sum(p * math.log(p) for p in law.values())
    assert h_seq <= h_deriv + 1e-12


def test_pcfg_corpus_agrees_with_its_truth_json(tmp_path):
    """Sequence lengths of the written corpus against truth.json's exact length law."""
    n = 30_000
    corpus = sl.synth.generate_pcfg(tmp_path / "g", v=4, f=0.5, p2=0.3, L=3, num_sequences=n,
                                    seed=4)  # fmt: skip
    truth = json.loads((tmp_path / "g" / "truth.json").read_text())
    ends = np.append(corpus.doc_offsets[1:], corpus.num_tokens)
    lengths = ends - corpus.doc_offsets - 1  # minus the separator
    law = truth["length_distribution"]
    emp = np.bincount(lengths, minlength=max(law["length"]) + 1)[law["length"]] / n
    prob = np.array(law["prob"])
    assert emp.sum() == pytest.approx(1.0)
    assert np.all(np.abs(emp - prob) < 5 * np.sqrt(prob * (1 - prob) / n) + 1e-12)
    sd = math.sqrt(truth["length_var"] / n)
    assert abs(lengths.mean() - truth["length_mean"]) < 5 * sd
    assert truth["sampled_length_mean"] == pytest.approx(lengths.mean())


def test_pcfg_too_many_rules_is_a_user_error():
    with pytest.raises(UserError, match="rules"):
        VaryingTreePCFG.random(4096, 0.5, 3)
