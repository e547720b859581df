"""Predicted against measured data-limited scaling: :func:`validate` (``scalinglab validate``).

>>> import scalinglab as sl
>>> res = sl.validate("corpus.txt", tokenizer="char", out="out/val")   # doctest: +SKIP
>>> print(res.verdict)                                                 # doctest: +SKIP
"""

from .core import DEFAULT_BUDGET_S, ValidationResult, compare, plan_grid, validate, verdict

__all__ = ["DEFAULT_BUDGET_S", "ValidationResult", "compare", "plan_grid", "validate", "verdict"]
