"""End-to-end fits: published numbers, exact recoveries, closed-form intervals, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.fit import Form, get_form
from scalinglab.warns import code_of, has_code

CHINCHILLA_X = ["Model Size", "Training FLOP / (6 * Model Size)"]
# REFERENCE section 3: Epoch AI's replication of the Chinchilla fit.
PUBLISHED = {"A": 477.8, "B": 2143.9, "E": 1.8172, "alpha": 0.3473, "beta": 0.3672}
PUBLISHED_CI = {"alpha": (0.317, 0.373), "beta": (0.331, 0.415)}


@pytest.fixture(scope="module")
def chinchilla(shared_data):
    return sl.fit.fit(
        shared_data / "chinchilla_svg_extracted_data.csv",
        "loss",
        x=CHINCHILLA_X,
        form="chinchilla",
        drop_highest=5,
        n_boot=200,
        progress=False,
    )


def test_chinchilla_reproduces_published_parameters(chinchilla):
    assert chinchilla.n_points == 240
    assert chinchilla.starts["n"] == 4500
    for name, value in PUBLISHED.items():
        assert chinchilla.params[name] == pytest.approx(value, rel=0.01), name


def test_chinchilla_bootstrap_intervals_match_published(chinchilla):
    for name, (lo, hi) in PUBLISHED_CI.items():
        ci = chinchilla.ci95[name]
        assert ci[0] == pytest.approx(lo, rel=0.05), name
        assert ci[1] == pytest.approx(hi, rel=0.05), name
        assert ci[0] < chinchilla.params[name] < ci[1]
        assert chinchilla.stderr[name] == pytest.approx((hi - lo) / (2 * 1.96), rel=0.3)


def test_chinchilla_drop_highest_removes_the_five_largest_losses(shared_data):
    table = sl.fit.read_table(shared_data / "chinchilla_svg_extracted_data.csv")
    fd = sl.fit.prepare(table, "loss", x=CHINCHILLA_X, drop_highest=5)
    assert fd.n == 240
    assert fd.y.max() == np.sort(table["loss"])[-6]
    np.testing.assert_allclose(fd.X[1], table["Training FLOP"][fd.rows - 1] / (6 * fd.X[0]))


def test_bnsl_extrapolates_four_digit_addition(shared_data):
    r = sl.fit.fit(
        shared_data / "bnsl_4digit_addition.csv",
        "test_cross_entropy",
        x="train_set_size",
        form="bnsl",
        holdout_last=3,
        n_boot=50,
        progress=False,
    )
    ex = r.extrapolation
    assert r.n_points == 14 and ex["n_points"] == 3
    assert [p["row"] for p in ex["points"]] == [15, 16, 17]
    assert ex["rmsle"] <= 0.02
    # RMSLE recomputed from the reported predictions
    y = np.array([p["y"] for p in ex["points"]])
    pred = np.array([p["predicted"] for p in ex["points"]])
    assert ex["rmsle"] == pytest.approx(np.sqrt(np.mean(np.log(y / pred) ** 2)), rel=1e-12)
    assert ex["window"]["train_set_size"] == [800, 928]
    assert ex["fit_window"]["train_set_size"] == [160, 736]


NOISELESS = {
    "power_law": ({"A": 30.0, "alpha": 0.3}, [np.geomspace(1e3, 1e8, 20)]),
    "kaplan": (
        {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095},
        [np.geomspace(1e7, 1e10, 6).repeat(5), np.tile(np.geomspace(1e9, 1e12, 5), 6)],
    ),
    "dynamical": (
        {"L_inf": 1.5, "C_t": 20.0, "alpha_t": 0.5, "C_N": 50.0, "alpha_N": 0.3},
        [np.geomspace(1e2, 1e5, 6).repeat(5), np.tile(np.geomspace(1e6, 1e9, 5), 6)],
    ),
    "bnsl": (
        {"a": 0.4, "b": 2.3, "c0": 0.05, "c1": 2.0, "d1": 600.0, "f1": 0.1},
        [np.geomspace(100, 5000, 25)],
    ),
}


@pytest.mark.parametrize("name", list(NOISELESS))
@pytest.mark.parametrize("loss", ["huber", "least_squares"])
def test_noiseless_data_give_back_the_parameters(name, loss):
    true, X = NOISELESS[name]
    y = get_form(name).predict(true, np.vstack(X))
    r = sl.fit.fit(X if len(X) > 1 else X[0], y, form=name, loss=loss, n_boot=0, progress=False)
    for k, v in true.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k
    assert r.train["rmsle"] < 1e-9


def test_noiseless_chinchilla_from_the_recipe_grid():
    true = {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28}
    N = np.geomspace(1e7, 1e10, 8).repeat(6)
    D = np.tile(np.geomspace(1e9, 1e12, 6), 8)
    y = get_form("chinchilla").predict(true, np.vstack([N, D]))
    # a corner of the recipe grid keeps the test quick
    starts = {"A": np.exp([0, 5, 10]), "B": np.exp([0, 5, 10]), "E": np.exp([-1, 0, 1]),
              "alpha": [0, 0.5, 1], "beta": [0, 0.5, 1]}  # fmt: skip
    r = sl.fit.fit([N, D], y, form="chinchilla", starts=starts, n_boot=0, progress=False)
    assert r.starts["n"] == 243
    for k, v in true.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


@settings(max_examples=8, deadline=None)
@given(
    E=st.floats(0.5, 3.0),
    A=st.floats(1.0, 1e3),
    alpha=st.floats(0.1, 1.0),
)
def test_noiseless_power_law_with_offset(E, A, alpha):
    x = np.geomspace(10, 1e7, 25)
    y = E + A * x**-alpha
    r = sl.fit.fit(x, y, form="power_law_offset", n_boot=0, progress=False, n_jobs=1)
    assert r.params["E"] == pytest.approx(E, rel=1e-6)
    assert r.params["A"] == pytest.approx(A, rel=1e-6)
    assert r.params["alpha"] == pytest.approx(alpha, rel=1e-6)


@pytest.fixture(scope="module")
def noisy_power_law():
    """log y = log 50 - 0.4 log x + N(0, 0.05^2): ordinary least squares in log-log space."""
    rng = np.random.default_rng(7)
    x = np.geomspace(10, 1e6, 200)
    y = 50 * x**-0.4 * np.exp(rng.normal(0, 0.05, x.size))
    lx, ly = np.log(x), np.log(y)
    slope, icpt = np.polyfit(lx, ly, 1)
    rss = np.sum((ly - icpt - slope * lx) ** 2)
    sxx = np.sum((lx - lx.mean()) ** 2)
    return x, y, -slope, np.exp(icpt), rss, sxx


def test_least_squares_power_law_is_ols(noisy_power_law):
    x, y, alpha, A, rss, _ = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", loss="least_squares", n_boot=0, progress=False)
    assert r.params["alpha"] == pytest.approx(alpha, rel=1e-8)
    assert r.params["A"] == pytest.approx(A, rel=1e-8)
    assert r.objective == pytest.approx(rss / 2, rel=1e-8)
    n, k = x.size, 3
    loglik = -n / 2 * (np.log(2 * np.pi * rss / n) + 1)
    assert r.information["aic"] == pytest.approx(2 * k - 2 * loglik)
    assert r.information["bic"] == pytest.approx(k * np.log(n) - 2 * loglik)
    aicc = 2 * k - 2 * loglik + 2 * k * (k + 1) / (n - k - 1)
    assert r.information["aicc"] == pytest.approx(aicc)


def test_bootstrap_standard_error_matches_ols(noisy_power_law):
    x, y, alpha, _, rss, sxx = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", loss="least_squares", n_boot=1000, progress=False)
    se_ols = np.sqrt(rss / (x.size - 2) / sxx)
    assert r.stderr["alpha"] == pytest.approx(se_ols, rel=0.15)
    lo, hi = r.ci95["alpha"]
    assert lo == pytest.approx(alpha - 1.96 * se_ols, abs=0.4 * se_ols)
    assert hi == pytest.approx(alpha + 1.96 * se_ols, abs=0.4 * se_ols)


def test_profile_interval_is_the_closed_form_one(noisy_power_law):
    x, y, alpha, _, rss, sxx = noisy_power_law
    r = sl.fit.fit(
        x, y, form="power_law", loss="least_squares", n_boot=0, profile=True, progress=False
    )
    # linear model: n (RSS_p - RSS) / RSS = n (a - a_hat)^2 Sxx / RSS  <=  3.84
    half = np.sqrt(3.841458820694124 * rss / (x.size * sxx))
    lo, hi = r.profile["alpha"]["ci95"]
    assert lo == pytest.approx(alpha - half, abs=0.01 * half)
    assert hi == pytest.approx(alpha + half, abs=0.01 * half)


def test_comparison_ranks_the_true_form_first():
    rng = np.random.default_rng(11)
    x = np.geomspace(1e3, 1e9, 40)
    y = (1.7 + 400 * x**-0.34) * np.exp(rng.normal(0, 0.005, x.size))
    r = sl.fit.fit(
        x, y, form="power_law,power_law_offset", n_boot=20, holdout_last=5, progress=False
    )
    assert r.form.name == "power_law_offset"
    ranking = {e["form"]: e for e in r.ranking}
    assert ranking["power_law_offset"]["rank"] == 1
    assert ranking["power_law_offset"]["delta_aic"] == 0.0
    assert ranking["power_law"]["heldout_rmsle"] > ranking["power_law_offset"]["heldout_rmsle"]
    assert set(r.alternatives) == {"power_law"}
    weights = [e["akaike_weight"] for e in r.ranking]
    assert sum(weights) == pytest.approx(1.0)


def test_custom_callable_form_matches_builtin():
    def law(x, E, A, alpha):
        return E + A * x**-alpha

    form = Form.from_callable(law, {"E": (0.1, 10), "A": (1, 1e4), "alpha": (0.05, 1.5)})
    rng = np.random.default_rng(5)
    x = np.geomspace(1e3, 1e9, 30)
    y = (1.7 + 400 * x**-0.34) * np.exp(rng.normal(0, 0.01, x.size))
    custom = sl.fit.fit(x, y, form=form, n_boot=0, progress=False)
    builtin = sl.fit.fit(x, y, form="power_law_offset", n_boot=0, progress=False)
    assert custom.objective == pytest.approx(builtin.objective, rel=1e-6)
    for k in ("E", "A", "alpha"):
        assert custom.params[k] == pytest.approx(builtin.params[k], rel=1e-4)


def test_predict_band_brackets_the_curve(noisy_power_law):
    x, y, *_ = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", n_boot=100, progress=False)
    pred = r.predict([1e2, 1e7, 1e9])
    assert np.all(pred.lo <= pred.y) and np.all(pred.y <= pred.hi)
    width = np.log(pred.hi / pred.lo)
    assert width[2] > width[0]  # wider when extrapolating further
    np.testing.assert_allclose(
        pred.y, r.params["A"] * np.array([1e2, 1e7, 1e9]) ** -r.params["alpha"]
    )


def test_holdout_above_a_column(tmp_path):
    N = np.geomspace(1e7, 1e10, 6).repeat(5)
    D = np.tile(np.geomspace(1e9, 1e12, 5), 6)
    y = get_form("chinchilla").predict([400, 2000, 1.8, 0.34, 0.37], np.vstack([N, D]))
    table = {"N": N, "D": D, "L": y}
    r = sl.fit.fit(table, "L", x=["N", "D"], form="kaplan", holdout_above="D=1e11", n_boot=0,
                   progress=False)  # fmt: skip
    assert r.extrapolation["n_points"] == int(np.sum(D > 1e11))
    assert r.n_points == int(np.sum(D <= 1e11))
    with pytest.raises(UserError, match="not one of the x columns"):
        sl.fit.fit(table, "L", x=["N", "D"], form="kaplan", holdout_above="Q=1", progress=False)


def test_save_writes_json_and_png(tmp_path, shared_data):
    r = sl.fit.fit(
        shared_data / "bnsl_4digit_addition.csv",
        "test_cross_entropy",
        x="train_set_size",
        form="power_law_offset",
        holdout_above=700,
        n_boot=20,
        progress=False,
    )
    path = r.save(tmp_path / "out")
    d = json.loads(path.read_text())
    for key in (
        "form",
        "params",
        "stderr",
        "ci95",
        "objective",
        "n_points",
        "train",
        "extrapolation",
    ):
        assert key in d
    assert d["extrapolation"]["n_points"] == 4
    assert set(d["ci95"]) == {"E", "A", "alpha"}
    assert (tmp_path / "out" / "fit.png").stat().st_size > 1000


def test_parquet_and_expression_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.geomspace(1, 1e4, 12)
    pq.write_table(pa.table({"size k": x / 1e3, "loss": 3 * x**-0.2}), tmp_path / "d.parquet")
    r = sl.fit.fit(tmp_path / "d.parquet", "loss", x="size k * 1000", form="power_law",
                   n_boot=0, progress=False)  # fmt: skip
    assert r.params["alpha"] == pytest.approx(0.2, rel=1e-8)
    assert r.params["A"] == pytest.approx(3.0, rel=1e-8)


# --------------------------------------------------------------------------- bad inputs


def test_nan_and_non_positive_rows_are_named(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("x,y\n1,2\n2,nan\n3,1.5\n4,-1\n5,1.2\n6,1.1\n")
    with pytest.raises(UserError, match=r"'y' at row\(s\) 2, 4"):
        sl.fit.fit(csv, "y", x="x", form="power_law", progress=False)
    r = sl.fit.fit(csv, "y", x="x", form="power_law", drop_invalid=True, n_boot=0, progress=False)
    assert r.n_points == 4
    assert "row(s) 2, 4" in r.data.dropped[0]


def test_too_few_points_is_an_error():
    with pytest.raises(UserError, match="6 parameters but only 4"):
        sl.fit.fit([1, 2, 3, 4], [4, 3, 2.5, 2.2], form="bnsl", progress=False)


def test_missing_column_and_file():
    with pytest.raises(UserError, match="no column 'Q'"):
        sl.fit.fit({"x": [1, 2, 3], "y": [3, 2, 1]}, "y", x="Q", form="power_law", progress=False)
    with pytest.raises(UserError, match="no such file"):
        sl.fit.fit("/nonexistent.csv", "y", x="x", progress=False)


def test_wrong_number_of_inputs():
    with pytest.raises(UserError, match="takes 2 input"):
        sl.fit.fit([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1.5], form="chinchilla", progress=False)
    with pytest.raises(UserError, match="x has"):
        sl.fit.fit([1, 2, 3], [1, 2], form="power_law", progress=False)


def test_bad_holdout():
    with pytest.raises(UserError, match="cannot hold out"):
        sl.fit.fit([1, 2, 3], [3, 2, 1], form="power_law", holdout_last=3, progress=False)
    with pytest.raises(UserError, match="no point"):
        sl.fit.fit([1, 2, 3], [3, 2, 1], form="power_law", holdout_above=10, progress=False)


# --------------------------------------------------------------------------- audit additions

SEVERAL_BREAKS = {
    "bnsl2": (
        {"a": 0.3, "b": 5.0, "c0": 0.1, "c1": 1.5, "d1": 300.0, "f1": 0.2,
         "c2": -0.8, "d2": 5000.0, "f2": 0.3},
        np.geomspace(10, 1e5, 40),
    ),
    "bnsl3": (
        {"a": 0.3, "b": 5.0, "c0": 0.1, "c1": 1.5, "d1": 200.0, "f1": 0.2,
         "c2": -0.8, "d2": 3000.0, "f2": 0.3, "c3": 1.0, "d3": 4e4, "f3": 0.2},
        np.geomspace(10, 1e6, 60),
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "loss"), [("bnsl2", "huber"), ("bnsl2", "least_squares"), ("bnsl3", "huber")]
)
def test_noiseless_bnsl_with_several_breaks(name, loss):
    """Breaks come back in increasing d_i, whichever order the optimiser found them in."""
    true, x = SEVERAL_BREAKS[name]
    y = get_form(name).predict(true, x[None])
    r = sl.fit.fit(x, y, form=name, loss=loss, n_boot=0, progress=False)
    for k, v in true.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


def test_bnsl_grid_follows_the_scale_of_the_data():
    """The grid ranges come from the data: x a million times larger, d1 a million times larger."""
    true, X = NOISELESS["bnsl"]
    x = X[0]
    y = get_form("bnsl").predict(true, x[None])
    r = sl.fit.fit(x * 1e6, y, form="bnsl", n_boot=0, progress=False)
    # x^-c0 absorbs the factor 1e6^c0 into b
    expect = {**true, "d1": true["d1"] * 1e6, "b": true["b"] * 1e6 ** true["c0"]}
    for k, v in expect.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


def test_noiseless_custom_callable_gives_back_the_parameters():
    def law(N, D, E, A, alpha, B, beta):
        return E + A * N**-alpha + B * D**-beta

    form = Form.from_callable(
        law,
        {"E": (0.5, 5), "A": (10, 1e4), "alpha": (0.05, 1), "B": (10, 1e4), "beta": (0.05, 1)},
        n_inputs=2,
        points_per_param=3,
    )
    true = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37}
    N = np.geomspace(1e7, 1e10, 7).repeat(6)
    D = np.tile(np.geomspace(1e9, 1e12, 6), 7)
    y = law(N, D, *true.values())
    r = sl.fit.fit([N, D], y, form=form, n_boot=0, progress=False)
    for k, v in true.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


def test_huber_with_a_delta_above_every_residual_is_least_squares(noisy_power_law):
    """Huber's rho is r^2 / 2 for |r| <= delta: a large delta gives the OLS answer exactly."""
    x, y, alpha, A, rss, _ = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", loss="huber", delta=10.0, n_boot=0, progress=False)
    assert r.loss.delta == 10.0
    assert r.params["alpha"] == pytest.approx(alpha, rel=1e-8)
    assert r.params["A"] == pytest.approx(A, rel=1e-8)
    assert r.objective == pytest.approx(rss / 2, rel=1e-8)
    # the default delta (1e-3) sits inside the residual scale (0.05): a different fit
    small = sl.fit.fit(x, y, form="power_law", n_boot=0, progress=False)
    assert small.objective < rss / 2 * 0.1


