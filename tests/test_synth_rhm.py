"""Random Hierarchy Model: rules, counts, sampling without replacement, exact correlations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.rhm import RandomHierarchyModel
from scalinglab.warns import has_code


def _brute_stream_c(model: RandomHierarchyModel, max_lag: int) -> np.ndarray:
    """Exact stream C(n) by enumerating every sequence (each equally likely)."""
    total = model.num_sequences
    seqs = model.decode(np.arange(total))
    v, period = model.v, model.seq_len + 1
    onehot = np.eye(v + 1)[np.concatenate([seqs, np.full((total, 1), v)], axis=1)]
    marg = onehot.mean(axis=0)
    pbar = marg.mean(axis=0)
    out = []
    for n in range(1, max_lag + 1):
        acc = np.zeros((v + 1, v + 1))
        for phi in range(period):
            j = phi + n
            if j < period:  # same sequence: the enumerated joint law
                acc += onehot[:, phi].T @ onehot[:, j] / total
            else:  # next sequence: independent
                acc += np.outer(marg[phi], marg[j % period])
        out.append(acc / period - np.outer(pbar, pbar))
    return np.array(out)


@pytest.mark.parametrize(
    ("v", "m", "s", "L", "n_c", "balanced"),
    [
        (3, 2, 2, 2, 2, False),
        (2, 2, 2, 3, 2, False),
        (3, 3, 3, 2, 3, False),
        (4, 2, 2, 3, 3, False),
        (4, 2, 2, 3, 4, True),
        (3, 3, 2, 2, 3, True),
    ],
)
def test_exact_stream_correlations_match_enumeration(v, m, s, L, n_c, balanced):
    model = RandomHierarchyModel.random(v, m, s, L, n_c, balanced=balanced, seed=1)
    lag_max = 2 * (model.seq_len + 1)
    np.testing.assert_allclose(
        model.stream_correlations(lag_max), _brute_stream_c(model, lag_max), atol=1e-15
    )


def test_rules_have_unique_parents_and_counts():
    for balanced in (False, True):
        model = RandomHierarchyModel.random(8, 3, 2, 4, 5, balanced=balanced, seed=3)
        for h, rules in enumerate(model.rules, start=1):
            tuples = rules.reshape(-1, 2)
            assert np.unique(tuples, axis=0).shape[0] == tuples.shape[0]  # one parent each
            assert rules.shape == ((5 if h == 4 else 8), 3, 2)
    small = RandomHierarchyModel.random(3, 2, 2, 2, 2, seed=0)
    assert small.num_sequences == 2 * 2**3
    seqs = small.decode(np.arange(small.num_sequences))
    assert np.unique(seqs, axis=0).shape[0] == small.num_sequences  # all distinct
    assert small.entropy_rate() == pytest.approx(math.log(16) / 5)
    assert RandomHierarchyModel.random(32, 8, 2, 6, seed=0).beta == pytest.approx(3.0)


def test_balanced_rules_make_every_position_uniform():
    model = RandomHierarchyModel.random(8, 4, 2, 5, balanced=True, seed=2)
    np.testing.assert_allclose(model.leaf_marginals(), 1 / 8, atol=1e-15)
    seqs, _ = model.sample(20_000, seed=1)
    freq = np.stack([np.bincount(col, minlength=8) for col in seqs.T]) / 20_000
    assert np.abs(freq - 1 / 8).max() < 0.02


def test_index_roundtrip_including_huge_spaces():
    model = RandomHierarchyModel.random(16, 4, 2, 7, seed=0)  # 16 * 4^127 sequences
    assert model.num_sequences > 2**200
    seqs, idx = model.sample(50, replace=False, seed=3)
    assert idx.dtype == object and len(set(idx.tolist())) == 50
    np.testing.assert_array_equal(model.decode(idx), seqs)
    roots, digits = model.index_digits(idx)
    assert model.index_of(roots, digits) == list(idx)
    with pytest.raises(UserError):
        model.decode([model.num_sequences])


def test_sample_without_replacement_is_distinct_and_exhaustive():
    model = RandomHierarchyModel.random(3, 2, 2, 2, 3, seed=4)
    seqs, idx = model.sample(model.num_sequences, replace=False, seed=0)
    assert sorted(idx.tolist()) == list(range(model.num_sequences))
    assert np.unique(seqs, axis=0).shape[0] == model.num_sequences
    with pytest.raises(UserError, match="distinct"):
        model.sample(model.num_sequences + 1, replace=False)


def test_sampled_stream_matches_exact_correlations():
    model = RandomHierarchyModel.random(4, 2, 2, 4, balanced=True, seed=5)
    n_seq, per = 40_000, model.seq_len + 1
    seqs, _ = model.sample(n_seq, seed=6)
    stream = np.concatenate([seqs, np.full((n_seq, 1), 4)], axis=1).ravel()
    exact = model.stream_correlations(8)
    blocks = stream.reshape(40, -1)  # block means of the empirical joint law
    for lag in (1, 2, 3, 5, 8):
        per_block = []
        for b in blocks:
            pair = b[:-lag].astype(np.int64) * 5 + b[lag:]
            per_block.append(np.bincount(pair, minlength=25).reshape(5, 5) / pair.size)
        per_block = np.array(per_block)
        pbar = np.bincount(stream, minlength=5) / stream.size
        mean = per_block.mean(axis=0) - np.outer(pbar, pbar)
        sem = per_block.std(axis=0, ddof=1) / math.sqrt(len(blocks))
        z = np.abs(mean - exact[lag - 1]) / np.maximum(sem, 1e-12)
        assert z.max() < 5.5, (lag, z.max())
    assert per == 17


def test_rhm_beta_measured_by_the_correlation_engine():
    """The engine's beta on a sampled RHM stream agrees with the exact one.

    Balanced rules remove the non-decaying part of the stream's C(n) (positions
    with different laws), so the stream decays as the correlations inside a
    tree. The exact decay over lags s..s^(L-2) is steeper than ln m / ln s
    (1.37 here for ln 2 / ln 2 = 1): the truth records both.
    """
    from scalinglab.stats.correlations import correlations

    model = RandomHierarchyModel.random(16, 2, 2, 8, balanced=True, seed=0)
    truth = model.truth()
    seqs, _ = model.sample(8_000, seed=1)
    stream = np.concatenate([seqs, np.full((seqs.shape[0], 1), 16)], axis=1).ravel()
    corpus = sl.corpus.TokenCorpus.from_array(stream, vocab_size=17, eod_token=16)
    res = correlations(
        corpus,
        lags=np.arange(1, 33),
        beta_window=(2, 32),
        n_shuffles=0,
        n_boot=50,
        seed=0,
        progress=False,
    ).to_dict()
    beta = res["beta"]
    tol = 3 * max(beta["stderr"], beta["fit_stderr"])
    assert abs(beta["value"] - truth["beta_fit"]["stream"]) < tol, (beta, truth["beta_fit"])
    assert truth["beta"] == pytest.approx(1.0)
    exact = np.array(truth["correlations"]["operator_norm"][:32])
    z = (np.array(res["operator_norm"]) - exact) / np.array(res["operator_norm_stderr"])
    assert np.abs(z).max() < 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(v=4, m=4, s=2), None),  # m v = v^s: the largest valid m
        (dict(v=4, m=5, s=2), "m v"),
        (dict(v=4, m=2, s=2, n_c=5), "n_c"),
        (dict(v=1, m=1, s=2), "v"),
        (dict(v=4, m=2, s=1), "s"),
    ],
)
def test_rhm_bad_parameters(kwargs, match):
    if match is None:
        RandomHierarchyModel.random(**{"L": 2, **kwargs})
        return
    with pytest.raises(UserError, match=match):
        RandomHierarchyModel.random(**{"L": 2, **kwargs})


def test_generate_rhm_disjoint_split(tmp_path):
    corpus = sl.synth.generate_rhm(
        tmp_path / "r", v=8, m=2, s=2, L=3, num_train=300, num_test=100, seed=2
    )
    truth = json.loads((tmp_path / "r" / "truth.json").read_text())
    assert truth["num_sequences"] == str(8 * 2**7) and truth["distinct_sampled"] == 400
    assert not has_code(truth["warnings"], "synth-rhm-splits-overlap")
    assert corpus.vocab_size == 9 and corpus.eod_token == 8
    train = np.asarray(corpus.train).reshape(-1, 9)[:, :8]
    test = np.asarray(corpus.heldout).reshape(-1, 9)[:, :8]
    assert train.shape[0] == 300 and test.shape[0] == 100
    both = np.concatenate([train, test])
    assert np.unique(both, axis=0).shape[0] == 400  # disjoint sets
    idx = np.load(tmp_path / "r" / "indices.npy")
    model = RandomHierarchyModel.random(8, 2, 2, 3, 8, seed=np.random.default_rng(2))
    np.testing.assert_array_equal(model.decode(idx[:5]), train[:5])


def test_splits_sampled_with_replacement_may_overlap(tmp_path):
    """Four distinct sequences and 30 draws with replacement: the held-out ones repeat training."""
    sl.synth.generate_rhm(
        tmp_path / "r", v=2, m=2, s=2, L=1, num_train=20, num_test=10, replace=True, seed=0
    )
    truth = sl.synth.read_truth(tmp_path / "r")
    assert truth["num_sequences"] == "4"
    assert has_code(truth["warnings"], "synth-rhm-splits-overlap")
