"""SIGKILL during tokenize, stats and predict: no result or a complete one, never trusted half-done.

Each verb runs once to completion (the reference and its wall time T), then
is started again and killed with SIGKILL at a random moment in [0.05 T, T],
several times, on the same --out and the same corpus cache. After every kill
the output directory and the cache hold either nothing or complete results
equal to the reference (temporary files, hidden and named ``*.tmp``, are
allowed: nothing reads them). A final uninterrupted run must then reproduce
the reference exactly and leave no temporary file behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError

KILLS = 3

VERBS = {
    "tokenize": ["tokenize", "{src}", "--tokenizer", "char", "--out", "{out}"],
    "stats": ["stats", "{src}", "--tokenizer", "char", "--out", "{out}", "--boot", "20"],
    "predict": [
        "predict", "{src}", "--tokenizer", "char", "--entropy", "counts",
        "--out", "{out}", "--boot", "20",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 200 KB of text with Zipf-distributed words."""
    rng = np.random.default_rng(1)
    words = np.array(
        "the of and a to in is you that it he was for on are as with his they at be this".split()
    )
    text = " ".join(words[rng.zipf(1.5, 60000) % len(words)]).replace(" the ", " the\n")
    p = tmp_path_factory.mktemp("crash") / "src.txt"
    p.write_text(text)
    return p


def _run(verb: str, src: Path, out: Path, cache: Path, kill_after: float | None = None):
    argv = [a.format(src=src, out=out) for a in VERBS[verb]]
    env = {
        **os.environ,
        "SCALINGLAB_NO_PROGRESS": "1",
        "SCALINGLAB_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "scalinglab.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if kill_after is None:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        return time.perf_counter() - t0
    try:
        p.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    return p.returncode


def _result(verb: str, out: Path) -> dict:
    """What a complete result of ``verb`` in ``out`` says (to compare with the reference)."""
    if verb == "tokenize":
        c = sl.corpus.load(out)
        return {"hash": c.content_hash, "tokens": c.num_tokens}
    doc = {}
    for name in sorted(out.glob("*.json")):
        d = json.loads(name.read_text())  # raises on a half-written file
        if name.name == "entropy.json":
            doc[name.name] = (d["corpus"]["content_hash"], d["estimate"], d["upper"])
        elif name.name == "correlations.json":
            doc[name.name] = (d["corpus"]["content_hash"], d["operator_norm"], d["lags"])
        elif name.name == "prediction.json":
            doc[name.name] = (d["corpus"]["content_hash"], d["alpha_D"]["value"], d["horizon"])
    return doc


def _check_cache(cache: Path, reference_hash: str | None) -> None:
    """Every entry of the corpus cache is complete (loads with its checks) or a hidden temp."""
    root = cache / "corpora"
    if not root.exists():
        return
    for entry in root.iterdir():
        if entry.name.startswith(".") and ".tmp" in entry.name:
            continue  # a killed writer's temporary directory: never read
        c = sl.corpus.load(entry)
        if reference_hash is not None:
            assert c.content_hash == reference_hash


def _visible(out: Path) -> list[str]:
    return (
        sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []
    )


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_sigkill_leaves_nothing_or_a_complete_result(
    verb: str, source: Path, tmp_path: Path
) -> None:
    ref_out, ref_cache = tmp_path / "ref", tmp_path / "ref-cache"
    wall = _run(verb, source, ref_out, ref_cache)
    reference = _result(verb, ref_out)
    ref_hash = reference["hash"] if verb == "tokenize" else next(iter(reference.values()))[0]
    out, cache = tmp_path / "out", tmp_path / "cache"
    rng = np.random.default_rng(sorted(VERBS).index(verb))
    outcomes = []
    for _ in range(KILLS):
        outcomes.append(_run(verb, source, out, cache, kill_after=rng.uniform(0.05, 1.0) * wall))
        if out.exists() and _visible(out):
            got = _result(verb, out)  # complete files only
            for name, value in got.items() if verb != "tokenize" else ():
                assert value == reference[name], f"{name} differs from the reference"
            if verb == "tokenize":
                assert got == reference
        _check_cache(cache, ref_hash)
    assert -signal.SIGKILL in outcomes  # at least one run was really killed
    _run(verb, source, out, cache)  # the next run
    assert _result(verb, out) == reference
    _check_cache(cache, ref_hash)
    leftovers = [*out.parent.glob(".out.*.tmp"), *out.glob(".*.tmp"), *cache.rglob(".*.tmp")]
    assert leftovers == [], leftovers


def test_next_run_rebuilds_a_half_written_cache_entry(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run("stats", source, tmp_path / "a", cache)
    reference = _result("stats", tmp_path / "a")
    (entry,) = (cache / "corpora").iterdir()
    with open(entry / "tokens.bin", "r+b") as f:  # as a writer without an atomic rename would
        f.truncate(f.seek(0, 2) // 3)
    with pytest.raises(UserError, match="truncated"):
        sl.corpus.load(entry)
    (tmp_path / "a" / "entropy.json").write_text('{"n": [1, 2')  # and a half-written result
    _run("stats", source, tmp_path / "a", cache)
    assert _result("stats", tmp_path / "a") == reference
    sl.corpus.load(entry)