def test_bootstrap_is_seeded_and_parallel_equals_serial(noisy_power_law):
    x, y, *_ = noisy_power_law
    kw = dict(form="power_law_offset", n_boot=300, progress=False)
    serial = sl.fit.fit(x, y, n_jobs=1, seed=3, **kw)
    parallel = sl.fit.fit(x, y, n_jobs=2, seed=3, **kw)
    other = sl.fit.fit(x, y, n_jobs=1, seed=4, **kw)
    assert serial.bootstrap["n"] == 300 and serial.bootstrap["seed"] == 3
    # 300 resamples x the distinct optima they start from: enough rows for two workers
    assert 300 * len(serial.starts["distinct_optima"]) >= 2 * 200
    np.testing.assert_array_equal(serial.boot_params, parallel.boot_params)
    assert serial.stderr == parallel.stderr and serial.ci95 == parallel.ci95
    assert serial.stderr["alpha"] != other.stderr["alpha"]


def test_prediction_stderr_matches_ols(noisy_power_law):
    """Bootstrap spread of the fitted curve against the OLS standard error of the mean response.

    For log y = a - alpha log x + noise, the standard error of the fitted log y at x0 is
    s sqrt(1/n + (log x0 - mean log x)^2 / Sxx); the curve's relative stderr must match it.
    """
    x, y, _, _, rss, sxx = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", loss="least_squares", n_boot=1000, progress=False)
    x0 = np.array([30.0, 1e4, 1e8])
    pred = r.predict(x0)
    lx = np.log(x)
    s = np.sqrt(rss / (x.size - 2))
    se_log = s * np.sqrt(1 / x.size + (np.log(x0) - lx.mean()) ** 2 / sxx)
    np.testing.assert_allclose(pred.stderr / pred.y, se_log, rtol=0.15)
    d = pred.to_dict()
    assert d["stderr"] == pytest.approx(pred.stderr.tolist())


