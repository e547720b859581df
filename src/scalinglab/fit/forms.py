"""Scaling-law forms: the functions a fit can use, with analytic Jacobians.

Every form predicts the *natural log* of the target (the loss) because every
objective in :mod:`scalinglab.fit` is built on log residuals
``r_i = log y_i - log f(x_i; theta)``. Positive scale parameters (A, B, E,
d_i, ...) are optimised as their logarithms, which keeps them positive without
bounds and makes the problem far better conditioned; exponents are optimised
as they are. ``theta`` below always means these *internal* coordinates and
``values`` the natural ones reported to the user.

Shapes: ``theta`` is ``(S, p)`` for S problems solved at once (starts,
bootstrap resamples), ``log_X`` is ``(k, n)`` (logs of k input columns at n
points); predictions are ``(S, n)`` and Jacobians ``(S, p, n)`` with
``J[s, j, i] = d log f(x_i) / d theta_sj`` (parameter-major, so that each
column is contiguous).

Built-in forms (``get_form(name)``):

==================  ==========================================================
``power_law``        L = A x^-alpha
``power_law_offset`` L = E + A x^-alpha
``chinchilla``       L = E + A N^-alpha + B D^-beta   (Hoffmann et al. 2022)
``kaplan``           L = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D
``dynamical``        L = L_inf + C_t t^-alpha_t + C_N N^-alpha_N
``bnsl``, ``bnsl2``, ``bnsl3``
                     y = a + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)
                     with 1, 2 or 3 breaks (Caballero et al. 2022)
==================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..errors import UserError
from ._forms_base import Form, LogPredict, Param, StartFn, project_coefficients
from ._forms_bnsl import _make_bnsl
from ._forms_power import (
    _make_chinchilla,
    _make_dynamical,
    _make_kaplan,
    _make_power_law,
    _make_power_law_offset,
)

__all__ = [
    "FORMS",
    "Form",
    "LogPredict",
    "Param",
    "StartFn",
    "auto_forms",
    "get_form",
    "project_coefficients",
]

_FACTORIES: dict[str, Callable[[], Form]] = {
    "power_law": _make_power_law,
    "power_law_offset": _make_power_law_offset,
    "chinchilla": _make_chinchilla,
    "kaplan": _make_kaplan,
    "dynamical": _make_dynamical,
    "bnsl": partial(_make_bnsl, 1),
    "bnsl2": partial(_make_bnsl, 2),
    "bnsl3": partial(_make_bnsl, 3),
}
_ALIASES = {"offset": "power_law_offset", "bnsl1": "bnsl", "pure_power_law": "power_law"}

#: Names of the built-in forms.
FORMS: tuple[str, ...] = tuple(_FACTORIES)


def get_form(form: str | Form) -> Form:
    """The built-in form called ``form`` (a :class:`Form` passes through)."""
    if isinstance(form, Form):
        return form
    key = _ALIASES.get(str(form).strip().lower(), str(form).strip().lower())
    if key not in _FACTORIES:
        raise UserError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    return _FACTORIES[key]()


def auto_forms(n_inputs: int) -> list[str]:
    """Candidate forms compared by ``form="auto"`` for data with ``n_inputs`` columns."""
    if n_inputs == 1:
        return ["power_law", "power_law_offset", "bnsl", "bnsl2", "bnsl3"]
    if n_inputs == 2:
        return ["chinchilla", "kaplan"]
    raise UserError(f"no built-in form takes {n_inputs} input columns; pass a custom Form")
