"""Model-based entropies inside predict: the reference model, the model's horizon, both
law forms, the upper-bound curve, the calibrated horizon and the new options' errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.stats.model_losses import ModelLosses
from scalinglab.synth.markov import random_chain
from scalinglab.theory._inputs import EntropyInputs
from scalinglab.theory.model_gamma import bins, combine_with_counts, horizon, model_gamma
from scalinglab.warns import has_code

# ----------------------------------------------------------------------------- pure numbers


def _losses(L: np.ndarray, se: float = 0.002) -> ModelLosses:
    n = np.arange(1, L.size + 1)
    return ModelLosses(n=n, loss=L, stderr=np.full(n.size, se), source="file")


def test_bins_are_geometric_means_so_a_pure_power_law_is_exact():
    n = np.arange(1, 129)
    b = bins(_losses(3.0 * n**-0.3))
    assert np.allclose(b["loss"], 3.0 * b["n"] ** -0.3, rtol=1e-12)
    assert b["first"][0] == 1 and b["last"][-1] == 128
    assert np.all(np.diff(b["n"]) > 0)


def test_raw_power_law_over_the_whole_context_is_fitted_exactly_in_the_raw_form():
    n = np.arange(1, 129)
    g = model_gamma(_losses(3.0 * n**-0.3), n_boot=50)
    assert g is not None
    assert g["form"] == "raw"
    assert g["value"] == pytest.approx(0.3, abs=1e-9)
    assert g["horizon"]["n"] == 128 and g["horizon"]["at_context"]
    assert set(g["forms"]) == {"raw", "offset"}


def test_the_horizon_is_where_the_losses_stop_falling_and_the_offset_form_is_chosen():
    n = np.arange(1, 129)
    h_inf, amp, gam, stop = 1.0, 2.0, 0.3, 40
    L = h_inf + amp * np.minimum(n, stop) ** -gam  # falls to n = 40, flat beyond
    rng = np.random.default_rng(0)
    L = L + 0.0005 * rng.standard_normal(n.size)
    hz = horizon(_losses(L, se=0.0005))
    assert stop <= hz["n"] <= 1.5 * stop + 1
    assert not hz["at_context"]
    g = model_gamma(_losses(L, se=0.0005), n_boot=100)
    assert g["form"] == "offset", g["choice"]
    assert g["value"] == pytest.approx(gam, rel=0.15)
    # the window ends a bin past the kink, whose flat points pull H_inf up a little
    assert g["forms"]["offset"]["h_inf"]["value"] == pytest.approx(h_inf, rel=0.2)
    assert g["window"] == [1, hz["n"]]


def test_an_asymptote_reached_inside_the_window_is_not_taken_for_the_entropy_rate():
    """A bound that saturates (the estimator's own floor) keeps the raw form."""
    n = np.arange(1, 129)
    L = 1.0 + 2.0 * n**-1.5  # within 0.01 of its floor from n = 30 on
    g = model_gamma(_losses(L, se=1e-5), n_boot=50)
    assert g["forms"]["offset"]["h_inf"]["value"] == pytest.approx(1.0, rel=0.01)
    assert g["form"] == "raw" and "asymptote inside the window" in g["choice"]


def test_flat_losses_give_no_model_gamma():
    assert model_gamma(_losses(np.full(64, 2.0)), n_boot=20) is None


def test_combined_bound_takes_the_tighter_source_and_never_increases():
    n = np.arange(1, 65)
    model = _losses(1.8 + 0.5 * n**-0.5, se=0.01)  # loose at short n, keeps falling
    ent = {
        "n": list(range(0, 9)),
        "upper_ngram": [3.0, 2.2, 2.1, 2.05, 2.4, 2.6, 2.7, 2.8, 2.9],
        "upper_stderr": [0.001] * 9,
        # the rest of an entropy.json that the typed view needs
        "upper": [3.0, 2.2, 2.1, 2.05, 2.4, 2.6, 2.7, 2.8, 2.9],
        "estimate": [2.9] * 9,
        "lower": [2.5] * 9,
        "gamma": {"value": None},
    }
    c = combine_with_counts(model, EntropyInputs.read(ent))
    assert c.n[0] == 1 and c.n[-1] == 64
    expect = np.fmin.accumulate(np.fmin(model.loss, np.r_[ent["upper_ngram"][1:], [np.inf] * 56]))
    assert np.allclose(c.loss, expect)
    assert np.all(np.diff(c.loss) <= 0)
    src = c.model["lower_bound_from"]
    assert src[0] == "ngram" and src[-1] == "model"
    assert c.stderr[0] == pytest.approx(0.001) and c.stderr[-1] == pytest.approx(0.01)


# ------------------------------------------------------------------- predict_from_stats


def _stats(N: int = 1_000_000):
    lags = np.arange(1, 65)
    amp, beta = 0.05, 0.8
    floor = 1e-3 * np.sqrt(N / (N - lags))
    corr = {
        "lags": lags.tolist(),
        "operator_norm": (amp * lags**-beta).tolist(),
        "operator_norm_stderr": (0.01 * amp * lags**-beta).tolist(),
        "frobenius": (amp * lags**-beta).tolist(),
        "noise_floor": floor.tolist(),
        "resolvable": [True] * 64,
        "pairs": (N - lags).tolist(),
        "beta": {"value": beta, "stderr": 0.02, "ci95": [0.76, 0.84], "window": [1, 64]},
        "warnings": [],
    }
    n = np.arange(0, 9)
    upper = np.r_[4.0, 3.5, 3.3, 3.2, 3.15, 3.12, 3.1, 3.1, 3.1]
    ent = {
        "n": n.tolist(),
        "estimate": np.r_[4.0, 3.0 * n[1:] ** -1.0].tolist(),  # collapsing count estimate
        "upper": upper.tolist(),
        "upper_ngram": upper.tolist(),
        "lower": np.r_[4.0, 0.5 * n[1:] ** -1.0].tolist(),
        "reliable": [True] + [False] * 8,
        "converged": [True] + [False] * 8,
        "coverage": [1.0] + [0.1] * 8,
        "gamma": {"value": None, "stderr": None, "ci95": [None, None], "window": None},
        "warnings": [],
    }
    corpus = {"source": "hand-built", "tokens": N, "vocab_size": 64, "tokenizer": "char"}
    return corr, ent, corpus


H_INF, AMP, GAM = 1.5, 2.0, 0.25


def _model_losses(T: int = 128) -> ModelLosses:
    n = np.arange(1, T + 1)
    return _losses(H_INF + AMP * n**-GAM, se=0.001)


def test_curve_is_built_from_upper_bounds_and_never_falls_below_h_inf():
    corr, ent, corpus = _stats()
    pred = sl.theory.predict_from_stats(corr, ent, corpus, n_boot=200, model=_model_losses())
    assert pred.gamma["source"] == "model" and pred.gamma["form"] == "offset"
    assert pred.gamma["value"] == pytest.approx(GAM, rel=0.1)
    L = np.asarray(pred.predicted_loss["loss"])
    h_inf = pred.predicted_loss["h_inf"]
    assert h_inf == pytest.approx(H_INF, rel=0.05)
    assert np.all(L >= h_inf - 1e-12) and np.all(np.diff(L) <= 1e-12)
    # inside the model's horizon the curve is the upper bound at n*(P), not the plug-in
    ns = np.asarray(pred.horizon["n_star"])
    i = int(np.flatnonzero((ns > 2) & (ns < 100))[0])
    assert L[i] == pytest.approx(H_INF + AMP * ns[i] ** -GAM, rel=0.01)
    assert np.all(L > 1.0)  # far above the collapsed plug-in
    # alpha_D with both forms and the counts reported
    forms = pred.alpha_D["forms"]
    assert {"raw", "offset"} <= set(forms)
    assert pred.alpha_D["value"] == pytest.approx(forms["offset"]["value"])
    assert has_code(pred.warnings, "predict-gamma-from-model")


def test_calibration_moves_the_curve_through_the_measured_point():
    corr, ent, corpus = _stats()
    P0, L0 = 1e5, 3.0
    ml = _model_losses()
    base = sl.theory.predict_from_stats(corr, ent, corpus, n_boot=100, model=ml)
    pred = sl.theory.predict_from_stats(
        corr, ent, corpus, n_boot=100, model=ml, calibration={"P0": P0, "loss": L0}
    )
    cal = pred.horizon["calibration"]
    assert cal is not None and pred.horizon["uses"] == "calibrated"
    P = np.asarray(pred.predicted_loss["P"])
    L = np.asarray(pred.predicted_loss["loss"])
    assert np.interp(np.log(P0), np.log(P), L) == pytest.approx(L0, rel=2e-3)
    # the calibrated horizon is the uncalibrated one times one factor, and the threshold
    # constant k satisfies n*_1 / n* = k^(1/beta)
    ratio = np.asarray(pred.horizon["n_star"]) / np.asarray(base.horizon["n_star"])
    assert np.allclose(ratio, cal["factor"], rtol=1e-9)
    beta = pred.beta["value"]
    assert cal["threshold_constant"] ** (1 / beta) == pytest.approx(1 / cal["factor"], rel=1e-9)
    assert np.allclose(pred.horizon["n_star_uncalibrated"], base.horizon["n_star"])


def test_calibration_above_the_unigram_level_is_refused_with_a_warning():
    corr, ent, corpus = _stats()
    pred = sl.theory.predict_from_stats(
        corr, ent, corpus, n_boot=50, model=_model_losses(), calibration={"P0": 64, "loss": 9.0}
    )
    assert pred.horizon["calibration"] is None
    assert has_code(pred.warnings, "calibrate-above-unigram")


# --------------------------------------------------------------- the reference model, trained


@pytest.fixture(scope="module")
def markov_corpus(tmp_path_factory: pytest.TempPathFactory):
    chain = random_chain(3, order=2, alpha=0.5, seed=3)
    tokens, _ = chain.sample(400_000, seed=4)
    c = sl.corpus.TokenCorpus.from_array(tokens, 3, name="markov-k2").save(
        tmp_path_factory.mktemp("mk") / "corpus"
    )
    return c, chain.conditional_entropies(8)


def test_reference_model_bounds_a_markov_source_from_above_and_reaches_it(markov_corpus):
    from scalinglab.train.reference import ReferenceConfig, train_reference

    c, H = markov_corpus
    cfg = ReferenceConfig(
        budget_s=25, context=8, n_layer=2, n_embd=32, n_head=2, lr=1e-2, eval_blocks=4096
    )
    ml = train_reference(c, cfg, progress=False)
    assert ml.source == "reference" and ml.context == 8
    assert ml.training["steps"] >= 20 and ml.training["tokens_seen"] > 0
    k = 2
    for i, n in enumerate(ml.n):
        h = H[min(n, k)]
        assert ml.loss[i] >= h - 3 * ml.stderr[i] - 0.02, (n, ml.loss[i], h)  # upper bound
        if n <= k:
            assert ml.loss[i] - h < 0.05, (n, ml.loss[i], h)  # and close to the truth


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scalinglab.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={
            "SCALINGLAB_NO_PROGRESS": "1",
            "PATH": "/usr/bin:/bin",
            "SCALINGLAB_CACHE": str(cwd / "cache"),
        },
        timeout=600,
    )


