"""Generation speed of the synthetic corpora, against per-step loops timed in the same run.

Claim: a first-order Markov chain with V = 1024 is sampled at >= 10 M tokens/s
on 2 cores (alias tables, all segments stepped at once), versus a Python loop
of per-step ``numpy.random.Generator.choice`` calls.

Run: .venv/bin/python benchmarks/synth.py [--tokens 10000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# The folder of this script comes first on sys.path; other benchmark scripts in it
# (tokenize.py) would shadow standard-library modules that SciPy imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import numpy as np  # noqa: E402

from scalinglab.synth.markov import PowerLawSource, random_chain  # noqa: E402
from scalinglab.synth.prng import full_period_pairs, lcg_sequences, pcg  # noqa: E402
from scalinglab.synth.walks import GraphWalk, random_graph  # noqa: E402


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=10_000_000)
    ap.add_argument("--baseline-steps", type=int, default=20_000)
    args = ap.parse_args()
    n = args.tokens

    chain = random_chain(1024, 1, alpha=1.0, seed=0)
    t = time.perf_counter()
    chain.stationary()
    chain._table()
    setup = time.perf_counter() - t
    fast = best_of(lambda: chain.sample(n, seed=1))
    rate = n / fast

    rng = np.random.default_rng(0)
    rows = chain.transition

    def loop() -> None:
        x = 0
        for _ in range(args.baseline_steps):
            x = rng.choice(1024, p=rows[x])

    slow = best_of(loop, repeat=1)
    base_rate = args.baseline_steps / slow
    print(
        f"markov V=1024 order 1: {rate / 1e6:.1f} M tok/s ({n:,} tokens in {fast:.2f} s; "
        f"tables + stationary law {setup:.2f} s once)"
    )
    print(f"  baseline Generator.choice loop: {base_rate / 1e3:.1f} k tok/s")
    print(
        f"  ratio: {rate / base_rate:,.0f}x   claim >= 10 M tok/s: "
        f"{'met' if rate >= 1e7 else 'NOT met'}"
    )

    src = PowerLawSource(vocab_size=64, beta=0.8, tau_min=1, tau_max=1e5)
    pl = best_of(lambda: src.sample(n, seed=1), repeat=1)
    print(f"powerlaw V=64 beta=0.8: {n / pl / 1e6:.1f} M tok/s")

    g = random_graph("er", 8192, edges=50_000, seed=0)
    for bias in (0.0, 1.0):
        w = GraphWalk.from_graph(g, bias)
        tw = best_of(lambda w=w: w.sample(n, seed=1), repeat=1)
        print(f"walk ER 8192/50000 bias={bias:g}: {n / tw / 1e6:.1f} M tok/s")

    bg = np.random.PCG64(1)
    s = bg.state["state"]
    m = 2_000_000
    tp = best_of(lambda: pcg(m, state=s["state"], increment=s["inc"]))
    mult, mask = 0x2360ED051FC65DA44385DF649FCCF645, (1 << 128) - 1

    def py_loop() -> None:
        x = s["state"]
        for _ in range(100_000):
            x = (x * mult + s["inc"]) & mask
            hi, lo = x >> 64, x & 0xFFFFFFFFFFFFFFFF
            r = x >> 122
            v = hi ^ lo
            _ = ((v >> r) | (v << (64 - r))) & 0xFFFFFFFFFFFFFFFF

    tl = best_of(py_loop, repeat=1)
    print(
        f"pcg 128-bit xsl-rr: {m / tp / 1e6:.1f} M numbers/s; Python-int loop "
        f"{1e5 / tl / 1e6:.2f} M/s; ratio {m / tp / (1e5 / tl):.0f}x"
    )

    # LCG corpora: many (a, c) pairs, each a long sequence; jump-ahead against a
    # loop over time that is vectorised over the pairs.
    modulus, n_pairs, length = 1 << 20, 64, max(1024, n // 640)
    a, c = full_period_pairs(modulus, n_pairs, seed=0)
    x0 = np.zeros(n_pairs, dtype=np.uint64)
    tj = best_of(lambda: lcg_sequences(a, c, modulus, x0, length))

    def time_loop() -> None:
        x, out = x0.copy(), np.empty((n_pairs, length), dtype=np.uint64)
        mod = np.uint64(modulus)
        for t in range(length):
            x = (a * x + c) % mod
            out[:, t] = x

    tt = best_of(time_loop, repeat=1)
    total = n_pairs * length
    print(
        f"lcg {n_pairs} pairs x {length:,} numbers (m = 2^20): {total / tj / 1e6:.1f} M numbers/s; "
        f"loop over time {total / tt / 1e6:.1f} M/s; ratio {tt / tj:.0f}x"
    )


if __name__ == "__main__":
    main()
