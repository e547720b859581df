"""The beta fit: exact least-squares errors, interval coverage, replicates and breaks."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.errors import UserError
from scalinglab.stats.correlations import PowerLawFit, fit_power_law

LAGS = np.unique(np.round(np.geomspace(1, 200, 25))).astype(float)


def noisy_law(beta, sigma, seed, x=LAGS, amp=0.02):
    rng = np.random.default_rng(seed)
    return amp * x**-beta * np.exp(sigma * rng.standard_normal(x.size))


def test_recovers_exponent_and_the_exact_least_squares_error():
    sigma = 0.05
    y = noisy_law(0.9, sigma, 0)
    fit = fit_power_law(LAGS, y, sigma * y, n_boot=4000, seed=1, detect_break=False)
    t = np.log(LAGS)
    exact_se = sigma / np.sqrt(((t - t.mean()) ** 2).sum())  # Var(slope) of OLS
    assert fit.stderr == pytest.approx(exact_se, rel=0.06)
    assert fit.fit_stderr == pytest.approx(exact_se, rel=0.25)
    assert abs(fit.value - 0.9) < 3 * exact_se
    assert fit.window == (1.0, 200.0) and fit.n_points == LAGS.size
    assert fit.amplitude == pytest.approx(0.02, rel=0.1)
    assert fit.chi2_dof == pytest.approx(1.0, abs=0.6)


def test_interval_covers_the_true_exponent_about_95_percent_of_the_time():
    sigma, beta, trials = 0.1, 1.3, 300
    hits = 0
    for seed in range(trials):
        y = noisy_law(beta, sigma, seed)
        fit = fit_power_law(LAGS, y, sigma * y, n_boot=300, seed=seed, detect_break=False)
        hits += fit.ci95[0] <= beta <= fit.ci95[1]
    # Binomial(300, 0.95): sd 1.3%; allow 4 sd.
    assert 0.90 <= hits / trials <= 0.995


def test_supplied_replicates_are_refitted_with_the_same_weights():
    rng = np.random.default_rng(3)
    y = 0.02 * LAGS**-0.7  # on the law: no scatter, the replicates carry all the noise
    sig = 0.03 * y * (1 + LAGS / 50)
    reps = y[None, :] * np.exp(sig / y * rng.standard_normal((200, y.size)))
    fit = fit_power_law(LAGS, y, sig, window=(2, 100), replicates=reps, detect_break=False)
    assert fit.scatter == 0.0 and fit.chi2_dof == pytest.approx(0.0, abs=1e-20)
    inside = (LAGS >= 2) & (LAGS <= 100)
    w = y[inside] / sig[inside]  # np.polyfit weights multiply the residuals
    slopes = [np.polyfit(np.log(LAGS[inside]), np.log(r[inside]), 1, w=w)[0] for r in reps]
    assert fit.stderr == pytest.approx(np.std(slopes, ddof=1), rel=1e-9)
    assert fit.stderr_sampling == pytest.approx(fit.stderr, rel=1e-12)
    # The window reports the first and last points used.
    assert fit.window == (LAGS[inside][0], LAGS[inside][-1])
    assert fit.value == pytest.approx(0.7, rel=1e-12)


def test_scatter_beyond_the_errors_is_estimated_and_propagated():
    """log y = log A - beta log x + tau e + s e': with s << tau the fit must find tau,
    weight the points about equally and quote the error of the full scatter."""
    tau, s, beta, trials = 0.1, 0.01, 0.8, 200
    t = np.log(LAGS)
    exact_se = np.sqrt(tau**2 + s**2) / np.sqrt(((t - t.mean()) ** 2).sum())
    taus, ses, hits = [], [], 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        y = 0.02 * LAGS**-beta * np.exp(tau * rng.standard_normal(LAGS.size))
        y = y * np.exp(s * rng.standard_normal(LAGS.size))
        fit = fit_power_law(LAGS, y, s * y, n_boot=300, seed=seed, detect_break=False)
        taus.append(fit.scatter)
        ses.append(fit.stderr)
        hits += fit.ci95[0] <= beta <= fit.ci95[1]
        assert fit.chi2_dof > 5 and fit.stderr_sampling < fit.stderr
    assert np.median(taus) == pytest.approx(tau, rel=0.1)
    assert np.median(ses) == pytest.approx(exact_se, rel=0.15)
    assert 0.88 <= hits / trials <= 0.995


def test_a_broken_power_law_is_detected_and_split():
    x = LAGS
    y = np.where(x <= 20, x**-0.5, 20**-0.5 * (x / 20) ** -2.0)
    y = y * np.exp(0.02 * np.random.default_rng(5).standard_normal(x.size))
    fit = fit_power_law(x, y, 0.02 * y, n_boot=500)
    assert fit.broken is not None
    b = fit.broken
    assert 14 <= b.at <= 29
    assert b.left.value == pytest.approx(0.5, abs=0.1)
    assert b.right.value == pytest.approx(2.0, abs=0.15)
    assert b.p_value < 1e-6 and b.delta == pytest.approx(1.5, abs=0.2)
    d = fit.to_dict()["break"]
    assert d["left"]["window"][1] == d["at"] == d["right"]["window"][0]


def test_no_break_is_reported_on_a_clean_power_law():
    false = sum(
        fit_power_law(LAGS, y, 0.05 * y, n_boot=200, seed=s).broken is not None
        for s in range(40)
        for y in [noisy_law(1.0, 0.05, 1000 + s)]
    )
    assert false <= 2


def test_too_few_points_and_bad_input_are_user_errors():
    with pytest.raises(UserError, match="at least 3"):
        fit_power_law([1, 2, 3, 4], [1.0, 0.5, -1, 0.2], window=(1, 3))
    with pytest.raises(UserError):
        fit_power_law([1, np.nan, 3], [1.0, 0.5, 0.3])
    with pytest.raises(UserError):
        fit_power_law([0, 1, 2], [1.0, 0.5, 0.3])
    undefined = PowerLawFit.undefined("nothing is resolvable").to_dict()
    assert undefined["value"] is None and undefined["ci95"] is None
    assert undefined["window"] is None and undefined["reason"] == "nothing is resolvable"


def test_least_squares_error_without_sigma_is_the_ordinary_one():
    from scipy.stats import linregress

    y = noisy_law(0.9, 0.2, 4)
    fit = fit_power_law(LAGS, y, n_boot=0, detect_break=False)
    ref = linregress(np.log(LAGS), np.log(y))
    assert fit.value == pytest.approx(-ref.slope, rel=1e-12)
    assert fit.fit_stderr == pytest.approx(ref.stderr, rel=1e-10)
    assert fit.stderr is None and fit.ci95 is None
    # On an exact power law the error is 0, not 1 / sqrt(Sxx).
    exact = fit_power_law(LAGS, 0.02 * LAGS**-0.9, n_boot=0, detect_break=False)
    assert exact.fit_stderr == pytest.approx(0.0, abs=1e-12)