def test_predict_trains_the_reference_model_records_it_and_reuses_it(
    markov_corpus, tmp_path, monkeypatch
):
    c, _ = markov_corpus
    out = tmp_path / "pred"
    kw = {"max_n": 8, "lags": list(range(1, 17)), "n_boot": 100, "progress": False}
    pred = sl.theory.predict(c, out=out, entropy="model", budget=8, **kw)
    doc = json.loads((out / "entropy.json").read_text())
    rec = doc["model_losses"]
    assert rec["settings"]["source"] == "reference" and rec["settings"]["budget_s"] == 8
    losses = rec["losses"]
    tr = losses["training"]
    assert tr["steps"] >= 1 and tr["wall_time_s"] > 0
    assert tr["tokens_seen"] == tr["steps"] * tr["batch_size"] * len(losses["n"])
    assert losses["model"]["n_layer"] >= 1 and len(losses["loss"]) == len(losses["n"])
    saved = json.loads((out / "prediction.json").read_text())
    assert saved["entropy_model"]["source"] == "reference"
    assert pred.entropy_lines() and "reference model" in pred.entropy_lines()[0]

    import scalinglab.train.reference as ref

    def boom(*a, **k):
        raise AssertionError("the reference model was trained again")

    monkeypatch.setattr(ref, "train_reference", boom)
    again = sl.theory.predict(c, out=out, entropy="model", budget=8, **kw)
    assert again.gamma.get("value") == pred.gamma.get("value")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--entropy", "bogus"], "--entropy must be one of"),
        (["--budget", "0"], "--budget"),
        (["--budget", "nan"], "--budget"),
        (["--calibrate", "abc"], "not an integer"),
        (["--calibrate", "2^3"], "--calibrate P0 must be at least"),
        (["--calibrate", "2^40"], "more than half"),
        (["--calibrate", "2^8,2^9"], "one token count"),
        (["--device", "tpu"], "unknown device"),
        (["--entropy-from", "EMPTYDIR"], "Hugging Face checkpoint"),
        (["--entropy", "counts", "--entropy-from", "LOSSES"], "contradict"),
    ],
)
def test_new_options_bad_input_is_one_line_and_exit_2(markov_corpus, tmp_path, args, needle):
    c, _ = markov_corpus
    (tmp_path / "empty").mkdir()
    (tmp_path / "losses.json").write_text(json.dumps({"n": [1, 2, 3], "loss": [2, 1.5, 1.2]}))
    args = [
        {"EMPTYDIR": str(tmp_path / "empty"), "LOSSES": str(tmp_path / "losses.json")}.get(a, a)
        for a in args
    ]
    r = _cli("predict", str(c.path), *args, "--out", "o", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], r.stderr
    assert not (tmp_path / "o" / "correlations.json").exists()  # checked before any work


def test_default_max_n_and_the_same_explicit_value_reuse_the_statistics(
    markov_corpus, tmp_path, monkeypatch
):
    from scalinglab.stats.entropy import DEFAULT_MAX_N

    c, _ = markov_corpus
    out = tmp_path / "pred"
    kw = {"lags": list(range(1, 17)), "n_boot": 50, "progress": False, "entropy": "counts"}
    first = sl.theory.predict(c, out=out, max_n=None, **kw)

    def boom(*a, **k):
        raise AssertionError("the statistics were computed again")

    monkeypatch.setattr(sl.stats, "measure", boom)
    again = sl.theory.predict(c, out=out, max_n=DEFAULT_MAX_N, **kw)
    assert again.to_dict()["entropy"] == first.to_dict()["entropy"]
