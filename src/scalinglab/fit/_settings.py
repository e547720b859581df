"""The settings one fit call shares between its forms, and its progress tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .optim import Loss


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
