"""Throughput of the data-limited trainer against a minimal hand-written loop.

Both train the same model (same shape, AdamW, gradient clipping, same batch
and context, compiled alike with --compile, the fused AdamW kernel on a GPU)
on the same tokens for the same number of steps, alternating
A/B/A/B so that a busy machine slows both alike; the median of the repeats is
reported. The claim: the trainer's training steps run within 10% of the bare
loop (its bookkeeping: block sampling, learning-rate schedule, loss
accumulation). Evaluations for early stopping are extra work, not overhead,
and are reported separately. On a GPU the script also prints the model FLOPs
utilisation (MFU) of the trainer, 6N + 6LTd FLOPs per token against the
device's dense bf16 peak.

Usage:  python benchmarks/train.py [--steps 300] [--repeats 5] [--threads 1] [--width 64]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

# The scripts beside this one are not modules to import; one of them is named like the
# standard library's tokenize, which torch needs, so keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import scalinglab as sl  # noqa: E402
from scalinglab.train.model import GPT, ModelConfig  # noqa: E402
from scalinglab.train.trainer import (  # noqa: E402
    TrainConfig,
    _autocast,
    _sync,
    resolve_device,
    train,
)

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tiny-shakespeare.txt"

#: Dense bf16 peak FLOP/s by device name fragment (vendor data sheets).
PEAK_BF16 = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "A10": 125e12,
    "4090": 165e12,
    "3090": 71e12,
    "V100": 125e12,
}


def corpus() -> sl.corpus.TokenCorpus:
    if SHAKESPEARE.exists():
        return sl.corpus.resolve(str(SHAKESPEARE), "char")
    rng = np.random.default_rng(0)
    return sl.corpus.TokenCorpus.from_array(rng.integers(0, 65, 1_200_000), vocab_size=65)


def bare_loop(c, mc: ModelConfig, cfg: TrainConfig, device: torch.device) -> float:
    """The least a training loop can do; returns tokens per second."""
    torch.manual_seed(0)
    model = GPT(mc).to(device)
    fwd = torch.compile(model) if cfg.compile else model
    # The same optimiser as the trainer: weight decay on matrices only, two parameter groups,
    # the fused CUDA kernel on a GPU.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), **fused)
    data = torch.from_numpy(np.asarray(c.train[: cfg.P], dtype=np.int64)).to(device)
    T, B = cfg.context, cfg.batch_size
    g = torch.Generator().manual_seed(0)
    starts = torch.randint(0, cfg.P - T - 1, (cfg.max_steps, B), generator=g)
    ar = torch.arange(T + 1)
    _sync(device)
    t0 = time.perf_counter()
    for s in range(cfg.max_steps):
        xy = data[(starts[s][:, None] + ar).to(device)]
        with _autocast(device):
            logits = fwd(xy[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, mc.vocab_size), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    _sync(device)
    return cfg.max_steps * B * T / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    c = corpus()
    shape = {"n_layer": args.layers, "n_embd": args.width, "n_head": args.heads}
    mc = ModelConfig(vocab_size=c.vocab_size, context=args.context, **shape)
    cfg = TrainConfig(
        P=2**20,
        context=args.context,
        batch_size=args.batch,
        max_steps=args.steps,
        max_epochs=1e9,
        patience=0,
        device=args.device,
        compile=args.compile,
        final_eval_blocks=256,
    )
    print(
        f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
        f"model L={args.layers} d={args.width}, T={args.context}, batch {args.batch}, "
        f"{args.steps} steps x {args.repeats} repeats"
    )
    flops = GPT(mc).flops_per_token(args.context)
    peak = math.nan
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), math.nan)
        print(f"{name}: {flops:,.0f} FLOPs per token, dense bf16 peak {peak / 1e12:,.0f} TFLOP/s")
    bare_loop(c, mc, TrainConfig(**{**cfg.to_dict(), "max_steps": 5}), device)  # warm-up
    bare, steps_only, with_evals, mfu = [], [], [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(c, mc, cfg, device))
        r = train(c, cfg, shape)
        steps_only.append(r.tokens_per_s)
        # Early-stopping evaluations included, the final report evaluation not.
        with_evals.append(r.tokens_seen / (r.train_time_s + r.eval_time_s))
        if device.type == "cuda":
            mfu.append(flops * r.tokens_per_s / peak)
    b, s, e = (statistics.median(v) for v in (bare, steps_only, with_evals))
    # Ratios of back-to-back pairs, so that a change in machine load cancels within a pair.
    r = statistics.median(x / y for x, y in zip(steps_only, bare, strict=True))
    r_e = statistics.median(x / y for x, y in zip(with_evals, bare, strict=True))
    print(f"bare loop:                 {b:12,.0f} tokens/s")
    print(
        f"trainer, training steps:   {s:12,.0f} tokens/s   ratio {r:.3f} "
        f"(overhead {100 * (1 - r):+.1f}%)"
    )
    print(f"trainer, with eval points: {e:12,.0f} tokens/s   ratio {r_e:.3f}")
    if mfu:
        print(f"MFU (bf16 dense peak):     {statistics.median(mfu):.1%}")


if __name__ == "__main__":
    main()
