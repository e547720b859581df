"""scalinglab.cluster against one process, in the same run: time and peak memory.

Writes an N-token corpus to disk (a random walk over V = 256 symbols with
random jumps and documents: real counting work, long-range structure), then
measures

* correlations (``--lags`` lags from 1 to 256, one shuffled surrogate, no
  bootstrap) and entropies (``max_n``) in one fresh process: the single-process
  baseline, wall time and peak resident memory;
* the same on a ``LocalCluster`` of ``--workers`` processes (one thread each),
  through ``scalinglab.cluster``: wall time and the peak resident memory of
  each worker (and of the client);

checks that the numbers agree (norms bit-identical, entropy estimates to
1e-12), prints the ratios against the baseline, and projects the cost of
``--project-tokens`` tokens on ``--project-workers`` workers from the measured
throughput per worker, with the arithmetic.

    python benchmarks/cluster.py                                 # 2e7 tokens, local:2
    python benchmarks/cluster.py --tokens 200000000             # the issue's size
    python benchmarks/cluster.py --tokens 1000000 --lags 6      # smoke run
"""

from __future__ import annotations

import sys

# ``benchmarks/tokenize.py`` would shadow the standard library's ``tokenize`` module.
if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    sys.path.pop(0)

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

V = 256


def _maxrss_mib() -> float:
    """Peak resident memory of this process (MiB): VmHWM, which starts afresh at exec
    (``ru_maxrss`` would carry the peak of the process that spawned a worker)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_corpus(path: Path, n: int, seed: int = 0):
    from scalinglab.corpus.core import write_corpus as write

    rng = np.random.default_rng(seed)
    out = np.empty(n, np.int64)
    step = 1 << 22
    pos = 0
    for s in range(0, n, step):  # chunks, not tokens
        m = min(step, n - s)
        steps = rng.integers(0, 4, m)
        jump = rng.random(m) < 0.03
        steps[jump] = rng.integers(0, V, int(jump.sum()))
        walk = (np.cumsum(steps) + pos) % V
        pos = int(walk[-1])
        out[s : s + m] = walk
    docs = np.arange(0, n, 50_000)
    return write(path, out.astype(np.uint16), V, doc_offsets=docs.tolist())


def lag_list(k: int) -> list[int]:
    return sorted({int(x) for x in np.unique(np.geomspace(1, 256, k).round())})


def _single(path: str, lags: list[int], max_n: int, queue) -> None:
    os.environ["SCALINGLAB_NO_PROGRESS"] = "1"
    import scalinglab as sl

    c = sl.corpus.load(path)
    t0 = time.perf_counter()
    corr = sl.stats.correlations(c, lags=lags, n_shuffles=1, n_boot=0, progress=False)
    t_corr = time.perf_counter() - t0
    rss_corr = _maxrss_mib()
    t0 = time.perf_counter()
    ent = sl.stats.entropy(c, max_n=max_n, n_boot=2, progress=False)
    t_ent = time.perf_counter() - t0
    queue.put(
        {
            "t_corr": t_corr,
            "t_ent": t_ent,
            "rss_corr": rss_corr,
            "rss": _maxrss_mib(),
            "op": corr.operator_norm,
            "floor": corr.noise_floor,
            "est": ent.estimate,
            "plugin": ent.plugin,
        }
    )


def _worker_rss() -> float:
    return _maxrss_mib()


def _on_cluster(path: str, lags: list[int], max_n: int, workers: int, what: str) -> dict:
    from distributed import Client, LocalCluster

    import scalinglab as sl
    from scalinglab import cluster as slc

    c = sl.corpus.load(path)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        Client(lc) as client,
    ):
        t0 = time.perf_counter()
        if what == "corr":
            r = slc.correlations(c, client, lags=lags, n_shuffles=1, n_boot=0, progress=False)
            out = {"op": r.operator_norm, "floor": r.noise_floor}
        else:
            e = slc.entropy(c, client, max_n=max_n, n_boot=2, progress=False)
            out = {"est": e.estimate, "plugin": e.plugin}
        out["t"] = time.perf_counter() - t0
        out["worker_rss"] = sorted(client.run(_worker_rss).values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=float, default=2e7)
    ap.add_argument("--lags", type=int, default=24, help="lags, log-spaced from 1 to 256")
    ap.add_argument("--max-n", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--project-tokens", type=float, default=1e11)
    ap.add_argument("--project-workers", type=int, default=64)
    args = ap.parse_args()
    os.environ["SCALINGLAB_NO_PROGRESS"] = "1"
    n = int(args.tokens)
    lags = lag_list(args.lags)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_corpus(Path(tmp) / "c", n)
        path = str(Path(tmp) / "c")
        print(f"corpus: {n:,} tokens, V = {V}, written in {time.perf_counter() - t0:.1f} s")
        print(f"correlations: {len(lags)} lags 1..{lags[-1]}, 1 shuffled surrogate, no bootstrap")
        print(f"entropy: max_n = {args.max_n} (training split {int(0.99 * n):,} tokens)")
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=_single, args=(path, lags, args.max_n, q))
        p.start()
        one = q.get()
        p.join()
        base_rss = _maxrss_mib()
        corr = _on_cluster(path, lags, args.max_n, args.workers, "corr")
        ent = _on_cluster(path, lags, args.max_n, args.workers, "ent")
        client_rss = _maxrss_mib()

    same = np.array_equal(one["op"], corr["op"], equal_nan=True) and np.array_equal(
        one["floor"], corr["floor"], equal_nan=True
    )
    d_ent = float(np.nanmax(np.abs(one["plugin"] - ent["plugin"])))
    d_est = float(np.nanmax(np.abs(one["est"] - ent["est"])))
    w = args.workers
    print()
    print(
        f"{'':14}{'1 process':>12}{f'local:{w}':>12}{'ratio':>9}"
        "   peak RSS MiB (1 process | workers)"
    )
    for name, t1, tc, r1, rw in (
        ("correlations", one["t_corr"], corr["t"], one["rss_corr"], corr["worker_rss"]),
        ("entropy", one["t_ent"], ent["t"], one["rss"], ent["worker_rss"]),
    ):
        rws = ", ".join(f"{x:.0f}" for x in rw)
        print(f"{name:14}{t1:>11.2f}s{tc:>11.2f}s{tc / t1:>9.2f}   {r1:.0f} | {rws}")
    print(
        f"client peak RSS (this process, after both): {client_rss:.0f} MiB (before: {base_rss:.0f})"
    )
    print(
        f"norms bit-identical: {same}; entropy max |diff|: "
        f"plug-in {d_ent:.1e}, estimate {d_est:.1e}"
    )

    # projection from the measured throughput per worker (linear in tokens, in workers)
    big, wp = args.project_tokens, args.project_workers
    rate_c = n * len(lags) / (corr["t"] * w)  # token-lags per second per worker
    t_c = big * len(lags) / (rate_c * wp)
    print()
    print(f"projection for {big:.0e} tokens on {wp} workers (throughput measured here):")
    print(
        f"  correlations: {n:.2e} tokens x {len(lags)} lags / ({corr['t']:.2f} s x {w} workers) "
        f"= {rate_c:.3e} token-lags/s/worker;"
    )
    print(f"    {big:.0e} x {len(lags)} / ({rate_c:.3e} x {wp}) = {t_c:.3e} s = {t_c / 3600:.2f} h")
    print(
        "  entropy: the default max_tokens = 1e8 subsamples the training split, so the cost "
        "is that of 1e8 tokens, whatever the corpus size;"
    )
    rate_e = n / ent["t"]
    t_e = 1e8 / rate_e
    print(
        f"    {n:.2e} tokens / {ent['t']:.2f} s = {rate_e:.3e} tokens/s (bounded by the client's "
        f"Kneser-Ney bound); 1e8 / {rate_e:.3e} = {t_e:.0f} s = {t_e / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
