"""Verification by training: data-limited runs at P tokens, sweeps over P, alpha_D fits.

The model and trainer need torch (the ``train`` extra) and are imported on first
use, so that ``scalinglab.train.load_sweep``, the power-law fits and the command
line's options work without it (constructing a TrainConfig or a SweepGrid checks
the device, with torch).

>>> import scalinglab as sl
>>> cfg = sl.train.TrainConfig(P=2**16, context=64)
>>> res = sl.train.train(corpus, cfg, out="run")        # writes run/run.json  # doctest: +SKIP
>>> grid = sl.train.SweepGrid(P=[2**12, 2**14, 2**16], lrs=[1e-3, 3e-3])
>>> sweep = sl.train.run_sweep(corpus, "out", grid)                         # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "GPT": "model",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "RunResult": "trainer",
    "train": "trainer",
    "resolve_device": "trainer",
    "run_sweep": "sweep",
    "SweepGrid": "grid",
    "parse_count": "grid",
    "parse_float_list": "grid",
    "aggregate": "sweep",
    "load_sweep": "sweep",
    "parse_int_list": "grid",
    "SweepResult": "sweep",
    "fit_power_law": "powerlaw",
    "PowerLawFit": "powerlaw",
    "plot_sweep": "_plot",
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