def test_fit_json_numbers_are_the_data_s(tmp_path, shared_data):
    """objective, train RMSLE and held-out RMSLE recomputed from the reported parameters."""
    from scipy.special import huber

    r = sl.fit.fit(
        shared_data / "bnsl_4digit_addition.csv",
        "test_cross_entropy",
        x="train_set_size",
        form="power_law_offset",
        holdout_last=4,
        n_boot=30,
        progress=False,
    )
    d = json.loads(r.save(tmp_path / "o", plot=False).read_text())
    table = sl.fit.read_table(shared_data / "bnsl_4digit_addition.csv")
    x, y = table["train_set_size"], table["test_cross_entropy"]
    p = d["params"]
    log_resid = np.log(y) - np.log(p["E"] + p["A"] * x ** -p["alpha"])
    fitted, held = log_resid[:-4], log_resid[-4:]
    assert d["n_points"] == 13 and d["extrapolation"]["n_points"] == 4
    assert d["objective"] == pytest.approx(huber(1e-3, fitted).sum(), rel=1e-9)
    assert d["train"]["rmsle"] == pytest.approx(np.sqrt(np.mean(fitted**2)), rel=1e-9)
    assert d["extrapolation"]["rmsle"] == pytest.approx(np.sqrt(np.mean(held**2)), rel=1e-9)
    for point in d["extrapolation"]["points"]:
        assert point["lo"] <= point["predicted"] <= point["hi"] and point["stderr"] > 0


