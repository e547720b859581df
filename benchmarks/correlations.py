"""Correlation engine against a dense baseline, at V = 8192 (bpe:8192).

For python-stdlib and tiny-shakespeare tokenized with bpe:8192 and 32 lags, prints

* the engine's wall time, time per lag and pairs per second, for the norms alone
  (``n_shuffles=0, n_boot=0``) and for the full measurement (3 shuffled
  surrogates per lag and a 200-replicate block bootstrap);
* the peak memory of the engine (resident high-water mark of this process,
  read before any baseline runs, and the peak of NumPy allocations traced by
  tracemalloc);
* a straightforward baseline timed in the same process on a few lags: a dense
  ``V x V`` ``np.bincount`` table, the dense covariance and a full dense SVD
  (``np.linalg.svd``, singular values only) plus the Frobenius norm, and the
  ratio of its time per lag to the engine's;
* the engine's time on the first N/4, N/2 and N tokens (norms only), to show
  that it grows linearly in N.

Then, with ``--scale-tokens N``, writes an N-token corpus to disk (random
contiguous pieces of python-stdlib, so real statistics) and measures 3 lags on
it in a fresh process, reading the token memmap chunk by chunk: wall time and
peak resident memory, which stays bounded as N grows.

    python benchmarks/correlations.py [--baseline-lags 2] [--skip-baseline]
                                      [--scale-tokens 200000000]
    python benchmarks/correlations.py --tokens 200000 --lags 8 --skip-baseline  # smoke run
"""

from __future__ import annotations

import sys

# ``benchmarks/tokenize.py`` would shadow the standard library's ``tokenize`` module
# when this script runs as ``python benchmarks/correlations.py``: drop the folder.
if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    sys.path.pop(0)

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import scalinglab as sl  # noqa: E402

# ``scalinglab.stats`` exports the function under the module's name.
corr = importlib.import_module("scalinglab.stats.correlations")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LAGS = list(range(1, 17)) + sorted({int(round(v)) for v in np.geomspace(20, 1024, 16)})  # 32 lags


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline_norms(x: np.ndarray, lag: int, v: int) -> tuple[float, float]:
    """Dense V x V bincount table, dense covariance, full dense SVD."""
    left, right = x[:-lag].astype(np.int64), x[lag:].astype(np.int64)
    m = left.size
    table = np.bincount(left * v + right, minlength=v * v).reshape(v, v)
    pl = np.bincount(left, minlength=v) / m
    pr = np.bincount(right, minlength=v) / m
    c = table / m - np.outer(pl, pr)
    s = np.linalg.svd(c, compute_uv=False)
    return float(s[0]), float(np.linalg.norm(c))


def beta_text(fit) -> str:
    if fit.value is None:
        return f"undefined ({fit.reason})"
    se = f" +- {fit.stderr:.3f}" if fit.stderr is not None else ""
    return f"{fit.value:.3f}{se} on lags {fit.window[0]:g}..{fit.window[1]:g}"


def engine(c, lags, **kw):
    t0 = time.perf_counter()
    res = corr.correlations(c, lags, progress=False, **kw)
    return res, time.perf_counter() - t0


SCALE_CHILD = """
import importlib, json, resource, sys, time
import scalinglab as sl
corr = importlib.import_module("scalinglab.stats.correlations")
c = sl.corpus.load(sys.argv[1])
t0 = time.perf_counter()
res = corr.correlations(c, [1, 16, 256], n_shuffles=1, n_boot=100, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "pairs": int(res.pairs.sum()),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "op": res.operator_norm.tolist(), "floor": res.noise_floor.tolist()}))
"""


