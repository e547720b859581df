"""The one power-law fitter (scalinglab.fit.powerlaw) against exact answers."""

import numpy as np
import pytest

from scalinglab.errors import UserError
from scalinglab.fit.alpha import fit_alpha
from scalinglab.fit.powerlaw import fit_power_law
from scalinglab.stats._corr_fit import fit_power_law as fit_beta
from scalinglab.stats._gamma import fit_gamma
from scalinglab.warns import has_code

X = np.geomspace(1, 1000, 25)


def test_noise_free_power_law_is_recovered_exactly():
    y = 3.5 * X**-0.73
    fit = fit_power_law(X, y, bootstrap="none")
    assert fit.exponent == pytest.approx(0.73, abs=1e-10)
    assert fit.amplitude == pytest.approx(3.5, rel=1e-10)
    assert fit.offset == 0.0 and fit.n_params == 2
    assert fit.fit_stderr == pytest.approx(0.0, abs=1e-10)
    ref = fit_power_law(X, y, x_ref="geomean", bootstrap="none")
    gm = float(np.exp(np.log(X).mean()))
    assert ref.x_ref == pytest.approx(gm, rel=1e-12)
    assert ref.amplitude == pytest.approx(3.5 * gm**-0.73, rel=1e-10)
    np.testing.assert_allclose(ref(X), y, rtol=1e-10)


def test_noise_free_power_law_with_offset_is_recovered_exactly():
    y = 0.8 + 2.5 * X**-0.6
    fit = fit_power_law(X, y, offset=True, bootstrap="none")
    assert fit.exponent == pytest.approx(0.6, abs=1e-10)
    assert fit.amplitude == pytest.approx(2.5, rel=1e-10)
    assert fit.offset == pytest.approx(0.8, abs=1e-10)
    assert np.max(np.abs(fit.log_residuals)) < 1e-10


def test_weighted_fit_is_the_closed_form_weighted_least_squares():
    rng = np.random.default_rng(3)
    y = 2.0 * X**-0.5 * np.exp(0.05 * rng.standard_normal(X.size))
    sigma = y * rng.uniform(0.01, 0.2, X.size)
    fit = fit_power_law(X, y, sigma, bootstrap="none")
    # By hand: minimise sum w (log y - a + k log x)^2 with w = (y / sigma)^2.
    A = np.column_stack([np.ones(X.size), -np.log(X)])
    W = (y / sigma) ** 2
    normal = A.T @ (W[:, None] * A)
    a, k = np.linalg.solve(normal, A.T @ (W * np.log(y)))
    assert fit.exponent == pytest.approx(k, rel=1e-12)
    assert fit.amplitude == pytest.approx(np.exp(a), rel=1e-12)
    r = np.log(y) - (a - k * np.log(X))
    chi2 = float((W * r**2).sum() / (X.size - 2))
    assert fit.chi2_dof == pytest.approx(chi2, rel=1e-10)
    cov = np.linalg.inv(normal) * max(chi2, 1.0)
    assert fit.fit_stderr == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-10)
    # weight=False: ordinary least squares with sigma left to the bootstrap noise.
    ols = fit_power_law(X, y, sigma, weight=False, bootstrap="none")
    k_ols = -np.polyfit(np.log(X), np.log(y), 1)[0]
    assert ols.exponent == pytest.approx(k_ols, rel=1e-12)


def test_scatter_solves_the_paule_mandel_equation():
    rng = np.random.default_rng(4)
    s = np.full(X.size, 0.01)
    y = X**-0.9 * np.exp(0.08 * rng.standard_normal(X.size))  # scatter 0.08 >> errors 0.01
    fit = fit_power_law(X, y, s * y, scatter=True, bootstrap="none")
    w = 1.0 / (s**2 + fit.scatter**2)
    np.testing.assert_allclose(fit.weights, w, rtol=1e-12)
    assert float((w * fit.log_residuals**2).sum()) == pytest.approx(X.size - 2, rel=1e-8)
    assert 0.04 < fit.scatter < 0.15
    none = fit_power_law(X, X**-0.9, s * X**-0.9, scatter=True, bootstrap="none")
    assert none.scatter == 0.0


@pytest.mark.parametrize("mode", ["noise", "residual"])
def test_bootstrap_interval_covers_the_truth_at_its_nominal_rate(mode):
    """200 data sets with known noise: the 95% interval holds the true exponent ~95% of the time."""
    s = 0.05
    x = np.geomspace(1, 100, 20)
    covered, widths = 0, []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = 1.7 * x**-0.8 * np.exp(s * rng.standard_normal(x.size))
        fit = fit_power_law(
            x, y, np.full(x.size, s) * y, bootstrap=mode, n_boot=400, seed=seed + 1000
        )
        lo, hi = fit.ci()
        covered += lo <= 0.8 <= hi
        widths.append(hi - lo)
    # Binomial(200, 0.95): 0.91..0.985 holds 99% of outcomes.
    assert 0.90 <= covered / 200 <= 0.99
    exact_se = s / np.sqrt(((np.log(x) - np.log(x).mean()) ** 2).sum())
    assert np.median(widths) == pytest.approx(2 * 1.96 * exact_se, rel=0.15)