def test_auto_ranks_the_two_input_forms_by_information_criteria():
    rng = np.random.default_rng(2)
    N = np.geomspace(1e7, 1e10, 8).repeat(6)
    D = np.tile(np.geomspace(1e9, 1e12, 6), 8)
    true = [400.0, 2000.0, 1.8, 0.34, 0.37]
    y = get_form("chinchilla").predict(true, np.vstack([N, D])) * np.exp(
        rng.normal(0, 0.002, N.size)
    )
    r = sl.fit.fit([N, D], y, form="auto", n_boot=0, progress=False)
    ranking = r.ranking
    assert [e["form"] for e in ranking] == ["chinchilla", "kaplan"] and r.form.name == "chinchilla"
    assert all(e["ranked_by"] == "aic" for e in ranking)
    aic = np.array([e["aic"] for e in ranking])
    w = np.exp(-0.5 * (aic - aic.min()))
    np.testing.assert_allclose([e["akaike_weight"] for e in ranking], w / w.sum())
    n = N.size
    for e in ranking:  # BIC - AIC = k (ln n - 2), k = parameters + noise scale
        k = e["n_params"] + 1
        assert e["bic"] - e["aic"] == pytest.approx(k * (np.log(n) - 2))


def test_plot_draws_the_band_and_the_held_out_points(noisy_power_law):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from scalinglab.fit.plot import _plot_1d

    x, y, *_ = noisy_power_law
    r = sl.fit.fit(x, y, form="power_law", n_boot=50, holdout_last=20, progress=False)
    fig, ax = plt.subplots()
    _plot_1d(ax, r)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_label() for b in bands] == ["95% band"]
    verts = bands[0].get_paths()[0].vertices
    grid = np.geomspace(x.min() / 1.15, x.max() * 1.15, 300)
    pred = r.predict(grid)
    assert verts[:, 1].min() == pytest.approx(min(pred.lo.min(), pred.hi.min()))
    assert verts[:, 1].max() == pytest.approx(max(pred.lo.max(), pred.hi.max()))
    labels = [c.get_label() for c in ax.collections]
    assert "held out" in labels and "fitted" in labels
    plt.close(fig)


