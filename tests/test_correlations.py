"""The correlation engine against exact answers: dense reference, Markov chains, iid tokens."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from scipy.sparse import coo_matrix

from scalinglab._io import to_json_text
from scalinglab.corpus import TokenCorpus, write_corpus
from scalinglab.errors import UserError
from scalinglab.stats import _corr_count as cc
from scalinglab.stats.correlations import correlations, default_lags, parse_lags
from scalinglab.warns import code_of, has_code, text_of

# The package exports the function under the module's name; fetch the module itself.
corr_mod = importlib.import_module("scalinglab.stats.correlations")

SPEC_KEYS = {
    "lags",
    "operator_norm",
    "frobenius",
    "noise_floor",
    "frobenius_floor",
    "resolvable",
    "operator_norm_stderr",
    "beta",
    "beta_frobenius",
    "warnings",
}


# ----------------------------------------------------------------------------------------
# Sources with known correlations
def stationary(t: np.ndarray) -> np.ndarray:
    w, vec = np.linalg.eig(t.T)
    pi = np.real(vec[:, np.argmin(np.abs(w - 1))])
    return pi / pi.sum()


def sample_markov(t: np.ndarray, segments: int, length: int, seed: int) -> np.ndarray:
    """Independent stationary segments of a first-order chain, concatenated.

    Vectorised over segments; the loop runs over time steps of one segment.
    """
    rng = np.random.default_rng(seed)
    v = t.shape[0]
    cdf = np.cumsum(t, axis=1)
    cdf[:, -1] = 1.0
    x = np.empty((segments, length), dtype=np.int64)
    x[:, 0] = rng.choice(v, size=segments, p=stationary(t))
    u = rng.random((segments, length))
    for i in range(1, length):
        x[:, i] = (u[:, i, None] > cdf[x[:, i - 1]]).sum(axis=1)
    return x.ravel()


def exact_norms(t: np.ndarray, lags, segments: int, length: int):
    """Norms of E[C_hat(n)] for the concatenated stream.

    Within a segment C(n) = diag(pi) (T^n - 1 pi^T); the (segments - 1) n pairs
    that straddle a boundary are independent, so E[C_hat(n)] = (1 - B/M) C(n).
    """
    pi = stationary(t)
    n_tok = segments * length
    op, fro = [], []
    for n in lags:
        c = pi[:, None] * (np.linalg.matrix_power(t, n) - pi[None, :])
        scale = 1 - (segments - 1) * n / (n_tok - n)
        op.append(scale * np.linalg.norm(c, 2))
        fro.append(scale * np.linalg.norm(c))
    return np.array(op), np.array(fro)


CHAIN = np.array(
    [
        [0.70, 0.10, 0.05, 0.10, 0.05],
        [0.05, 0.60, 0.25, 0.05, 0.05],
        [0.10, 0.05, 0.50, 0.05, 0.30],
        [0.30, 0.05, 0.05, 0.55, 0.05],
        [0.05, 0.30, 0.05, 0.05, 0.55],
    ]
)


@pytest.fixture(scope="module")
def markov_stream():
    segments, length = 20, 20_000
    return sample_markov(CHAIN, segments, length, seed=11), segments, length


# ----------------------------------------------------------------------------------------
def dense_reference(x: np.ndarray, n: int, v: int) -> np.ndarray:
    """C(n) of a stream, dense. Duplicates are summed by SciPy's COO -> dense
    conversion: a counting route the engine does not use."""
    left, right = x[:-n], x[n:]
    m = left.size
    j = coo_matrix((np.ones(m), (left, right)), shape=(v, v)).toarray()
    pl, pr = np.bincount(left, minlength=v), np.bincount(right, minlength=v)
    return j / m - np.outer(pl, pr) / (m * m)


def test_agrees_with_slow_dense_reference_on_tiny_shakespeare(shakespeare_char):
    x = np.asarray(shakespeare_char.tokens).astype(np.int64)
    v = shakespeare_char.vocab_size
    lags = np.arange(1, 257)
    res = correlations(shakespeare_char, lags.tolist(), n_shuffles=0, n_boot=0, progress=False)
    for i, n in enumerate(lags):
        c = dense_reference(x, int(n), v)
        assert res.pairs[i] == x.size - n
        assert res.operator_norm[i] == pytest.approx(np.linalg.norm(c, 2), rel=1e-9)
        assert res.frobenius[i] == pytest.approx(np.linalg.norm(c), rel=1e-9)


def test_block_counting_path_and_top_k_agree_with_the_dense_reference(shakespeare_char):
    """With the bootstrap on, pairs are counted on (pair, block) keys in small chunks;
    the norms and the top-k singular values must still be those of the dense C(n)."""
    x = np.asarray(shakespeare_char.tokens).astype(np.int64)
    v = shakespeare_char.vocab_size
    lags = [1, 2, 7, 64, 256]
    res = correlations(
        shakespeare_char,
        lags,
        n_shuffles=0,
        n_boot=20,
        n_blocks=37,
        top_k=4,
        chunk_tokens=100_003,
        progress=False,
    )
    assert res.settings["n_blocks"] == 37
    for i, n in enumerate(lags):
        c = dense_reference(x, n, v)
        s = np.linalg.svd(c, compute_uv=False)
        np.testing.assert_allclose(res.top_singular_values[i], s[:4], rtol=1e-9)
        assert res.operator_norm[i] == pytest.approx(s[0], rel=1e-9)
        assert res.second_singular_value[i] == pytest.approx(s[1], rel=1e-9)
        assert res.frobenius[i] == pytest.approx(np.linalg.norm(c), rel=1e-9)


def test_markov_chain_norms_match_the_exact_covariance(markov_stream):
    x, segments, length = markov_stream
    lags = list(range(1, 9))
    res = correlations(x, lags, n_shuffles=2, n_boot=100, progress=False)
    op, fro = exact_norms(CHAIN, lags, segments, length)
    tol = 3 / np.sqrt(x.size)
    np.testing.assert_array_less(np.abs(res.operator_norm - op), tol)
    np.testing.assert_array_less(np.abs(res.frobenius - fro), tol)
    assert res.resolvable.all()
    # The bootstrap errors are of the order of the deviations, not orders away.
    assert np.all(res.operator_norm_stderr > 0.1 / np.sqrt(x.size))
    assert np.all(res.operator_norm_stderr < 3 / np.sqrt(x.size))


def test_bootstrap_stderr_matches_the_spread_of_independent_samples():
    reps, segments, length = 24, 10, 8_000
    lags = [1, 2, 4]
    xs = sample_markov(CHAIN, reps * segments, length, seed=5).reshape(reps, -1)
    ops, ses, fros, fses = [], [], [], []
    for x in xs:
        r = correlations(x, lags, n_shuffles=0, n_boot=300, progress=False, seed=1)
        ops.append(r.operator_norm)
        ses.append(r.operator_norm_stderr)
        fros.append(r.frobenius)
        fses.append(r.frobenius_stderr)
    true_sd = np.std(ops, axis=0, ddof=1)
    mean_se = np.mean(ses, axis=0)
    ratio = mean_se / true_sd
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    ratio_f = np.mean(fses, axis=0) / np.std(fros, axis=0, ddof=1)
    assert np.all((ratio_f > 0.6) & (ratio_f < 1.6)), ratio_f


def test_iid_tokens_resolve_nothing_and_beta_is_null():
    rng = np.random.default_rng(7)
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05])
    x = rng.choice(p.size, size=100_000, p=p)
    res = correlations(x, n_shuffles=3, n_boot=50, progress=False)
    assert not res.resolvable.any()
    assert res.beta.value is None and res.beta_frobenius.value is None
    assert has_code(res.warnings, "corr-beta-undefined")
    assert "resolvable lags: none" in res.summary()
    d = json.loads(to_json_text(res.to_dict()))
    assert d["beta"]["value"] is None and d["beta"]["stderr"] is None
    # The data are pure noise: their norms sit on the floors.
    m = res.pairs.astype(float)
    s2 = (p**2).sum()
    analytic = (1 - s2) / np.sqrt(m)
    np.testing.assert_allclose(res.frobenius_floor, analytic, rtol=0.01)
    # With V = 8, ||C||_F^2 has about (V - 1)^2 = 49 degrees of freedom: single draws
    # scatter by ~10%, their mean over lags and shuffles by ~1.5%.
    assert np.mean(res.frobenius_floor_shuffled / analytic) == pytest.approx(1.0, abs=0.04)
    assert np.mean(res.frobenius / analytic) == pytest.approx(1.0, abs=0.06)
    assert np.mean(res.operator_norm / res.noise_floor) == pytest.approx(1.0, abs=0.08)
    assert np.all(res.operator_norm < 1.6 * res.noise_floor)


def test_beta_matches_the_fit_of_the_exact_norms(markov_stream):
    x, segments, length = markov_stream
    lags = list(range(1, 31))
    res = correlations(x, lags, n_shuffles=2, n_boot=200, progress=False)
    b = res.beta
    assert b.value is not None and b.window is not None and b.window[0] == 1
    # The automatic window ends at the last resolvable lag before the floor.
    hi = list(res.lags).index(b.window[1])
    assert res.resolvable[: hi + 1].all()
    assert hi == len(lags) - 1 or not res.resolvable[hi + 1]
    assert b.ci95[0] < b.value < b.ci95[1]
    inside = (res.lags >= b.window[0]) & (res.lags <= b.window[1])
    op, _ = exact_norms(CHAIN, res.lags[inside], segments, length)
    t = np.log(res.lags[inside])
    # The weights of the fit: errors of the noise-debiased norms relative to the
    # fitted curve, scatter included.
    y, f = res.operator_norm[inside], res.noise_floor[inside]
    yd = np.sqrt(y**2 - f**2)
    rel = res.operator_norm_stderr[inside] * (y / yd) / b(res.lags[inside])
    w = 1 / (rel**2 + b.scatter**2)
    slope = np.polyfit(t, np.log(op), 1, w=np.sqrt(w))[0]
    # The exact curve has the same misfit: estimate and truth differ by sampling only.
    assert abs(b.value - (-slope)) < 3 * b.stderr_sampling
    assert b.stderr >= b.stderr_sampling


def test_bootstrap_replicates_are_the_exact_linearisation():
    """u^T C* v and <C, C*>/||C||_F from block sums equal the dense resampled matrix."""
    rng = np.random.default_rng(9)
    v, n, lag, k = 6, 3000, 2, 5
    x = sample_markov(CHAIN[:5, :5], 3, 1000, seed=3)
    x[rng.random(n) < 0.1] = 5
    layout = cc.Layout(n, v)
    plan = cc.CountPlan(layout, layout.chunks(700), layout.block_bounds(k))
    src = cc.ArraySource(x)
    lc = plan.count(src, lag)
    from scalinglab.stats._corr_linalg import spectrum

    sp = spectrum(lc.table, k=2)
    weights = rng.multinomial(k, np.full(k, 1 / k), size=6).astype(float)
    op_r, fro_r = corr_mod._bootstrap_replicates(plan, src, lag, lc, sp, weights)
    bounds = plan.block_bounds
    jb = []
    for b in range(k):
        pos = np.arange(bounds[b], min(bounds[b + 1], n - lag))
        j = np.zeros((v, v))
        np.add.at(j, (x[pos], x[pos + lag]), 1.0)
        jb.append(j)
    jb = np.array(jb)
    c_full = jb.sum(0) / jb.sum() - np.outer(jb.sum((0, 2)), jb.sum((0, 1))) / jb.sum() ** 2
    assert sp.operator_norm == pytest.approx(np.linalg.norm(c_full, 2), rel=1e-12)
    for r, w in enumerate(weights):
        js = np.tensordot(w, jb, axes=1)
        ms = js.sum()
        cs = js / ms - np.outer(js.sum(1), js.sum(0)) / ms**2
        assert op_r[r] == pytest.approx(sp.u @ cs @ sp.v, rel=1e-10)
        assert fro_r[r] == pytest.approx((c_full * cs).sum() / np.linalg.norm(c_full), rel=1e-10)


def test_streamed_memmap_equals_in_memory(tmp_path, monkeypatch, markov_stream):
    x = markov_stream[0][:60_000]
    disk = write_corpus(tmp_path / "c", x, vocab_size=5)
    lags = [1, 2, 5, 40]
    kw = {"n_shuffles": 2, "n_boot": 40, "progress": False, "n_blocks": 12}
    mem = correlations(TokenCorpus.from_array(x, vocab_size=5), lags, **kw)
    monkeypatch.setattr(corr_mod, "_MATERIALIZE_BYTES", 0)
    monkeypatch.setattr(cc.CountPlan, "keep_triples", 10)
    streamed = correlations(disk, lags, chunk_tokens=4096, **kw)
    for key in ("operator_norm", "frobenius", "operator_norm_stderr", "frobenius_stderr"):
        np.testing.assert_allclose(getattr(streamed, key), getattr(mem, key), rtol=1e-10)
    # The surrogate floors use the same permutation whether kept or regenerated.
    np.testing.assert_allclose(streamed.noise_floor, mem.noise_floor, rtol=1e-8)


def test_within_documents_and_subsampling(markov_stream):
    x = markov_stream[0][:50_000].copy()
    eod = 5
    offsets = np.arange(0, x.size, 500)
    x[offsets[1:] - 1] = eod
    corpus = TokenCorpus.from_array(x, vocab_size=6, doc_offsets=offsets, eod_token=eod)
    lags = [1, 3, 9]
    res = correlations(corpus, lags, within_documents=True, n_shuffles=1, n_boot=20, progress=False)
    # Every document but the last ends with a separator, which pairs do not use.
    assert res.pairs.tolist() == [(len(offsets) - 1) * (499 - n) + 500 - n for n in lags]
    assert "groups of whole documents" in res.method["bootstrap"]
    kw = {"n_shuffles": 4, "n_boot": 20, "progress": False}
    sub = correlations(x, lags, max_pairs=10_000, **kw)
    sd = np.sqrt(10_000)
    assert np.all(np.abs(sub.pairs - 10_000) < 5 * sd)
    assert has_code(sub.warnings, "corr-subsampled")
    full = correlations(x, lags, **kw)
    # The floors follow the number of pairs counted (1 / sqrt(M)); with V = 5 a single
    # shuffled operator norm scatters by ~20%, so compare the mean over lags.
    ratio = sub.noise_floor / full.noise_floor / np.sqrt(full.pairs / sub.pairs)
    assert ratio.mean() == pytest.approx(1.0, abs=0.2)
    np.testing.assert_allclose(
        sub.frobenius_floor * np.sqrt(sub.pairs),
        full.frobenius_floor * np.sqrt(full.pairs),
        rtol=0.02,
    )
    np.testing.assert_allclose(sub.operator_norm, full.operator_norm, atol=4 / np.sqrt(1e4))


def test_save_writes_the_spec_keys_and_a_figure(tmp_path, markov_stream):
    res = correlations(markov_stream[0][:40_000], n_shuffles=1, n_boot=30, top_k=3, progress=False)
    paths = res.save(tmp_path)
    assert [p.name for p in paths] == ["correlations.json", "correlations.png"]
    d = json.loads((tmp_path / "correlations.json").read_text())
    assert SPEC_KEYS <= set(d)
    assert set(d["beta"]) >= {"value", "stderr", "ci95", "window"}
    assert set(d["beta_frobenius"]) >= {"value", "stderr", "ci95", "window"}
    assert len(d["operator_norm"]) == len(d["lags"]) == len(d["noise_floor"])
    assert all(isinstance(v, int) for v in d["lags"])
    assert np.asarray(d["top_singular_values"]).shape == (len(d["lags"]), 3)
    assert d["resolvable_rule"].startswith("operator_norm > 2 x noise_floor")
    assert (tmp_path / "correlations.png").read_bytes()[:4] == b"\x89PNG"
    assert "beta" in res.summary()


def test_beta_window_override_and_first_lag(markov_stream):
    x = markov_stream[0][:100_000]
    lags = list(range(1, 13))
    res = correlations(x, lags, beta_window=(2, 6), n_shuffles=1, n_boot=50, progress=False)
    assert res.beta.window == (2, 6) and res.beta.n_points == 5
    assert res.beta_frobenius.window == (2, 6)
    res = correlations(x, lags, first_lag=3, n_shuffles=1, n_boot=50, progress=False)
    assert res.beta.window[0] == 3
    with pytest.raises(UserError, match="holds 2"):
        correlations(x, lags, beta_window=(5, 6), n_shuffles=0, n_boot=0, progress=False)


def test_default_lags():
    lags = default_lags(2_000_000)
    assert lags[:16] == list(range(1, 17)) and lags[-1] == 1024
    per_decade = np.sum((np.array(lags) > 100) & (np.array(lags) <= 1000))
    assert 7 <= per_decade <= 9
    assert default_lags(50_000)[-1] == 50
    assert default_lags(10) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "lags",
    [[0, 1], [1, 100], [1.5], ["a"], "1,x", [-3]],
)
def test_bad_lags_are_user_errors(lags):
    with pytest.raises(UserError):
        correlations(np.arange(100) % 7, lags, n_shuffles=0, n_boot=0, progress=False)


def test_bad_input_is_a_user_error():
    with pytest.raises(UserError):
        correlations(np.array([0.5, np.nan, 1.0]), [1], progress=False)
    with pytest.raises(UserError):
        correlations(np.array([1, 2]), [1], progress=False)
    with pytest.raises(UserError):
        correlations(np.arange(100) % 3, [1], floor_factor=0, progress=False)
    assert parse_lags("1-4,8") == [1, 2, 3, 4, 8]
    assert parse_lags([2, 4.0]) == [2, 4]


def test_vocabulary_of_2_to_the_17_runs_sparse():
    rng = np.random.default_rng(12)
    v = 1 << 17
    x = (rng.zipf(1.2, 100_000) - 1) % v
    x[:10] = v - 1
    corpus = TokenCorpus.from_array(x, vocab_size=v)
    assert corpus.tokens.dtype == np.uint32
    res = correlations(corpus, [1, 2], n_shuffles=1, n_boot=20, n_blocks=10, progress=False)
    assert "ARPACK" in res.method["operator_norm"]
    assert not res.resolvable.any() and res.beta.value is None
    np.testing.assert_allclose(res.operator_norm, res.noise_floor, rtol=0.3)


def test_a_constant_stream_has_no_correlation():
    res = correlations(
        np.zeros(500, dtype=np.int64), [1, 2, 5], n_shuffles=1, n_boot=20, progress=False
    )
    assert np.all(res.operator_norm == 0) and np.all(res.frobenius == 0)
    assert res.beta.value is None and not res.resolvable.any()


def test_floor_factor_decides_resolvable_and_is_recorded(markov_stream):
    x = markov_stream[0][:100_000]
    lags = [1, 2, 4, 8, 16, 32]
    kw = {"n_shuffles": 2, "n_boot": 0, "progress": False}
    for factor in (2.0, 40.0):
        res = correlations(x, lags, floor_factor=factor, **kw)
        np.testing.assert_array_equal(res.resolvable, res.operator_norm > factor * res.noise_floor)
        np.testing.assert_array_equal(
            res.resolvable_frobenius, res.frobenius > factor * res.frobenius_floor
        )
        assert res.resolvable_rule.startswith(f"operator_norm > {factor:g} x noise_floor")
        assert res.to_dict()["floor_factor"] == factor
    # The floor itself does not depend on the factor; the factor 40 cuts the long lags.
    low = correlations(x, lags, floor_factor=2.0, **kw)
    assert low.resolvable.sum() > res.resolvable.sum() >= 1
    np.testing.assert_allclose(low.noise_floor, res.noise_floor, rtol=1e-12)


def test_lags_without_pairs_are_null_with_a_warning():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, 20_000)
    offsets = np.arange(0, x.size, 50)
    x[offsets[1:] - 1] = 5
    corpus = TokenCorpus.from_array(x, vocab_size=6, doc_offsets=offsets, eod_token=5)
    res = correlations(
        corpus, [1, 2, 60, 100], within_documents=True, n_shuffles=1, n_boot=20, progress=False
    )
    assert res.pairs.tolist()[2:] == [0, 0]
    d = json.loads(to_json_text(res.to_dict()))
    for key in ("operator_norm", "frobenius", "noise_floor", "frobenius_floor"):
        assert d[key][2:] == [None, None], key
        assert all(v is not None for v in d[key][:2]), key
    assert d["resolvable"][2:] == [False, False]
    (w,) = [w for w in res.warnings if code_of(w) == "corr-no-pairs"]
    assert "lags [60, 100]" in w


def test_parse_lags_rejects_reversed_and_huge_ranges():
    assert parse_lags("3-3,7") == [3, 7]
    with pytest.raises(UserError, match="low-high"):
        parse_lags("1,9-4")
    with pytest.raises(UserError, match="more than"):
        parse_lags("1-100000000")
    with pytest.raises(UserError, match="no lags"):
        correlations(np.arange(100) % 7, ",", progress=False)


def _broken_norms():
    lags = np.unique(np.round(np.geomspace(1, 400, 30))).astype(np.int64)
    y = np.where(lags <= 20, 0.02 * lags**-0.4, 0.02 * 20**-0.4 * (lags / 20.0) ** -1.6)
    rng = np.random.default_rng(8)
    y = y * np.exp(0.01 * rng.standard_normal(lags.size))
    return lags, y, 0.01 * y


def test_a_broken_power_law_is_warned_about_with_both_sides():
    lags, y, se = _broken_norms()
    ok = np.ones(lags.size, dtype=bool)
    warnings: list[str] = []
    fit = corr_mod._beta_fit(
        "beta", lags, y, se, None, ok, warnings, "never", window=None, first_lag=1,
        n_boot=300, seed=0,
    )  # fmt: skip
    assert fit.window == (1, 400) and fit.broken is not None
    b = fit.broken
    assert 14 <= b.at <= 29
    assert b.left.value == pytest.approx(0.4, abs=0.05)
    assert b.right.value == pytest.approx(1.6, abs=0.1)
    assert len(warnings) == 1 and code_of(warnings[0]) == "corr-broken-power-law"
    assert text_of(warnings[0]).startswith("beta: ") and "--beta-window" in warnings[0]
    d = fit.to_dict()
    assert d["break"]["left"]["window"][0] == 1 and d["break"]["right"]["window"][1] == 400


def test_a_beta_window_over_the_floor_warns_and_an_empty_first_lag_is_null():
    lags, y, se = _broken_norms()
    ok = lags <= 30
    warnings: list[str] = []
    kw = {"first_lag": 1, "n_boot": 100, "seed": 0}
    fit = corr_mod._beta_fit("beta", lags, y, se, None, ok, warnings, "f", window=(1, 60), **kw)
    # The window reports the first and last lags used.
    assert fit.value is not None and fit.window == (1, lags[lags <= 60].max())
    assert has_code(warnings, "corr-window-at-floor")
    warnings.clear()
    ok[0] = False  # lag 1 at the floor: the automatic window has no start
    fit = corr_mod._beta_fit("beta", lags, y, se, None, ok, warnings, "f", window=None, **kw)
    assert fit.value is None and fit.to_dict()["window"] is None
    assert [code_of(w) for w in warnings] == ["corr-beta-undefined"]
    assert text_of(warnings[0]) == (
        "beta is undefined: the first lag of the window, 1, is not resolvable"
    )
    warnings.clear()
    fit = corr_mod._beta_fit("beta", lags, y, se, None, ok, warnings, "f", window=None,
                             first_lag=500, n_boot=10, seed=0)  # fmt: skip
    assert fit.value is None
    assert [code_of(w) for w in warnings] == ["corr-beta-undefined"]
    assert text_of(warnings[0]) == "beta is undefined: no lag >= first_lag = 500 was measured"


# ----------------------------------------------------------------------------------------
# The ``stats`` verb
def run_cli(capsys, *args: str) -> tuple[int, str]:
    """Run ``scalinglab ARGS`` in this process; its exit code and stderr."""
    from scalinglab.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.fixture(scope="module")
def small_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "t.txt"
    rng = np.random.default_rng(1)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat", ".\n", "dog ", "ran "]
    path.write_text("".join(rng.choice(words, 12_000)))
    return path


def test_stats_cli_writes_correlations_and_only_skips_entropy(capsys, small_text, tmp_path):
    out = tmp_path / "st"
    code, err = run_cli(
        capsys, "stats", str(small_text), "--tokenizer", "char", "--only", "correlations",
        "--lags", "1-6,9", "--boot", "30", "--floor-factor", "3", "--top-k", "2",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["correlations.json", "correlations.png"]
    d = json.loads((out / "correlations.json").read_text())
    assert SPEC_KEYS <= set(d)
    assert d["lags"] == [1, 2, 3, 4, 5, 6, 9]
    assert d["resolvable_rule"].startswith("operator_norm > 3 x noise_floor")
    assert d["settings"]["n_boot"] == 30 and np.asarray(d["top_singular_values"]).shape == (7, 2)
    # The norms are those of the text's characters (dense reference).
    from scalinglab.corpus import resolve

    c = resolve(small_text, "char")
    x = np.asarray(c.tokens).astype(np.int64)
    for i, n in enumerate(d["lags"]):
        ref = dense_reference(x, n, c.vocab_size)
        assert d["operator_norm"][i] == pytest.approx(np.linalg.norm(ref, 2), rel=1e-9)
    both = tmp_path / "both"
    code, err = run_cli(
        capsys, "stats", str(small_text), "--tokenizer", "char", "--lags", "1,2,3",
        "--boot", "20", "--max-n", "3", "--out", str(both),
    )  # fmt: skip
    assert code == 0, err
    names = {"correlations.json", "correlations.png", "entropy.json", "entropy.png"}
    assert {p.name for p in both.iterdir()} == names


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nothere.txt"], "not found"),
        (["TEXT", "--lags", "0,1"], "lag 0 is out of range"),
        (["TEXT", "--lags", "8-2"], "low-high"),
        (["TEXT", "--lags", "1,10000000"], "out of range"),
        (["TEXT", "--lags", "1-4", "--beta-window", "5"], "window"),
        (["TEXT", "--lags", "1-4", "--beta-window", "1,2"], "holds 2"),
        (["TEXT", "--lags", "1-4", "--max-pairs", "0"], "max_pairs"),
        (["TEXT", "--lags", "1-4", "--top-k", "500"], "top_k"),
        (["TEXT", "--lags", "1-4", "--floor-factor", "nan"], "floor_factor"),
        (["TEXT", "--tokenizer", "bpe:1"], "tokenizer"),
    ],
)
def test_stats_cli_errors_are_one_line(capsys, small_text, tmp_path, args, needle):
    args = [str(small_text) if a == "TEXT" else a for a in args]
    if "--tokenizer" not in args:
        args += ["--tokenizer", "char"]
    out = tmp_path / "o"
    code, err = run_cli(capsys, "stats", *args, "--only", "correlations", "--out", str(out))
    assert code == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert not (out / "correlations.json").exists()


def test_stats_cli_first_lag_and_the_summary_names_the_first_measured_lag(
    capsys, small_text, tmp_path
):
    out = tmp_path / "fl"
    code, err = run_cli(
        capsys, "stats", str(small_text), "--tokenizer", "char", "--only", "correlations",
        "--lags", "2,3,4,6,8,12", "--first-lag", "3", "--boot", "30", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    d = json.loads((out / "correlations.json").read_text())
    assert d["settings"]["first_lag"] == 3
    assert d["beta"]["value"] is not None and d["beta"]["window"][0] == 3
    from scalinglab.corpus import resolve

    res = correlations(resolve(small_text, "char"), [2, 3, 4], n_shuffles=1, n_boot=0)
    line = res.summary().splitlines()[1].strip()
    assert line.startswith(f"||C(2)||_op = {res.operator_norm[0]:.3g} +- nan")
    # Without a bootstrap the fit quotes its least-squares error, and says so.
    assert "least-squares error; no bootstrap" in res.summary()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--boot", "1"], "n_boot"),
        (["--boot", "0"], "n_boot"),
        (["--max-n", "100000"], "too few for max_n"),
        (["--first-lag", "0"], "first-lag"),
    ],
)
def test_stats_cli_fails_before_writing_anything(capsys, small_text, tmp_path, args, needle):
    """Errors that the entropy step would raise stop the verb before correlations.json."""
    out = tmp_path / "o"
    code, err = run_cli(
        capsys, "stats", str(small_text), "--tokenizer", "char", "--lags", "1,2,3",
        "--max-n", "3", *args, "--out", str(out),
    )  # fmt: skip
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert not out.exists() or not any(out.iterdir())


def test_stats_cli_output_under_a_file_is_a_one_line_error(capsys, small_text, tmp_path):
    code, err = run_cli(
        capsys, "stats", str(small_text), "--tokenizer", "char", "--only", "correlations",
        "--lags", "1,2,3", "--out", str(small_text / "x"),
    )  # fmt: skip
    assert code == 2 and err.strip().startswith("error: cannot create the output directory")


@pytest.mark.parametrize("beta", [0.5, 0.8])
def test_the_default_window_recovers_a_known_beta(beta):
    """Power-law source (V = 2: C(n) has rank one), automatic window from its first
    power-law lag: beta within 10% for both norms, the noise-debiasing recorded."""
    from scalinglab.synth.markov import PowerLawSource

    src = PowerLawSource(vocab_size=2, beta=beta, tau_min=1.0, tau_max=1e4)
    lo, hi = src.power_law_window()
    assert lo == 4 and hi > 800
    x = src.sample(2_000_000, seed=2)
    res = correlations(x, first_lag=lo, n_boot=200, progress=False)
    for fit in (res.beta, res.beta_frobenius):
        assert fit.value == pytest.approx(beta, rel=0.10)
        assert fit.window[0] == lo and fit.window[1] >= 16
        assert "debiased" in fit.method
    d = res.to_dict()
    assert "sqrt(norm^2 - floor^2)" in d["beta_rule"] and d["settings"]["debias_beta"]
    raw = correlations(x, first_lag=lo, n_boot=0, debias_beta=False, progress=False)
    assert "raw norms" in raw.beta_rule and "debiased" not in raw.beta.method


def test_without_shuffles_the_operator_beta_is_fitted_raw():
    """No shuffled floor for the operator norm: its beta is the raw-norm fit, and its
    method does not claim a debiasing; the Frobenius beta is debiased by its analytic floor."""
    from scalinglab.synth.markov import PowerLawSource

    x = PowerLawSource(vocab_size=2, beta=0.8, tau_min=1.0, tau_max=1e4).sample(200_000, seed=3)
    kw = dict(first_lag=4, n_shuffles=0, n_boot=50, progress=False)
    res = correlations(x, **kw)
    raw = correlations(x, debias_beta=False, **kw)
    assert res.beta.value is not None and res.beta.value == raw.beta.value
    assert "debiased" not in res.beta.method
    assert "debiased" in res.beta_frobenius.method
    assert "debiased" not in raw.beta_frobenius.method
