"""Data-limited training: one model, exactly P training tokens, best held-out loss.

Recipe (arXiv 2602.07488, section 1.5 of the reference):

- data: a contiguous slice of P tokens of the corpus's training split, at an
  offset drawn from the seed; every epoch cuts it into non-overlapping blocks
  of T + 1 tokens at a random phase and visits them in random order;
- optimiser: AdamW (betas 0.9, 0.95; weight decay on matrices only), linear
  warmup then cosine decay to ``min_lr_ratio * lr`` over the planned steps,
  gradient clipping;
- budget: ``min(max_epochs * steps_per_epoch, max_steps)`` optimiser steps;
- early stopping: the held-out loss is measured at log-spaced steps on a fixed
  subset of the held-out split; training stops after ``patience`` evaluations
  without improvement and the best weights are kept;
- report: the best weights are evaluated on the full (capped) held-out set,
  giving the loss L = mean_n L_n and the per-position losses

      L_n = - < log p_theta(x_{n+1} | x_1 .. x_n) >   (nats),

  where n = 1..T counts the tokens the position sees (array index n - 1).
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._io import write_json
from ..corpus.core import TokenCorpus
from ..errors import UserError
from ..warns import coded
from ._device import DEVICES, _autocast, _sync, autocast_dtype, cpu_count, resolve_device
from ._eval import _blocks, _summarise, drop_stderr, eval_starts, per_position_losses
from .config import TrainConfig
from .model import GPT, ModelConfig

__all__ = [
    "DEVICES",
    "BlockStream",
    "ModelConfig",
    "RunResult",
    "TrainConfig",
    "autocast_dtype",
    "cpu_count",
    "drop_stderr",
    "eval_starts",
    "eval_steps",
    "lr_at",
    "per_position_losses",
    "resolve_device",
    "slice_offset",
    "train",
]


@dataclass
class RunResult:
    """One finished data-limited run (all losses in nats per token).

    ``per_position_loss[i]`` is L_n for n = i + 1 tokens seen; ``best_val_loss``
    is its mean over positions, ``best_val_loss_stderr`` the standard error over
    held-out blocks (corrected for overlapping blocks). ``history`` holds the
    early-stopping evaluations (subset loss at each evaluated step).
    """

    P: int
    context: int
    seed: int
    lr: float
    offset: int
    model: dict[str, Any]
    train: dict[str, Any]
    params: int
    params_non_embedding: int
    best_val_loss: float
    best_val_loss_stderr: float
    best_step: int
    per_position_loss: list[float]
    per_position_stderr: list[float]
    steps: int
    planned_steps: int
    tokens_seen: int
    epochs: float
    stop_reason: str
    converged: bool
    eval_blocks: int
    eval_tokens: int
    history: dict[str, list[float]]
    wall_time_s: float
    train_time_s: float
    eval_time_s: float
    final_eval_time_s: float
    tokens_per_s: float
    device: str
    corpus: dict[str, Any]
    software: dict[str, str] = field(default_factory=dict)
    #: standard error of L_n - L_{n+1}, paired over blocks (entry i: positions i, i + 1)
    per_position_drop_stderr: list[float] = field(default_factory=list)
    #: coded ``train-...`` warnings (:mod:`scalinglab.warns`)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``out/run.json`` (:meth:`to_dict`), atomically; returns its path."""
        return write_json(Path(out) / "run.json", self.to_dict())


# -- data --------------------------------------------------------------------------------


def slice_offset(n_train: int, P: int, seed: int) -> int:
    """Start of the P-token training slice: floor(u (n_train - P + 1)), u ~ U[0, 1) from ``seed``.

    The same seed gives nearly nested slices for different P.
    """
    if P > n_train:
        raise UserError(f"P = {P} exceeds the {n_train} tokens of the training split")
    if seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed}")
    u = np.random.default_rng([seed, 0x51CE]).random()
    return int(u * (n_train - P + 1))


def eval_steps(planned: int, n: int, first_fraction: float = 1 / 200) -> np.ndarray:
    """Up to ``n`` distinct log-spaced steps from max(1, planned / 200) to ``planned`` inclusive."""
    lo = max(1.0, planned * first_fraction)
    pts = np.unique(np.round(np.geomspace(lo, planned, n)).astype(np.int64))
    return np.union1d(pts, [planned])


def lr_at(step: int, cfg: TrainConfig, planned: int) -> float:
    """Linear warmup to ``lr`` then cosine decay to ``min_lr_ratio * lr`` at ``planned``."""
    warm = min(cfg.warmup_steps, planned // 10)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    frac = (step - warm) / max(1, planned - warm)
    floor = cfg.min_lr_ratio * cfg.lr
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * min(1.0, frac)))


def _optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    kw: dict[str, Any] = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **kw)


