"""Speed and memory of the conditional-entropy engine against a per-n hashing baseline.

Claim: on 1e7 tokens (python-stdlib, bpe:8192, repeated to length) with
max_n = 64, ``sl.stats.entropy`` is at least 5x faster than computing the
plug-in block entropies by hashing the n-grams and calling ``np.unique`` once
per n, and its peak memory stays under 24 bytes per token.

A second comparison times the held-out upper bound: ``count_sweep`` with the
interpolated modified Kneser-Ney model (the default) against the same sweep
with the earlier interpolated absolute-discounting model
(``bound="absolute"``), each in a fresh process on the same tokens; it prints
both times (whole sweep, and the level loop that holds the bound), their
ratio, peak memory, and the best held-out loss of each.

The baseline computes strictly less (plug-in block entropies of the whole
stream only, which the engine's must equal: the script prints the largest
difference); the engine also computes the bias-corrected estimates, the
nested-prefix estimates, the held-out smoothed model and the gamma fit. Each
method runs in a fresh subprocess; peak memory is the rise of the process's
high-water mark (VmHWM) above its resident size once the tokens are loaded.

Usage::

    python benchmarks/entropy.py                    # 1e7 tokens, max_n = 64
    python benchmarks/entropy.py --tokens 2e6 --max-n 16
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like standard modules (tokenize.py): keep it off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def baseline_block_entropies(x: np.ndarray, max_n: int) -> np.ndarray:
    """Plug-in block entropies H(m-grams), m = 1..max_n+1, one np.unique per m.

    The n-gram hash is rolled forward (h_m = h_{m-1} * B + x[i+m-1] mod 2^64),
    so each level costs one multiply-add and one sort of N - m + 1 hashes.
    """
    x64 = x.astype(np.uint64)
    n = x64.size
    h = np.zeros(n, dtype=np.uint64)
    base = np.uint64(1_000_003)
    out = np.empty(max_n + 1)
    for m in range(1, max_n + 2):  # one pass per n: the baseline's defining cost
        valid = n - m + 1
        h[:valid] = h[:valid] * base + x64[m - 1 : m - 1 + valid]
        _, c = np.unique(h[:valid], return_counts=True)
        out[m - 1] = np.log(valid) - float((c * np.log(c)).sum()) / valid
    return out


def _child(method: str, path: str, max_n: int) -> None:
    import scalinglab as sl
    from scalinglab.stats.entropy import entropy

    x = np.load(path)
    corpus = sl.corpus.TokenCorpus.from_array(x, vocab_size=8192)
    base_kb = _status_kb("VmRSS")
    t0 = time.perf_counter()
    if method == "baseline":
        res = baseline_block_entropies(np.asarray(corpus.train), max_n)
        extra = {"block_entropy": res.tolist()}
    elif method.startswith("bound-"):
        from scalinglab.stats._ngram import count_sweep

        marks: dict[str, float] = {}
        sw = count_sweep(
            np.asarray(corpus.train),
            np.asarray(corpus.heldout),
            max_n,
            corpus.vocab_size,
            views=(corpus.split_index // 4, corpus.split_index // 2),
            on_stage=lambda name: marks.setdefault(name, time.perf_counter()),
            bound=method.removeprefix("bound-"),
        )
        extra = {
            "levels_seconds": time.perf_counter() - marks["n-gram levels"],
            "upper": sw.upper.tolist(),
        }
    else:
        r = entropy(corpus, max_n=max_n, progress=False)
        extra = {
            "block_entropy": r.block_entropy[1:].tolist(),  # m = 1 .. max_n + 1
            "plugin_h0": float(r.plugin[0]),
            "reliable_window": r.reliable_window,
        }
    dt = time.perf_counter() - t0
    peak_kb = _status_kb("VmHWM")
    print(
        json.dumps(
            {"method": method, "seconds": dt, "peak_bytes": (peak_kb - base_kb) * 1024, **extra}
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=float, default=1e7)
    ap.add_argument("--max-n", type=int, default=64)
    ap.add_argument("--corpus", default=None, help="corpus dir or source (default python-stdlib)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.max_n)
        return

    import scalinglab as sl

    corpus = sl.corpus.resolve(args.corpus)
    n = int(args.tokens)
    src = np.asarray(corpus.tokens)
    reps = -(-n // src.size)
    x = np.tile(src, reps)[:n]
    print(
        f"corpus {corpus.name} ({corpus.tokenizer_spec}): {src.size:,} tokens, "
        f"repeated x{reps} to {n:,}; max_n = {args.max_n}"
    )
    env = dict(os.environ, SCALINGLAB_NO_PROGRESS="1")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "tokens.npy")
        np.save(path, x)
        for method in ("baseline", "engine"):
            out = subprocess.run(
                [sys.executable, __file__, "--max-n", str(args.max_n), "--child", method, path],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[method]
            print(f"  {method:9s} {r['seconds']:8.1f} s   peak {r['peak_bytes'] / n:6.1f} B/token")
    # Same answer: the engine's block entropies of the training split against the
    # baseline's (hashes could collide; a difference of 1e-9 nats would show it).
    diff = np.abs(
        np.asarray(results["engine"]["block_entropy"]) - results["baseline"]["block_entropy"]
    )
    print(
        f"block entropies H(m-grams), m = 1..{args.max_n + 1}: largest difference between "
        f"engine and baseline {diff.max():.2e} nats"
    )
    speedup = results["baseline"]["seconds"] / results["engine"]["seconds"]
    bpt = results["engine"]["peak_bytes"] / n
    print(
        f"speed-up of the engine over the per-n np.unique baseline: {speedup:.1f}x "
        f"(target >= 5x); engine peak memory {bpt:.1f} bytes/token (target <= 24)"
    )
    # the held-out upper bound: modified Kneser-Ney against absolute discounting
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "tokens.npy")
        np.save(path, x)
        for method in ("bound-absolute", "bound-kn"):
            out = subprocess.run(
                [sys.executable, __file__, "--max-n", str(args.max_n), "--child", method, path],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[method]
            up = np.asarray(r["upper"])
            print(
                f"  {method:14s} sweep {r['seconds']:6.1f} s (levels {r['levels_seconds']:5.1f} s)"
                f"   peak {r['peak_bytes'] / n:5.1f} B/token   best held-out loss "
                f"{np.nanmin(up):.4f} nats at n = {int(np.nanargmin(up))}"
            )
    ab, kn = results["bound-absolute"], results["bound-kn"]
    bound_ratio = kn["seconds"] / ab["seconds"]
    level_ratio = kn["levels_seconds"] / ab["levels_seconds"]
    print(
        f"modified Kneser-Ney bound against absolute discounting: sweep {bound_ratio:.2f}x "
        f"the time (level loop {level_ratio:.2f}x), peak memory "
        f"{kn['peak_bytes'] / n:.1f} against {ab['peak_bytes'] / n:.1f} bytes/token"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "tokens": n,
                    "max_n": args.max_n,
                    "speedup": speedup,
                    "block_entropy_max_abs_diff": float(diff.max()),
                    "engine_bytes_per_token": bpt,
                    "kn_over_absolute_seconds": bound_ratio,
                    "kn_over_absolute_level_seconds": level_ratio,
                    **results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
