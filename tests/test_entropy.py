"""H_n against closed-form answers, the gamma fit, external losses and result files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.stats.entropy import (
    ABS_TOL,
    entropy,
    fit_gamma,
    load_external_losses,
    parse_window,
    reliability,
)
from scalinglab.warns import code_of, has_code


# ---- sources with known entropy rates ---------------------------------------------------
def markov_chain(V: int, k: int, alpha: float, seed: int):
    """A random order-k transition tensor P[state, next] (state = last k tokens, base V)."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(V, alpha), size=V**k)


def stationary(P: np.ndarray, V: int, k: int) -> np.ndarray:
    S = V**k
    T = np.zeros((S, S))
    states = np.arange(S)
    for b in range(V):
        np.add.at(T, (states, (states * V + b) % S), P[:, b])
    w, vec = np.linalg.eig(T.T)
    pi = np.real(vec[:, np.argmin(np.abs(w - 1))])
    return pi / pi.sum()


def exact_h(P: np.ndarray, V: int, k: int, max_n: int) -> np.ndarray:
    """H_n in nats from the stationary distribution over k-grams (H_n = H_k for n >= k)."""
    pi = stationary(P, V, k)

    def block(m: int) -> float:  # entropy of the stationary m-gram marginal, m <= k
        if m == 0:
            return 0.0
        marg = pi.reshape((V,) * k).sum(axis=tuple(range(m, k)))
        q = marg[marg > 0]
        return float(-(q * np.log(q)).sum())

    h_k = float(-(pi[:, None] * P * np.log(P)).sum())
    return np.array([block(n + 1) - block(n) if n < k else h_k for n in range(max_n + 1)])


