"""Corpus statistics: token-token correlations versus lag, conditional entropy versus context.

- :func:`correlations`: ``||C(n)||`` (operator and Frobenius norms) at every lag, noise
  floors, bootstrap errors and ``beta``;
- :func:`entropy`: ``H_n`` for every context length with bias corrections, bounds, a
  reliability map and ``gamma``.
"""

from .correlations import CorrelationResult, correlations, default_lags, parse_lags
from .entropy import EntropyResult, GammaFit, entropy, fit_gamma, load_external_losses

__all__ = [
    "CorrelationResult",
    "EntropyResult",
    "GammaFit",
    "correlations",
    "default_lags",
    "entropy",
    "fit_gamma",
    "load_external_losses",
    "parse_lags",
]
