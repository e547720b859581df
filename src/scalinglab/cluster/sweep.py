"""Training sweeps dispatched as Dask tasks, with the run files of ``sl.train.run_sweep``.

Each run still to do is one task, with ``resources={"GPU": 1}`` when it trains
on a GPU (workers started with ``--resources GPU=1`` take one such run at a
time). The worker trains it and writes ``OUT/runs/<run-id>.json`` atomically,
exactly as a local sweep does, so ``OUT`` must be a path every worker sees;
finished runs are skipped, and a sweep killed on the cluster resumes from any
machine. The summary (``sweep.json``, fits, plots) is then written by
:func:`scalinglab.train.run_sweep` from the run files.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import UserError
from ._client import client_for, gather_with_progress

__all__ = ["run_jobs", "sweep"]


def _run_on_worker(job: Any, corpus_path: str) -> dict[str, Any]:
    """Train one run on a worker: ``threads`` torch threads (default: the worker's cores
    per task slot), no progress bars; the record is written by the engine."""
    os.environ["SCALINGLAB_NO_PROGRESS"] = "1"
    import torch
    from distributed import get_worker

    from ..train._runs import _execute

    slots = max(1, int(get_worker().state.nthreads))
    torch.set_num_threads(int(job.train.get("threads") or max(1, (os.cpu_count() or 1) // slots)))

    return _execute(job, corpus_path)


def _uses_gpu(job: Any) -> bool:
    device = str(job.train.get("device", "cpu") or "cpu")
    return device.startswith("cuda")


def run_jobs(client: Any, todo: list[Any], corpus: Any, *, progress: bool = True) -> dict[str, Any]:
    """Train the planned jobs ``todo`` on the cluster; their records by run id.

    The corpus travels by path (``corpus.path`` must be on a filesystem the
    workers share). A run whose worker dies is retried by the scheduler on
    another worker; one that keeps failing ends with a one-line UserError, the
    finished runs kept on disk.
    """
    if not todo:
        return {}
    if corpus.path is None:
        raise UserError("a sweep on a cluster needs a corpus on disk (a path the workers share)")
    futs = [
        client.submit(
            _run_on_worker, job, str(corpus.path), pure=False, key=f"sweep-run-{job.run_id}",
            resources={"GPU": 1} if _uses_gpu(job) else None,
        )
        for job in todo
    ]  # fmt: skip
    records = gather_with_progress(client, futs, "sweep runs", progress=progress)
    return {job.run_id: rec for job, rec in zip(todo, records, strict=True)}


def sweep(
    corpus: Any,
    out: str | os.PathLike[str],
    grid: Any,
    client: Any,
    **kwargs: Any,
) -> Any:
    """:func:`scalinglab.train.run_sweep` with the runs trained on a Dask cluster.

    Same arguments (``fit_window``, ``n_boot``; ``workers``/``threads`` do not
    apply) and the same :class:`SweepResult`, ``runs_trained`` the runs the
    cluster trained; ``client`` is a Client or a ``--cluster`` string.
    """
    from ..train.sweep import run_sweep

    return run_sweep(corpus, out, grid, cluster=_Jobs(client), **kwargs)


class _Jobs:
    """The ``run_jobs`` that ``run_sweep(cluster=)`` calls."""

    def __init__(self, cluster: Any):
        self.cluster = cluster

    def run_jobs(self, todo: list[Any], corpus: Any) -> dict[str, Any]:
        return run_jobs(client_for(self.cluster), todo, corpus)