def sample_markov(P, V, k, n_tokens, seed, chains=100):
    """Concatenated independent stationary chains, vectorised over chains (steps loop)."""
    rng = np.random.default_rng(seed)
    S = V**k
    pi = stationary(P, V, k)
    length = n_tokens // chains
    state = rng.choice(S, size=chains, p=pi)
    out = np.empty((chains, length + k), dtype=np.uint8)
    for j in range(k):  # the first k tokens are the digits of the initial state
        out[:, j] = (state // V ** (k - 1 - j)) % V
    cdf = np.cumsum(P, axis=1)
    u = rng.random((length, chains))
    for t in range(length):
        nxt = (u[t][:, None] > cdf[state]).sum(axis=1)
        out[:, k + t] = nxt
        state = (state * V + nxt) % S
    return out[:, k:].ravel()


def markov_case(V, k, alpha, seed, max_n, n_tokens=2_000_000):
    """Exact H_n and the engine's result on 2e6 tokens of a random order-k chain."""
    P = markov_chain(V, k, alpha=alpha, seed=seed)
    x = sample_markov(P, V, k, n_tokens, seed=seed + 1)
    return exact_h(P, V, k, max_n), entropy(x, max_n=max_n, progress=False, n_boot=200)


@pytest.fixture(scope="module")
def order2_result():
    return markov_case(V=4, k=2, alpha=0.7, seed=3, max_n=12)


@pytest.fixture(scope="module")
def order2_tokens():
    """The same chain and sample as ``order2_result``, for runs with other settings."""
    P = markov_chain(4, 2, alpha=0.7, seed=3)
    return sample_markov(P, 4, 2, 2_000_000, seed=4)


@pytest.fixture(scope="module")
def order3_result():
    return markov_case(V=3, k=3, alpha=0.5, seed=5, max_n=8)


@pytest.mark.parametrize("which,k", [("order2_result", 2), ("order3_result", 3)])
def test_markov_chain_estimates_match_closed_form(which, k, request):
    truth, r = request.getfixturevalue(which)
    n = np.arange(k + 4)
    # the closed form is not flat below k: a real test of the n < k marginals
    assert truth[0] - truth[k] > 0.05
    assert np.all(np.abs(r.estimate[n] - truth[n]) < 0.01), (r.estimate[n], truth[n])
    assert np.all(np.abs(r.miller_madow[n] - truth[n]) < 0.01)
    # the plug-in is a lower bound up to noise, the held-out model an upper bound
    assert np.all(r.lower[n] <= truth[n] + 3e-3)
    assert np.all(r.upper >= truth - 3 * r.upper_stderr - 1e-3), (r.upper, truth)
    assert np.all(r.upper[n] - truth[n] < 0.03)
    assert r.reliable[n].all()
    assert r.coverage[k + 3] > 0.99


def test_markov_unreliable_once_counts_run_out(order2_result):
    truth, r = order2_result
    # 4^13 possible 13-grams from 2e6 tokens: the plug-in collapses, flags must say so
    assert r.lower[12] < truth[12] - 0.3
    assert not r.reliable[12]
    assert r.coverage[12] < 0.7 and np.all(np.diff(r.coverage) <= 0)
    w = r.reliable_window
    assert w is not None and w[0] == 1 and 5 <= w[1] < 12


def test_iid_source_has_flat_entropy():
    rng = np.random.default_rng(11)
    p = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    truth = float(-(p * np.log(p)).sum())
    x = rng.choice(p.size, size=1_000_000, p=p)
    r = entropy(x, max_n=6, progress=False, n_boot=100)
    assert np.all(np.abs(r.estimate - truth) < 0.01), r.estimate
    assert np.all(r.upper >= truth - 3 * r.upper_stderr - 1e-3)
    assert r.reliable.all()
    # flat H_n: the fitted exponent is zero within its interval
    assert r.gamma.window == (1, 6)
    assert abs(r.gamma.value) < 0.01
    assert r.gamma.ci95[0] <= 0.0 <= r.gamma.ci95[1] or abs(r.gamma.value) < 1e-3


def test_deterministic_cycle_has_zero_entropy_beyond_its_period():
    x = np.tile(np.array([0, 1, 2, 1, 0, 3], dtype=np.uint8), 20_000)
    r = entropy(x, max_n=6, progress=False, n_boot=50)
    # contexts of 2 tokens already determine the next one
    assert np.all(np.abs(r.plugin[2:]) < 1e-12)
    assert r.upper[3] < 0.05
    # known to within the absolute floor, and no power law in zeros: warned, not fitted
    assert r.reliable[2:].all()
    assert not np.isfinite(r.gamma.value)
    assert has_code(r.warnings, "entropy-zero-estimate")
    # not fitted means null, with no window that looks like a measurement
    g = r.to_dict()["gamma"]
    assert g["value"] is None and g["stderr"] is None and g["window"] is None
    assert not has_code(r.warnings, "entropy-few-points")


def test_an_explicit_gamma_window_over_zero_entropies_is_null_with_a_warning():
    x = np.tile(np.array([0, 1, 2, 1, 0, 3], dtype=np.uint8), 20_000)
    r = entropy(x, max_n=6, gamma_window=(1, 5), progress=False, n_boot=50)
    g = r.to_dict()["gamma"]
    assert g["value"] is None and g["window"] is None
    (w,) = [w for w in r.warnings if code_of(w) == "entropy-zero-estimate"]
    assert "the gamma window n = 1..5" in w


def test_shakespeare_plugin_collapse_matches_reference(shakespeare_char):
    # REFERENCE 1.2: plug-in H_9 of tiny-shakespeare chars is 0.37 bits
    r = entropy(shakespeare_char, max_n=10, progress=False, n_boot=50)
    assert r.plugin[9] / math.log(2) == pytest.approx(0.37, abs=0.02)
    assert not r.reliable[9]
    assert r.upper[9] > 1.0  # the truth is about 1 bit/char or more
    assert r.estimate[0] == pytest.approx(r.plugin[0], abs=1e-4)


# ---- gamma ------------------------------------------------------------------------------
def test_fit_gamma_recovers_power_law_and_offset():
    n = np.arange(0, 31)
    h = np.where(n > 0, 2.0 * np.maximum(n, 1) ** -0.325, 5.0)
    g = fit_gamma(n, h, window=(1, 15), n_boot=200)
    assert g.value == pytest.approx(0.325, abs=1e-9)
    assert g.amplitude == pytest.approx(2.0, rel=1e-9)
    assert g.window == (1, 15) and g.n_points == 15
    noisy_sigma = np.full(n.size, 0.01)
    g2 = fit_gamma(n, h, noisy_sigma, window=(1, 15), n_boot=500, seed=1)
    assert g2.stderr > 0 and g2.ci95[0] < 0.325 < g2.ci95[1]
    h_off = 0.8 + 1.5 * np.maximum(n, 1) ** -0.6
    g3 = fit_gamma(n, h_off, window=(1, 30), offset=True, n_boot=50)
    assert g3.value == pytest.approx(0.6, abs=1e-4)
    assert g3.h_inf == pytest.approx(0.8, abs=1e-4)


def test_fit_gamma_errors():
    n = np.arange(10)
    with pytest.raises(UserError):
        fit_gamma(n, np.ones(10), window=(3, 3))
    with pytest.raises(UserError):
        fit_gamma(n, np.ones(10), window=(1, 3), offset=True)
    with pytest.raises(UserError):
        fit_gamma(n, -np.ones(10), window=(1, 5))
    assert parse_window("2,9") == (2, 9)
    for bad in ("3", "a,b", "5,2", "0,4"):
        with pytest.raises(UserError):
            parse_window(bad)


# ---- external losses, API errors, files -------------------------------------------------
def test_load_external_losses_formats(tmp_path):
    a = tmp_path / "losses.json"
    a.write_text(json.dumps({"per_position_loss": [2.0, 1.5, 1.2]}))
    assert load_external_losses(a) == {1: 2.0, 2: 1.5, 3: 1.2}
    b = tmp_path / "sweep.json"
    b.write_text(
        json.dumps(
            {
                "runs": [
                    {"P": 10, "per_position_loss": [2.0, 1.6, 1.4]},
                    {"P": 20, "per_position_loss": [2.1, 1.5]},
                ]
            }
        )
    )
    assert load_external_losses(b) == {1: 2.0, 2: 1.5, 3: 1.4}
    c = tmp_path / "m.json"
    c.write_text(json.dumps({"per_position_loss": [[3.0, 2.0], [2.5, None]]}))
    assert load_external_losses(c) == {1: 2.5, 2: 2.0}
    d = tmp_path / "l.csv"
    d.write_text("n,loss\n1,1.25\n4,0.75\n")
    assert load_external_losses(d) == {1: 1.25, 4: 0.75}
    e = tmp_path / "map.json"
    e.write_text(json.dumps({"1": 1.0, "2": 0.9}))
    assert load_external_losses(e) == {1: 1.0, 2: 0.9}
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(UserError):
            load_external_losses(path)


def test_external_losses_tighten_the_upper_bound():
    V, k = 4, 2
    P = markov_chain(V, k, alpha=0.7, seed=3)
    truth = exact_h(P, V, k, 12)
    x = sample_markov(P, V, k, 200_000, seed=9)
    # a model at truth + 0.002 from n = 4 on (the n-gram model's bound is looser there)
    ext = {n: float(truth[n] + 0.002) for n in range(4, 13)}
    r = entropy(x, max_n=12, entropy_from=ext, progress=False, n_boot=50)
    expect = np.fmin(r.upper_ngram, np.r_[[np.nan] * 4, truth[4:] + 0.002])
    assert np.allclose(r.upper, expect)
    assert np.allclose(r.upper_ngram, np.fmin.accumulate(r.ngram_loss))
    d = r.to_dict()
    assert d["upper_external"][:4] == [None] * 4
    assert d["upper_external"][5] == pytest.approx(truth[5] + 0.002)
    assert "external" in d["method"]


def test_entropy_errors():
    x = np.random.default_rng(0).integers(0, 3, 5000)
    with pytest.raises(UserError):
        entropy(x, max_n=0, progress=False)
    with pytest.raises(UserError):
        entropy(x, max_n=60, progress=False)  # held-out of 50 tokens
    with pytest.raises(UserError, match="NSB"):
        entropy(x, max_n=3, estimator="nsb", progress=False)
    with pytest.raises(UserError):
        entropy(x, max_n=3, estimator="bogus", progress=False)
    with pytest.raises(UserError):
        entropy(x, max_n=3, gamma_window=(2, 9), progress=False)
    with pytest.raises(UserError):
        entropy(x, max_n=3, reliability_tol=2.0, progress=False)


def test_corpus_size_check_is_the_error_entropy_raises():
    from scalinglab.stats.entropy import check_corpus_size

    corpus = sl.corpus.TokenCorpus.from_array(np.arange(5000) % 7)
    check_corpus_size(corpus, 8)
    for max_n in (60, 2000):
        with pytest.raises(UserError) as want:
            entropy(corpus, max_n=max_n, progress=False)
        with pytest.raises(UserError) as got:
            check_corpus_size(corpus, max_n)
        assert str(got.value) == str(want.value)


def test_subsampling_by_documents_warns():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, 40_000)
    corpus = sl.corpus.TokenCorpus.from_array(x, doc_offsets=range(0, 40_000, 400))
    r = entropy(corpus, max_n=3, max_tokens=10_000, progress=False, n_boot=20)
    assert 9_000 <= r.train_tokens <= 10_000
    assert has_code(r.warnings, "entropy-subsampled")


