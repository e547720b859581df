"""The settings one fit call shares between its forms, and its progress tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .optim import Loss, minimize_many


@dataclass
class _Settings:
    loss: Loss
    n_boot: int
    seed: int
    profile: bool | Sequence[str]
    starts: Any
    n_jobs: int | None
    maxiter: int
    progress: Any


def _task(settings: _Settings, label: str, total: int) -> Callable[[int], None] | None:
    bar = settings.progress
    if bar is None:
        return None
    tid = bar.add_task(label, total=total)
    return lambda done: bar.update(tid, completed=done)


def _minimize(st: _Settings, obj: Any, x0: np.ndarray, lower, upper, label: str) -> Any:
    """:func:`minimize_many` from every row of ``x0`` with the fit's workers, limit and bar."""
    return minimize_many(
        obj,
        x0,
        lower,
        upper,
        n_jobs=st.n_jobs,
        maxiter=st.maxiter,
        progress=_task(st, label, x0.shape[0]),
    )
