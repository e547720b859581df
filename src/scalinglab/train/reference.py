"""The reference model: a trained model's per-position losses as upper bounds on ``H_n``.

Count-based entropies cannot reach long contexts on real corpora (REFERENCE
1.2): contexts become unique and the plug-in collapses. The published method
reads ``H_n`` off the held-out per-position losses ``L_n`` of a trained model,
which bound it from above. ``predict`` trains such a model itself, sized by a
wall-clock budget:

1. a short probe (a few optimiser steps of the chosen shape) measures the
   seconds per step on this machine and device;
2. the run gets ``steps = (budget - probe - evaluation) / seconds_per_step``
   optimiser steps (at most ``max_epochs`` passes) over the whole training
   split, with the trainer's recipe (AdamW, warmup, cosine decay, early
   stopping on held-out blocks, best weights kept);
3. the best weights are scored on held-out blocks of ``T + 1`` tokens, giving
   ``L_n`` for n = 1..T with standard errors.

The step count is fixed before the run starts, so a run is reproducible for a
given step count (recorded, with the budget and the probe, in entropy.json).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..corpus.core import TokenCorpus
from ..errors import UserError
from ..stats.model_losses import ModelLosses

#: Default wall-clock budget of the reference model (seconds): with tokenizing and both
#: statistics, `make run` stays under 5 minutes on 2 CPU cores.
DEFAULT_BUDGET_S = 100.0
#: Never plan fewer optimiser steps than this (a model that has barely moved bounds nothing).
MIN_STEPS = 20
#: Training tokens are capped (the slice is copied to the device as int32).
MAX_TRAIN_TOKENS = 1 << 27


@dataclass(frozen=True)
class ReferenceConfig:
    """Shape and budget of the reference model.

    ``None`` fields are chosen from the device: on a CPU a 2-layer GPT-2 of
    width 128 with T = 64 and batches of 16 (at a fixed wall budget, more and
    smaller steps learn more: on tiny-shakespeare, 40 s gave a held-out loss of
    1.77 nats at batch 16, T = 64, against 2.19 at batch 32, T = 128); on a GPU
    6 layers of width 384 with T = 256 and batches of 64.
    """

    budget_s: float = DEFAULT_BUDGET_S
    context: int | None = None
    n_layer: int | None = None
    n_embd: int | None = None
    n_head: int = 4
    lr: float = 6e-3
    batch_size: int | None = None
    max_epochs: float = 4.0
    eval_blocks: int = 512
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget_s) and self.budget_s > 0):
            raise UserError(f"--budget must be a positive number of seconds, got {self.budget_s}")
        if self.context is not None and self.context < 2:
            raise UserError(f"the reference model's context must be >= 2, got {self.context}")

    def resolved(self, device_type: str) -> ReferenceConfig:
        """The same config with every ``None`` filled in for ``device_type``."""
        gpu = device_type == "cuda"
        return ReferenceConfig(
            **{
                **asdict(self),
                "context": self.context or (256 if gpu else 64),
                "n_layer": self.n_layer or (6 if gpu else 2),
                "n_embd": self.n_embd or (384 if gpu else 128),
                "batch_size": self.batch_size or (64 if gpu else 16),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_seconds_per_step(
    corpus: TokenCorpus, model: dict[str, Any], common: dict[str, Any], steps: int = 6
) -> float:
    """Seconds per optimiser step of ``model`` at batch and context ``common``, measured.

    A few steps on a small slice (the first one, which allocates, included: the
    estimate errs on the slow side).
    """
    from .trainer import TrainConfig, train

    T, batch = int(common["context"]), int(common["batch_size"])
    probe_P = min(int(corpus.split_index), batch * (T + 1) * 4)
    probe = train(
        corpus,
        TrainConfig(
            P=probe_P,
            max_steps=steps,
            max_epochs=1e6,
            warmup_steps=0,
            evals=1,
            patience=0,
            eval_blocks=1,
            final_eval_blocks=1,
            **common,
        ),
        model,
    )
    return probe.train_time_s / max(probe.steps, 1)


def train_reference(
    corpus: TokenCorpus, cfg: ReferenceConfig | None = None, *, progress: bool = True
) -> ModelLosses:
    """Train the reference model on ``corpus``'s training split within ``cfg.budget_s``.

    Returns
    -------
    ModelLosses
        ``L_n`` (n = 1..T) of the best weights on held-out blocks, with the model,
        the steps, tokens and wall time in ``training``.
    """
    from .._progress import make_progress
    from .trainer import TrainConfig, resolve_device, train

    cfg = cfg or ReferenceConfig()
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    rc = cfg.resolved(device.type)
    assert rc.context is not None and rc.batch_size is not None
    T, batch = int(rc.context), int(rc.batch_size)
    n_train = int(corpus.split_index)
    if corpus.heldout.size < T + 1:
        T = int(corpus.heldout.size) - 1
    if T < 2 or n_train < 2 * (T + 1):
        raise UserError(
            f"the corpus is too short for a reference model ({n_train} training and "
            f"{corpus.heldout.size} held-out tokens)"
        )
    model = {"n_layer": rc.n_layer, "n_embd": rc.n_embd, "n_head": rc.n_head, "arch": "gpt2"}
    common: dict[str, Any] = {
        "context": T,
        "seed": rc.seed,
        "lr": rc.lr,
        "batch_size": batch,
        "device": rc.device,
        "threads": rc.threads,
    }

    # 1. probe: seconds per optimiser step at this shape, on this machine
    sec_per_step = probe_seconds_per_step(corpus, model, common)
    probe_s = time.perf_counter() - t0

    # 2. plan: what is left of the budget, less the evaluations (forward only; taken as
    # half a step per token, which errs on the slow side), gives the steps of the cosine
    # schedule; the trainer's wall-clock cap holds the run to the budget if the machine
    # turns out slower than the probe said.
    evals, stop_blocks = 8, 64
    sec_per_token_fwd = sec_per_step / (batch * T) / 2.0
    final_s = sec_per_token_fwd * T * rc.eval_blocks
    eval_s = sec_per_token_fwd * T * evals * stop_blocks + final_s
    left = rc.budget_s - probe_s - eval_s
    steps = max(MIN_STEPS, int(left / sec_per_step)) if sec_per_step > 0 else MIN_STEPS
    P = min(n_train, MAX_TRAIN_TOKENS)
    tc = TrainConfig(
        P=P,
        max_steps=steps,
        max_epochs=rc.max_epochs,
        warmup_steps=max(1, min(100, steps // 20)),
        evals=evals,
        patience=3,
        eval_blocks=stop_blocks,
        final_eval_blocks=rc.eval_blocks,
        max_time_s=max(5.0, rc.budget_s - probe_s - final_s),
        **common,
    )
    prog = make_progress(transient=True) if progress else None
    task = None
    if prog is not None:
        prog.start()
        task = prog.add_task(f"reference model ({steps} steps)", total=steps)

    def on_eval(step: int, planned: int, logs: dict[str, float]) -> None:
        if prog is not None and task is not None:
            prog.update(
                task, completed=step, description=f"reference model, val {logs['val_loss']:.3f}"
            )

    try:
        run = train(corpus, tc, model, progress=on_eval)
    finally:
        if prog is not None:
            prog.stop()
    n = np.arange(1, run.context + 1)
    return ModelLosses(
        n=n,
        loss=np.asarray(run.per_position_loss, float),
        stderr=np.asarray(run.per_position_stderr, float),
        source="reference",
        drop_stderr=np.r_[np.nan, np.asarray(run.per_position_drop_stderr, float)],
        model={**run.model, "params": run.params, "params_non_embedding": run.params_non_embedding},
        training={
            "budget_s": rc.budget_s,
            "probe_seconds_per_step": sec_per_step,
            "probe_s": probe_s,
            "planned_steps": run.planned_steps,
            "steps": run.steps,
            "best_step": run.best_step,
            "P": run.P,
            "tokens_seen": run.tokens_seen,
            "epochs": run.epochs,
            "lr": rc.lr,
            "batch_size": batch,
            "stop_reason": run.stop_reason,
            "best_val_loss": run.best_val_loss,
            "best_val_loss_stderr": run.best_val_loss_stderr,
            "train_time_s": run.train_time_s,
            "wall_time_s": time.perf_counter() - t0,
            "device": run.device,
            "seed": rc.seed,
            "software": run.software,
        },
        eval_tokens=int(run.eval_blocks),
        corpus=corpus.describe(),
    )