def test_estimate_stderr_matches_spread_over_samples():
    # iid source: the plug-in's standard error is sqrt(Var(-log p(x)) / N)
    p = np.array([0.5, 0.25, 0.15, 0.1])
    var = float((p * np.log(p) ** 2).sum() - (p * np.log(p)).sum() ** 2)
    vals, ses = [], []
    for s in range(12):
        x = np.random.default_rng(50 + s).choice(4, size=50_000, p=p)
        r = entropy(x, max_n=1, progress=False, n_boot=10)
        vals.append(r.estimate[0])
        ses.append(r.estimate_stderr[0])
    assert np.mean(ses) == pytest.approx(math.sqrt(var / r.train_tokens), rel=0.02)
    # the spread of 12 independent estimates agrees with it (sd of an sd: ~21%)
    assert np.std(vals, ddof=1) == pytest.approx(np.mean(ses), rel=0.5)


def test_block_entropy_and_progress_path():
    rng = np.random.default_rng(4)
    p = np.array([0.6, 0.3, 0.1])
    x = rng.choice(3, size=200_000, p=p)
    r = entropy(x, max_n=3, progress=True, n_boot=20)
    h0 = float(-(p * np.log(p)).sum())
    # iid: the block entropy of m-grams is m H_0
    assert np.allclose(r.block_entropy[1:5], h0 * np.arange(1, 5), atol=0.01)
    assert r.block_entropy[0] == 0.0


