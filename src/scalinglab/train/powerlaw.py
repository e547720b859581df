"""Power-law fits of a loss curve L(P): kept as a name; the fit is :mod:`scalinglab.fit.alpha`."""

from __future__ import annotations

from ..fit.alpha import ALPHA_LIMIT, FORMS
from ..fit.alpha import AlphaFit as PowerLawFit
from ..fit.alpha import fit_alpha as fit_power_law

__all__ = ["ALPHA_LIMIT", "FORMS", "PowerLawFit", "fit_power_law"]
