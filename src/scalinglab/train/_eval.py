"""Evaluation of a model on held-out blocks: per-position losses and their errors.

Block b of ``T + 1`` tokens predicts ``data[s_b + 1 : s_b + T + 1]`` from
``data[s_b : s_b + T]``; the loss at position n (tokens seen, 1..T) is

    L_n = - < log p_theta(x_{n+1} | x_1 .. x_n) >   (nats).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from ._device import _autocast


def eval_starts(n_heldout: int, block: int, max_blocks: int) -> np.ndarray:
    """Sorted starts of the fixed held-out evaluation blocks of ``block`` tokens.

    Every start when there are at most ``max_blocks`` of them, otherwise a
    uniform sample without replacement drawn with a fixed seed, so that every
    run is scored on the same blocks. (Evenly strided starts with a stride
    0 < s < T would make positions n and n + s score the same targets, leaving
    a period-s ripple in the per-position losses.)
    """
    n_starts = n_heldout - block + 1
    if n_starts < 1:
        raise UserError(
            f"the held-out split has {n_heldout} tokens, fewer than one block of {block}"
        )
    if n_starts <= max_blocks:
        return np.arange(n_starts, dtype=np.int64)
    rng = np.random.default_rng(0xE7A1)
    return np.sort(rng.choice(n_starts, size=max_blocks, replace=False)).astype(np.int64)


def _blocks(data: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """Rows ``data[s : s + length]`` for every start s, as int64 token ids."""
    idx = torch.from_numpy(starts)[:, None] + torch.arange(length)
    return data[idx.to(data.device)].long()


@torch.no_grad()
def per_position_losses(
    model: torch.nn.Module,
    data: torch.Tensor,
    starts: np.ndarray,
    context: int,
    batch_size: int = 128,
    device: torch.device | None = None,
) -> np.ndarray:
    """Per-block, per-position cross-entropy of ``model`` (nats), shape (blocks, T).

    Block b predicts ``data[s_b + 1 : s_b + T + 1]`` from ``data[s_b : s_b + T]``;
    the whole matrix is returned so that callers can form means and standard errors.
    """
    was_training = model.training
    model.eval()
    device = device or data.device
    out = np.empty((starts.size, context), dtype=np.float64)
    for i in range(0, starts.size, batch_size):
        xy = _blocks(data, starts[i : i + batch_size], context + 1)
        with _autocast(device):
            logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.float().transpose(1, 2), xy[:, 1:], reduction="none")
        out[i : i + xy.shape[0]] = loss.double().cpu().numpy()
    model.train(was_training)
    return out


def drop_stderr(losses: np.ndarray) -> np.ndarray:
    """Standard error of ``L_n - L_{n+1}`` from a (blocks, T) loss matrix, paired over blocks.

    Neighbouring positions of one block score overlapping text, so most of their
    noise is shared: the error of their difference is far below either error.
    Entry i is for positions i and i + 1 (T - 1 entries).
    """
    nb = losses.shape[0]
    if nb < 2 or losses.shape[1] < 2:
        return np.full(max(losses.shape[1] - 1, 0), np.nan)
    d = losses[:, :-1] - losses[:, 1:]
    return d.std(axis=0, ddof=1) / math.sqrt(nb)


def _summarise(
    losses: np.ndarray, n_heldout: int, T: int
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Mean loss, its standard error, per-position means and standard errors.

    Per-position targets of distinct blocks are distinct tokens, so those errors
    use every block. Blocks overlap when there are more than H / T of them
    (H held-out tokens), so the error of the overall mean uses
    n_eff = min(n_blocks, H / T) independent blocks.
    """
    nb = losses.shape[0]
    pos = losses.mean(axis=0)
    if nb < 2:
        return float(pos.mean()), float("nan"), pos, np.full(T, np.nan)
    pos_err = losses.std(axis=0, ddof=1) / math.sqrt(nb)
    n_eff = max(1.0, min(nb, n_heldout / T))
    err = float(losses.mean(axis=1).std(ddof=1) / math.sqrt(n_eff))
    return float(pos.mean()), err, pos, pos_err
