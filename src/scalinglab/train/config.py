"""The two settings of a run: :class:`ModelConfig` (shape) and :class:`TrainConfig` (recipe).

Both are plain dataclasses that check every field once on construction (a bad
value is a :class:`~scalinglab.errors.UserError`). Each field carries its help
text and command-line flag in its metadata; the ``train`` and ``sweep`` verbs
generate their options from these fields, so names, types, defaults and help
live here only. Importing this module does not import torch (checking a device does).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import UserError

ARCHS = ("gpt2", "llama")
_DEFAULTS = {
    "gpt2": {"positions": "learned", "mlp": "gelu", "norm": "layernorm", "bias": True},
    "llama": {"positions": "rotary", "mlp": "swiglu", "norm": "rmsnorm", "bias": False},
}
_CHOICES = {
    "positions": ("learned", "rotary"),
    "mlp": ("gelu", "relu", "swiglu"),
    "norm": ("layernorm", "rmsnorm"),
}


def opt(default: Any, help: str, flag: str | None = None, *, cli: bool = True) -> Any:
    """A dataclass field with its command-line help (and flag, default ``--field-name``).

    ``cli=False`` keeps a field off the command line (set from elsewhere, or not a
    plain value there).
    """
    meta: dict[str, Any] = {"help": help, "cli": cli}
    if flag is not None:
        meta["flag"] = flag
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    """Shape of a decoder-only transformer.

    Attributes
    ----------
    vocab_size : int
        Number of token ids V.
    context : int
        Maximum sequence length T (rows of the position table, rotary cache length).
    n_layer, n_embd, n_head : int
        Depth L, width d and attention heads (d must be divisible by the heads).
    arch : {"gpt2", "llama"}
        Family; fills in ``positions``, ``mlp``, ``norm`` and ``bias`` left as None.
    positions : {"learned", "rotary"}, optional
    mlp : {"gelu", "relu", "swiglu"}, optional
    norm : {"layernorm", "rmsnorm"}, optional
    bias : bool, optional
        Biases in linear layers and LayerNorm.
    tie_embeddings : bool
        Share the token embedding with the output projection.
    dropout : float
        Dropout on attention weights and residual branches (0 in the data-limited
        recipe, where early stopping regularises).
    """

    vocab_size: int = field(metadata={"cli": False})
    context: int = opt(64, "Maximum sequence length T.", cli=False)
    n_layer: int = opt(2, "Transformer blocks L.", "--layers")
    n_embd: int = opt(64, "Model width d.", "--width")
    n_head: int = opt(2, "Attention heads (divide the width).", "--heads")
    arch: str = opt("gpt2", "gpt2 (pre-LN, GELU) or llama (RMSNorm, rotary, SwiGLU).")
    positions: str | None = opt(None, "learned or rotary (default: the architecture's).")
    mlp: str | None = opt(None, "gelu, relu or swiglu (default: the architecture's).")
    norm: str | None = opt(None, "layernorm or rmsnorm (default: the architecture's).")
    bias: bool | None = opt(
        None, "Biases in linear layers (default: the architecture's).", cli=False
    )
    tie_embeddings: bool = opt(
        True, "Share the input and output embeddings (--untied: separate ones).", "--tied/--untied"
    )
    dropout: float = opt(0.0, "Dropout probability (0: rely on early stopping).")

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise UserError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        for key, value in _DEFAULTS[self.arch].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for key, allowed in _CHOICES.items():
            if getattr(self, key) not in allowed:
                raise UserError(
                    f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}"
                )
        for key in ("vocab_size", "context", "n_layer", "n_embd", "n_head"):
            if int(getattr(self, key)) < 1:
                raise UserError(f"{key} must be a positive integer, got {getattr(self, key)}")
        if self.n_embd % self.n_head:
            raise UserError(f"width {self.n_embd} is not divisible by {self.n_head} heads")
        if self.positions == "rotary" and (self.n_embd // self.n_head) % 2:
            raise UserError("rotary positions need an even head dimension")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def mlp_hidden(self) -> int:
        """MLP width: 4d, or for SwiGLU 8d/3 rounded up to a multiple of 16 (same parameters)."""
        if self.mlp == "swiglu":
            return 16 * math.ceil(8 * self.n_embd / 3 / 16)
        return 4 * self.n_embd

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainConfig:
    """Everything that defines one data-limited run besides the model shape.

    Attributes
    ----------
    P : int
        Training tokens (the slice of the training split the model ever sees).
    context : int
        Sequence length T of training and evaluation blocks.
    seed : int
        Seeds the slice offset, the batch order and the initialisation.
    lr : float
        Peak learning rate.
    batch_size : int
        Sequences per optimiser step (fewer when the slice holds fewer blocks).
    max_epochs : float
        Passes over the P tokens at most.
    max_steps : int
        Optimiser steps at most (the compute cap of one run).
    warmup_steps : int
        Linear warmup length (at most a tenth of the planned steps).
    min_lr_ratio : float
        Final learning rate of the cosine decay, as a fraction of ``lr``.
    weight_decay, beta1, beta2, grad_clip : float
        AdamW and clipping settings.
    evals : int
        Number of log-spaced evaluation points over the planned steps.
    patience : int
        Stop after this many evaluations without improvement (0: never stop early).
    eval_blocks : int
        Held-out blocks used for early stopping (a fixed, evenly spread subset).
    final_eval_blocks : int
        Held-out blocks (start stride >= 1) used to report the best model's losses.
    device : {"auto", "cpu", "cuda", "mps"} or "cuda:K"
        ``auto`` picks CUDA, then MPS, then CPU.
    compile : bool
        Wrap the model in ``torch.compile``.
    threads : int or None
        CPU threads for torch (None: leave torch's default).
    min_steps : int
        Optimiser steps at least, whatever ``max_epochs`` gives (a small P needs many
        passes to converge; 0: no floor).
    max_time_s : float or None
        Wall-clock cap on the training loop (seconds): when it is reached the model
        is evaluated once more and training stops (``stop_reason`` "time_budget").
        None: no cap, and a run is bit-identical for a seed on the CPU.
    """

    P: int = field(metadata={"help": "Training tokens (4096, 2^16, 64k).", "cli": False})
    context: int = opt(64, "Sequence length T.")
    seed: int = opt(0, "Seed of slice offset, order and init.")
    lr: float = opt(1e-3, "Peak learning rate.")
    batch_size: int = opt(32, "Sequences per optimiser step.")
    max_epochs: float = opt(100.0, "Passes over the P tokens at most.")
    max_steps: int = opt(2000, "Optimiser steps at most per run.")
    warmup_steps: int = opt(50, "Linear warmup steps (at most 10% of the run).", "--warmup")
    min_lr_ratio: float = opt(0.1, "Final learning rate of the cosine decay, as a fraction of lr.")
    weight_decay: float = opt(0.1, "AdamW weight decay (on matrices only).")
    beta1: float = opt(0.9, "AdamW beta1.")
    beta2: float = opt(0.95, "AdamW beta2.")
    grad_clip: float = opt(1.0, "Gradient-norm clipping (0: none).")
    evals: int = opt(30, "Log-spaced evaluations over a run.")
    patience: int = opt(4, "Stop after this many evaluations without improvement (0: never).")
    eval_blocks: int = opt(256, "Held-out blocks for early stopping.")
    final_eval_blocks: int = opt(4096, "Held-out blocks for the reported (per-position) losses.")
    device: str = opt("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:K or mps.")
    compile: bool = opt(False, "Use torch.compile.")
    threads: int | None = opt(None, "CPU threads for torch.")
    max_time_s: float | None = opt(None, "Wall-clock cap on a run's training loop (seconds).")
    min_steps: int = opt(0, "Optimiser steps at least per run (0: no floor).")

    def __post_init__(self) -> None:
        checks = {
            "P": self.P >= 2,
            "context": self.context >= 1,
            "lr": math.isfinite(self.lr) and self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "max_epochs": math.isfinite(self.max_epochs) and self.max_epochs > 0,
            "max_steps": self.max_steps >= 1,
            "min_steps": self.min_steps >= 0,
            "warmup_steps": self.warmup_steps >= 0,
            "min_lr_ratio": 0 <= self.min_lr_ratio <= 1,
            "evals": self.evals >= 1,
            "patience": self.patience >= 0,
            "eval_blocks": self.eval_blocks >= 1,
            "final_eval_blocks": self.final_eval_blocks >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise UserError(f"invalid training setting {bad[0]}={getattr(self, bad[0])}")
        if self.context + 1 > self.P:
            raise UserError(
                f"context {self.context} needs blocks of {self.context + 1} tokens, "
                f"more than P = {self.P}"
            )
        if self.threads is not None and self.threads < 1:
            raise UserError(f"threads must be >= 1, got {self.threads}")
        if self.max_time_s is not None and not (
            math.isfinite(self.max_time_s) and self.max_time_s > 0
        ):
            raise UserError(
                f"max_time_s must be a positive number of seconds, got {self.max_time_s}"
            )
        from ._device import resolve_device  # torch: only once a run is configured

        resolve_device(self.device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
