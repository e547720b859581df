"""scalinglab.cluster on a real 2-worker LocalCluster: the numbers of one process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

import scalinglab as sl  # noqa: E402
from scalinglab import cluster as slc  # noqa: E402
from scalinglab._io import read_json  # noqa: E402
from scalinglab.cluster import _client  # noqa: E402
from scalinglab.cluster.entropy import _positions, partition_sums  # noqa: E402
from scalinglab.corpus.core import TokenCorpus, write_corpus  # noqa: E402
from scalinglab.errors import UserError  # noqa: E402

TINY = {"n_layer": 1, "n_embd": 16, "n_head": 2}
FAST = {
    "batch_size": 8, "evals": 3, "eval_blocks": 8, "final_eval_blocks": 16,
    "max_steps": 6, "threads": 1,
}  # fmt: skip
#: Fields of a run record that measure time, not the result.
TIMING = ("wall_time_s", "train_time_s", "eval_time_s", "final_eval_time_s", "tokens_per_s")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
        dashboard_address=None,
    )  # fmt: skip
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _markov(n: int, v: int, seed: int) -> np.ndarray:
    """A random walk mod v with a few random jumps: correlations at many lags."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, 3, n)
    steps[rng.random(n) < 0.05] = rng.integers(0, v, int((rng.random(n) < 0.05).sum()) or 1)[0]
    return (np.cumsum(steps) % v).astype(np.int64)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> TokenCorpus:
    x = _markov(40_000, 24, 0)
    out = tmp_path_factory.mktemp("cluster") / "c"
    return write_corpus(out, x, 24, doc_offsets=[0, 9_000, 23_000, 31_000])


def _same_correlations(a, b) -> None:
    for name in ("operator_norm", "frobenius", "noise_floor", "frobenius_floor",
                 "frobenius_floor_shuffled", "second_singular_value", "operator_norm_stderr",
                 "frobenius_stderr", "pairs", "resolvable"):  # fmt: skip
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert a.beta.value == b.beta.value
    assert a.warnings == b.warnings


def test_correlations_bit_identical_memmap_shuffles_bootstrap(corpus, client):
    kw = {"lags": [1, 2, 3, 5, 8, 13, 21, 34], "n_shuffles": 2, "n_boot": 40,
          "chunk_tokens": 3_000}  # fmt: skip
    one = sl.stats.correlations(corpus, progress=False, **kw)
    many = slc.correlations(corpus, client, progress=False, **kw)
    _same_correlations(one, many)
    assert type(many) is type(one)
    assert np.array_equal(many.to_dict()["operator_norm"], one.to_dict()["operator_norm"])


def test_correlations_bit_identical_in_memory_within_documents_subsampled(client):
    x = _markov(20_000, 11, 1)
    c = TokenCorpus.from_array(x, 11, doc_offsets=[0, 5_000, 12_000], eod_token=None)
    kw = {"lags": "1-6", "within_documents": True, "max_pairs": 9_000, "n_shuffles": 1,
          "n_boot": 20, "chunk_tokens": 2_500, "seed": 3}  # fmt: skip
    one = sl.stats.correlations(c, progress=False, **kw)
    many = slc.correlations(c, client, progress=False, tasks_per_lag=3, **kw)
    _same_correlations(one, many)


def test_correlations_recount_when_chunk_tables_are_not_kept(corpus, client):
    """Tables too large to keep: the bootstrap recounts each chunk on the workers."""
    from scalinglab.cluster._tokens import token_ref
    from scalinglab.cluster.correlations import ClusterCountPlan
    from scalinglab.stats.config import CorrelationConfig
    from scalinglab.stats.correlations import run_correlations

    cfg = CorrelationConfig(lags=[1, 4, 9], n_shuffles=0, n_boot=30, chunk_tokens=4_000)
    lags = cfg.check(corpus)
    ref, data = token_ref(client, corpus.tokens)

    def plan(layout, chunks, bounds, *, max_pairs=None, seed=0):
        return ClusterCountPlan(layout, chunks, bounds, max_pairs=max_pairs, seed=seed,
                                keep_triples=10, client=client, ref=ref, data=data,
                                lags=lags.tolist())  # fmt: skip

    many = run_correlations(corpus, cfg, lags, progress=False, count_plan=plan)
    one = sl.stats.correlations(corpus, config=cfg, progress=False)
    _same_correlations(one, many)


def test_entropy_equal_to_one_process_partitioned(corpus, client):
    one = sl.stats.entropy(corpus, max_n=7, progress=False, n_boot=30)
    many = slc.entropy(corpus, client, max_n=7, progress=False, n_boot=30, partitions=3)
    assert type(many) is type(one)
    for name in ("plugin", "miller_madow", "grassberger", "estimate", "estimate_stderr",
                 "lower", "upper", "upper_ngram", "prefix_estimates", "block_entropy",
                 "coverage"):  # fmt: skip
        a, b = np.asarray(getattr(one, name), float), np.asarray(getattr(many, name), float)
        assert a.shape == b.shape and np.isfinite(a).any(), name
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.nanmax(np.abs(a - b)) <= 1e-12, name
    assert np.array_equal(one.distinct_ngrams, many.distinct_ngrams)
    assert np.array_equal(one.reliable, many.reliable)
    assert abs(one.gamma.value - many.gamma.value) <= 1e-9