def test_save_writes_json_and_png(tmp_path, order3_result):
    _, r = order3_result
    path = r.save(tmp_path / "out")
    doc = json.loads(path.read_text())
    for key in (
        "n",
        "plugin",
        "estimate",
        "estimator",
        "upper",
        "lower",
        "coverage",
        "reliable",
        "gamma",
        "warnings",
    ):
        assert key in doc
    assert set(doc["gamma"]) >= {"value", "stderr", "ci95", "window"}
    assert doc["n"] == list(range(9)) and doc["estimator"] == "grassberger"
    assert len(doc["reliable"]) == 9 and all(isinstance(b, bool) for b in doc["reliable"])
    png = (tmp_path / "out" / "entropy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    text = r.summary()
    assert "gamma" in text and "reliable window" in text


# ---- reliability over nested prefixes ---------------------------------------------------
def test_reliability_needs_every_step_between_prefixes():
    tol = 0.05
    # columns: converged at both steps | only P/2 -> P | neither | bounds disagree
    rows = np.array(
        [
            [1.00, 1.40, 2.00, 1.00],  # P/4
            [1.01, 1.10, 1.60, 1.00],  # P/2
            [1.02, 1.11, 1.20, 1.00],  # P
        ]
    )
    upper = np.array([1.05, 1.12, 1.22, 1.30])
    lower = np.array([1.00, 1.10, 1.18, 1.00])
    agree, conv, conv_all, rel = reliability(rows, upper, lower, tol)
    assert agree.tolist() == [True, True, True, False]
    assert conv.tolist() == [True, True, False, True]
    assert conv_all.tolist() == [True, False, False, True]
    assert rel.tolist() == [True, False, False, False]
    # the absolute floor lets H_n ~ 0 converge
    near0 = np.array([[0.004], [0.001], [0.0]])
    assert reliability(near0, np.array([0.003]), np.array([0.0]), tol)[3].tolist() == [True]


def test_reliable_flags_follow_the_recorded_rule(order2_result):
    _, r = order2_result
    est = r.prefix_estimates
    tol = r.reliability_tol

    def step(big, small):
        return np.abs(big - small) <= np.maximum(tol * np.abs(big), ABS_TOL)

    assert len(r.prefix_tokens) == 3 and r.prefix_tokens[-1] == r.train_tokens
    assert r.prefix_tokens[:2] == [r.train_tokens // 4, r.train_tokens // 2]
    agree = r.upper - r.lower <= np.maximum(tol * r.upper, ABS_TOL)
    expect = agree & step(est[2], est[1]) & step(est[1], est[0])
    np.testing.assert_array_equal(r.reliable, expect)
    np.testing.assert_array_equal(r.converged, step(est[2], est[1]))
    d = r.to_dict()
    assert "P/4 -> P/2 -> P" in d["reliability_rule"]["rule"]
    assert d["converged_prefixes"] == (step(est[2], est[1]) & step(est[1], est[0])).tolist()


# ---- gamma windows ----------------------------------------------------------------------
def test_gamma_window_override_is_the_published_log_log_fit(order2_tokens):
    r = entropy(order2_tokens, max_n=12, gamma_window="1,12", progress=False, n_boot=100)
    assert r.gamma.window == (1, 12) and r.gamma.n_points == 12
    assert not r.reliable[12]
    assert has_code(r.warnings, "entropy-window-unreliable")
    # independent reference: ordinary least squares of log H_n on log n
    n = np.arange(1, 13)
    slope, icpt = np.polyfit(np.log(n), np.log(r.estimate[1:13]), 1)
    assert r.gamma.value == pytest.approx(-slope, rel=1e-10)
    assert r.gamma.amplitude == pytest.approx(math.exp(icpt), rel=1e-10)
    assert r.gamma.ci95[0] <= r.gamma.value <= r.gamma.ci95[1]


def test_offset_fit_finds_the_entropy_rate_of_a_markov_chain(order2_tokens):
    """For an order-2 chain H_n = H_2 for n >= 2: H_inf of H_inf + A n^-gamma is H_2."""
    P = markov_chain(4, 2, alpha=0.7, seed=3)
    truth = exact_h(P, 4, 2, 6)
    r = entropy(
        order2_tokens, max_n=6, gamma_window=(1, 6), fit_offset=True, progress=False, n_boot=40
    )
    assert r.reliable[1:7].all()
    go = r.gamma_offset
    assert go is not None and go.window == (1, 6)
    assert go.h_inf == pytest.approx(truth[2], abs=0.01)
    d = r.to_dict()["gamma_offset"]
    assert d["h_inf"]["value"] == pytest.approx(go.h_inf) and d["h_inf"]["stderr"] is not None


# ---- malformed inputs -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("a.json", '{"n": [1, 2], "loss": [1.0]}', "same length"),
        ("b.json", '{"per_position_loss": "abc"}', "numbers"),
        ("c.json", '{"n": [1, "x"], "loss": [1, 2]}', "integers"),
        ("d.json", '{"n": [1.5, 2], "loss": [1, 2]}', "integers"),
        ("e.json", '{"runs": [{"per_position_loss": "zz"}]}', "no run"),
        ("f.json", '{"per_position_loss": [1, "a"]}', "numbers"),
        ("g.json", '{"per_position_loss": [[[1.0]]]}', "list of lists"),
        ("h.json", '{"1": "low"}', "numbers"),
        ("i.json", '{"one": 1.0}', "expected"),
        ("j.json", '"hello"', "expected a JSON object"),
        ("k.json", '{"1": null}', "no finite"),
        ("l.json", '{"n": [1, -2], "loss": [1, 2]}', "non-negative"),
        ("m.csv", "n,loss\n1,x\n", "numbers"),
        ("n.csv", "n,loss\n1.5,2\n", "integers"),
        ("o.json", "\udcff", "not valid JSON"),
    ],
)
def test_malformed_external_losses_are_user_errors(tmp_path, name, text, needle):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(UserError, match=needle) as exc:
        load_external_losses(path)
    assert name in str(exc.value)


