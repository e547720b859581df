"""Sweeps of data-limited runs over P, context, learning rate and seed.

Layout of a sweep directory::

    DIR/runs/<run-id>.json   one finished run (RunResult.to_dict() plus run_id), written
                             atomically once and never rewritten
    DIR/sweep.json           runs, curve {P, loss}, per-position matrix, alpha_D fits
    DIR/model_entropy.json   {n, loss}: L_n at the largest P, upper bounds on H_n
    DIR/sweep.png            the loss curve with its fits, and L_n against n per P

The run id names the grid point and hashes everything that defines the run
(corpus content, model shape, training settings), so re-running the same
command skips finished runs, while changing a setting starts new ones. A
SIGKILL at any moment loses at most the runs in progress.

Aggregation: for every (T, P, lr) the losses are averaged over seeds; for
every (T, P) the learning rate with the lowest mean loss is kept; the curve
L(P) is the lower envelope over T. The measured exponent alpha_D is the
power-law fit of that curve (with and without offset, bootstrap 95% interval).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_json, write_json
from .._progress import make_progress
from ..corpus.core import TokenCorpus, load
from ..errors import UserError
from ..fit.alpha import ALPHA_LIMIT, AlphaFit, fit_alpha

RUN_FORMAT = 1
#: TrainConfig fields that change where or how fast a run executes but not its result.
_EXECUTION_ONLY = ("device", "compile", "threads")
#: TrainConfig fields added after runs were first recorded: left out of the run id at their
#: default, so that the ids of earlier runs stay valid.
_NEW_AT_DEFAULT = {"min_steps": 0}


# -- grids ------------------------------------------------------------------------------------

_NUM = re.compile(r"^\s*(\d+(?:\.\d*)?(?:e\d+)?)\s*([kKmMgG]?)\s*$")
_POW = re.compile(r"^\s*(\d+)\s*(?:\^|\*\*)\s*(\d+)\s*$")


def _parse_int(text: str) -> int:
    if m := _POW.match(text):
        return int(m.group(1)) ** int(m.group(2))
    if m := _NUM.match(text):
        mult = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]
        value = float(m.group(1)) * mult
        if value == int(value):
            return int(value)
    raise UserError(f"not an integer: {text!r} (use e.g. 4096, 2^12, 64k, 1e6)")


def parse_int_list(text: str) -> list[int]:
    """Parse ``4096,16384``, ``2^12:2^20`` (every power), ``2^12:2^20:2`` (every 2nd) or ``64k``.

    A range ``b^i:b^j[:s]`` lists b^i, b^(i+s), ..., b^j; a range of plain
    integers ``a:b[:s]`` lists a, a+s, ..., b. Values are returned sorted and unique.
    """
    out: set[int] = set()
    for item in str(text).split(","):
        if not item.strip():
            continue
        parts = item.split(":")
        if len(parts) == 1:
            out.add(_parse_int(parts[0]))
            continue
        if len(parts) not in (2, 3):
            raise UserError(f"bad range {item!r}; use START:STOP[:STEP]")
        step = _parse_int(parts[2]) if len(parts) == 3 else 1
        if step < 1:
            raise UserError(f"bad range step in {item!r}")
        a, b = _POW.match(parts[0]), _POW.match(parts[1])
        if a and b and a.group(1) == b.group(1):
            base = int(a.group(1))
            out.update(base**e for e in range(int(a.group(2)), int(b.group(2)) + 1, step))
        else:
            out.update(range(_parse_int(parts[0]), _parse_int(parts[1]) + 1, step))
    if not out:
        raise UserError(f"empty list: {text!r}")
    if min(out) < 1:
        raise UserError(f"values must be positive: {text!r}")
    return sorted(out)


def parse_count(text: str | None, option: str) -> int | None:
    """One token count (``4096``, ``2^12``, ``64k``) for ``option``; None passes through."""
    if text is None:
        return None
    values = parse_int_list(text)
    if len(values) != 1:
        raise UserError(f"{option} takes one token count, got {text!r}")
    return values[0]


def parse_float_list(text: str) -> list[float]:
    """Parse ``3e-4,1e-3`` into sorted unique positive floats."""
    try:
        vals = sorted({float(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise UserError(f"not a list of numbers: {text!r}") from None
    if not vals or any(not (math.isfinite(v) and v > 0) for v in vals):
        raise UserError(f"values must be positive numbers: {text!r}")
    return vals


# -- run identity and execution --------------------------------------------------------------


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
    from .trainer import TrainConfig, train

    if isinstance(corpus, str):
        corpus = load(corpus)
    result = train(corpus, TrainConfig(**job.train), job.model, progress=progress)
    record = {"run_id": job.run_id, "format": RUN_FORMAT, **result.to_dict()}
    if not job.path.exists():
        write_json(job.path, record)
    return record


# -- aggregation -----------------------------------------------------------------------------


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


#: How a run counts as converged in the aggregate (recorded in sweep.json).
CONVERGED_RULE = (
    "stopped early, or its best held-out loss came before its last evaluation, or that "
    "loss fell by less than its standard error over the last quarter of its steps (still "
    "improving, but not measurably)"
)


def run_converged(r: dict[str, Any]) -> bool:
    """Whether a run record counts as converged (:data:`CONVERGED_RULE`)."""
    if r.get("converged"):
        return True
    h = r.get("history") or {}
    steps = np.asarray(h.get("step") or [], dtype=float)
    vals = np.asarray(h.get("val_loss") or [], dtype=float)
    se = r.get("best_val_loss_stderr")
    if steps.size < 2 or se is None or not np.isfinite(se):
        return False
    i = int(np.searchsorted(steps, 0.75 * steps[-1]))
    i = min(i, steps.size - 2)
    fall = float(vals[i] - vals[-1])
    return bool(np.isfinite(fall) and fall < float(se))


def _seed_mean(recs: list[dict[str, Any]]) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Seed-averaged loss with its standard error, and per-position means and errors.

    With several seeds the error is the spread over seeds / sqrt(seeds) (training
    and slice noise included); with one, the held-out sampling error of that run.
    """
    # JSON stores NaN (a diverged run) as null; dtype=float turns null back into NaN.
    losses = np.array([r["best_val_loss"] for r in recs], dtype=float)
    pos = np.array([r["per_position_loss"] for r in recs], dtype=float)
    if len(recs) >= 2:
        err = float(losses.std(ddof=1) / math.sqrt(len(recs)))
        pos_err = pos.std(axis=0, ddof=1) / math.sqrt(len(recs))
    else:
        err = float(np.array(recs[0]["best_val_loss_stderr"], dtype=float))
        pos_err = np.array(recs[0]["per_position_stderr"], dtype=float)
    return float(losses.mean()), err, pos.mean(axis=0), pos_err


