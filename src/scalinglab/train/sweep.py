"""Sweeps of data-limited runs over P, context, learning rate and seed.

Layout of a sweep directory::

    DIR/runs/<run-id>.json   one finished run (RunResult.to_dict() plus run_id), written
                             atomically once and never rewritten
    DIR/sweep.json           runs, curve {P, loss}, per-position matrix, alpha_D fits
    DIR/model_entropy.json   {n, loss}: L_n at the largest P, upper bounds on H_n
    DIR/sweep.png            the loss curve with its fits, and L_n against n per P

The grid is a :class:`~scalinglab.train.grid.SweepGrid`; the run files and their
execution are :mod:`._runs`, the aggregate and its fits :mod:`._aggregate`, the
figure :mod:`._plot`. Re-running the same sweep skips finished runs, while
changing a setting starts new ones; a SIGKILL at any moment loses at most the
runs in progress.

>>> grid = SweepGrid(P=[2**12, 2**14, 2**16], contexts=[64], lrs=[1e-3, 3e-3])
>>> res = run_sweep(corpus, "out", grid)                           # doctest: +SKIP
>>> res.alpha_D["value"], res.warnings                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .._io import read_json, write_json
from ..corpus.core import TokenCorpus
from ..errors import UserError
from ._aggregate import CONVERGED_RULE, aggregate, run_converged
from ._runs import RUN_FORMAT, execute, plan, read_finished, run_id
from .grid import SweepGrid, parse_count, parse_float_list, parse_int_list, parse_window

__all__ = [
    "CONVERGED_RULE",
    "RUN_FORMAT",
    "SweepGrid",
    "SweepResult",
    "aggregate",
    "execute",
    "load_sweep",
    "parse_count",
    "parse_float_list",
    "parse_int_list",
    "plan",
    "read_finished",
    "run_converged",
    "run_id",
    "run_sweep",
]


@dataclass
class SweepResult:
    """Everything ``DIR/sweep.json`` holds.

    Attributes
    ----------
    runs : list of dict
        Every run record of the grid (see :class:`~scalinglab.train.trainer.RunResult`).
    grid : dict
        P, contexts, learning rates, seeds, model and training settings.
    curve : dict
        Lower envelope over contexts: ``P``, ``loss`` (nats), ``stderr``, ``context``,
        ``lr`` (best learning rate), ``seeds`` and ``converged`` per P.
    curves_by_context : dict
        The same per context T (keys are str(T)), plus ``loss_by_lr``.
    per_position : list of dict
        Per context: ``context``, ``n`` (1..T, tokens seen), ``P``, ``loss`` (one row
        L_n per P, at the best learning rate, seed-averaged) and ``stderr``.
    alpha_D : dict
        Measured exponent: ``value``, ``stderr``, ``ci95``, ``window`` (of the
        no-offset fit) plus ``no_offset`` and ``with_offset`` fits in full.
    model_entropy : dict
        ``n`` (tokens seen) and ``loss`` L_n at the largest P and context, an upper
        bound on the conditional entropies H_n; also written to
        ``DIR/model_entropy.json`` for ``scalinglab predict --entropy-from``.
    warnings : list of str
    runs_reused, runs_trained : list of str
        Run ids found finished on disk and trained by this invocation.
    """

    runs: list[dict[str, Any]]
    grid: dict[str, Any]
    curve: dict[str, Any]
    curves_by_context: dict[str, Any]
    per_position: list[dict[str, Any]]
    alpha_D: dict[str, Any]
    model_entropy: dict[str, Any]
    corpus: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    converged_rule: str = ""
    runs_reused: list[str] = field(default_factory=list)
    runs_trained: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``out/sweep.json``, ``out/model_entropy.json`` and ``out/sweep.png``."""
        from ._plot import plot_sweep

        out = Path(out)
        write_json(out / "model_entropy.json", self.model_entropy)
        path = write_json(out / "sweep.json", self.to_dict())
        plot_sweep(self, out / "sweep.png")
        return path

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SweepResult:
        """A result from a ``sweep.json`` document (keys this class does not know are ignored)."""
        names = {f.name for f in fields(cls)}
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in doc and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            raise UserError(f"sweep.json has no {', '.join(missing)}")
        return cls(**{k: v for k, v in doc.items() if k in names})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep directory (or its ``sweep.json``); see :func:`load_sweep`."""
        return cls.from_dict(load_sweep(path))


def run_sweep(
    corpus: TokenCorpus,
    out: str | os.PathLike[str],
    grid: SweepGrid,
    *,
    workers: int = 1,
    threads: int | None = None,
    fit_window: tuple[int, int] | str | None = None,
    n_boot: int = 1000,
    cluster: Any = None,
) -> SweepResult:
    """Run (or resume) the runs of ``grid`` and write ``out/sweep.json``.

    Parameters
    ----------
    corpus : TokenCorpus
        Corpus with training and held-out splits.
    out : path
        Sweep directory; finished runs in ``out/runs`` are reused.
    grid : SweepGrid
        P, contexts, learning rates, seeds, and the model and training settings
        shared by every run.
    workers : int
        Runs in parallel processes; each gets ``threads`` torch threads
        (default: CPUs // workers).
    fit_window : (P_lo, P_hi) or "LO:HI", optional
        Range of P for the alpha_D fits.
    n_boot : int
        Bootstrap resamples per fit.
    cluster : backend, optional
        Train the runs as tasks on a Dask cluster: ``scalinglab.cluster.backend(...)``,
        any object with its ``run_jobs`` (GPU runs ask for ``resources={"GPU": 1}``);
        the run files are the same, written by the workers to ``out`` (a shared path).

    Returns
    -------
    SweepResult
        Also written (:meth:`SweepResult.save`): sweep.json, model_entropy.json and
        sweep.png in ``out``.
    """
    from ._device import cpu_count

    t0 = time.perf_counter()
    if not isinstance(grid, SweepGrid):
        raise UserError(f"grid must be a SweepGrid, got {type(grid).__name__}")
    if workers < 1:
        raise UserError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise UserError(f"threads must be >= 1, got {threads}")
    if n_boot < 0:
        raise UserError(f"bootstrap resamples must be >= 0, got {n_boot}")
    window = parse_window(fit_window)
    jobs = plan(corpus, out, grid)
    threads = threads or max(1, cpu_count() // workers)
    records = read_finished(jobs)
    reused = list(records)
    todo = [j for j in jobs if j.run_id not in records]
    if cluster is not None:
        records.update(cluster.run_jobs(todo, corpus))
    else:
        records.update(execute(todo, corpus, out, workers, threads, done_before=len(reused)))

    ordered = [records[j.run_id] for j in jobs]
    agg = aggregate(ordered, fit_window=window, n_boot=n_boot)
    first = jobs[0]
    recorded = {
        **grid.to_dict(),
        "model": {k: v for k, v in first.model.items() if k != "context"},
        "train": {k: v for k, v in first.train.items() if k not in ("P", "context", "lr", "seed")},
        "fit_window": list(window) if window else None,
        "workers": workers,
        "threads_per_worker": threads,
    }
    result = SweepResult(
        runs=ordered,
        grid=recorded,
        corpus=corpus.describe(),
        runs_reused=reused,
        runs_trained=[j.run_id for j in todo],
        wall_time_s=time.perf_counter() - t0,
        **agg,
    )
    result.save(out)
    return result


def load_sweep(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``sweep.json`` from a sweep directory (or the file itself)."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"sweep results not found: {p}")
    f = p / "sweep.json" if p.is_dir() else p
    if not f.is_file():
        raise UserError(f"no sweep.json in {p}; run `scalinglab sweep ... --out {p}` first")
    try:
        doc = read_json(f)
    except ValueError as e:
        raise UserError(f"corrupt {f}: {e}") from None
    if not isinstance(doc, dict):
        raise UserError(f"corrupt {f}: expected a JSON object")
    return doc
