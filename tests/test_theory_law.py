"""The scaling-law algebra of scalinglab.theory against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglab.theory import (
    alpha_from,
    entropy_at,
    horizon,
    local_exponent,
    noise_floor_at,
    predict_from_stats,
    tokens_for_horizon,
)


def test_alpha_and_propagated_error() -> None:
    # REFERENCE 1.5, TinyStories: beta 0.88 +- 0.06, gamma 0.325 +- 0.003 -> 0.185 +- 0.013.
    a, da = alpha_from(0.88, 0.325, 0.06, 0.003)
    assert a == pytest.approx(0.1847, abs=5e-4)
    assert da == pytest.approx(0.013, abs=1e-3)
    # WikiText-103: 0.94 +- 0.16, 0.265 +- 0.016 -> 0.141 +- 0.025.
    a, da = alpha_from(0.94, 0.265, 0.16, 0.016)
    assert a == pytest.approx(0.141, abs=1e-3)
    assert da == pytest.approx(0.025, abs=1.5e-3)


@given(st.floats(0.2, 3.0), st.floats(1e-4, 1.0), st.floats(1e-3, 10.0))
@settings(max_examples=50, deadline=None)
def test_horizon_meets_floor_and_inverts(beta: float, amp: float, c: float) -> None:
    P = np.logspace(3, 12, 7)
    n = horizon(P, amp, beta, c, 1.0)
    np.testing.assert_allclose(amp * n ** (-beta), noise_floor_at(P, c, 1.0), rtol=1e-10)
    np.testing.assert_allclose(tokens_for_horizon(n, amp, beta, c, 1.0), P, rtol=1e-9)
    # n*(P) ~ P^(1/(2 beta))
    slope = np.diff(np.log(n)) / np.diff(np.log(P))
    np.testing.assert_allclose(slope, 1 / (2 * beta), rtol=1e-9)


def test_entropy_interpolates_and_extrapolates_the_law() -> None:
    n = np.arange(0, 11, dtype=float)
    h = np.r_[4.0, 3.0 * n[1:] ** -0.3]
    x = np.array([0.0, 0.5, 1.0, 2.5, 7.0, 10.0, 40.0, 1e4])
    got = entropy_at(x, n, h, n_last=10, gamma=0.3)[0]
    want = np.r_[4.0, 3.5, 3.0, 3.0 * np.array([2.5, 7.0, 10.0, 40.0, 1e4]) ** -0.3]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # Untrusted points beyond n_last are ignored; the law continues from n_last.
    h_bad = h.copy()
    h_bad[6:] = 0.01
    got = entropy_at(np.array([5.0, 20.0]), n, h_bad, n_last=5, gamma=0.3)[0]
    np.testing.assert_allclose(got, [3.0 * 5**-0.3, 3.0 * 5**-0.3 * 4**-0.3], rtol=1e-12)
    # Replicate axes broadcast: per-replicate gamma.
    got = entropy_at(np.array([[100.0], [100.0]]), n, h, n_last=10, gamma=np.array([0.3, 0.6]))
    np.testing.assert_allclose(got[:, 0], 3.0 * 10**-0.3 * 10.0 ** -np.array([0.3, 0.6]))


def _stats(beta: float, gamma: float, amp: float = 0.05, c: float = 0.5, n_tokens=10**7):
    lags = np.arange(1, 65)
    norms = amp * lags**-beta
    corr = {
        "lags": lags.tolist(),
        "operator_norm": norms.tolist(),
        "operator_norm_stderr": (0.01 * norms).tolist(),
        "noise_floor": (c / np.sqrt(n_tokens - lags)).tolist(),
        "resolvable": [True] * 64,
        "beta": {
            "value": beta,
            "stderr": 0.01,
            "ci95": [beta - 0.02, beta + 0.02],
            "window": [1, 64],
            "n_points": 64,
        },
        "warnings": [],
    }
    n = np.arange(0, 16)
    h = np.r_[5.0, 3.0 * n[1:] ** -gamma]
    ent = {
        "n": n.tolist(),
        "estimate": h.tolist(),
        "upper": h.tolist(),
        "lower": h.tolist(),
        "reliable": [True] * 16,
        "gamma": {
            "value": gamma,
            "stderr": 0.005,
            "ci95": [gamma - 0.01, gamma + 0.01],
            "window": [1, 15],
            "n_points": 15,
        },
        "warnings": [],
    }
    corpus = {"source": "synthetic", "tokens": n_tokens, "vocab_size": 100, "tokenizer": "x"}
    return corr, ent, corpus


def test_predicted_curve_has_exponent_gamma_over_two_beta() -> None:
    beta, gamma = 0.9, 0.33
    corr, ent, corpus = _stats(beta, gamma)
    pred = predict_from_stats(corr, ent, corpus, p_min=1e4, p_max=1e14, n_boot=200)
    assert pred.alpha_D["value"] == pytest.approx(gamma / (2 * beta), rel=1e-12)
    P = np.asarray(pred.predicted_loss["P"])
    L = np.asarray(pred.predicted_loss["loss"])
    n_star = np.asarray(pred.horizon["n_star"])
    # Where n*(P) >= 1 the curve is exactly H at the horizon, a power law in P.
    m = n_star > 1.5
    np.testing.assert_allclose(local_exponent(P, L)[m][1:-1], gamma / (2 * beta), rtol=1e-6)
    # Horizon constant: A n*^-beta equals the floor c / sqrt(P).
    np.testing.assert_allclose(0.05 * n_star**-beta, 0.5 / np.sqrt(P), rtol=1e-3)
    lo, hi = pred.alpha_D["ci95"]
    assert lo < pred.alpha_D["value"] < hi
    assert np.all(np.asarray(pred.predicted_loss["lo"]) <= L + 1e-12)
    assert np.all(np.asarray(pred.predicted_loss["hi"]) >= L - 1e-12)
    # The 10x sentence: 1 - 10^-alpha where the law holds.
    assert pred.ten_x["percent"] == pytest.approx(100 * (1 - 10 ** (-gamma / (2 * beta))), rel=1e-6)


def test_target_loss_inverts_the_curve() -> None:
    corr, ent, corpus = _stats(0.8, 0.3)
    pred = predict_from_stats(corr, ent, corpus, target_loss=1.0, n_boot=100)
    # H(n) = 3 n^-0.3 = 1 -> n = 3^(1/0.3); P = (c n^beta / A)^2
    n = 3 ** (1 / 0.3)
    assert pred.target["n_star"] == pytest.approx(n, rel=1e-3)
    assert pred.target["P"] == pytest.approx((0.5 * n**0.8 / 0.05) ** 2, rel=1e-2)


def test_warning_paths() -> None:
    corr, ent, corpus = _stats(0.9, 0.33)
    corr["beta"]["window"], corr["beta"]["n_points"] = [1, 3], 3
    ent["reliable"] = [True] * 5 + [False] * 11
    ent["gamma"]["window"] = [1, 4]
    ent["gamma"]["n_points"] = 4
    corr["warnings"] = ["broken power law: residuals show a break near lag 32"]
    pred = predict_from_stats(corr, ent, corpus, context=64, n_boot=50)
    text = "\n".join(pred.warnings)
    assert "beta fit window [1, 3] holds only 3" in text
    assert "gamma fit window [1, 4] holds only 4" in text
    assert "broken power law" in text
    assert "context length T = 64 is not much larger" in text
    assert "last context length with trusted entropy" in text
    # Nothing resolvable: no law, a warning, never a number.
    corr["beta"] = {"value": None, "stderr": None, "ci95": [None, None], "window": None}
    pred = predict_from_stats(corr, ent, corpus, n_boot=10)
    assert pred.alpha_D["value"] is None and not pred.ok
    assert any("beta is undefined" in w for w in pred.warnings)


def test_broken_power_law_takes_the_segment_before_the_break() -> None:
    corr, ent, corpus = _stats(0.9, 0.33)
    left = {**corr["beta"], "window": [1, 16], "n_points": 16}
    right = {**corr["beta"], "value": 0.05, "window": [16, 64], "n_points": 49}
    corr["beta"] = {**corr["beta"], "value": 0.4, "break": {"at": 16, "left": left, "right": right}}
    pred = predict_from_stats(corr, ent, corpus, n_boot=50)
    assert pred.beta["value"] == 0.9 and pred.beta["window"] == [1, 16]
    assert pred.alpha_D["value"] == pytest.approx(0.33 / 1.8)
    assert any("broken power law (break at lag 16)" in w for w in pred.warnings)


def test_short_reliable_window_falls_back_to_the_converged_window() -> None:
    corr, ent, corpus = _stats(0.9, 0.33)
    h = np.asarray(ent["estimate"])
    ent["reliable"] = [True, True] + [False] * 14
    ent["converged"] = [True] * 8 + [False] * 8
    ent["coverage"] = [1.0] * 16
    ent["upper"] = (h * 1.1).tolist()
    ent["lower"] = (h * 0.9).tolist()
    ent["gamma"] = {
        "value": None,
        "stderr": None,
        "ci95": [None, None],
        "window": [1, 1],
        "n_points": 0,
    }
    pred = predict_from_stats(corr, ent, corpus, n_boot=50)
    assert pred.gamma["window"] == [1, 7]
    assert pred.gamma["value"] == pytest.approx(0.33, rel=1e-9)  # exact power law
    assert pred.gamma["stderr"] > 0  # the bound gap becomes an error bar
    assert any("gamma is fitted on n = 1..7" in w for w in pred.warnings)
