"""Scaling-law forms: values against direct formulas, Jacobians against finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from scalinglab.errors import UserError
from scalinglab.fit import FORMS, Form, get_form
from scalinglab.fit.forms import project_coefficients


def direct(name: str, p: dict, X: np.ndarray) -> np.ndarray:
    """The published formulas, written out independently of the package."""
    if name == "power_law":
        return p["A"] * X[0] ** -p["alpha"]
    if name == "power_law_offset":
        return p["E"] + p["A"] * X[0] ** -p["alpha"]
    if name == "chinchilla":
        return p["E"] + p["A"] * X[0] ** -p["alpha"] + p["B"] * X[1] ** -p["beta"]
    if name == "dynamical":
        return p["L_inf"] + p["C_t"] * X[0] ** -p["alpha_t"] + p["C_N"] * X[1] ** -p["alpha_N"]
    if name == "kaplan":
        return ((p["N_c"] / X[0]) ** (p["alpha_N"] / p["alpha_D"]) + p["D_c"] / X[1]) ** p[
            "alpha_D"
        ]
    if name.startswith("bnsl"):
        k = 1 if name == "bnsl" else int(name[-1])
        y = p["b"] * X[0] ** -p["c0"]
        for i in range(1, k + 1):
            y = y * (1 + (X[0] / p[f"d{i}"]) ** (1 / p[f"f{i}"])) ** (-p[f"c{i}"] * p[f"f{i}"])
        return p["a"] + y
    raise AssertionError(name)


def random_params(form: Form, rng: np.random.Generator) -> dict:
    out = {}
    for q in form.params:
        if q.name.startswith("d"):
            out[q.name] = float(10 ** rng.uniform(2, 4))
        elif q.name in ("N_c", "D_c"):
            out[q.name] = float(10 ** rng.uniform(12, 14))
        elif q.log:
            out[q.name] = float(rng.uniform(0.2, 5.0) if not q.exponent else rng.uniform(0.05, 0.5))
        else:
            out[q.name] = float(rng.uniform(0.05, 1.0))
    return out


def inputs(form: Form, rng: np.random.Generator, n: int = 30) -> np.ndarray:
    if len(form.inputs) == 1:
        return np.geomspace(10, 1e5, n)[None, :]
    return np.vstack([10 ** rng.uniform(6, 10, n), 10 ** rng.uniform(8, 12, n)])


@pytest.mark.parametrize("name", FORMS)
def test_values_match_published_formulas(name):
    rng = np.random.default_rng(3)
    form = get_form(name)
    for _ in range(5):
        p = random_params(form, rng)
        X = inputs(form, rng)
        np.testing.assert_allclose(form.predict(p, X), direct(name, p, X), rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(FORMS), seed=st.integers(0, 2**32 - 1))
def test_jacobian_matches_central_differences(name, seed):
    rng = np.random.default_rng(seed)
    form = get_form(name)
    theta = form.to_internal(np.array([list(random_params(form, rng).values()) for _ in range(3)]))
    lX = np.log(inputs(form, rng, 12))
    _, J = form.log_predict(theta, lX, True)
    h = 1e-6
    for j in range(form.n_params):
        step = np.zeros_like(theta)
        step[:, j] = h
        fd = (
            form.log_predict(theta + step, lX, False)[0]
            - form.log_predict(theta - step, lX, False)[0]
        ) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-5, atol=1e-6)


def test_internal_coordinates_round_trip():
    form = get_form("chinchilla")
    v = np.array([[400.0, 2000.0, 1.8, 0.3, 0.4]])
    np.testing.assert_allclose(
        form.to_internal(v), [[np.log(400), np.log(2000), np.log(1.8), 0.3, 0.4]]
    )
    np.testing.assert_allclose(form.to_natural(form.to_internal(v)), v)


def test_chinchilla_default_grid_is_epochs_4500_starts():
    form = get_form("chinchilla")
    grid = form.start_grid(np.zeros((2, 3)), np.zeros(3))
    assert grid.shape == (4500, 5)
    assert sorted(set(grid[:, 0])) == [0, 5, 10, 15, 20, 25]
    assert sorted(set(grid[:, 2])) == [-1, -0.5, 0, 0.5, 1]
    assert sorted(set(grid[:, 3])) == [0, 0.5, 1, 1.5, 2]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 3))
def test_projection_is_nonnegative_least_squares(seed, m):
    rng = np.random.default_rng(seed)
    n = 15
    F = np.exp(rng.normal(size=(n, m)))
    y = np.exp(rng.normal(size=n))
    logc = project_coefficients(np.log(F)[None], np.log(y))[0]
    # reference: scipy's NNLS on the relative-error system F / y c ~ 1
    c_ref, rss_ref = nnls(F / y[:, None], np.ones(n))
    c = np.where(c_ref > 0, np.exp(logc), 0.0)
    rss = np.linalg.norm(F / y[:, None] @ c - 1)
    assert rss == pytest.approx(rss_ref, rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(c[c_ref > 0], c_ref[c_ref > 0], rtol=1e-5)


def test_unknown_form_is_a_user_error():
    with pytest.raises(UserError, match="unknown form"):
        get_form("quadratic")


def test_aliases():
    assert get_form("offset").name == "power_law_offset"
    assert get_form("bnsl1").name == "bnsl"


def test_from_callable_reads_parameters_and_bounds():
    def law(x, E, A, alpha):
        return E + A * x**-alpha

    form = Form.from_callable(law, {"E": (1e-3, 10), "A": (1e-2, 1e4), "alpha": (0, 2)})
    assert form.param_names == ["E", "A", "alpha"]
    assert [q.log for q in form.params] == [True, True, False]
    p = {"E": 1.5, "A": 30.0, "alpha": 0.4}
    X = np.geomspace(1, 1e4, 9)[None]
    np.testing.assert_allclose(form.predict(p, X), direct("power_law_offset", p, X))
    lX = np.log(X)
    theta = form.to_internal(np.array([[1.5, 30.0, 0.4]]))
    _, J = form.log_predict(theta, lX, True)
    _, J_ref = get_form("power_law_offset").log_predict(theta, lX, True)
    np.testing.assert_allclose(J, J_ref, rtol=1e-6, atol=1e-9)


def test_from_callable_needs_bounds():
    with pytest.raises(UserError, match="bounds"):
        Form.from_callable(lambda x, a, b: a * x**b, {"a": (0.1, 1)})
    with pytest.raises(UserError, match="lo < hi"):
        Form.from_callable(lambda x, a: a * x, {"a": (1, 1)})


@pytest.mark.parametrize("name", ["bnsl2", "bnsl3"])
def test_bnsl_breaks_permuted_give_the_same_curve_and_sort_back(name):
    rng = np.random.default_rng(9)
    form = get_form(name)
    k = int(name[-1])
    X = inputs(form, rng)
    theta = form.to_internal(np.array([list(random_params(form, rng).values()) for _ in range(4)]))
    for perm in itertools.permutations(range(k)):
        shuffled = theta.copy()
        for dst, src in enumerate(perm):
            shuffled[:, 3 + 3 * dst : 6 + 3 * dst] = theta[:, 3 + 3 * src : 6 + 3 * src]
        np.testing.assert_allclose(
            form.predict(form.to_natural(shuffled), X), form.predict(form.to_natural(theta), X),
            rtol=1e-12,
        )  # fmt: skip
        canon = form.canonicalize(shuffled)
        log_d = canon[:, 4::3]
        assert np.all(np.diff(log_d, axis=1) >= 0)
        np.testing.assert_array_equal(form.canonicalize(canon), canon)
        np.testing.assert_array_equal(canon, form.canonicalize(theta))
    # forms without symmetries are left alone
    chin = get_form("chinchilla")
    t = np.array([[6.0, 7.0, 0.5, 0.3, 0.4]])
    np.testing.assert_array_equal(chin.canonicalize(t), t)
