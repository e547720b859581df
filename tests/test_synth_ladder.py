"""Language ladder: k-gram samples of a corpus and their entropy rates."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.ladder import KGramModel
from scalinglab.synth.markov import random_chain
from scalinglab.warns import has_code


def _plugin_h(tokens, ctx, v):
    """Plug-in H(next | last ctx tokens) from counts (slow, independent)."""
    codes = np.zeros(tokens.size - ctx, dtype=np.int64)
    for i in range(ctx + 1):
        codes = codes * v + tokens[i : tokens.size - ctx + i]
    joint = np.unique(codes, return_counts=True)[1] / codes.size
    hj = -(joint * np.log(joint)).sum()
    if ctx == 0:
        return hj
    prev = np.unique(codes // v, return_counts=True)[1] / codes.size
    return hj + (prev * np.log(prev)).sum()


def test_bigram_rate_matches_dense_chain():
    src, _ = random_chain(6, 1, alpha=0.4, seed=1).sample(30_000, seed=2, segment_length=30_000)
    model = KGramModel(src, 2, 6)
    counts = np.zeros((6, 6))
    np.add.at(counts, (src[:-1], src[1:]), 1)
    p = counts / counts.sum(axis=1, keepdims=True)
    vals, vecs = np.linalg.eig(p.T)
    pi = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    pi /= pi.sum()
    h = -(pi[:, None] * np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum()
    rates = model.entropy_rates()
    assert rates["chain"] == pytest.approx(h, abs=1e-10)
    assert rates["plugin"] == pytest.approx(_plugin_h(src.astype(np.int64), 1, 6), abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ladder_sample_has_the_model_statistics(k):
    src, _ = random_chain(4, 2, alpha=0.5, seed=3).sample(50_000, seed=4, segment_length=50_000)
    model = KGramModel(src, k, 4)
    toks, offsets, restarts = model.sample(400_000, seed=5, segment_length=100_000)
    assert toks.size == 400_000 and offsets.size == 4
    h_model = model.entropy_rates()["chain"]
    h_sample = np.mean([_plugin_h(s.astype(np.int64), k - 1, 4) for s in toks.reshape(4, -1)])
    assert h_sample == pytest.approx(h_model, abs=0.01)
    if k > 1:  # every sampled k-gram occurs in the source

        def grams(x):
            c = np.zeros(x.size - k + 1, dtype=np.int64)
            for i in range(k):
                c = c * 4 + x[i : x.size - k + 1 + i]
            return set(np.unique(c).tolist())

        seg = toks[:100_000].astype(np.int64)
        assert grams(seg) <= grams(src.astype(np.int64))


def test_dead_end_context_restarts():
    src = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3], dtype=np.int64)  # "1 3" ends the corpus
    model = KGramModel(src, 3, 4)
    toks, _, restarts = model.sample(2000, seed=0, segment_length=2000)
    assert restarts > 0 and set(np.unique(toks)) <= {0, 1, 2, 3}


def test_generate_ladder(tmp_path):
    base = sl.corpus.TokenCorpus.from_array(
        random_chain(5, 1, seed=1).sample(20_000, seed=1)[0], vocab_size=5, name="src"
    )
    rungs = sl.synth.generate_ladder(
        tmp_path / "lad", base, orders=[1, 2, 3], num_tokens=5000, seed=1
    )
    assert sorted(rungs) == [1, 2, 3]
    summary = json.loads((tmp_path / "lad" / "ladder.json").read_text())
    rates = [r["entropy_rate"]["nats"] for r in summary["rungs"]]
    assert rates[0] >= rates[1] >= rates[2] - 1e-9
    assert rungs[2].meta["generator"]["params"]["order"] == 2
    assert all(sl.synth.read_truth(c)["warnings"] == [] for c in rungs.values())


def test_ladder_bad_order():
    with pytest.raises(UserError):
        KGramModel(np.arange(5), 0, 5)
    with pytest.raises(UserError):
        KGramModel(np.arange(3), 4, 5)


def test_generate_ladder_flags_restarts(tmp_path):
    src = sl.corpus.TokenCorpus.from_array([0, 1, 2, 0, 1, 2, 0, 1, 3], vocab_size=4)
    rungs = sl.synth.generate_ladder(tmp_path / "lad", src, orders="3", num_tokens=500)
    truth = sl.synth.read_truth(rungs[3])
    assert truth["restarts"] > 0 and has_code(truth["warnings"], "synth-ladder-restarts")
