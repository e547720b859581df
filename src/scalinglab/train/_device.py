"""Devices of a run: picking one, CPU threads, mixed precision, timing barriers."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from ..errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, then MPS, then CPU; explicit names are checked."""
    spec = str(spec).strip().lower()
    base = spec.split(":", 1)[0]
    if base not in DEVICES or (":" in spec and base != "cuda"):
        raise UserError(f"unknown device {spec!r}; choose auto, cpu, cuda, cuda:K or mps")
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    index = spec.split(":", 1)[1] if ":" in spec else None
    if index is not None and not index.isdigit():
        raise UserError(f"unknown device {spec!r}; a CUDA device is cuda or cuda:K (K = 0, 1, ...)")
    if base == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda requested but CUDA is not available")
    if index is not None and int(index) >= (count := torch.cuda.device_count()):
        raise UserError(f"device {spec} requested but there are {count} CUDA devices")
    if base == "mps" and not mps_ok:
        raise UserError("device mps requested but MPS is not available")
    return torch.device(spec)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype on ``device``: bf16 on CUDA (fp16 where bf16 is missing), else None."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def _autocast(device: torch.device) -> AbstractContextManager[object]:
    dtype = autocast_dtype(device)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _sync(device: torch.device) -> None:
    """Wait for queued kernels, so that wall-clock readings cover the work they time."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
