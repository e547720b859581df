"""Verification by training: data-limited runs at P tokens, sweeps over P, alpha_D fits.

The model and trainer need torch (the ``train`` extra) and are imported on first
use, so that ``scalinglab.train.load_sweep`` and the power-law fits work without it.

>>> import scalinglab as sl
>>> res = sl.train.train(corpus, sl.train.TrainConfig(P=2**16, context=64))   # doctest: +SKIP
>>> sweep = sl.train.run_sweep(corpus, "out", P=[2**12, 2**14, 2**16])      # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "GPT": "model",
    "ModelConfig": "model",
    "TrainConfig": "trainer",
    "RunResult": "trainer",
    "train": "trainer",
    "resolve_device": "trainer",
    "run_sweep": "sweep",
    "aggregate": "sweep",
    "load_sweep": "sweep",
    "parse_int_list": "sweep",
    "SweepResult": "sweep",
    "fit_power_law": "powerlaw",
    "PowerLawFit": "powerlaw",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalinglab.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
