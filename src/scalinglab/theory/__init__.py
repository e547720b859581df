"""Theory: alpha_D = gamma / (2 beta), the horizon n*(P) and the predicted learning curve."""

from .law import alpha_from, entropy_at, horizon, local_exponent, noise_floor_at, tokens_for_horizon
from .measured import load_measured
from .predict import predict, predict_from_stats
from .prediction import Prediction

__all__ = [
    "Prediction",
    "alpha_from",
    "entropy_at",
    "horizon",
    "load_measured",
    "local_exponent",
    "noise_floor_at",
    "predict",
    "predict_from_stats",
    "tokens_for_horizon",
]
