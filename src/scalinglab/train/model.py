"""Decoder-only transformers for data-limited training, in one readable file.

Two families, both configured by :class:`ModelConfig`:

- ``gpt2``: pre-LayerNorm blocks, learned absolute (or rotary) positions, GELU
  (or ReLU) MLP of width 4d, tied (or untied) input/output embeddings.
- ``llama``: pre-RMSNorm blocks, rotary positions, SwiGLU MLP of width about
  8d/3, no biases.

Attention is causal multi-head self-attention through
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient
kernels where the device has them). The model returns next-token logits; the
trainer computes the per-position cross-entropy from them.

Parameter count (``num_params``): all trainable parameters, each counted once
(a tied output matrix is the token embedding). ``non_embedding=True`` leaves out
the token and position embeddings (Kaplan et al.'s N), but keeps an untied
output matrix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ARCHS, ModelConfig

__all__ = ["ARCHS", "GPT", "ModelConfig", "apply_rotary", "rotary_tables"]


def _norm(cfg: ModelConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.n_embd, eps=1e-6)
    return nn.LayerNorm(cfg.n_embd, bias=bool(cfg.bias))


def rotary_tables(
    length: int, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables of shape (length, head_dim/2): angle = t * base^(-2i/head_dim)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive halves of the last axis of x (B, H, T, D) by position-dependent angles."""
    x1, x2 = x[..., ::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2).type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=bool(cfg.bias))
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=bool(cfg.bias))
        self.proj.residual_scale = True  # type: ignore[assignment]
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            cos, sin = rope[0][:T], rope[1][:T]
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden, bias = cfg.mlp_hidden, bool(cfg.bias)
        self.kind = cfg.mlp
        self.up = nn.Linear(cfg.n_embd, hidden, bias=bias)
        self.gate = nn.Linear(cfg.n_embd, hidden, bias=bias) if cfg.mlp == "swiglu" else None
        self.down = nn.Linear(hidden, cfg.n_embd, bias=bias)
        self.down.residual_scale = True  # type: ignore[assignment]
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            h = F.silu(self.gate(x)) * self.up(x)
        elif self.kind == "relu":
            h = F.relu(self.up(x))
        else:
            h = F.gelu(self.up(x), approximate="tanh")
        return self.dropout(self.down(h))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1, self.attn = _norm(cfg), CausalSelfAttention(cfg)
        self.ln2, self.mlp = _norm(cfg), MLP(cfg)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), rope)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Decoder-only transformer: ``logits = GPT(cfg)(idx)`` with idx of shape (B, T <= context)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.context, cfg.n_embd) if cfg.positions == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = _norm(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        if cfg.positions == "rotary":
            cos, sin = rotary_tables(cfg.context, cfg.head_dim)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # GPT-2 initialisation: N(0, 0.02), residual output projections scaled by 1/sqrt(2L).
        if isinstance(module, nn.Linear):
            std = 0.02
            if getattr(module, "residual_scale", False):
                std /= math.sqrt(2 * self.cfg.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        if T > self.cfg.context:
            raise ValueError(f"sequence of length {T} exceeds the model context {self.cfg.context}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        rope = (self.rope_cos, self.rope_sin) if self.wpe is None else None
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, rope)
        return self.lm_head(self.ln_f(x))

    def num_params(self, non_embedding: bool = False) -> int:
        """Trainable parameters, shared tensors counted once.

        With ``non_embedding`` the token and position embedding tables are left
        out (an untied output matrix stays in).
        """
        seen: dict[int, int] = {id(p): p.numel() for p in self.parameters()}
        n = sum(seen.values())
        if non_embedding:
            n -= self.wte.weight.numel()
            if self.wpe is not None:
                n -= self.wpe.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token, 6N + 6 L T d (PaLM appendix B; causal attention halved)."""
        T = seq_len or self.cfg.context
        n = self.num_params(non_embedding=True) + (
            self.wte.weight.numel() if self.cfg.tie_embeddings else 0
        )
        return 6.0 * n + 6.0 * self.cfg.n_layer * T * self.cfg.n_embd