def test_partitions_cover_every_position_once_and_none_holds_all(corpus):
    t = np.asarray(corpus.train)
    pos = [_positions(t, p, 4) for p in range(4)]
    assert sum(p.size for p in pos) == t.size
    assert np.array_equal(np.sort(np.concatenate(pos)), np.arange(t.size))
    assert max(p.size for p in pos) < t.size
    # the partition sums add up to those of a single partition (one whole index)
    stretches = [t.size // 2, t.size - 1, t.size]
    whole = partition_sums(t, 0, 1, 5, corpus.vocab_size, stretches)
    parts = [partition_sums(t, p, 4, 5, corpus.vocab_size, stretches) for p in range(4)]
    for k in range(2):
        assert np.allclose(sum(p[k] for p in parts), whole[k], rtol=1e-13, atol=1e-9)


def test_sweep_through_the_cluster_writes_the_run_files_of_a_local_sweep(corpus, client, tmp_path):
    from scalinglab.train import SweepGrid, run_sweep

    grid = SweepGrid(P=[2048, 4096], contexts=[8], lrs=[3e-3], seeds=[0], model=TINY, train=FAST)
    local = run_sweep(corpus, tmp_path / "local", grid, n_boot=20, threads=1)
    remote = slc.sweep(corpus, tmp_path / "remote", grid, client, n_boot=20)
    files = sorted((tmp_path / "local" / "runs").glob("*.json"))
    assert len(files) == 2 and len(remote.runs_trained) == 2
    for f in files:
        a, b = read_json(f), read_json(tmp_path / "remote" / "runs" / f.name)
        for rec in (a, b):
            for key in TIMING:
                rec.pop(key)
        assert a == b
    assert [r["best_val_loss"] for r in remote.runs] == [r["best_val_loss"] for r in local.runs]
    # resumable: a second call trains nothing
    again = slc.sweep(corpus, tmp_path / "remote", grid, client, n_boot=20)
    assert again.runs_trained == [] and sorted(again.runs_reused) == sorted(remote.runs_trained)


def test_a_worker_killed_mid_task_recovers_with_the_same_numbers(client, tmp_path):
    x = _markov(400_000, 40, 2)
    c = write_corpus(tmp_path / "big", x, 40)
    kw = {"lags": list(range(1, 25)), "n_shuffles": 1, "n_boot": 0, "chunk_tokens": 20_000}
    one = sl.stats.correlations(c, progress=False, **kw)
    pids = client.run(os.getpid)
    out: dict = {}

    def work() -> None:
        try:
            out["result"] = slc.correlations(c, client, progress=False, **kw)
        except Exception as e:  # reported by the assertion below
            out["error"] = e

    th = threading.Thread(target=work)
    th.start()
    deadline = time.monotonic() + 20
    busy = None  # one snapshot of the scheduler: a worker seen with tasks is the one killed
    while busy is None and time.monotonic() < deadline:
        busy = next((w for w, tasks in client.processing().items() if tasks), None)
        time.sleep(0.01)
    assert busy is not None, "no worker was seen running a task within 20 s"
    os.kill(pids[busy], signal.SIGKILL)
    th.join(60)
    assert not th.is_alive()
    # one loss is within the scheduler's allowed failures: the lost tasks run again
    assert "error" not in out, repr(out.get("error"))
    _same_correlations(one, out["result"])
    client.wait_for_workers(2, timeout=30)


@pytest.mark.parametrize(
    "spec", ["local:0", "local:x", "slurm:/no/such.yaml", "http:/bad", "host:99999", ""]
)
def test_bad_cluster_specs_are_one_line_user_errors(spec):
    with pytest.raises(UserError) as e:
        slc.parse_spec(spec)
    assert "\n" not in str(e.value)


def test_parse_spec_forms(tmp_path):
    assert slc.parse_spec("local") == slc.ClusterSpec("local")
    assert slc.parse_spec("local:3").workers == 3
    assert slc.parse_spec("10.0.0.1:8786").address == "tcp://10.0.0.1:8786"
    assert slc.parse_spec("tcp://sched:8786").address == "tcp://sched:8786"
    f = tmp_path / "jq.yaml"
    f.write_text("cores: 4\nmemory: 8GB\n")
    spec = slc.parse_spec(f"slurm:{f}")
    assert spec.kind == "jobqueue" and spec.system == "slurm" and spec.config == Path(f)


def test_unreachable_scheduler_is_one_line(monkeypatch):
    monkeypatch.setattr(_client, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(UserError) as e, slc.connect("tcp://127.0.0.1:9", quiet=True):
        pass
    assert "127.0.0.1:9" in str(e.value) and "\n" not in str(e.value)


def _main(argv: list[str]) -> int:
    from scalinglab.cli import main

    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.mark.parametrize("verb", ["stats", "predict", "sweep", "validate"])
def test_every_verb_rejects_a_bad_cluster_with_one_line_and_exit_2(verb, corpus, tmp_path, capsys):
    out = tmp_path / "o"
    assert _main([verb, str(corpus.path), "--cluster", "nowhere", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--cluster" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_stats_with_an_unreachable_scheduler_is_one_line(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_client, "CONNECT_TIMEOUT_S", 1)
    argv = ["stats", str(corpus.path), "--only", "correlations", "--lags", "1-4"]
    assert _main([*argv, "--cluster", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "127.0.0.1:9" in err[0]


def test_stats_cli_on_the_cluster_writes_the_numbers_of_one_process(corpus, client, tmp_path):
    argv = ["stats", str(corpus.path), "--only", "correlations", "--lags", "1-12", "--boot", "30"]
    assert _main([*argv, "--out", str(tmp_path / "one")]) == 0
    addr = client.scheduler.address
    assert _main([*argv, "--cluster", addr, "--out", str(tmp_path / "many")]) == 0
    a = read_json(tmp_path / "one" / "correlations.json")
    b = read_json(tmp_path / "many" / "correlations.json")
    for key in ("operator_norm", "frobenius", "noise_floor", "operator_norm_stderr"):
        assert a[key] == b[key], key
