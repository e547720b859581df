"""The runs of a sweep on disk: their ids, their record files, and executing them.

Every run is ``DIR/runs/<run-id>.json`` (a RunResult plus ``run_id`` and
``format``), written atomically once and never rewritten. The run id names the
grid point and hashes everything that defines the run (corpus content, model
shape, training settings), so re-running a sweep skips the finished runs while
changing a setting starts new ones; a SIGKILL loses at most the runs in
progress. Runs execute in this process or in a pool of spawned workers, each
killed by the kernel if the sweep dies.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import read_json, write_json
from .._progress import make_progress
from ..corpus.core import TokenCorpus, load
from ..errors import UserError
from .config import ModelConfig, TrainConfig
from .grid import SweepGrid

RUN_FORMAT = 1
#: TrainConfig fields that change where or how fast a run executes but not its result.
_EXECUTION_ONLY = ("device", "compile", "threads")
#: TrainConfig fields added after runs were first recorded: left out of the run id at their
#: default, so that the ids of earlier runs stay valid.
_NEW_AT_DEFAULT = {"min_steps": 0}


def run_id(corpus_hash: str, model: dict[str, Any], train: dict[str, Any]) -> str:
    """``P<P>-T<T>-lr<lr>-s<seed>-<hash>``: readable grid point plus a hash of the whole setup."""
    key = {
        "format": RUN_FORMAT,
        "corpus": corpus_hash,
        "model": model,
        "train": {
            k: v
            for k, v in train.items()
            if k not in _EXECUTION_ONLY and not (k in _NEW_AT_DEFAULT and v == _NEW_AT_DEFAULT[k])
        },
    }
    digest = hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=5).hexdigest()
    return f"P{train['P']}-T{train['context']}-lr{train['lr']:g}-s{train['seed']}-{digest}"


@dataclass
class _Job:
    run_id: str
    path: Path
    train: dict[str, Any]
    model: dict[str, Any]


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this worker when the sweep process dies.

    Without it, workers of a killed sweep would finish their current runs unseen.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - unusual libc
        pass


def _cost(job: _Job) -> float:
    """Planned training tokens of a job, at most max_epochs * P and max_steps * batch * T."""
    t = job.train
    return min(t["max_epochs"] * t["P"], t["max_steps"] * t["batch_size"] * t["context"])


def _init_worker(threads: int) -> None:
    _die_with_parent()
    import torch

    torch.set_num_threads(threads)
    os.environ["SCALINGLAB_NO_PROGRESS"] = "1"


def _execute(job: _Job, corpus: TokenCorpus | str, progress=None) -> dict[str, Any]:
    """Train one grid point and write its record atomically (never over an existing file)."""
    from .trainer import train

    if isinstance(corpus, str):
        corpus = load(corpus)
    result = train(corpus, TrainConfig(**job.train), job.model, progress=progress)
    record = {"run_id": job.run_id, "format": RUN_FORMAT, **result.to_dict()}
    if not job.path.exists():
        write_json(job.path, record)
    return record


def plan(corpus: TokenCorpus, out: str | os.PathLike[str], grid: SweepGrid) -> list[_Job]:
    """The grid as jobs (run id, record path, settings), checked against the corpus."""
    n_train = corpus.split_index
    too_big = [p for p in grid.P if p > n_train]
    if too_big:
        raise UserError(
            f"P = {too_big[0]} exceeds the {n_train} tokens of the training split of {corpus.name}"
        )
    n_heldout = int(corpus.heldout.size)
    too_long = [t for t in grid.contexts if t + 1 > n_heldout]
    if too_long:
        raise UserError(
            f"the held-out split of {corpus.name} has {n_heldout} tokens, fewer than one "
            f"evaluation block of {too_long[0] + 1} (context {too_long[0]} + 1)"
        )
    runs_dir = Path(out) / "runs"
    jobs = []
    for T in grid.contexts:
        mc = ModelConfig(**{**grid.model, "vocab_size": corpus.vocab_size, "context": T})
        for p in grid.P:
            for lr in grid.lrs:
                for s in grid.seeds:
                    tc = TrainConfig(P=p, context=T, lr=lr, seed=s, **grid.train)
                    td = tc.to_dict()
                    rid = run_id(corpus.content_hash, mc.to_dict(), td)
                    jobs.append(_Job(rid, runs_dir / f"{rid}.json", td, mc.to_dict()))
    return jobs


def read_finished(jobs: list[_Job]) -> dict[str, dict[str, Any]]:
    """The records of the jobs already finished on disk, by run id."""
    records: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.path.exists():
            try:
                records[job.run_id] = read_json(job.path)
            except (OSError, ValueError):
                raise UserError(
                    f"unreadable run file {job.path}; delete it to redo the run"
                ) from None
    return records


def execute(
    todo: list[_Job],
    corpus: TokenCorpus,
    out: str | os.PathLike[str],
    workers: int,
    threads: int,
    done_before: int = 0,
) -> dict[str, dict[str, Any]]:
    """Train the jobs ``todo`` (in ``workers`` processes of ``threads`` threads), by run id.

    Each record is on disk as soon as its run ends. A worker that dies ends the sweep
    with a :class:`UserError`; runs not yet started are dropped, finished ones kept.
    """
    records: dict[str, dict[str, Any]] = {}
    with make_progress() as prog:
        task = prog.add_task("sweep runs", total=done_before + len(todo), completed=done_before)
        if workers == 1 or len(todo) <= 1:
            import torch

            torch.set_num_threads(threads)
            for job in todo:
                sub = prog.add_task(f"  P={job.train['P']} lr={job.train['lr']:g}", total=None)

                def step_cb(step: int, planned: int, _m: dict[str, float], sub=sub) -> None:
                    prog.update(sub, completed=step, total=planned)

                records[job.run_id] = _execute(job, corpus, step_cb)
                prog.remove_task(sub)
                prog.advance(task)
            return records
        import multiprocessing as mp

        ref: TokenCorpus | str = str(corpus.path) if corpus.path else corpus
        # Longest runs first (a greedy longest-processing-time schedule); at equal
        # budgets larger P first, as smaller ones tend to stop early.
        todo = sorted(todo, key=lambda j: (-_cost(j), -j.train["P"]))
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads,),
        ) as pool:
            pending = {pool.submit(_execute, job, ref): job for job in todo}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        job = pending.pop(fut)
                        try:
                            records[job.run_id] = fut.result()
                        except BrokenProcessPool:
                            raise UserError(
                                "a worker process died (killed, or out of memory?); the "
                                f"finished runs are kept in {Path(out) / 'runs'}: run the "
                                "command again to resume"
                            ) from None
                        prog.advance(task)
            except BaseException:
                # Fail fast: runs not yet started are dropped, those in progress finish.
                for fut in pending:
                    fut.cancel()
                raise
    return records
