"""Markov chains and the power-law source: sampled statistics against exact truth."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.markov import MarkovChain, PowerLawSource, alias_tables, random_chain
from scalinglab.warns import has_code


def _enumerated_block_law(chain: MarkovChain, length: int) -> np.ndarray:
    """P(x_1..x_length) by brute-force enumeration of every sequence (slow reference)."""
    v, k = chain.vocab_size, chain.order
    pi = chain.stationary()
    out = np.zeros((v,) * length)
    for seq in itertools.product(range(v), repeat=max(length, k)):
        ctx = 0
        for x in seq[:k]:
            ctx = ctx * v + x
        p = pi[ctx]
        for x in seq[k:]:
            p *= chain.transition[ctx, x]
            ctx = (ctx * v + x) % v**k
        out[seq[:length]] += p
    return out


def _h(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.05, 3.0))
def test_alias_tables_reproduce_every_row(v, rows, seed, alpha):
    rng = np.random.default_rng(seed)
    prob = rng.dirichlet(np.full(v, alpha), size=rows)
    prob[rng.random(prob.shape) < 0.2] = 0.0  # zero cells must never be drawn
    prob[:, 0] += 1e-3
    prob /= prob.sum(axis=1, keepdims=True)
    accept, alias = alias_tables(prob)
    rec = accept / v
    for r in range(rows):
        rec[r] += np.bincount(alias[r], weights=(1 - accept[r]) / v, minlength=v)
    np.testing.assert_allclose(rec, prob, atol=1e-12)


def test_block_and_conditional_entropies_match_enumeration():
    chain = random_chain(3, order=2, alpha=0.7, seed=3)
    for n in range(0, 5):
        law = _enumerated_block_law(chain, n + 1)
        assert chain.block_entropy(n + 1) == pytest.approx(_h(law.ravel()), abs=1e-12)
    hn = chain.conditional_entropies(5)
    h = [_h(_enumerated_block_law(chain, m).ravel()) if m else 0.0 for m in range(7)]
    np.testing.assert_allclose(hn, np.diff(h), atol=1e-12)
    assert hn[2] == pytest.approx(chain.entropy_rate())  # H_n = h from n = k on


def test_exact_correlations_match_enumeration_order2():
    chain = random_chain(3, order=2, alpha=0.5, seed=11)
    p = chain.token_marginal()
    c = chain.correlations([1, 2, 3])
    for i, n in enumerate([1, 2, 3]):
        law = _enumerated_block_law(chain, n + 1)
        joint = law.sum(axis=tuple(range(1, n))) if n > 1 else law
        np.testing.assert_allclose(c[i], joint - np.outer(p, p), atol=1e-13)


def test_order1_correlation_is_diag_pi_times_power():
    chain = random_chain(6, order=1, alpha=0.3, seed=5)
    pi = chain.stationary()
    for n in (1, 2, 7):
        tn = np.linalg.matrix_power(chain.transition, n)
        expect = np.diag(pi) @ (tn - np.outer(np.ones(6), pi))
        np.testing.assert_allclose(chain.correlations([n])[0], expect, atol=1e-15)
    norms = chain.correlation_norms([1, 2])
    c1 = chain.correlations([1])[0]
    assert norms["operator_norm"][0] == pytest.approx(np.linalg.norm(c1, 2))
    assert norms["frobenius"][0] == pytest.approx(np.linalg.norm(c1))


def test_sparse_stationary_solve_matches_power_iteration():
    chain = random_chain(17, order=3, alpha=1.0, seed=2)  # 4913 contexts: sparse path
    pi = chain.stationary()
    p = chain._context_chain()
    x = np.full(pi.size, 1.0 / pi.size)
    for _ in range(200):
        x = p.T @ x
    np.testing.assert_allclose(pi, x, atol=1e-12)


def _dense_stationary(p) -> np.ndarray:
    """pi P = pi, sum 1, by a dense linear solve (reference)."""
    d = p.toarray()
    a = d.T - np.eye(d.shape[0])
    a[-1, :] = 1.0
    b = np.zeros(d.shape[0])
    b[-1] = 1.0
    return np.linalg.solve(a, b)


@pytest.mark.parametrize("power_steps", [0, 300])
def test_sparse_stationary_solver_matches_a_dense_solve(power_steps):
    """Power iterations and the BiCGSTAB finish each give the dense solution."""
    from scalinglab.synth._exact import sparse_stationary

    chain = random_chain(3, order=6, alpha=0.2, seed=4)  # 729 contexts, slowly mixing rows
    p = chain._context_chain()
    pi = sparse_stationary(p, power_steps=power_steps)
    np.testing.assert_allclose(pi, _dense_stationary(p), atol=1e-12)


def test_large_context_chain_stationary_law():
    """2^16 contexts (a direct sparse LU of this graph took minutes): residual ~ 1e-13."""
    chain = random_chain(4, order=8, alpha=0.3, seed=1)
    pi = chain.stationary()
    p = chain._context_chain()
    assert abs(pi.sum() - 1.0) < 1e-12 and pi.min() >= 0.0
    assert np.abs(p.T @ pi - pi).sum() < 1e-10
    h = chain.conditional_entropies(9)
    assert h[8] == pytest.approx(chain.entropy_rate()) and np.all(np.diff(h) <= 1e-12)


def _sticky_tensor(v: int, absorbing_zero: bool) -> np.ndarray:
    """Order-2 tensor: emit 0 always (one closed class) or repeat the last symbol (v classes)."""
    t = np.zeros((v, v, v))
    if absorbing_zero:
        t[..., 0] = 1.0
    else:
        t[:, np.arange(v), np.arange(v)] = 1.0
    return t


def test_sparse_path_reducible_and_transient_contexts():
    # 65^2 = 4225 contexts: the sparse solver. v closed classes: no unique law.
    with pytest.raises(UserError, match="closed classes"):
        MarkovChain(_sticky_tensor(65, absorbing_zero=False)).stationary()
    # One closed class {(0, 0)} with every other context transient: pi is a point mass.
    chain = MarkovChain(_sticky_tensor(65, absorbing_zero=True))
    pi = chain.stationary()
    assert pi[0] == pytest.approx(1.0) and chain.entropy_rate() == pytest.approx(0.0)


def _segment_joint(tokens, seg_len, lag, v):
    """Joint frequency of (x_i, x_{i+lag}) inside each segment: (segments, v, v)."""
    segs = tokens[: tokens.size // seg_len * seg_len].reshape(-1, seg_len).astype(np.int64)
    pair = segs[:, :-lag] * v + segs[:, lag:]
    counts = np.stack([np.bincount(row, minlength=v * v) for row in pair])
    return counts.reshape(-1, v, v) / pair.shape[1]


def test_sampled_chain_matches_exact_joint_law_and_entropy():
    chain = random_chain(4, order=2, alpha=0.6, seed=7)
    seg = 4096
    tokens, offsets = chain.sample(400 * seg, seed=1, segment_length=seg)
    assert tokens.size == 400 * seg and offsets.size == 400
    p = chain.token_marginal()
    for lag in (1, 2, 3, 5):
        per_seg = _segment_joint(tokens, seg, lag, 4)
        mean = per_seg.mean(axis=0)
        sem = per_seg.std(axis=0, ddof=1) / math.sqrt(per_seg.shape[0])
        exact = chain.correlations([lag])[0] + np.outer(p, p)
        z = np.abs(mean - exact) / sem
        assert z.max() < 5.0, (lag, z.max())
    # plug-in conditional entropies from n-gram counts within segments
    segs = tokens.reshape(-1, seg).astype(np.int64)
    hn = chain.conditional_entropies(3)
    for n in range(4):
        codes = np.zeros((segs.shape[0], seg - n), dtype=np.int64)
        for i in range(n + 1):
            codes = codes * 4 + segs[:, i : seg - n + i]
        block = np.bincount(codes.ravel()) / codes.size
        prev = codes // 4
        hb = _h(block) - _h(np.bincount(prev.ravel()) / prev.size) if n else _h(block)
        assert hb == pytest.approx(hn[n], abs=2e-3)


def test_generate_markov_writes_corpus_and_truth(tmp_path):
    corpus = sl.synth.generate_markov(
        tmp_path / "mk",
        vocab_size=8,
        order=1,
        num_tokens=50_000,
        seed=3,
        segment_length=10_000,
        max_lag=4,
    )
    assert corpus.num_tokens == 50_000 and corpus.vocab_size == 8
    gen = corpus.meta["generator"]
    assert gen["kind"] == "markov" and gen["seed"] == 3 and gen["params"]["order"] == 1
    truth = json.loads((tmp_path / "mk" / "truth.json").read_text())
    t = np.load(tmp_path / "mk" / "transition.npy")
    chain = MarkovChain(t)
    assert truth["entropy_rate"]["nats"] == pytest.approx(chain.entropy_rate())
    frac = truth["correlations"]["within_segment_fraction"]
    assert frac[0] == pytest.approx((50_000 - 5) / (50_000 - 1))
    assert truth["warnings"] == []
    assert list(corpus.doc_offsets) == [0, 10_000, 20_000, 30_000, 40_000]
    # same seed, same corpus
    again = sl.synth.generate_markov(
        tmp_path / "mk2",
        vocab_size=8,
        order=1,
        num_tokens=50_000,
        seed=3,
        segment_length=10_000,
        max_lag=4,
    )
    assert again.content_hash == corpus.content_hash


@pytest.mark.parametrize(
    "bad",
    [
        dict(transition=np.array([[0.5, 0.6], [0.5, 0.5]])),
        dict(transition=np.array([[0.5, 0.5]])),
        dict(transition=np.array([[np.nan, 1.0], [0.5, 0.5]])),
        dict(transition=np.full((4, 2), 0.5), order=1),
    ],
)
def test_bad_transition_is_a_user_error(bad):
    with pytest.raises(UserError):
        MarkovChain(**bad)


def test_reducible_chain_is_a_user_error():
    with pytest.raises(UserError, match="stationary"):
        MarkovChain(np.eye(3)).stationary()


@pytest.mark.parametrize(
    "kwargs", [dict(vocab_size=1), dict(order=0), dict(alpha=0.0), dict(vocab_size=4096, order=2)]
)
def test_bad_random_chain_parameters(kwargs):
    with pytest.raises(UserError):
        random_chain(**{"vocab_size": 4, **kwargs})


# ----------------------------------------------------------------------------- power law
def test_powerlaw_exact_c_is_a_power_law_with_the_chosen_beta():
    for beta in (0.3, 0.8, 1.5):
        src = PowerLawSource(vocab_size=16, beta=beta, tau_min=1.0, tau_max=1e5)
        lo, hi = src.power_law_window()
        assert lo <= 10 and hi >= 2e3
        lags = np.unique(np.geomspace(lo, hi, 50).astype(int))
        slope = np.polyfit(np.log(lags), np.log(src.c(lags)), 1)[0]
        assert slope == pytest.approx(-beta, rel=0.01)
        # the norms follow from c(n) and the direct sum over chains
        direct = sum(w * w * math.exp(-7 / t) for w, t in zip(src.weights, src.taus, strict=True))
        assert src.c([7])[0] == pytest.approx(direct)
        c7 = src.correlations([7])[0]
        assert src.norms([7])["operator_norm"][0] == pytest.approx(np.linalg.norm(c7, 2))
        assert src.norms([7])["frobenius"][0] == pytest.approx(np.linalg.norm(c7))


def test_powerlaw_sample_matches_exact_pair_law():
    src = PowerLawSource(vocab_size=2, beta=0.6, tau_min=1.0, tau_max=300.0)
    n_tok, n_blocks = 3_000_000, 60
    x = src.sample(n_tok, seed=5, chunk=1 << 20).astype(np.int8)  # several chunks: carry-over
    assert abs(x.mean() - 0.5) < 0.01
    blocks = x.reshape(n_blocks, -1)
    for lag in (1, 4, 30, 200):
        same = (blocks[:, :-lag] == blocks[:, lag:]).mean(axis=1)
        exact = 0.5 + src.c([lag])[0] / 2  # P(x_i = x_{i+n}) = 1/V + c(n)(1 - 1/V)
        z = (same.mean() - exact) / (same.std(ddof=1) / math.sqrt(n_blocks))
        assert abs(z) < 5.0, (lag, z)


def test_powerlaw_h1_is_exact():
    src = PowerLawSource(vocab_size=3, beta=1.0, tau_min=2.0, tau_max=50.0)
    c1 = src.c([1])[0]
    pair = np.full((3, 3), 1 / 9) + c1 * (np.eye(3) / 3 - 1 / 9)
    assert src.conditional_entropies()["H_1"] == pytest.approx(_h(pair.ravel()) - math.log(3))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(beta=0.0),
        dict(beta=-1),
        dict(tau_min=0.0),
        dict(tau_min=10.0, tau_max=5.0),
        dict(vocab_size=1),
    ],
)
def test_powerlaw_bad_parameters(kwargs):
    with pytest.raises(UserError):
        PowerLawSource(**kwargs)


# ----------------------------------------------------------------------------- audit additions
def test_transition_tensor_is_the_same_chain():
    """A (V,)*(k+1) tensor T[x_{t-k+1}, .., x_t, x] is the (V^k, V) table, oldest token first."""
    chain = random_chain(3, order=2, alpha=0.7, seed=8)
    tensor = chain.transition.reshape(3, 3, 3)
    # T[a, b, x] = P(x | previous two tokens a then b), checked on one entry by hand
    assert tensor[2, 1, 0] == chain.transition[2 * 3 + 1, 0]
    again = MarkovChain(tensor)
    assert again.order == 2
    np.testing.assert_allclose(again.transition, chain.transition, rtol=1e-15)
    assert MarkovChain(tensor, order=2).entropy_rate() == pytest.approx(chain.entropy_rate())
    with pytest.raises(UserError, match="order 2, not 3"):
        MarkovChain(tensor, order=3)
    with pytest.raises(UserError, match="equal length"):
        MarkovChain(np.full((3, 3, 2), 0.5))


def test_truth_lists_h_n_up_to_the_order():
    """H_n differs from the entropy rate up to n = k - 1: truth lists every such n."""
    chain = random_chain(2, order=4, alpha=0.5, seed=1)
    truth = chain.truth(max_lag=0, n_max=1)
    assert truth["H_n"]["n"] == [0, 1, 2, 3, 4]
    h = [_h(_enumerated_block_law(chain, m).ravel()) if m else 0.0 for m in range(6)]
    np.testing.assert_allclose(truth["H_n"]["nats"], np.diff(h), atol=1e-12)


def test_markov_corpus_agrees_with_its_truth_json(tmp_path):
    """H_n and C(n) measured on the written corpus against the numbers in truth.json."""
    seg, n_tok = 1 << 14, 1 << 20
    corpus = sl.synth.generate_markov(
        tmp_path / "mk", vocab_size=4, order=2, alpha=0.6, num_tokens=n_tok, seed=5,
        segment_length=seg, max_lag=8,
    )  # fmt: skip
    truth = json.loads((tmp_path / "mk" / "truth.json").read_text())
    x = np.asarray(corpus.tokens).astype(np.int64)
    # plug-in H_n over the whole stream (pairs across segments are a 1/seg minority)
    for n, h_true in zip(truth["H_n"]["n"][:4], truth["H_n"]["nats"][:4], strict=True):
        codes = np.zeros(x.size - n, dtype=np.int64)
        for i in range(n + 1):
            codes = codes * 4 + x[i : x.size - n + i]
        h_plug = _h(np.bincount(codes) / codes.size)
        if n:
            h_plug -= _h(np.bincount(codes // 4) / codes.size)
        assert h_plug == pytest.approx(h_true, abs=3e-3), n
    # C(n) of the stream = exact C(n) x the fraction of pairs inside a segment
    p = np.bincount(x, minlength=4) / x.size
    blocks = x.reshape(64, -1)
    c_tr = truth["correlations"]
    for i, lag in enumerate(c_tr["lags"][:6]):
        pair = x[:-lag] * 4 + x[lag:]
        c_hat = np.bincount(pair, minlength=16).reshape(4, 4) / pair.size - np.outer(p, p)
        per_block = []
        for b in blocks:  # spread of the estimate over 64 blocks of 16384 tokens
            pb = np.bincount(b[:-lag] * 4 + b[lag:], minlength=16).reshape(4, 4) / (b.size - lag)
            fb = np.bincount(b, minlength=4) / b.size
            per_block.append(np.linalg.norm(pb - np.outer(fb, fb)))
        se = np.std(per_block, ddof=1) / math.sqrt(len(blocks))
        expect = c_tr["frobenius"][i] * c_tr["within_segment_fraction"][i]
        assert abs(np.linalg.norm(c_hat) - expect) < 5 * se + 1e-4, (lag, expect)
        expect_op = c_tr["operator_norm"][i] * c_tr["within_segment_fraction"][i]
        assert abs(np.linalg.norm(c_hat, 2) - expect_op) < 5 * se + 1e-4, (lag, expect_op)


def test_powerlaw_corpus_agrees_with_its_truth_json(tmp_path):
    corpus = sl.synth.generate_powerlaw(
        tmp_path / "pl", vocab_size=2, beta=0.6, tau_min=1.0, tau_max=300.0,
        num_tokens=2_000_000, seed=2,
    )  # fmt: skip
    truth = json.loads((tmp_path / "pl" / "truth.json").read_text())
    x = np.asarray(corpus.tokens).astype(np.int8)
    blocks = x.reshape(50, -1)
    lags, c = truth["correlations"]["lags"], truth["correlations"]["c"]
    checked = 0
    for lag, c_true in zip(lags, c, strict=True):
        if lag > 300:
            break
        same = (blocks[:, :-lag] == blocks[:, lag:]).mean(axis=1)
        c_hat = (same - 0.5) / 0.5  # P(x_i = x_{i+n}) = 1/V + c(n)(1 - 1/V)
        z = (c_hat.mean() - c_true) / (c_hat.std(ddof=1) / math.sqrt(len(blocks)))
        assert abs(z) < 5.5, (lag, z)
        checked += 1
    assert checked >= 20
    # operator norm in truth.json is c(n) / V
    assert truth["correlations"]["operator_norm"][0] == pytest.approx(c[0] / 2)


@pytest.mark.parametrize(
    "kwargs",
    [dict(tau_max=1e13), dict(tau_min=1e-300, tau_max=1e12, modes_per_octave=64.0)],
)
def test_powerlaw_range_limits(kwargs):
    with pytest.raises(UserError):
        PowerLawSource(**kwargs)


def test_short_segments_are_flagged(tmp_path):
    """Lags comparable to the segment length: the measured C(n) is diluted, a coded warning."""
    sl.synth.generate_markov(
        tmp_path / "mk", vocab_size=4, num_tokens=2000, segment_length=20, max_lag=16
    )
    truth = sl.synth.read_truth(tmp_path / "mk")
    assert truth["correlations"]["within_segment_fraction"][-1] < 0.5
    assert has_code(truth["warnings"], "synth-short-segments")
    assert sl.synth.summarize(sl.corpus.load(tmp_path / "mk")).warnings == truth["warnings"]


def test_powerlaw_window_beyond_the_stream_is_flagged(tmp_path):
    sl.synth.generate_powerlaw(tmp_path / "a", vocab_size=4, tau_max=1e4, num_tokens=5000)
    sl.synth.generate_powerlaw(tmp_path / "b", vocab_size=4, tau_max=20.0, num_tokens=5000)
    short = sl.synth.read_truth(tmp_path / "a")
    assert short["power_law_window"][1] > 500
    assert has_code(short["warnings"], "synth-powerlaw-short-stream")
    assert sl.synth.read_truth(tmp_path / "b")["warnings"] == []
