"""The flipping-facts source: exact H_n and C(n) against brute-force enumeration, and
sampled statistics from the entropy and correlation engines against the exact values."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.cli import main
from scalinglab.errors import UserError
from scalinglab.synth.facts import FactsSource, binary_information
from scalinglab.warns import code_of, has_code


def _h(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _bit_paths(src: FactsSource, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every path of one bit over ``length`` steps, and its probability for each fact.

    Straight from the generative model: a uniform start, then a flip with
    probability r_k at every step.
    """
    paths = np.array(list(itertools.product((0, 1), repeat=length)), dtype=np.int64)
    flips = (np.diff(paths, axis=1) != 0).sum(axis=1)
    r = src.flip_probs[:, None]
    prob = 0.5 * r**flips * (1 - r) ** (length - 1 - flips)
    return paths, prob  # (2^L, L), (K, 2^L)


def _block_law(src: FactsSource, length: int) -> dict[tuple[int, ...], float]:
    """P(x_1..x_L) of every token sequence by brute force (iid indices, hidden bit paths)."""
    paths, prob = _bit_paths(src, length)
    p = src.probs
    law: dict[tuple[int, ...], float] = {}
    for seq in itertools.product(range(src.vocab_size), repeat=length):
        ks = [x // 2 for x in seq]
        bits = np.array([x % 2 for x in seq])
        total = math.prod(p[k] for k in ks)
        for k in set(ks):
            times = [t for t in range(length) if ks[t] == k]
            ok = np.all(paths[:, times] == bits[times], axis=1)
            total *= float(prob[k, ok].sum())
        law[seq] = total
    return law


@pytest.mark.parametrize(
    ("params", "top"),
    [((2, 1.3, 0.7, 1.5), 4), ((3, 0.6, 2.5, 0.8), 3), ((2, 0.0, 1.7, 0.0), 4)],
)
def test_conditional_entropies_match_enumeration(params, top):
    src = FactsSource(*params)
    block = [0.0]
    for length in range(1, top + 2):
        law = np.array(list(_block_law(src, length).values()))
        assert law.sum() == pytest.approx(1.0, abs=1e-13)
        block.append(_h(law))
    exact = src.conditional_entropies(top)
    np.testing.assert_allclose(exact, np.diff(block), atol=1e-10, rtol=0)
    assert exact[0] == pytest.approx(src.index_entropy() + math.log(2), abs=1e-14)
    # H_inf from the infinite tail, and H_n decreasing towards it
    assert np.all(np.diff(exact) < 0) and src.entropy_inf() < exact[-1]


def test_correlations_match_enumeration():
    src = FactsSource(3, a=0.9, tau0=1.3, c=1.2)
    p = src.probs
    for n in (1, 2, 3):
        paths, prob = _bit_paths(src, n + 1)
        joint = np.zeros((src.vocab_size, src.vocab_size))
        for k0, kn in itertools.product(range(src.num_facts), repeat=2):
            for i, j in itertools.product(range(paths.shape[0]), repeat=2):
                # facts k0 and kn follow independent paths i and j (the same one if k0 == kn)
                if k0 == kn and i != j:
                    continue
                w = prob[k0, i] if k0 == kn else prob[k0, i] * prob[kn, j]
                b0, bn = paths[i, 0], paths[j if k0 != kn else i, n]
                joint[2 * k0 + b0, 2 * kn + bn] += p[k0] * p[kn] * w
        marg = joint.sum(axis=1)
        np.testing.assert_allclose(marg, src.token_marginal(), atol=1e-15)
        cov = joint - np.outer(marg, joint.sum(axis=0))
        np.testing.assert_allclose(src.correlations([n])[0], cov, atol=1e-15)
        norms = src.norms([n])
        assert norms["operator_norm"][0] == pytest.approx(np.linalg.norm(cov, 2), rel=1e-12)
        assert norms["frobenius"][0] == pytest.approx(np.linalg.norm(cov), rel=1e-12)


def test_entropy_tail_is_exact_far_out_and_norms_do_not_underflow():
    src = FactsSource(8, a=1.5, tau0=3.0, c=2.0)
    # slow reference: the tail summed term by term far beyond the closed-form switch
    ns = np.array([0, 1, 5, 40, 300])
    ref = np.zeros(ns.size)
    d = np.arange(1, 400_001, dtype=np.float64)
    for p, lam in zip(src.probs, src.lambdas, strict=True):
        q = (1 + lam**d) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            info = np.nan_to_num(math.log(2) + q * np.log(q) + (1 - q) * np.log(1 - q))
        f = (1 - p) ** (d - 1) * info
        ref += p * p * np.array([f[n:].sum() for n in ns])
    np.testing.assert_allclose(src.entropy_excess(ns), ref, rtol=1e-9)
    big = src.norms([10**6])
    assert big["operator_norm"][0] >= 0 and math.isfinite(src.log_frobenius([10**9])[0])


WINDOW_REL = 0.1


def test_binary_information_series_and_closed_form_agree():
    x = np.array([0.0, 1e-6, 0.05, 0.0999, 0.1, 0.3, 0.6, 0.9, 0.999])
    direct = 0.5 * ((1 + x) * np.log1p(x) + (1 - x) * np.log1p(-x))
    np.testing.assert_allclose(binary_information(x), direct, rtol=1e-12, atol=1e-17)
    assert binary_information(1.0) == pytest.approx(math.log(2))


def test_exponents_windows_and_truth():
    src = FactsSource()  # defaults: K = 32, a = c = 2.5, tau0 = 4
    ex = src.exponents()
    assert ex["gamma"] == pytest.approx(0.6) and ex["beta_operator"] == pytest.approx(2.0)
    assert ex["beta_frobenius"] == pytest.approx(1.8)
    assert ex["alpha_D_operator"] == pytest.approx(0.15)
    tr = src.truth(max_n=300, max_lag=1 << 15)
    win = tr["power_law_window"]
    assert win["gamma"][0] <= 10 and win["gamma"][1] >= 60
    for name, target in (("gamma", 0.6), ("beta_operator", 2.0), ("beta_frobenius", 1.8)):
        assert tr["window_fit"][name] == pytest.approx(target, rel=WINDOW_REL)
    hn = np.array(tr["H_n"]["nats"])
    assert len(hn) == 301 and np.all(np.diff(hn) < 0) and hn[-1] > tr["H_inf"]["nats"]
    assert hn[256] - hn[300] > 1e-4  # still falling at n = 256
    assert not has_code(tr["warnings"], "synth-facts-no-window")
    # the forgotten regime: gamma = (2a - 1 - c) / c
    assert FactsSource(16, a=3.0, tau0=1.0, c=2.0).exponents()["gamma"] == pytest.approx(1.5)
    assert FactsSource(8, a=0.2, c=1.0).exponents()["beta_frobenius"] is None


@pytest.mark.parametrize(
    "kwargs",
    [{"num_facts": 0}, {"a": -1}, {"tau0": 0}, {"c": 9}, {"num_facts": 4096, "c": 8}],
)
def test_bad_parameters(kwargs):
    with pytest.raises(UserError):
        FactsSource(**kwargs)


@pytest.fixture(scope="module")
def sampled():
    src = FactsSource(4, a=1.0, tau0=3.0, c=1.5)
    tokens = src.sample(1_000_000, seed=1)
    return src, sl.corpus.TokenCorpus.from_array(tokens, vocab_size=src.vocab_size)


def test_sample_is_reproducible_and_chunk_independent(sampled):
    src, corpus = sampled
    tokens = np.asarray(corpus.tokens)
    assert tokens.max() < src.vocab_size
    np.testing.assert_array_equal(src.sample(1_000_000, seed=1), tokens)
    freq = np.bincount(tokens, minlength=src.vocab_size) / tokens.size
    np.testing.assert_allclose(freq, src.token_marginal(), atol=5e-3)
    # small chunks: every fact's chain continues across chunk ends, so the exact
    # P(x_{t+1} = x_t) = sum_k p_k^2 (1 + lambda_k) / 2 holds on the whole stream
    small = src.sample(200_000, seed=2, chunk=1000)
    same = float((small[1:] == small[:-1]).mean())
    exact = float((src.probs**2 * (1 + src.lambdas) / 2).sum())
    assert abs(same - exact) < 5 * math.sqrt(exact * (1 - exact) / small.size)


def test_entropy_engine_recovers_exact_h_n(sampled):
    src, corpus = sampled
    res = sl.stats.entropy(corpus, max_n=4, progress=False, n_boot=20)
    exact = src.conditional_entropies(4)
    assert res.reliable[:5].all()
    z = (res.estimate - exact) / res.estimate_stderr
    assert np.all(np.abs(z) < 3), z


def test_correlation_engine_recovers_exact_norms(sampled):
    src, corpus = sampled
    lags = [1, 2, 3, 4, 6, 8, 12, 16]
    res = sl.stats.correlations(corpus, lags=lags, progress=False)
    exact = src.norms(lags)
    z_op = (res.operator_norm - exact["operator_norm"]) / res.operator_norm_stderr
    z_f = (res.frobenius - exact["frobenius"]) / res.frobenius_stderr
    assert np.all(np.abs(z_op) < 3), z_op
    assert np.all(np.abs(z_f) < 3), z_f


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_cli_writes_corpus_and_truth(tmp_path):
    out = tmp_path / "facts"
    args = ["synth", "facts", "-K", "8", "-a", "2", "-c", "2", "--tau0", "2"]
    assert (
        _run([*args, "--tokens", "20000", "--max-n", "64", "--out", str(out), "--seed", "3"]) == 0
    )
    corpus = sl.corpus.load(out)
    gen = corpus.meta["generator"]
    assert gen["kind"] == "facts" and gen["seed"] == 3 and gen["params"]["num_facts"] == 8
    assert corpus.vocab_size == 16 and corpus.num_tokens == 20000
    truth = json.loads((out / "truth.json").read_text())
    assert truth["kind"] == "facts" and len(truth["H_n"]["nats"]) == 65
    assert truth["exponents"]["gamma"] == pytest.approx(0.5)
    np.testing.assert_allclose(
        truth["H_n"]["nats"], FactsSource(8, 2.0, 2.0, 2.0).conditional_entropies(64)
    )


@pytest.mark.parametrize(
    "args",
    [
        ["-K", "0"],
        ["-K", "5000"],
        ["-a", "-0.5"],
        ["--tau0", "0"],
        ["-c", "8.5"],
        ["--tau0", "1e6", "-c", "8", "-K", "64"],
        ["--tokens", "0"],
        ["--max-n", "0"],
    ],
)
def test_cli_bad_options_exit_2_with_one_line(tmp_path, capsys, args):
    assert _run(["synth", "facts", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err


def test_truth_warns_where_a_curve_has_no_power_law_window():
    """gamma = (2a - 1 - m) / m is no power law at a = c = 1; a short max_lag leaves beta none."""
    tr = FactsSource(8, a=1.0, tau0=2.0, c=1.0).truth(max_n=4, max_lag=64)
    assert tr["exponents"]["gamma"] is None and tr["power_law_window"]["gamma"] is None
    assert has_code(tr["warnings"], "synth-facts-no-window")
    assert all(code_of(w) == "synth-facts-no-window" for w in tr["warnings"])
    assert any("gamma" in w for w in tr["warnings"])
