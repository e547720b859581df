"""The batched optimisers and the robust loss against exact answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import huber

from scalinglab.errors import UserError
from scalinglab.fit import Loss, get_form, lbfgs_batched, minimize_many
from scalinglab.fit.optim import (
    CONVERGED,
    LogResidualObjective,
    gauss_newton_batched,
)


@settings(max_examples=50, deadline=None)
@given(
    r=st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=20),
    delta=st.floats(1e-4, 0.5),
)
def test_huber_matches_scipy(r, delta):
    r = np.array(r)
    rho, psi = Loss("huber", delta).rho_psi(r)
    np.testing.assert_allclose(rho, huber(delta, r), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(psi, np.clip(r, -delta, delta))


def test_least_squares_and_bad_losses():
    r = np.array([-2.0, 0.5])
    rho, psi = Loss.parse("mse").rho_psi(r)
    np.testing.assert_allclose(rho, 0.5 * r**2)
    np.testing.assert_allclose(psi, r)
    with pytest.raises(UserError):
        Loss.parse("cauchy")
    with pytest.raises(UserError):
        Loss("huber", -1.0)


def rosenbrock(ab: np.ndarray):
    """f = (a - x)^2 + b (y - x^2)^2 per row; minimum 0 at (a, a^2)."""

    def fun(theta, rows, grad=True):
        a, b = ab[rows, 0], ab[rows, 1]
        x, y = theta[:, 0], theta[:, 1]
        f = (a - x) ** 2 + b * (y - x**2) ** 2
        if not grad:
            return f, None
        g = np.column_stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)])
        return f, g

    return fun


def test_lbfgs_solves_a_batch_of_rosenbrocks():
    rng = np.random.default_rng(0)
    S = 64
    ab = np.column_stack([rng.uniform(-2, 2, S), rng.uniform(1, 100, S)])
    x0 = rng.uniform(-2, 2, (S, 2))
    res = lbfgs_batched(rosenbrock(ab), x0, maxiter=2000, gtol=1e-12)
    assert np.all(res.status == CONVERGED)
    np.testing.assert_allclose(res.x[:, 0], ab[:, 0], atol=1e-6)
    np.testing.assert_allclose(res.x[:, 1], ab[:, 0] ** 2, atol=1e-5)


def test_lbfgs_respects_bounds_on_separable_quadratics():
    # f = sum_j w_j (x_j - c_j)^2: the box-constrained minimiser is clip(c, lo, hi).
    rng = np.random.default_rng(1)
    S, p = 40, 4
    c = rng.normal(scale=3, size=(S, p))
    w = rng.uniform(0.1, 10, size=(S, p))
    lo, hi = np.full(p, -1.0), np.array([1.0, 2.0, np.inf, 0.5])

    def fun(theta, rows, grad=True):
        d = theta - c[rows]
        return np.sum(w[rows] * d * d, axis=1), 2 * w[rows] * d

    res = lbfgs_batched(fun, np.zeros((S, p)), lo, hi, gtol=1e-12, ftol=0.0, stall=(25, 0.0))
    np.testing.assert_allclose(res.x, np.clip(c, lo, hi), atol=1e-8)


def test_parallel_and_serial_agree():
    rng = np.random.default_rng(2)
    S = 600
    ab = np.column_stack([rng.uniform(-2, 2, S), rng.uniform(1, 100, S)])
    x0 = rng.uniform(-2, 2, (S, 2))
    serial = minimize_many(rosenbrock(ab), x0, n_jobs=1, maxiter=2000)
    parallel = minimize_many(rosenbrock(ab), x0, n_jobs=2, maxiter=2000)
    np.testing.assert_array_equal(serial.x, parallel.x)
    np.testing.assert_array_equal(serial.status, parallel.status)


def test_gauss_newton_finishes_a_zero_residual_fit():
    form = get_form("power_law_offset")
    x = np.geomspace(1e2, 1e7, 30)
    true = np.array([1.7, 400.0, 0.34])
    y = form.predict(true, x[None])
    obj = LogResidualObjective(form, np.log(x)[None], np.log(y), Loss("least_squares"))
    x0 = form.to_internal(np.array([[1.0, 100.0, 0.5], [2.5, 1000.0, 0.2]]))
    res = gauss_newton_batched(obj, x0, maxiter=200)
    np.testing.assert_allclose(form.to_natural(res.x), np.tile(true, (2, 1)), rtol=1e-8)


def test_objective_gradient_matches_differences():
    form = get_form("chinchilla")
    rng = np.random.default_rng(4)
    X = np.vstack([10 ** rng.uniform(7, 10, 50), 10 ** rng.uniform(9, 12, 50)])
    y = form.predict([400, 2000, 1.8, 0.34, 0.37], X) * np.exp(rng.normal(0, 0.01, 50))
    weights = rng.integers(0, 3, size=(3, 50)).astype(float)
    obj = LogResidualObjective(form, np.log(X), np.log(y), Loss("huber", 1e-3), weights)
    theta = form.to_internal(np.array([[400, 2000, 1.8, 0.34, 0.37]] * 3)) + rng.normal(
        0, 0.05, (3, 5)
    )
    rows = np.arange(3)
    f, g = obj(theta, rows)
    h = 1e-7
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        fd = (obj(theta + e, rows, False)[0] - obj(theta - e, rows, False)[0]) / (2 * h)
        np.testing.assert_allclose(g[:, j], fd, rtol=1e-4, atol=1e-9)
