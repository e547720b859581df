"""The data exponent alpha_D of a loss curve L(P), with and without an offset.

Forms (P in tokens, L in nats per token):

- ``no_offset``:   L = A (P / P0)^(-alpha)
- ``with_offset``: L = E + A (P / P0)^(-alpha),   0 <= E < min L

P0 is the geometric mean of the fitted P (it only conditions A). Both are
:func:`scalinglab.fit.powerlaw.fit_power_law` fits of log L (relative errors,
as in log-log plots); the standard error is the asymptotic one,
s^2 (J^T J)^-1 with s^2 = SSR / (n - k), and the 95% interval the percentile
interval of a case bootstrap over the (P, L) points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from .powerlaw import EXPONENT_LIMIT, fit_power_law

__all__ = ["ALPHA_LIMIT", "FORMS", "AlphaFit", "fit_alpha"]

FORMS = {"no_offset": "L = A (P/P0)^-alpha", "with_offset": "L = E + A (P/P0)^-alpha"}
#: The offset fit keeps |alpha| within this bound (a fit that reaches it is not determined).
ALPHA_LIMIT = EXPONENT_LIMIT
#: Fewer usable bootstrap resamples than this give no interval.
MIN_RESAMPLES = 20


@dataclass
class AlphaFit:
    """Result of one power-law fit of L(P).

    Attributes
    ----------
    form : str
        ``no_offset`` or ``with_offset``.
    alpha, alpha_stderr : float
        Exponent and its asymptotic standard error.
    alpha_ci95 : list of float
        Bootstrap 95% percentile interval of alpha.
    A, E : float
        Amplitude at P = P0 and offset (0 for ``no_offset``), nats.
    P0 : float
        Reference P (geometric mean of the fitted points).
    window : list of int
        Smallest and largest fitted P.
    n_points : int
        Points fitted.
    rms_log_residual : float
        Root-mean-square residual of log L.
    n_boot : int
        Bootstrap resamples that gave a fit.
    """

    form: str
    alpha: float
    alpha_stderr: float
    alpha_ci95: list[float]
    A: float
    E: float
    P0: float
    window: list[int]
    n_points: int
    rms_log_residual: float
    n_boot: int
    equation: str = field(init=False)

    def __post_init__(self) -> None:
        self.equation = FORMS[self.form]

    def predict(self, P: np.ndarray | float) -> np.ndarray:
        """Fitted loss at ``P`` (nats)."""
        return self.E + self.A * (np.asarray(P, dtype=float) / self.P0) ** (-self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_alpha(
    P: np.ndarray,
    loss: np.ndarray,
    offset: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> AlphaFit:
    """Fit L(P) with a power law, optionally plus a constant, and bootstrap alpha.

    Parameters
    ----------
    P, loss : array_like
        Training-set sizes (tokens, > 0) and losses (nats, > 0).
    offset : bool
        Fit ``E + A (P/P0)^-alpha`` instead of ``A (P/P0)^-alpha``.
    n_boot : int
        Case-bootstrap resamples for the 95% interval (0: no interval). Resamples
        with fewer distinct P than the form needs are dropped; with only that many
        points (3 without offset, 4 with) no interval is given (NaN), nor with
        fewer than 20 usable resamples.
    seed : int
        Seed of the bootstrap.

    Raises
    ------
    UserError
        Non-finite or non-positive input, or fewer distinct P than the form
        needs (3 without offset, 4 with).
    """
    P = np.asarray(P, dtype=float)
    L = np.asarray(loss, dtype=float)
    if P.shape != L.shape or P.ndim != 1:
        raise UserError("P and loss must be one-dimensional arrays of the same length")
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(L))):
        raise UserError("P and loss must be finite (NaN or inf in the loss curve)")
    if np.any(P <= 0) or np.any(L <= 0):
        raise UserError("P and loss must be positive for a power-law fit")
    if n_boot < 0:
        raise UserError(f"bootstrap resamples must be >= 0, got {n_boot}")
    k = 3 if offset else 2
    if np.unique(P).size < k + 1:
        raise UserError(
            f"a power law{' with offset' if offset else ''} needs at least {k + 1} distinct P, "
            f"got {np.unique(P).size}"
        )
    fit = fit_power_law(
        P,
        L,
        offset=offset,
        x_ref="geomean",
        exponent_bounds=(-ALPHA_LIMIT, ALPHA_LIMIT),
        bootstrap="cases",
        n_boot=n_boot,
        seed=seed,
    )
    ci = fit.ci() if fit.n_boot >= MIN_RESAMPLES else None
    return AlphaFit(
        form="with_offset" if offset else "no_offset",
        alpha=fit.exponent,
        alpha_stderr=fit.fit_stderr if fit.fit_stderr is not None else float("nan"),
        alpha_ci95=list(ci) if ci is not None else [float("nan"), float("nan")],
        A=fit.amplitude,
        E=fit.offset,
        P0=fit.x_ref,
        window=[int(P.min()), int(P.max())],
        n_points=fit.n_points,
        rms_log_residual=fit.rms_log_residual,
        n_boot=fit.n_boot,
    )
