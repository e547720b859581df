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
        beta_window=(4, 32),
        max_n=16,
        n_boot=200,
        progress=False,
    )
    assert pred.beta["value"] == pytest.approx(BETA, rel=0.10)
    assert pred.beta["window"] == [4, 32]
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
        beta_window=(4, 32),
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
    assert any("cannot be predicted" in w for w in pred.warnings)
    d = json.loads((tmp_path / "prediction.json").read_text())
    assert d["alpha_D"]["value"] is None


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
    assert any("per-position losses" in w for w in pred.warnings)
    # the curve follows the model losses: L(P) at a horizon n* <= 20 equals 2 n*^-0.3
    d = pred.to_dict()
    ns, loss = np.asarray(d["horizon"]["n_star"]), np.asarray(d["predicted_loss"]["loss"])
    inside = (ns >= 1) & (ns <= 20)
    assert inside.any()
    assert np.allclose(loss[inside], 2.0 * ns[inside] ** -0.3, rtol=0.02)
    # without external losses the count fallback cannot fit (coverage too low): no law
    ent2 = {k: v for k, v in ent.items() if k != "upper_external"}
    assert sl.theory.predict_from_stats(corr, ent2, corpus, n_boot=10).alpha_D["value"] is None
