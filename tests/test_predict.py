"""predict end to end: a source with known power-law correlations, reuse, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.synth.markov import PowerLawSource
from scalinglab.warns import code_of, codes, has_code

BETA = 0.8
DESIGN_KEYS = {
    "corpus": {"source", "tokens", "vocab_size", "tokenizer"},
    "correlations": {"lags", "operator_norm", "frobenius", "noise_floor", "resolvable"},
    "entropy": {"n", "estimate", "upper", "lower", "method", "reliable"},
    "beta": {"value", "stderr", "ci95", "window"},
    "gamma": {"value", "stderr", "ci95", "window"},
    "alpha_D": {"value", "stderr", "ci95"},
    "horizon": {"P", "n_star"},
    "predicted_loss": {"P", "loss"},
}


@pytest.fixture(scope="module")
def powerlaw_corpus(tmp_path_factory: pytest.TempPathFactory):
    # V = 2 keeps C(n) rank one, so the operator norm is not inflated by the noise
    # of degenerate singular values; the exact power law holds from lag 1 to ~1700.
    src = PowerLawSource(vocab_size=2, beta=BETA, tau_min=1.0, tau_max=1e4)
    lo, hi = src.power_law_window()
    assert lo <= 4 and hi >= 1000
    tokens = src.sample(2_000_000, seed=1)
    return sl.corpus.TokenCorpus.from_array(tokens, 2, name="powerlaw").save(
        tmp_path_factory.mktemp("pl") / "corpus"
    )


def test_predict_recovers_known_beta_and_writes_the_contract(powerlaw_corpus, tmp_path):
    out = tmp_path / "pred"
    pred = sl.theory.predict(
        powerlaw_corpus,
        out=out,
        lags=list(range(1, 65)),
        first_lag=4,  # the source is a power law from lag 4 (truth.json's power_law_window)
        max_n=16,
        n_boot=200,
        progress=False,
    )
    # the automatic window: from lag 4 to the last lag resolvable above the noise floor
    assert pred.beta["value"] == pytest.approx(BETA, rel=0.10)
    corr = pred.correlations
    lo, hi = pred.beta["window"]
    lags, ok = np.asarray(corr["lags"]), np.asarray(corr["resolvable"])
    assert lo == 4 and hi > 16 and ok[(lags >= lo) & (lags <= hi)].all()
    assert not ok[lags == hi + 1].any()
    g, b = pred.gamma["value"], pred.beta["value"]
    assert pred.alpha_D["value"] == pytest.approx(g / (2 * b), rel=1e-12)
    d = json.loads((out / "prediction.json").read_text())
    for key, sub in DESIGN_KEYS.items():
        assert sub <= set(d[key]), (key, sub - set(d[key]))
    assert isinstance(d["warnings"], list)
    assert all(isinstance(n, int) for n in d["correlations"]["lags"] + d["entropy"]["n"])
    assert len(d["horizon"]["P"]) == len(d["predicted_loss"]["loss"]) > 10
    assert np.all(np.diff(d["predicted_loss"]["loss"]) <= 1e-12)  # loss falls with data
    assert np.all(np.diff(d["horizon"]["n_star"]) > 0)
    for f in (
        "prediction.png",
        "correlations.png",
        "entropy.png",
        "correlations.json",
        "entropy.json",
    ):
        assert (out / f).stat().st_size > 0
    # A second call on the same corpus and settings reuses the statistics.
    before = (out / "correlations.json").stat().st_mtime_ns
    again = sl.theory.predict(
        powerlaw_corpus,
        out=out,
        lags=list(range(1, 65)),
        first_lag=4,
        max_n=16,
        n_boot=200,
        progress=False,
    )
    assert (out / "correlations.json").stat().st_mtime_ns == before
    assert again.alpha_D["value"] == pred.alpha_D["value"]


def test_iid_tokens_give_no_law_and_say_why(tmp_path):
    x = np.random.default_rng(0).integers(0, 16, size=300_000)
    c = sl.corpus.TokenCorpus.from_array(x, 16)
    pred = sl.theory.predict(c, out=tmp_path, n_boot=50, max_n=4, progress=False)
    assert pred.beta.get("value") is None and pred.alpha_D["value"] is None
    assert has_code(pred.warnings, "predict-no-beta")
    d = json.loads((tmp_path / "prediction.json").read_text())
    assert d["alpha_D"]["value"] is None
    for key, sub in DESIGN_KEYS.items():  # the contract holds without a law too
        assert sub <= set(d[key]), (key, sub - set(d[key]))


def test_a_corpus_too_short_for_max_n_fails_before_any_file(tmp_path):
    x = np.random.default_rng(0).integers(0, 4, size=5_000)
    c = sl.corpus.TokenCorpus.from_array(x, 4)
    with pytest.raises(sl.errors.UserError, match="too few for max_n"):
        sl.theory.predict(c, out=tmp_path / "o", max_n=4000, n_boot=10, progress=False)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scalinglab.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            "SCALINGLAB_NO_PROGRESS": "1",
            "PATH": "/usr/bin:/bin",
            "SCALINGLAB_CACHE": str(cwd / "cache"),
        },
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["predict", "nothere.txt"], "source not found"),
        (["predict", "CORPUS", "--beta-window", "5"], "window"),
        (["predict", "CORPUS", "--lags", "0,1"], "lag"),
        (["predict", "CORPUS", "--target-loss", "-1"], "target-loss"),
        (["predict", "CORPUS", "--compare-measured", "missing.json"], "not found"),
        (["predict", "CORPUS", "--tokenizer", "bpe:1"], "tokenizer"),
        (["predict", "CORPUS", "--max-n", "0"], "max_n"),
        (["predict", "CORPUS", "--entropy-from", "missing.json"], "not found"),
        (["predict", "CORPUS", "--context", "0"], "--context"),
        (["predict", "CORPUS", "--boot", "1"], "--boot"),
        (["predict", "CORPUS", "--boot", "-5"], "--boot"),
        (["predict", "CORPUS", "--p-min", "1e13"], "P_min < P_max"),
        (["predict", "CORPUS", "--first-lag", "0"], "--first-lag"),
    ],
)
def test_predict_cli_errors(powerlaw_corpus, tmp_path, args, needle):
    args = [str(powerlaw_corpus.path) if a == "CORPUS" else a for a in args]
    if "--tokenizer" in args:
        (tmp_path / "t.txt").write_text("some text")
        args[1] = "t.txt"
    r = _cli(*args, "--out", "o", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], r.stderr
    assert not (tmp_path / "o" / "prediction.json").exists()
    assert not (tmp_path / "o" / "correlations.json").exists()  # checked before any work


def test_gamma_comes_from_model_losses_when_counts_are_unreliable():
    """With --entropy-from losses and no reliable count window, gamma is fitted on L_n."""
    lags = np.arange(1, 65)
    N = 10**6
    norm = 0.05 * lags**-0.8
    corr = {
        "lags": lags.tolist(),
        "operator_norm": norm.tolist(),
        "operator_norm_stderr": (0.01 * norm).tolist(),
        "frobenius": norm.tolist(),
        "noise_floor": (0.5 / np.sqrt(N - lags)).tolist(),
        "resolvable": [True] * 64,
        "beta": {"value": 0.8, "stderr": 0.01, "ci95": [0.78, 0.82], "window": [1, 64]},
        "warnings": [],
    }
    n = np.arange(0, 21)
    model = np.r_[np.nan, 2.0 * n[1:] ** -0.3]  # exact L_n = 2 n^-0.3
    ent = {
        "n": n.tolist(),
        "estimate": np.r_[3.0, 1.5 * n[1:] ** -1.0].tolist(),  # count-based, biased low
        "upper": np.r_[3.0, model[1:]].tolist(),
        "lower": np.r_[3.0, 0.5 * n[1:] ** -1.0].tolist(),
        "reliable": [True] + [False] * 20,
        "converged": [True] + [False] * 20,
        "coverage": [1.0] + [0.1] * 20,
        "upper_external": [None] + model[1:].tolist(),
        "gamma": {"value": None, "stderr": None, "ci95": [None, None], "window": None},
        "warnings": [],
    }
    corpus = {"source": "hand-built", "tokens": N, "vocab_size": 8, "tokenizer": "char"}
    pred = sl.theory.predict_from_stats(corr, ent, corpus, n_boot=100)
    assert pred.gamma["value"] == pytest.approx(0.3, abs=1e-9)
    assert pred.gamma["window"] == [1, 20]
    assert pred.alpha_D["value"] == pytest.approx(0.3 / 1.6, rel=1e-9)
    assert has_code(pred.warnings, "predict-gamma-from-model")
    # the curve follows the model losses: L(P) at a horizon n* <= 20 equals 2 n*^-0.3
    d = pred.to_dict()
    ns, loss = np.asarray(d["horizon"]["n_star"]), np.asarray(d["predicted_loss"]["loss"])
    inside = (ns >= 1) & (ns <= 20)
    assert inside.any()
    assert np.allclose(loss[inside], 2.0 * ns[inside] ** -0.3, rtol=0.02)
    # without external losses the count fallback cannot fit (coverage too low): no law
    ent2 = {k: v for k, v in ent.items() if k != "upper_external"}
    assert sl.theory.predict_from_stats(corr, ent2, corpus, n_boot=10).alpha_D["value"] is None


# ---- hand-built statistics: every warning path, the horizon, the target and measured -----
def _corr(beta=0.8, amp=0.005, n_tokens=10**6, lags=64, break_at=None, window=None):
    lag = np.arange(1, lags + 1)
    norm = amp * lag**-beta
    d = {
        "lags": lag.tolist(),
        "operator_norm": norm.tolist(),
        "operator_norm_stderr": (0.01 * norm).tolist(),
        "frobenius": norm.tolist(),
        "noise_floor": (0.5 / np.sqrt(n_tokens - lag)).tolist(),
        "resolvable": [True] * lags,
        "beta": {
            "value": beta,
            "stderr": 0.02,
            "ci95": [beta - 0.04, beta + 0.04],
            "window": window or [1, lags],
            "n_points": (window[1] - window[0] + 1) if window else lags,
        },
        "warnings": [],
    }
    if break_at is not None:
        d["beta"]["break"] = {
            "at": break_at,
            "left": {
                "value": beta,
                "stderr": 0.02,
                "ci95": [beta - 0.04, beta + 0.04],
                "window": [1, break_at],
                "n_points": break_at,
            },
        }
        d["beta"] = {**d["beta"], "value": 0.3}  # the single fit over both sides
    return d


def _ent(gamma=0.3, h1=2.0, max_n=20, reliable_to=20):
    n = np.arange(0, max_n + 1)
    h = np.r_[3.0, h1 * n[1:] ** -gamma]
    ok = n <= reliable_to
    return {
        "n": n.tolist(),
        "estimate": h.tolist(),
        "upper": (h * 1.01).tolist(),
        "lower": (h * 0.99).tolist(),
        "reliable": ok.tolist(),
        "converged": ok.tolist(),
        "coverage": np.where(ok, 1.0, 0.2).tolist(),
        "gamma": {
            "value": gamma,
            "stderr": 0.01,
            "ci95": [gamma - 0.02, gamma + 0.02],
            "window": [1, int(reliable_to)],
            "n_points": int(reliable_to),
        },
        "warnings": [],
    }


CORPUS = {"source": "hand-built", "tokens": 10**6, "vocab_size": 8, "tokenizer": "char"}


def test_alpha_error_propagation_and_exact_horizon():
    pred = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, n_boot=400)
    b, g, db, dg = 0.8, 0.3, 0.02, 0.01
    assert pred.alpha_D["value"] == pytest.approx(g / (2 * b), rel=1e-12)
    expect = np.hypot(dg / (2 * b), g * db / (2 * b**2))  # REFERENCE 1.4
    assert pred.alpha_D["stderr"] == pytest.approx(expect, rel=1e-12)
    lo, hi = pred.alpha_D["ci95"]
    assert lo < g / (2 * b) < hi and hi - lo == pytest.approx(2 * 1.96 * expect, rel=0.25)
    # the horizon is where A n^-beta meets the floor c / sqrt(P): n* = (A sqrt(P) / c)^(1/beta)
    d = pred.to_dict()
    P, ns = np.asarray(d["horizon"]["P"]), np.asarray(d["horizon"]["n_star"])
    assert np.allclose(ns, (0.005 * np.sqrt(P) / 0.5) ** (1 / 0.8), rtol=1e-9)
    # inside the trusted window the curve is the upper bound on H at the horizon
    # (_ent's upper is 1.01 H), never the estimate or the plug-in
    L = np.asarray(d["predicted_loss"]["loss"])
    inside = (ns >= 1) & (ns <= 20)
    assert inside.sum() >= 3
    assert np.allclose(L[inside], 1.01 * 2.0 * ns[inside] ** -0.3, rtol=1e-3)
    assert not any(c.startswith("predict-short-") for c in codes(pred.warnings))


def test_target_loss_inverts_the_curve():
    x = 1.01 * 2.0 * 50.0**-0.3  # the upper-bound curve at n = 50
    pred = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, target_loss=x, n_boot=100)
    t = pred.to_dict()["target"]
    assert t["n_star"] == pytest.approx(50.0, rel=1e-3)
    assert t["P"] == pytest.approx((50.0**0.8 * 0.5 / 0.005) ** 2, rel=1e-2)
    lo, hi = t["ci95"]
    assert lo < t["P"] < hi
    high = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, target_loss=5.0, n_boot=10)
    assert high.to_dict()["target"]["P"] is None
    assert has_code(high.warnings, "predict-target-unreachable")


def test_warning_short_fit_window():
    pred = sl.theory.predict_from_stats(_corr(window=[1, 3]), _ent(), CORPUS, n_boot=50)
    w = [w for w in pred.warnings if code_of(w) == "predict-short-beta-window"]
    assert len(w) == 1 and "[1, 3] holds only 3 lags" in w[0]


def test_warning_broken_power_law_uses_the_left_segment():
    pred = sl.theory.predict_from_stats(_corr(break_at=10), _ent(), CORPUS, n_boot=50)
    assert pred.beta["value"] == 0.8 and pred.beta["window"] == [1, 10]
    w = [w for w in pred.warnings if code_of(w) == "predict-broken-beta"]
    assert len(w) == 1 and "break at lag 10" in w[0]
    assert pred.alpha_D["value"] == pytest.approx(0.3 / 1.6)


def test_warning_context_close_to_the_horizon():
    quiet = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, context=10**9, n_boot=50)
    assert not has_code(quiet.warnings, "predict-short-context")
    loud = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, context=64, n_boot=50)
    w = [w for w in loud.warnings if code_of(w) == "predict-short-context"]
    assert len(w) == 1
    # the first P named is the first grid point with 4 n*(P) > 64
    d = loud.to_dict()
    P, ns = np.asarray(d["horizon"]["P"]), np.asarray(d["horizon"]["n_star"])
    assert f"P >= {P[4 * ns > 64][0]:.3g}" in w[0]


def test_warning_entropy_unreliable_where_the_curve_leans_on_it():
    pred = sl.theory.predict_from_stats(_corr(), _ent(reliable_to=20), CORPUS, n_boot=50)
    d = pred.to_dict()
    P, ns = np.asarray(d["horizon"]["P"]), np.asarray(d["horizon"]["n_star"])
    w = [w for w in pred.warnings if code_of(w) == "predict-extrapolated"]
    assert len(w) == 1 and f"P >= {P[ns > 20][0]:.3g}" in w[0]
    # beyond the window the curve follows the fitted law n^-gamma from the last point
    # of the upper bound (1.01 H in _ent)
    L = np.asarray(d["predicted_loss"]["loss"])
    far = ns > 40
    assert np.allclose(L[far], 1.01 * 2.0 * ns[far] ** -0.3, rtol=1e-6)


def test_compare_measured(powerlaw_corpus, tmp_path):
    P = np.array([2.0**k for k in range(12, 21)])
    sweep = {
        "curve": {"P": P.tolist(), "loss": (3.0 * P**-0.2).tolist()},
        "alpha_D": {"value": 0.2, "stderr": 0.01, "ci95": [0.18, 0.22], "window": [P[0], P[-1]]},
    }
    f = tmp_path / "sweep.json"
    f.write_text(json.dumps(sweep))
    pred = sl.theory.predict(
        powerlaw_corpus,
        out=tmp_path / "o",
        lags=list(range(1, 33)),
        beta_window=(4, 32),
        max_n=8,
        n_boot=50,
        compare_measured=f,
        progress=False,
    )
    m = json.loads((tmp_path / "o" / "prediction.json").read_text())["measured"]
    assert m["alpha_D"] == pytest.approx(0.2)
    assert m["P"] == P.tolist()
    assert pred.measured["alpha_D"] == m["alpha_D"]
    diff = m["difference"]  # measured against predicted exponent
    assert diff["measured_minus_predicted"] == pytest.approx(0.2 - pred.alpha_D["value"])
    assert diff["combined_stderr"] == pytest.approx(np.hypot(0.01, pred.alpha_D["stderr"]))


def test_cli_prints_the_table_the_sentence_and_the_horizon_assumption(powerlaw_corpus, tmp_path):
    r = _cli(
        "predict",
        str(powerlaw_corpus.path),
        "--lags",
        "1-32",
        "--beta-window",
        "4,32",
        "--max-n",
        "8",
        "--boot",
        "50",
        "--out",
        "o",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "o" / "prediction.json").read_text())
    out = " ".join(r.stdout.split())  # undo the terminal's line wrapping
    for row in ("beta (correlations", "gamma (H_n", "alpha_D = gamma / (2 beta)", "lags 4..32"):
        assert row in out
    a = d["alpha_D"]
    assert f"{a['value']:.3f}" in out and f"[{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]" in out
    assert f"lowers the loss by about {d['ten_x']['percent']:.1f}%" in out
    assert "Assumption: n*(P) is the lag at which" in out
    assert d["horizon"]["assumption"].startswith("n*(P) is the lag at which the fitted")


def test_reuse_is_keyed_on_the_corpus_hash(powerlaw_corpus, tmp_path):
    kw = dict(out=tmp_path, lags=list(range(1, 17)), max_n=4, n_boot=20, progress=False)
    sl.theory.predict(powerlaw_corpus, **kw)
    first = json.loads((tmp_path / "correlations.json").read_text())
    other = sl.corpus.TokenCorpus.from_array(
        np.random.default_rng(3).integers(0, 2, size=200_000), 2, name="powerlaw"
    )
    sl.theory.predict(other, **kw)
    second = json.loads((tmp_path / "correlations.json").read_text())
    assert second["corpus"]["content_hash"] != first["corpus"]["content_hash"]
    assert second["corpus"]["tokens"] == 200_000  # recomputed, not reused
    # a changed setting on the same corpus is not reused either
    sl.theory.predict(other, **{**kw, "lags": list(range(1, 9))})
    assert json.loads((tmp_path / "correlations.json").read_text())["lags"] == list(range(1, 9))


def test_predicted_curve_grid_and_band():
    pred = sl.theory.predict_from_stats(_corr(), _ent(), CORPUS, n_boot=100)
    d = pred.to_dict()
    P = np.asarray(d["predicted_loss"]["P"])
    assert P[0] == pytest.approx(1e4) and P[-1] == pytest.approx(1e12)
    assert np.allclose(np.diff(np.log10(P)), np.log10(P[1] / P[0]))  # a log grid
    L, lo, hi = (np.asarray(d["predicted_loss"][k]) for k in ("loss", "lo", "hi"))
    assert np.all(lo <= L) and np.all(L <= hi) and np.any(hi > lo)
    assert d["horizon"]["P"] == d["predicted_loss"]["P"]


def test_ten_x_sentence_inside_the_window_quotes_the_levels():
    # n*(P) = (A sqrt(P) / c)^(1/beta) = 3.0 at P = 1e5 and 12.7 at 1e6: both inside n <= 20
    pred = sl.theory.predict_from_stats(
        _corr(amp=0.0038, n_tokens=10**5), _ent(), {**CORPUS, "tokens": 10**5}
    )
    t = pred.ten_x
    assert 1 <= t["n_star"] and 10 ** (1 / 1.6) * t["n_star"] <= 20  # both horizons measured
    expect = 100 * (1 - 10 ** (-0.3 / 1.6))  # exact power law H_n = 2 n^-0.3 inside
    assert t["percent"] == pytest.approx(expect, rel=1e-3)
    s = pred.sentence()
    assert f"about {t['percent']:.1f}%" in s and f"from {t['loss']:.3f} to" in s
    assert "extrapolation" not in s and "rough" not in s


def test_ten_x_sentence_says_when_it_is_the_extrapolated_law_and_rough():
    ent = _ent(reliable_to=2)
    ent["gamma"]["window"], ent["gamma"]["n_points"] = [1, 2], 2
    pred = sl.theory.predict_from_stats(_corr(), ent, CORPUS, n_boot=100)
    t, s = pred.ten_x, pred.sentence()
    assert t["n_star"] > 2
    a = pred.alpha_D["value"]
    assert t["percent"] == pytest.approx(100 * (1 - 10**-a), rel=1e-9)  # the law's own number
    assert f"about {t['percent']:.1f}%" in s  # the numbers stay in the sentence
    assert f"{t['percent_ci95'][0]:.1f}-{t['percent_ci95'][1]:.1f}%" in s
    assert f"1 - 10^-alpha_D with alpha_D = {a:.3f}" in s
    assert "are that extrapolation" in s
    assert "Treat it as rough: gamma is fitted on only 2 context lengths (n = 1..2)" in s


def test_figure_dashes_the_extrapolated_curve_and_keeps_the_axis_on_it(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ent = _ent(reliable_to=5)
    ent["gamma"] = {**ent["gamma"], "stderr": 1.0, "ci95": [-1.7, 2.3], "window": [1, 5]}
    pred = sl.theory.predict_from_stats(_corr(), ent, CORPUS, n_boot=200)
    d = pred.to_dict()
    L, lo = (np.asarray(d["predicted_loss"][k]) for k in ("loss", "lo"))
    assert lo.min() < L.min() / 1e3  # a band many decades wide
    figs = []
    monkeypatch.setattr(plt, "close", lambda fig: figs.append(fig))
    pred.plot(tmp_path / "p.png")
    ax = figs[0].axes[0]
    y_lo, y_hi = ax.get_ylim()
    assert L.min() / 10.01 <= y_lo <= L.min() and L.max() <= y_hi <= L.max() * 10.01
    styles = {ln.get_linestyle() for ln in ax.get_lines() if len(ln.get_xdata()) > 1}
    assert {"-", "--"} <= styles  # measured part solid, extrapolated part dashed
    ns = np.asarray(d["horizon"]["n_star"])
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata())]
    assert np.all(ns[: len(solid[0].get_xdata())] <= 5.0 * (1 + 1e-9))