def scale_run(n_tokens: int, base) -> None:
    """Write an n-token corpus from random pieces of ``base`` and measure it in a child."""
    src = np.asarray(base.tokens)
    rng = np.random.default_rng(0)
    piece = 1 << 20
    with tempfile.TemporaryDirectory(dir=Path.home() / ".cache") as tmp:
        with sl.corpus.CorpusWriter(Path(tmp) / "big", vocab_size=base.vocab_size) as w:
            w.start_document()
            done = 0
            while done < n_tokens:
                take = min(piece, n_tokens - done)
                s = int(rng.integers(0, src.size - take))
                w.write(src[s : s + take])
                done += take
            w.finish(
                tokenizer={"spec": "pretokenized", "eod_token": None},
                source={"kind": "benchmark", "description": "python-stdlib pieces"},
            )
        out = subprocess.run(
            [sys.executable, "-c", SCALE_CHILD, str(Path(tmp) / "big")],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"scale: N = {n_tokens:,} tokens on disk, 3 lags (1 shuffle, 100 replicates): "
            f"{r['seconds']:.0f} s, {r['pairs'] / r['seconds']:,.0f} pairs/s, peak resident "
            f"memory {r['rss_mb']:,.0f} MB (the token file is {2 * n_tokens / 2**20:,.0f} MB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-lags", type=int, default=2, help="lags timed for the baseline")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--scale-tokens", type=int, default=0, help="also run on N tokens on disk")
    ap.add_argument("--only-scale", action="store_true", help="run only the --scale-tokens part")
    ap.add_argument("--tokens", type=int, default=0, help="use only the first N tokens of each")
    ap.add_argument("--lags", type=int, default=len(LAGS), help="measure the first K of the lags")
    args = ap.parse_args()
    lag_set = LAGS[: max(args.lags, 4)]
    if args.only_scale:
        scale_run(args.scale_tokens, sl.corpus.resolve(None, "bpe:8192"))
        return

    corpora = {
        "python-stdlib": sl.corpus.resolve(None, "bpe:8192"),
        "tiny-shakespeare": sl.corpus.resolve(SHARED / "tiny-shakespeare.txt", "bpe:8192"),
    }
    if args.tokens:
        corpora = {
            name: sl.corpus.TokenCorpus.from_array(
                np.asarray(c.tokens[: args.tokens]), vocab_size=c.vocab_size
            )
            for name, c in corpora.items()
        }
    rows = {}
    tracemalloc.start()
    for name, c in corpora.items():
        lags = [lag for lag in lag_set if lag < c.num_tokens // 2]
        core, t_core = engine(c, lags, n_shuffles=0, n_boot=0)
        tracemalloc.reset_peak()
        full, t_full = engine(c, lags)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        pairs = int(core.pairs.sum())
        rows[name] = (c, lags, core, t_core, t_full, traced, pairs)
        print(
            f"{name:>17}: N = {c.num_tokens:,} tokens, V = {c.vocab_size}, {len(lags)} lags | "
            f"norms {t_core:6.1f} s ({t_core / len(lags):.3f} s/lag, {pairs / t_core:,.0f} "
            f"pairs/s) | full {t_full:6.1f} s ({t_full / len(lags):.2f} s/lag) | NumPy peak "
            f"{traced:,.0f} MB | beta {beta_text(full.beta)}"
        )
    tracemalloc.stop()
    print(f"peak resident memory of the engine runs: {rss_mb():,.0f} MB (target < 4096 MB)")

    c = corpora["python-stdlib"]
    print("scaling in N (python-stdlib prefixes, 8 lags, norms only):")
    base = None
    x_all = np.asarray(c.tokens)
    for frac in (4, 2, 1):
        x = x_all[: x_all.size // frac]
        sub = sl.corpus.TokenCorpus.from_array(x, vocab_size=c.vocab_size)
        _, t = engine(sub, lag_set[:4] + lag_set[-4:], n_shuffles=0, n_boot=0)
        base = base or t
        print(
            f"  N = {x.size:>10,}: {t:6.2f} s, {t / base:4.2f}x the time at N/4 "
            f"(linear: {4 / frac:.0f}x)"
        )

    if args.scale_tokens:
        scale_run(args.scale_tokens, c)
    if args.skip_baseline:
        return
    print(f"baseline (dense bincount + dense SVD) on {args.baseline_lags} lag(s) per corpus:")
    for name, (c, lags, core, t_core, t_full, _traced, _pairs) in rows.items():
        x = np.asarray(c.tokens)
        chosen = lags[:: max(1, len(lags) // args.baseline_lags)][: args.baseline_lags]
        times = []
        for lag in chosen:
            t0 = time.perf_counter()
            op, fro = baseline_norms(x, lag, c.vocab_size)
            times.append(time.perf_counter() - t0)
            i = list(core.lags).index(lag)
            assert abs(op - core.operator_norm[i]) <= 1e-9 * op, (op, core.operator_norm[i])
            assert abs(fro - core.frobenius[i]) <= 1e-9 * fro
        per_lag = float(np.mean(times))
        each = ", ".join(f"lag {lag}: {t:.1f} s" for lag, t in zip(chosen, times, strict=True))
        print(
            f"{name:>17}: {per_lag:7.1f} s/lag ({each}) | engine norms "
            f"{t_core / len(lags):.3f} s/lag -> {per_lag / (t_core / len(lags)):,.0f}x faster | "
            f"full engine {t_full / len(lags):.2f} s/lag -> "
            f"{per_lag / (t_full / len(lags)):,.0f}x faster (target >= 20x)"
        )


if __name__ == "__main__":
    main()
