"""Corpus statistics: token-token correlations versus lag, conditional entropy versus context.

- :func:`measure`: both at once, every check made before any work (what the ``stats``
  verb runs), settings in :class:`CorrelationConfig` and :class:`EntropyConfig`;
- :func:`correlations`: ``||C(n)||`` (operator and Frobenius norms) at every lag, noise
  floors, bootstrap errors and ``beta``;
- :func:`entropy`: ``H_n`` for every context length with bias corrections, bounds, a
  reliability map and ``gamma``.
"""

from ._corr_result import CorrelationResult
from ._entropy_result import EntropyResult
from .config import CorrelationConfig, EntropyConfig, as_corpus, default_lags, parse_lags
from .correlations import correlations
from .entropy import GammaFit, entropy, fit_gamma, load_external_losses
from .measure import Measurement, measure

__all__ = [
    "CorrelationConfig",
    "CorrelationResult",
    "EntropyConfig",
    "EntropyResult",
    "GammaFit",
    "Measurement",
    "as_corpus",
    "correlations",
    "default_lags",
    "entropy",
    "fit_gamma",
    "load_external_losses",
    "measure",
    "parse_lags",
]
