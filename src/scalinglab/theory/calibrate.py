"""The level constant of the horizon, fixed by one measured loss.

The horizon ``n*(P)`` is where the fitted correlation ``A n^-beta`` meets the
noise floor an estimate from ``P`` tokens would have, times a threshold constant
``k`` that the theory leaves open (REFERENCE 1.4: the constant in front of the
law is not parameter-free)::

    A n*^-beta = k c / sqrt(P)   =>   n*(P) = k^(-1/beta) n*_1(P)

with ``n*_1`` the horizon at ``k = 1``. One short data-limited training run at a
small ``P0`` measures ``L(P0)``; the context length at which the upper-bound
entropy curve equals it, ``n_cal = U^-1(L(P0))``, fixes ``k``:

    k = (n*_1(P0) / n_cal)^beta,     n*(P) = n*_1(P) n_cal / n*_1(P0).

The calibration moves the curve along P without changing its slope.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import info
from ..errors import UserError
from ..stats.model_losses import ModelLosses
from ..warns import coded
from . import cache
from .law import horizon

#: A calibration run is data-limited only when its P0 is a small slice of the corpus.
MAX_CALIBRATION_FRACTION = 0.5


def calibrate_horizon(
    calibration: dict[str, Any],
    curve_at: Callable[[np.ndarray], np.ndarray],
    amps: np.ndarray,
    betas: np.ndarray,
    c_floor: float,
    beta: float,
    warnings: list[str],
) -> dict[str, Any] | None:
    """The calibration block and per-replicate horizon factors (key ``_factor``), or None.

    ``curve_at(n)`` gives the entropy curve at context lengths ``n`` (replicates
    by rows, the first the central one). A loss at or above the curve's value at
    ``n = 0`` (the unigram level), or at or below its floor, cannot be placed on
    the curve: a warning says so and the uncalibrated horizon stays.
    """
    P0, L0 = float(calibration["P0"]), float(calibration["loss"])
    n_grid = np.logspace(-3, 12, 3001)
    h = curve_at(np.broadcast_to(n_grid, (amps.size, n_grid.size)))[0]
    if not L0 < h[0]:
        warnings.append(
            coded(
                "calibrate-above-unigram",
                f"calibration: the loss measured at P0 = {P0:.4g} tokens, {L0:.4f} nats, is not "
                f"below the unigram level {h[0]:.4f} of the entropy curve: the run learned less "
                "than the token frequencies, so it cannot fix the horizon (uncalibrated horizon "
                "used)",
            )
        )
        return None
    if not L0 > h[-1]:
        warnings.append(
            coded(
                "calibrate-below-floor",
                f"calibration: the loss measured at P0 = {P0:.4g} tokens, {L0:.4f} nats, lies at "
                "or below the entropy curve's floor (uncalibrated horizon used)",
            )
        )
        return None
    n_cal = float(np.interp(-L0, -h, n_grid))
    n1 = horizon(np.array([P0]), amps[:, None], betas[:, None], c_floor, 1.0)[:, 0]
    factor = n_cal / n1
    k = float((n1[0] / n_cal) ** beta)
    return {
        "P0": P0,
        "loss": L0,
        "loss_stderr": calibration.get("stderr"),
        "n_star_at_P0": n_cal,
        "n_star_uncalibrated_at_P0": float(n1[0]),
        "factor": float(factor[0]),
        "threshold_constant": k,
        "run": calibration.get("run"),
        "rule": "n*(P) = n*_1(P) n_cal / n*_1(P0), n_cal = U^-1(L(P0)) on the entropy curve; "
        "k = (n*_1(P0) / n_cal)^beta is the threshold constant in A n*^-beta = k floor(P)",
        "_factor": factor,
    }


def check_calibration_p0(P0: int, n_train: int) -> None:
    """Reject a calibration size that cannot give a data-limited run on this corpus."""
    if P0 < 64:
        raise UserError(f"--calibrate P0 must be at least 64 tokens, got {P0}")
    if P0 > MAX_CALIBRATION_FRACTION * n_train:
        raise UserError(
            f"--calibrate P0 = {P0} is more than half of the {n_train} training tokens: "
            "choose a small P0 (the run must be data-limited)"
        )


def run_calibration(
    corpus: Any,
    P0: int,
    *,
    shape: dict[str, Any],
    context: int,
    lr: float,
    batch_size: int,
    budget_s: float,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """One data-limited run at ``P0`` tokens (early stopping, best held-out loss).

    Returns ``{"P0", "loss", "stderr", "run"}`` for :func:`calibrate_horizon`; the
    step cap comes from ``budget_s`` and a measured seconds-per-step.
    """
    from ..train.reference import probe_seconds_per_step
    from ..train.trainer import TrainConfig, train

    T = int(min(context, P0 // 4))
    common: dict[str, Any] = {
        "context": T,
        "seed": seed,
        "lr": lr,
        "batch_size": batch_size,
        "device": device,
        "threads": None,
    }
    sec = probe_seconds_per_step(corpus, shape, common)
    steps = max(50, int(0.9 * budget_s / max(sec, 1e-6)))
    cfg = TrainConfig(
        P=int(P0),
        max_steps=steps,
        max_epochs=200.0,
        evals=30,
        patience=4,
        eval_blocks=256,
        final_eval_blocks=2048,
        **common,
    )
    from .._progress import make_progress

    prog = make_progress(transient=True) if progress else None
    task = prog.add_task(f"calibration run at P0 = {P0}", total=steps) if prog else None
    if prog is not None:
        prog.start()
    try:
        run = train(
            corpus,
            cfg,
            shape,
            progress=(lambda s, p, logs: prog.update(task, completed=s, total=p))
            if prog is not None and task is not None
            else None,
        )
    finally:
        if prog is not None:
            prog.stop()
    return {
        "P0": int(P0),
        "loss": run.best_val_loss,
        "stderr": run.best_val_loss_stderr,
        "run": {
            "model": run.model,
            "params": run.params,
            "context": run.context,
            "steps": run.steps,
            "planned_steps": run.planned_steps,
            "best_step": run.best_step,
            "epochs": run.epochs,
            "stop_reason": run.stop_reason,
            "converged": run.converged,
            "wall_time_s": run.wall_time_s,
            "device": run.device,
        },
    }


def calibration_for(
    c: Any,
    P0: int,
    context: int | None,
    model: ModelLosses | None,
    budget: float,
    device: str,
    seed: int,
    out_p: Path | None,
    progress: bool,
) -> dict[str, Any]:
    """The calibration run at ``P0`` (cached in ``DIR/calibration.json``).

    The model is the reference model's shape (trained here or the default for the
    device), at the prediction's context length T when one is given.
    """
    from ..train.reference import ReferenceConfig
    from ..train.trainer import resolve_device

    rc = ReferenceConfig(device=device, seed=seed).resolved(resolve_device(device).type)
    shape = {"n_layer": rc.n_layer, "n_embd": rc.n_embd, "n_head": rc.n_head, "arch": "gpt2"}
    T, lr, batch = int(context or rc.context or 64), rc.lr, int(rc.batch_size or 16)
    if model is not None and model.source == "reference":
        shape = {k: model.model[k] for k in ("n_layer", "n_embd", "n_head", "arch")}
        T = int(context or model.context)
        lr = float(model.training.get("lr", lr))
        batch = int(model.training.get("batch_size", batch))
    settings = {"P0": P0, "shape": shape, "context": T, "lr": lr, "seed": seed, "device": device}
    path = out_p / "calibration.json" if out_p else None
    d = cache.lookup(path, c.content_hash, settings)
    if d is not None:
        return d["calibration"]
    info(f"calibration: one data-limited run at P0 = {P0} tokens")
    cal = run_calibration(
        c,
        P0,
        shape=shape,
        context=T,
        lr=lr,
        batch_size=batch,
        budget_s=budget,
        seed=seed,
        device=device,
        progress=progress,
    )
    doc = {"corpus": {"content_hash": c.content_hash}, "calibration": cal}
    cache.store(path, {**doc, cache.SETTINGS_KEY: settings})
    return cal