def test_nan_and_inf_in_an_input_column_are_named():
    with pytest.raises(UserError, match=r"'x' at row\(s\) 2, 3"):
        sl.fit.fit([1.0, np.inf, np.nan, 4.0], [4, 3, 2, 1.5], form="power_law", progress=False)
    with pytest.raises(UserError, match="band level"):
        sl.fit.fit([1, 2, 3, 4], [4, 3, 2, 1.5], form="power_law", n_boot=0,
                   progress=False).predict([5.0], level=1.5)  # fmt: skip


def test_auto_ranks_a_form_that_interpolates_the_points_last():
    # 6 points: bnsl (6 parameters) nearly interpolates them, so its AIC is the lowest,
    # but it cannot win a comparison against forms that leave residual degrees of freedom
    x = np.array([1.0, 2, 3, 4, 5, 6])
    y = np.array([2.0, 1.5, 1.2, 1.1, 1.05, 1.02])
    r = sl.fit.fit(x, y, form="power_law,power_law_offset,bnsl", n_boot=0, progress=False)
    ranking = {e["form"]: e for e in r.ranking}
    assert ranking["bnsl"]["saturated"] and not ranking["power_law_offset"]["saturated"]
    assert ranking["bnsl"]["aic"] < ranking["power_law_offset"]["aic"]  # would have won
    assert ranking["bnsl"]["rank"] == 3 and r.form.name != "bnsl"
    first = min(ranking, key=lambda k: ranking[k]["rank"])
    others = [e for e in r.ranking if not e["saturated"]]
    assert ranking[first]["aic"] == min(e["aic"] for e in others)
    assert any(code_of(w) == "fit-ranked-last" and "bnsl" in w for w in r.warnings)
    assert has_code(r.alternatives["bnsl"].warnings, "fit-saturated")
    pred = r.predict([7.0])
    assert isinstance(pred, sl.fit.FitPrediction) and not hasattr(sl.fit, "Prediction")