# -- the run ---------------------------------------------------------------------------------


ProgressFn = Callable[[int, int, dict[str, float]], None]


def train(
    corpus: TokenCorpus,
    cfg: TrainConfig,
    model_cfg: ModelConfig | dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    out: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Train one model on exactly ``cfg.P`` tokens of ``corpus`` and report its best loss.

    Parameters
    ----------
    corpus : TokenCorpus
        Training tokens come from ``corpus.train``, evaluation from ``corpus.heldout``.
    cfg : TrainConfig
        P, context, seed, learning rate, budget and device.
    model_cfg : ModelConfig or dict, optional
        Model shape; ``vocab_size`` and ``context`` are taken from the corpus and
        ``cfg`` (a dict may hold any other :class:`ModelConfig` field).
    progress : callable, optional
        Called as ``progress(step, planned_steps, {"val_loss": ..., "train_loss": ...})``
        after every evaluation.
    out : path, optional
        Directory to write ``out/run.json`` to (:meth:`RunResult.save`).

    Returns
    -------
    RunResult
        Best held-out loss (nats/token) with its standard error, per-position
        losses L_n (n = 1..T), steps, tokens seen, timings.

    Raises
    ------
    UserError
        P larger than the training split, context + 1 larger than P, a held-out
        split shorter than one block, or an unavailable device.
    """
    t_start = time.perf_counter()
    mc = _model_config(model_cfg, corpus.vocab_size, cfg.context)
    n_train = int(corpus.split_index)
    offset = slice_offset(n_train, cfg.P, cfg.seed)
    heldout = corpus.heldout
    final_starts = eval_starts(heldout.size, cfg.context + 1, cfg.final_eval_blocks)
    pick = np.unique(np.linspace(0, final_starts.size - 1, min(cfg.eval_blocks, final_starts.size)))
    stop_starts = final_starts[pick.astype(np.int64)]
    device = resolve_device(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 0xDA7A])
    # int32 on the device (half of int64 at P = 2^28); batches are widened to int64.
    train_data = torch.from_numpy(np.asarray(corpus.train[offset : offset + cfg.P], dtype=np.int32))
    eval_data = torch.from_numpy(np.asarray(heldout, dtype=np.int32))
    train_data, eval_data = train_data.to(device), eval_data.to(device)

    model = GPT(mc).to(device)
    params, params_ne = model.num_params(), model.num_params(non_embedding=True)
    fwd = torch.compile(model) if cfg.compile else model
    opt = _optimizer(model, cfg, device)
    # fp16 (a GPU without bf16) needs loss scaling against gradient underflow; bf16 does not.
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype(device) == torch.float16 else None

    T = cfg.context
    # Blocks per epoch at the least favourable phase, hence the batch and steps per epoch.
    min_blocks = (cfg.P - T) // T if cfg.P >= 2 * T else 1
    batch = min(cfg.batch_size, min_blocks)
    planned = int(max(1, min(cfg.max_steps, math.ceil(cfg.max_epochs * min_blocks / batch))))
    planned = max(planned, min(cfg.min_steps, cfg.max_steps))
    evals = set(eval_steps(planned, cfg.evals).tolist())

    hist: dict[str, list[float]] = {"step": [], "val_loss": [], "train_loss": [], "lr": []}
    best = (math.inf, 0)
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals, stop_reason = 0, "max_steps" if planned == cfg.max_steps else "max_epochs"
    step, n_running = 0, 0
    stream = BlockStream(cfg.P, T, rng)
    running: torch.Tensor | float = 0.0
    train_time = eval_time = 0.0
    tokens_seen = 0
    model.train()
    _sync(device)
    t_train = time.perf_counter()
    while step < planned:
        xy = _blocks(train_data, stream.take(batch), T + 1)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg, planned)
        with _autocast(device):
            logits = fwd(xy[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        else:
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
        step += 1
        tokens_seen += xy.shape[0] * T
        running = running + loss.detach()  # summed on the device: no host sync per step
        n_running += 1
        out_of_time = cfg.max_time_s is not None and time.perf_counter() - t_start > cfg.max_time_s
        if step in evals or out_of_time:
            _sync(device)
            train_time += time.perf_counter() - t_train
            t_eval = time.perf_counter()
            losses = per_position_losses(model, eval_data, stop_starts, T, device=device)
            val = float(losses.mean())
            eval_time += time.perf_counter() - t_eval
            hist["step"].append(step)
            hist["val_loss"].append(val)
            hist["train_loss"].append(float(running) / n_running)
            hist["lr"].append(opt.param_groups[0]["lr"])
            running, n_running = 0.0, 0
            if not math.isfinite(val):
                stop_reason = "diverged"
                break
            if val < best[0] - 1e-4:
                best, bad_evals = (val, step), 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_evals += 1
            if progress is not None:
                progress(step, planned, {"val_loss": val, "train_loss": hist["train_loss"][-1]})
            if cfg.patience and bad_evals >= cfg.patience:
                stop_reason = "early_stopping"
                break
            if out_of_time:
                stop_reason = "time_budget"
                break
            t_train = time.perf_counter()
    else:
        _sync(device)
        train_time += time.perf_counter() - t_train

    if best_state is not None:
        model.load_state_dict(best_state)
    t_eval = time.perf_counter()
    losses = per_position_losses(model, eval_data, final_starts, T, device=device)
    final_eval_time = time.perf_counter() - t_eval
    mean, stderr, pos, pos_err = _summarise(losses, int(heldout.size), T)
    wall = time.perf_counter() - t_start
    converged = stop_reason == "early_stopping" or (
        bool(hist["step"]) and best[1] < hist["step"][-1]
    )
    result = RunResult(
        P=cfg.P,
        context=T,
        seed=cfg.seed,
        lr=cfg.lr,
        offset=offset,
        model=mc.to_dict(),
        train=cfg.to_dict(),
        params=params,
        params_non_embedding=params_ne,
        best_val_loss=mean,
        best_val_loss_stderr=stderr,
        best_step=best[1],
        per_position_loss=pos.tolist(),
        per_position_stderr=pos_err.tolist(),
        steps=step,
        planned_steps=planned,
        tokens_seen=tokens_seen,
        epochs=tokens_seen / cfg.P,
        stop_reason=stop_reason,
        converged=converged,
        eval_blocks=int(final_starts.size),
        eval_tokens=int(final_starts.size * T),
        history=hist,
        wall_time_s=wall,
        train_time_s=train_time,
        eval_time_s=eval_time,
        final_eval_time_s=final_eval_time,
        tokens_per_s=tokens_seen / train_time if train_time > 0 else float("nan"),
        device=str(device),
        corpus=corpus.describe(),
        software={"torch": torch.__version__, "python": platform.python_version()},
        per_position_drop_stderr=drop_stderr(losses).tolist(),
        warnings=_warnings(stop_reason, converged, step, planned, hist, cfg),
    )
    if out is not None:
        result.save(out)
    return result


def _warnings(
    stop_reason: str,
    converged: bool,
    step: int,
    planned: int,
    hist: dict[str, list[float]],
    cfg: TrainConfig,
) -> list[str]:
    """What a user should know about how a run ended."""
    out = []
    if stop_reason == "diverged":
        out.append(
            coded(
                "train-diverged",
                f"the held-out loss became {hist['val_loss'][-1]} at step {step}: training "
                f"diverged at lr = {cfg.lr:g} (the best weights before it, if any, are reported)",
            )
        )
    elif stop_reason == "time_budget":
        out.append(
            coded(
                "train-time-budget",
                f"stopped by the wall-clock cap max_time_s = {cfg.max_time_s:g} s at step "
                f"{step} of {planned}",
            )
        )
    if not converged and stop_reason != "diverged":
        out.append(
            coded(
                "train-unconverged",
                f"the held-out loss was still falling at the last evaluation (step {step} of "
                f"{planned}): a compute-limited run; raise --max-steps/--max-epochs",
            )
        )
    return out


def _model_config(
    model_cfg: ModelConfig | dict[str, Any] | None, vocab: int, T: int
) -> ModelConfig:
    d = model_cfg.to_dict() if isinstance(model_cfg, ModelConfig) else dict(model_cfg or {})
    d.update(vocab_size=vocab, context=T)
    return ModelConfig.from_dict(d)


class BlockStream:
    """Starts of training blocks of T + 1 tokens inside a slice of P tokens, epoch after epoch.

    Every epoch cuts the slice into non-overlapping blocks at a random phase in
    [0, T) and appends them in random order; batches are taken from the front,
    so each block is visited exactly once per epoch and batches keep one size.
    """

    def __init__(self, P: int, T: int, rng: np.random.Generator):
        self.P, self.T, self.rng = P, T, rng
        self.buffer = np.zeros(0, dtype=np.int64)
        self.epochs = 0

    def epoch(self) -> np.ndarray:
        """One epoch's block starts (random phase, random order)."""
        phase = int(self.rng.integers(self.T)) if self.P >= 2 * self.T else 0
        count = (self.P - 1 - phase) // self.T
        return phase + self.T * self.rng.permutation(count).astype(np.int64)

    def take(self, batch: int) -> np.ndarray:
        while self.buffer.size < batch:
            self.buffer = np.concatenate([self.buffer, self.epoch()])
            self.epochs += 1
        out, self.buffer = self.buffer[:batch], self.buffer[batch:]
        return out