def test_external_loss_shapes_that_are_accepted(tmp_path):
    a = tmp_path / "ragged.json"  # models trained on different context lengths
    a.write_text(json.dumps({"per_position_loss": [[3.0, 2.0, 1.5], [2.5]]}))
    assert load_external_losses(a) == {1: 2.5, 2: 2.0, 3: 1.5}
    b = tmp_path / "twice.csv"  # two models' losses at the same n: the lower bound counts
    b.write_text("n,loss\n1,2.0\n1,1.8\n2,1.7\n")
    assert load_external_losses(b) == {1: 1.8, 2: 1.7}
    c = tmp_path / "scalar.json"
    c.write_text(json.dumps({"n": 3, "loss": 1.2}))
    assert load_external_losses(c) == {3: 1.2}
    with pytest.raises(UserError, match="integers"):
        entropy(np.arange(4000) % 5, max_n=2, entropy_from={1.5: 1.0}, progress=False)


def test_bad_token_arrays_are_user_errors():
    for bad in (np.zeros(0), np.array([1.0, np.nan, 2.0]), np.array([[1, 2], [3, 4]])):
        with pytest.raises(UserError, match="integer array"):
            entropy(bad, max_n=2, progress=False)
    with pytest.raises(UserError, match="non-negative"):
        entropy(np.array([0, 1, -1] * 100), max_n=2, progress=False)
    with pytest.raises(UserError, match="too few"):
        entropy(np.zeros(0, dtype=np.int64), max_n=2, progress=False)