def test_replicates_are_refitted_with_the_weights_of_the_fit():
    rng = np.random.default_rng(5)
    y = X**-0.7
    reps = y * np.exp(0.03 * rng.standard_normal((50, X.size)))
    reps[3, 4] = -1.0  # an unusable replicate is left out
    fit = fit_power_law(X, y, bootstrap="replicates", replicates=reps)
    assert fit.n_boot == 49
    keep = np.delete(np.arange(50), 3)
    by_hand = [-np.polyfit(np.log(X), np.log(reps[i]), 1)[0] for i in keep]
    np.testing.assert_allclose(fit.boot_exponent, by_hand, rtol=1e-10)
    assert fit.stderr() == pytest.approx(np.std(by_hand, ddof=1), rel=1e-10)


def test_offset_bootstraps_and_cases():
    rng = np.random.default_rng(6)
    y = (0.8 + 2.5 * X**-0.6) * np.exp(0.005 * rng.standard_normal(X.size))
    res = fit_power_law(X, y, offset=True, bootstrap="residual", n_boot=60, seed=1)
    lo, hi = res.ci()
    assert lo < 0.6 < hi and res.n_boot == 60
    olo, ohi = res.ci("offset")
    assert olo < 0.8 < ohi
    assert res.stderr() == pytest.approx(res.fit_stderr, rel=0.5)
    cases = fit_power_law(X, y, offset=True, bootstrap="cases", n_boot=40, seed=1)
    assert cases.n_boot == 40 and cases.ci()[0] < 0.6 < cases.ci()[1]
    # p + 1 points: every usable resample is the data set itself, so none is made.
    few = fit_power_law(X[:3], y[:3], bootstrap="cases", n_boot=50)
    assert few.n_boot == 0 and few.ci() is None and few.stderr() is None


def test_the_three_exponents_come_from_the_fitter():
    rng = np.random.default_rng(7)
    n = np.arange(1, 21, dtype=float)
    h = 2.0 * n**-0.3 * np.exp(0.01 * rng.standard_normal(n.size))
    g = fit_gamma(n, h, window=(1, 20), n_boot=100, seed=2)
    direct = fit_power_law(n, h, weight=False, bootstrap="residual+noise", n_boot=100, seed=2)
    assert g.value == direct.exponent and g.stderr == direct.stderr()
    b = fit_beta(n, h, 0.01 * h, n_boot=100, seed=2, detect_break=False)
    direct = fit_power_law(n, h, 0.01 * h, scatter=True, bootstrap="noise", n_boot=100, seed=2)
    assert b.value == direct.exponent and b.stderr == direct.stderr()
    P = np.geomspace(1e5, 1e8, 8)
    a = fit_alpha(P, 1.0 + 30 * P**-0.25, offset=True, n_boot=0)
    direct = fit_power_law(P, 1.0 + 30 * P**-0.25, offset=True, x_ref="geomean", bootstrap="none")
    assert a.alpha == direct.exponent and a.E == direct.offset and a.A == direct.amplitude


@pytest.mark.parametrize(
    "kwargs",
    [
        {"y": [1.0, np.nan, 0.5]},
        {"y": [1.0, -0.5, 0.5]},
        {"x": [1.0, 1.0, 1.0]},
        {"bootstrap": "jackknife"},
        {"bootstrap": "noise"},
        {"bootstrap": "replicates"},
        {"scatter": True},
        {"n_boot": -1},
        {"x_ref": -2.0},
        {"sigma": [0.1, 0.1]},
    ],
)
def test_bad_input_is_a_user_error(kwargs):
    args = {"x": [1.0, 2.0, 4.0], "y": [1.0, 0.6, 0.3], **kwargs}
    with pytest.raises(UserError):
        fit_power_law(args.pop("x"), args.pop("y"), **args)


def test_fits_on_a_bound_and_missing_bootstraps_are_warned_by_code():
    x = np.arange(1, 9.0)
    plateau = 1 + np.exp(-5 * x)  # falls faster than any power law onto its floor
    fit = fit_power_law(x, plateau, offset=True, bootstrap="none")
    assert has_code(fit.warnings, "fit-offset-at-bound")
    g = fit_gamma(x, plateau, window=(1, 8), offset=True, n_boot=20)
    assert has_code(g.warnings, "gamma-offset-at-bound")
    assert has_code(g.to_dict()["warnings"], "gamma-offset-at-bound")
    steep = fit_power_law(
        x, 0.5 + 2 * x**-2.0, offset=True, exponent_bounds=(0, 1), bootstrap="none"
    )
    assert steep.exponent == pytest.approx(1.0) and has_code(
        steep.warnings, "fit-exponent-at-bound"
    )
    clean = fit_power_law(x, 0.5 + 2 * x**-2.0, offset=True, bootstrap="none")
    assert clean.warnings == []
    few = fit_power_law(x[:3], x[:3] ** -0.5, bootstrap="cases", n_boot=20)
    assert has_code(few.warnings, "fit-boot-too-few")
    bad = np.full((5, 8), -1.0)  # no usable replicate
    b = fit_beta(x, x**-0.5, replicates=bad, detect_break=False)
    assert b.stderr is None and has_code(b.to_dict()["warnings"], "corr-fit-boot-too-few")
    assert "warnings" not in fit_beta(x, x**-0.5, n_boot=50, detect_break=False).to_dict()
