"""The stats configs, ``measure`` and the results read back from their JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import scalinglab as sl
from scalinglab._io import _jsonable, to_json_text
from scalinglab.errors import UserError
from scalinglab.stats import (
    CorrelationConfig,
    CorrelationResult,
    EntropyConfig,
    EntropyResult,
    as_corpus,
    measure,
)
from scalinglab.stats.config import DEFAULT_MAX_N


@pytest.fixture(scope="module")
def markov_tokens() -> np.ndarray:
    """An order-1 Markov chain over 6 symbols, 30k tokens (correlated, learnable)."""
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.full(6, 0.3), size=6)
    x = np.zeros(30_000, dtype=np.int64)
    u = rng.random(x.size)
    cum = P.cumsum(axis=1)
    for i in range(1, x.size):  # a test fixture, not library code
        x[i] = min(int(np.searchsorted(cum[x[i - 1]], u[i])), 5)
    return x


# ---- configs ----------------------------------------------------------------------------
def test_configs_resolve_their_defaults_and_are_json():
    e = EntropyConfig(max_n=None)  # type: ignore[arg-type]  # None: the default
    assert e.max_n == DEFAULT_MAX_N and e.estimator == "grassberger"
    assert EntropyConfig(estimator="auto") == EntropyConfig(estimator="grassberger")
    c = CorrelationConfig(lags="4,1-3,2", beta_window="1,3")  # type: ignore[arg-type]
    assert c.lags == (1, 2, 3, 4) and c.beta_window == (1, 3)
    d = c.to_dict()
    assert d["lags"] == [1, 2, 3, 4] and d["beta_window"] == [1, 3]
    assert json.loads(json.dumps(d)) == d and json.loads(json.dumps(e.to_dict())) == e.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.seed = 3  # type: ignore[misc]
    # equal settings are equal keys, also after dataclasses.replace
    assert hash(c) == hash(CorrelationConfig(lags=(1, 2, 3, 4), beta_window=(1, 3)))
    assert dataclasses.replace(e, seed=1) != e and dataclasses.replace(e, seed=0) == e
    # a losses mapping is checked and kept as sorted pairs; its JSON form is {n: loss}
    m = EntropyConfig(max_n=4, entropy_from={2: 1.5, 1: 2.0})  # type: ignore[arg-type]
    assert m.entropy_from == ((1, 2.0), (2, 1.5)) and m.external_losses == {1: 2.0, 2: 1.5}
    assert m.to_dict()["entropy_from"] == {"1": 2.0, "2": 1.5}


@pytest.mark.parametrize(
    ("cls", "kw", "needle"),
    [
        (EntropyConfig, {"max_n": 4, "gamma_window": (2, 5)}, "beyond max_n = 4"),
        (EntropyConfig, {"max_n": 0}, "max_n (--max-n)"),
        (EntropyConfig, {"n_boot": 1}, "n_boot (--boot)"),
        (EntropyConfig, {"estimator": "nsb"}, "NSB"),
        (EntropyConfig, {"reliability_tol": 1.5}, "reliability_tol"),
        (EntropyConfig, {"max_n": 2.5}, "max_n"),
        (EntropyConfig, {"entropy_from": "no/such/losses.json"}, "not found"),
        (CorrelationConfig, {"lags": "1,2", "beta_window": (1, 2)}, "holds 2"),
        (CorrelationConfig, {"lags": "1-4", "beta_window": "5"}, "window"),
        (CorrelationConfig, {"lags": [0, 1]}, "lag 0 is out of range"),
        (CorrelationConfig, {"floor_factor": float("nan")}, "floor_factor"),
        (CorrelationConfig, {"first_lag": 0}, "first-lag"),
        (CorrelationConfig, {"max_pairs": 0}, "max_pairs"),
        (CorrelationConfig, {"n_boot": -1}, "n_boot"),
    ],
)
def test_configs_check_every_setting_on_construction(cls, kw, needle):
    with pytest.raises(UserError) as exc:
        cls(**kw)
    assert needle in str(exc.value)


def test_corpus_checks_need_the_corpus(markov_tokens):
    c = as_corpus(markov_tokens[:2000])
    with pytest.raises(UserError, match="out of range"):
        CorrelationConfig(lags=(1, 5000)).check(c)
    # default lags: the beta window is checked against the lags the corpus gets
    with pytest.raises(UserError, match="holds 0"):
        CorrelationConfig(beta_window=(100, 200)).check(c)
    assert CorrelationConfig().check(c).tolist() == sl.stats.default_lags(2000)
    with pytest.raises(UserError, match="too few for max_n"):
        EntropyConfig(max_n=900).check(c)


def test_as_corpus_is_the_one_reading_of_a_corpus_argument(markov_tokens, tmp_path):
    c = as_corpus(list(markov_tokens[:100]))
    assert isinstance(c, sl.corpus.TokenCorpus) and c.num_tokens == 100
    assert as_corpus(c) is c
    with pytest.raises(UserError, match="integer array"):
        as_corpus(np.array([0.5, 1.0]))
    with pytest.raises(UserError, match="not found"):
        as_corpus(tmp_path / "missing.txt")


# ---- the keyword APIs and config= agree ---------------------------------------------------
def test_keywords_and_config_give_the_same_result(markov_tokens):
    kw = {"n_boot": 20, "n_shuffles": 1, "seed": 3}
    a = sl.stats.correlations(markov_tokens, [1, 2, 3, 4], progress=False, **kw)
    cfg = CorrelationConfig(lags=(1, 2, 3, 4), n_boot=20, n_shuffles=1, seed=0)
    b = sl.stats.correlations(markov_tokens, config=cfg, seed=3, progress=False)  # replaces
    np.testing.assert_array_equal(a.operator_norm, b.operator_norm)
    np.testing.assert_array_equal(a.operator_norm_stderr, b.operator_norm_stderr)
    e1 = sl.stats.entropy(markov_tokens, 3, n_boot=20, progress=False)
    e2 = sl.stats.entropy(markov_tokens, config=EntropyConfig(max_n=3, n_boot=20), progress=False)
    np.testing.assert_array_equal(e1.estimate, e2.estimate)
    assert e1.gamma.value == e2.gamma.value


# ---- measure --------------------------------------------------------------------------------
def test_measure_writes_both_and_matches_the_engines(markov_tokens, tmp_path):
    cc = CorrelationConfig(lags=(1, 2, 3, 4, 6, 8), n_boot=20, n_shuffles=1)
    ec = EntropyConfig(max_n=4, n_boot=20)
    out = tmp_path / "st"
    m = measure(markov_tokens, cc, ec, out=out, progress=False)
    names = {"correlations.json", "correlations.png", "entropy.json", "entropy.png"}
    assert {p.name for p in out.iterdir()} == names == {p.name for p in m.written}
    assert m.corpus["tokens"] == markov_tokens.size
    assert m.correlation_config is cc and m.entropy_config is ec
    alone = sl.stats.correlations(markov_tokens, config=cc, progress=False)
    np.testing.assert_array_equal(m.correlations.operator_norm, alone.operator_norm)
    ent = sl.stats.entropy(markov_tokens, config=ec, progress=False)
    np.testing.assert_array_equal(m.entropy.estimate, ent.estimate)
    d = json.loads((out / "entropy.json").read_text())
    assert d["estimate"] == pytest.approx(ent.estimate.tolist())
    assert "conditional entropy" in m.summary() and "correlations of" in m.summary()


def test_measure_skips_with_false_and_checks_everything_before_writing(markov_tokens, tmp_path):
    m = measure(markov_tokens, CorrelationConfig(lags=(1, 2, 3), n_boot=0), False, progress=False)
    assert m.entropy is None and m.correlations is not None and m.written == []
    out = tmp_path / "o"
    short = markov_tokens[:3000]
    with pytest.raises(UserError, match="max_n = 500"):  # the entropy check, first
        measure(short, CorrelationConfig(lags=(1, 2, 3)), EntropyConfig(max_n=500), out=out)
    with pytest.raises(UserError, match="out of range"):
        measure(short, CorrelationConfig(lags=(1, 4000)), EntropyConfig(max_n=3), out=out)
    assert not out.exists()
    with pytest.raises(UserError, match="nothing to measure"):
        measure(short, False, False)
    with pytest.raises(UserError, match="EntropyConfig"):
        measure(short, None, {"max_n": 3})  # type: ignore[arg-type]


# ---- results from their JSON ----------------------------------------------------------------
def _json(d: dict) -> dict:
    return json.loads(to_json_text(d))


def test_correlation_result_round_trips_through_json(markov_tokens):
    res = sl.stats.correlations(
        markov_tokens, [1, 2, 3, 4, 5, 6, 8, 12, 16], n_boot=30, n_shuffles=2, top_k=2,
        progress=False,
    )  # fmt: skip
    d = _json(res.to_dict())
    back = CorrelationResult.from_dict(d)
    assert _json(back.to_dict()) == d
    np.testing.assert_array_equal(back.lags, res.lags)
    np.testing.assert_allclose(back.operator_norm, res.operator_norm)
    assert back.beta.value == res.beta.value and back.beta.window == res.beta.window
    assert back.top_singular_values is not None and back.top_singular_values.shape == (9, 2)
    assert back.summary() == res.summary()


def test_a_broken_beta_fit_round_trips():
    from scalinglab.stats._corr_result import fit_from_dict
    from scalinglab.stats.correlations import fit_power_law

    lags = np.unique(np.round(np.geomspace(1, 400, 30))).astype(np.int64)
    y = np.where(lags <= 20, 0.02 * lags**-0.4, 0.02 * 20**-0.4 * (lags / 20.0) ** -1.6)
    fit = fit_power_law(lags, y, 0.01 * y, n_boot=50)
    assert fit.broken is not None
    d = _json(fit.to_dict())
    assert _json(fit_from_dict(d).to_dict()) == d


def test_entropy_result_round_trips_through_json(markov_tokens):
    res = sl.stats.entropy(
        markov_tokens, 6, n_boot=30, fit_offset=True, entropy_from={1: 1.2, 2: 1.1},
        gamma_window=(1, 6), progress=False,
    )  # fmt: skip
    d = _json(res.to_dict())
    back = EntropyResult.from_dict(d)
    assert _json(back.to_dict()) == d
    np.testing.assert_allclose(back.estimate, res.estimate)
    np.testing.assert_array_equal(back.reliable, res.reliable)
    assert back.gamma.value == res.gamma.value and back.gamma.window == res.gamma.window
    assert back.reliable_window == res.reliable_window
    assert (back.gamma_offset is None) == (res.gamma_offset is None)
    assert back.summary() == res.summary()
    # without external losses the document holds null, read back as NaN
    plain = sl.stats.entropy(markov_tokens, 3, n_boot=20, progress=False)
    d2 = _json(plain.to_dict())
    assert d2["upper_external"] is None
    assert _jsonable(EntropyResult.from_dict(d2).to_dict()) == d2