# ---- the ``stats`` verb -----------------------------------------------------------------
def run_cli(capsys, *args: str) -> tuple[int, str]:
    from scalinglab.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), capsys.readouterr().err


def test_stats_cli_only_entropy(capsys, shakespeare_txt, tmp_path):
    losses = tmp_path / "losses.csv"
    losses.write_text("n,loss\n1,2.40\n2,1.95\n")
    out = tmp_path / "st"
    code, err = run_cli(
        capsys, "stats", str(shakespeare_txt), "--tokenizer", "char", "--only", "entropy",
        "--max-n", "4", "--boot", "20", "--entropy-from", str(losses), "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["entropy.json", "entropy.png"]
    d = json.loads((out / "entropy.json").read_text())
    keys = {"n", "plugin", "estimate", "estimator", "upper", "lower", "coverage", "reliable"}
    assert keys | {"gamma", "warnings"} <= set(d)
    assert d["n"] == [0, 1, 2, 3, 4] and d["units"] == "nats"
    assert d["upper_external"][1:3] == [2.40, 1.95]
    assert d["upper"][2] <= 1.95
    # REFERENCE 1.2 figures for tiny-shakespeare: H_0 of 65 characters, under log 65
    assert 3.0 < d["plugin"][0] < math.log(65)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-n", "0"], "max_n"),
        (["--max-n", "900000"], "too few"),
        (["--gamma-window", "3"], "window"),
        (["--gamma-window", "1,40"], "beyond max_n"),
        (["--boot", "1"], "n_boot"),
        (["--entropy-from", "nothere.json"], "not found"),
        (["--entropy-from", "BAD"], "same length"),
    ],
)
def test_stats_cli_entropy_errors_are_one_line(capsys, shakespeare_txt, tmp_path, args, needle):
    bad = tmp_path / "bad.json"
    bad.write_text('{"n": [1, 2], "loss": [1.0]}')
    args = [str(bad) if a == "BAD" else a for a in args]
    out = tmp_path / "o"
    code, err = run_cli(
        capsys, "stats", str(shakespeare_txt), "--tokenizer", "char", "--only", "entropy",
        *args, "--out", str(out),
    )  # fmt: skip
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert not (out / "entropy.json").exists()


@pytest.mark.parametrize("args", [["--max-n", "0"], ["--gamma-window", "1,40"]])
def test_stats_cli_checks_entropy_options_before_correlations(
    capsys, shakespeare_txt, tmp_path, args
):
    out = tmp_path / "o"
    code, err = run_cli(
        capsys, "stats", str(shakespeare_txt), "--tokenizer", "char", "--lags", "1,2",
        *args, "--out", str(out),
    )  # fmt: skip
    assert code == 2 and err.strip().startswith("error:")
    assert not out.exists() or not any(out.iterdir())