def aggregate(
    runs: Sequence[dict[str, Any]],
    fit_window: tuple[int, int] | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Curves, per-position matrices, alpha_D fits and warnings from run records.

    Parameters
    ----------
    runs : sequence of dict
        Run records (``DIR/runs/*.json``).
    fit_window : (P_lo, P_hi), optional
        Fit alpha_D only on curve points with P_lo <= P <= P_hi.
    n_boot : int
        Bootstrap resamples of each fit.
    """
    warnings: list[str] = []
    by_key: dict[tuple[int, int, float], list[dict[str, Any]]] = {}
    for r in runs:
        by_key.setdefault((r["context"], r["P"], r["lr"]), []).append(r)
    contexts = sorted({k[0] for k in by_key})
    all_lrs = sorted({k[2] for k in by_key})
    curves: dict[str, Any] = {}
    per_position = []
    for T in contexts:
        Ps = sorted({k[1] for k in by_key if k[0] == T})
        rows: dict[str, list[Any]] = {
            k: [] for k in ("P", "loss", "stderr", "lr", "seeds", "converged", "loss_by_lr")
        }
        pos_rows, pos_errs = [], []
        edge: list[int] = []
        unconverged: list[int] = []
        for P in Ps:
            options = {lr: _seed_mean(by_key[(T, P, lr)]) for lr in all_lrs if (T, P, lr) in by_key}
            # NaN (diverged) never wins: it sorts after every finite loss.
            lr = min(options, key=lambda v: _rank(options[v][0]))
            mean, err, pos, pos_err = options[lr]
            recs = by_key[(T, P, lr)]
            rows["P"].append(P)
            rows["loss"].append(mean)
            rows["stderr"].append(err)
            rows["lr"].append(lr)
            rows["seeds"].append(len(recs))
            rows["converged"].append(all(run_converged(r) for r in recs))
            rows["loss_by_lr"].append({f"{k:g}": v[0] for k, v in options.items()})
            pos_rows.append(pos)
            pos_errs.append(pos_err)
            # With two rates one is always the edge; the warning needs three or more.
            if len(options) > 2 and lr in (min(options), max(options)):
                edge.append(P)
            if not rows["converged"][-1]:
                unconverged.append(P)
        if edge:
            warnings.append(
                f"T={T}: the best learning rate is at the edge of the grid for P = "
                f"{_list(edge)}; widen --lr"
            )
        if unconverged:
            warnings.append(
                f"T={T}: the held-out loss was still falling when the budget ran out for P = "
                f"{_list(unconverged)} (compute-limited points; raise --max-steps/--max-epochs)"
            )
        curves[str(T)] = rows
        per_position.append(
            {
                "context": T,
                "n": list(range(1, T + 1)),
                "P": Ps,
                "loss": np.array(pos_rows).tolist(),
                "stderr": np.array(pos_errs).tolist(),
            }
        )

    # Lower envelope over contexts.
    env: dict[int, tuple[float, float, int, float, int, bool]] = {}
    for T in contexts:
        c = curves[str(T)]
        for i, P in enumerate(c["P"]):
            cand = (c["loss"][i], c["stderr"][i], T, c["lr"][i], c["seeds"][i], c["converged"][i])
            if P not in env or _rank(cand[0]) < _rank(env[P][0]):
                env[P] = cand
    Ps = sorted(env)
    curve = {
        "P": Ps,
        "loss": [env[P][0] for P in Ps],
        "stderr": [env[P][1] for P in Ps],
        "context": [env[P][2] for P in Ps],
        "lr": [env[P][3] for P in Ps],
        "seeds": [env[P][4] for P in Ps],
        "converged": [env[P][5] for P in Ps],
    }
    alpha = _fit_curve(curve, fit_window, n_boot, warnings)

    T_max = contexts[-1]
    last = per_position[-1]
    model_entropy = {
        "n": last["n"],
        "loss": last["loss"][-1],
        "stderr": last["stderr"][-1],
        "P": last["P"][-1],
        "context": T_max,
        "units": "nats",
        "method": "per-position held-out loss L_n of the best model at the largest P "
        "(an upper bound on H_n = H(x_{n+1} | x_1..x_n))",
    }
    return {
        "curve": curve,
        "curves_by_context": curves,
        "per_position": per_position,
        "alpha_D": alpha,
        "model_entropy": model_entropy,
        "converged_rule": CONVERGED_RULE,
        "warnings": warnings,
    }


def _rank(loss: float) -> tuple[bool, float]:
    """Sort key of a loss: NaN (a diverged run) after every finite value."""
    return (not math.isfinite(loss), loss)


def _list(values: list[int]) -> str:
    return ", ".join(f"{v:,}" for v in values)


def _fit_curve(
    curve: dict[str, Any], window: tuple[int, int] | None, n_boot: int, warnings: list[str]
) -> dict[str, Any]:
    P = np.array(curve["P"], dtype=float)
    L = np.array(curve["loss"], dtype=float)
    keep = np.isfinite(L)
    if window is not None:
        keep &= (P >= window[0]) & (P <= window[1])
    # A point that stopped while still improving is compute-limited, not data-limited: it is
    # left out of the measured exponent (it would flatten it), and the warning names it.
    conv = np.asarray(curve.get("converged", [True] * P.size), dtype=bool)
    left_out = keep & ~conv
    if left_out.any():
        warnings.append(
            "alpha_D is fitted on converged points only: P = "
            f"{_list([int(p) for p in P[left_out]])} stopped while still improving and are "
            "left out"
        )
        keep &= conv
    fits: dict[str, AlphaFit | None] = {}
    for form, offset in (("no_offset", False), ("with_offset", True)):
        try:
            fits[form] = fit_alpha(P[keep], L[keep], offset=offset, n_boot=n_boot)
        except UserError as e:
            fits[form] = None
            warnings.append(f"alpha_D ({form.replace('_', ' ')}): {e}")
    main, off = fits["no_offset"], fits["with_offset"]
    if main is not None:
        lo, hi = main.alpha_ci95
        if main.alpha <= 0 or lo <= 0:  # NaN (no interval) compares False
            warnings.append(
                f"alpha_D = {main.alpha:.3f} (95% CI [{lo:.3f}, {hi:.3f}]): the loss does not "
                f"fall measurably with P over {main.window[0]:,}..{main.window[1]:,}"
            )
    if off is not None:
        l_min = float(L[keep].min())
        if off.E <= 1e-6 * l_min:
            warnings.append(
                "alpha_D (with offset): E is at its lower bound 0: the fit is the plain power law"
            )
        elif off.E >= (1 - 1e-6) * l_min or abs(off.alpha) >= ALPHA_LIMIT * (1 - 1e-6):
            warnings.append(
                f"alpha_D (with offset): the fit ran to the limit of its range (E = {off.E:.4g}, "
                f"alpha = {off.alpha:.3g}); these points do not determine an offset"
            )
    out: dict[str, Any] = {
        "value": main.alpha if main else None,
        "stderr": main.alpha_stderr if main else None,
        "ci95": main.alpha_ci95 if main else None,
        "window": main.window if main else None,
        "form": "no_offset",
    }
    for form, fit in fits.items():
        out[form] = fit.to_dict() if fit else None
    return out


# -- the sweep -------------------------------------------------------------------------------


def plan(
    corpus: TokenCorpus,
    out: str | os.PathLike[str],
    P: Sequence[int],
    contexts: Sequence[int] = (64,),
    lrs: Sequence[float] = (1e-3,),
    seeds: int | Sequence[int] = 1,
    model: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
) -> list[_Job]:
    """The grid as jobs (run id, record path, settings), checked before anything trains."""
    from .model import ModelConfig
    from .trainer import TrainConfig

    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise UserError("at least one seed is needed")
    n_train = corpus.split_index
    too_big = [p for p in P if p > n_train]
    if too_big:
        raise UserError(
            f"P = {too_big[0]} exceeds the {n_train} tokens of the training split of {corpus.name}"
        )
    n_heldout = int(corpus.heldout.size)
    too_long = [t for t in contexts if t + 1 > n_heldout]
    if too_long:
        raise UserError(
            f"the held-out split of {corpus.name} has {n_heldout} tokens, fewer than one "
            f"evaluation block of {too_long[0] + 1} (context {too_long[0]} + 1)"
        )
    runs_dir = Path(out) / "runs"
    train = dict(train or {})
    for k in ("P", "context", "lr", "seed"):
        train.pop(k, None)
    jobs = []
    for T in contexts:
        mc = ModelConfig.from_dict({**(model or {}), "vocab_size": corpus.vocab_size, "context": T})
        for p in P:
            for lr in lrs:
                for s in seed_list:
                    tc = TrainConfig(P=int(p), context=int(T), lr=float(lr), seed=int(s), **train)
                    td = tc.to_dict()
                    rid = run_id(corpus.content_hash, mc.to_dict(), td)
                    jobs.append(_Job(rid, runs_dir / f"{rid}.json", td, mc.to_dict()))
    return jobs


def run_sweep(
    corpus: TokenCorpus,
    out: str | os.PathLike[str],
    P: Sequence[int],
    contexts: Sequence[int] = (64,),
    lrs: Sequence[float] = (1e-3,),
    seeds: int | Sequence[int] = 1,
    model: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    workers: int = 1,
    threads: int | None = None,
    fit_window: tuple[int, int] | None = None,
    n_boot: int = 1000,
) -> SweepResult:
    """Run (or resume) a grid of data-limited runs and write ``out/sweep.json``.

    Parameters
    ----------
    corpus : TokenCorpus
        Corpus with training and held-out splits.
    out : path
        Sweep directory; finished runs in ``out/runs`` are reused.
    P, contexts, lrs : sequences
        Training-set sizes (tokens), contexts T and peak learning rates.
    seeds : int or sequence of int
        Number of seeds (0..seeds-1) or the seeds themselves.
    model, train : dict, optional
        :class:`ModelConfig` fields (shape) and :class:`TrainConfig` fields (budget,
        device, ...), shared by every run.
    workers : int
        Runs in parallel processes; each gets ``threads`` torch threads
        (default: CPUs // workers).
    fit_window : (P_lo, P_hi), optional
        Range of P for the alpha_D fits.
    n_boot : int
        Bootstrap resamples per fit.

    Returns
    -------
    SweepResult
    """
    from .trainer import cpu_count

    t0 = time.perf_counter()
    if workers < 1:
        raise UserError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise UserError(f"threads must be >= 1, got {threads}")
    if n_boot < 0:
        raise UserError(f"bootstrap resamples must be >= 0, got {n_boot}")
    jobs = plan(corpus, out, P, contexts, lrs, seeds, model, train)
    threads = threads or max(1, cpu_count() // workers)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        if job.path.exists():
            try:
                records[job.run_id] = read_json(job.path)
                continue
            except (OSError, ValueError):
                raise UserError(
                    f"unreadable run file {job.path}; delete it to redo the run"
                ) from None
        todo.append(job)
    reused = list(records)

    with make_progress() as prog:
        task = prog.add_task("sweep runs", total=len(jobs), completed=len(reused))
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
        else:
            import multiprocessing as mp

            ref: TokenCorpus | str = str(corpus.path) if corpus.path else corpus
            # Longest runs first (a greedy longest-processing-time schedule); at equal
            # budgets larger P first, as smaller ones tend to stop early.
            todo.sort(key=lambda j: (-_cost(j), -j.train["P"]))
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

    ordered = [records[j.run_id] for j in jobs]
    agg = aggregate(ordered, fit_window=fit_window, n_boot=n_boot)
    first = jobs[0]
    grid = {
        "P": sorted({int(p) for p in P}),
        "contexts": sorted({int(t) for t in contexts}),
        "lrs": sorted({float(v) for v in lrs}),
        "seeds": sorted({j.train["seed"] for j in jobs}),
        "model": {k: v for k, v in first.model.items() if k != "context"},
        "train": {k: v for k, v in first.train.items() if k not in ("P", "context", "lr", "seed")},
        "fit_window": list(fit_window) if fit_window else None,
        "workers": workers,
        "threads_per_worker": threads,
    }
    result = SweepResult(
        runs=ordered,
        grid=grid,
        corpus=corpus.describe(),
        runs_reused=reused,
        runs_trained=[j.run_id for j in todo],
        wall_time_s=time.perf_counter() - t0,
        **agg,
    )
    from ..report.curve import plot_sweep

    doc = result.to_dict()
    write_json(Path(out) / "model_entropy.json", result.model_entropy)
    write_json(Path(out) / "sweep.json", doc)
    plot_sweep(doc, Path(out) / "sweep.png")
    return result


def load_sweep(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``sweep.json`` from a sweep directory (or the file itself)."""
    p = Path(path)
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
