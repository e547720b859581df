"""Connecting to a Dask cluster from one option, ``ADDRESS|local[:N]|slurm:FILE``.

* ``local`` / ``local:N`` starts a :class:`distributed.LocalCluster` of ``N``
  worker processes (one thread each; default: the CPUs of this machine);
* ``tcp://host:port`` (or ``host:port``) connects to a running scheduler;
* ``slurm:FILE`` (or ``pbs:FILE``) starts a dask-jobqueue cluster from a YAML
  file of keyword arguments (``cores``, ``memory``, ``queue``, ``jobs``, ...).

Every failure to parse or reach the cluster is a one-line :class:`UserError`.
"""

from __future__ import annotations

import atexit
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._progress import info, make_progress
from ..errors import UserError

__all__ = ["ClusterSpec", "connect", "gather_with_progress", "parse_spec", "require_dask"]

#: Seconds to wait for a scheduler at an address.
CONNECT_TIMEOUT_S = 10
_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ucx)://)?([A-Za-z0-9_.\-\[\]:]+):(\d{1,5})$")


def require_dask() -> None:
    """Raise a one-line :class:`UserError` when ``dask.distributed`` is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UserError(
            "--cluster needs dask.distributed: pip install 'scalinglab[cluster]'"
        ) from None


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` value: ``kind`` is "local", "address" or "jobqueue"."""

    kind: str
    workers: int | None = None
    address: str | None = None
    system: str | None = None
    config: Path | None = None


def parse_spec(spec: str) -> ClusterSpec:
    """Parse ``ADDRESS|local[:N]|slurm:FILE|pbs:FILE`` (UserError on anything else)."""
    text = str(spec).strip()
    if text == "local":
        return ClusterSpec("local")
    if text.startswith("local:"):
        n = text[len("local:") :]
        if not n.isdigit() or int(n) < 1:
            raise UserError(f"--cluster local:N needs a worker count N >= 1, got {spec!r}")
        return ClusterSpec("local", workers=int(n))
    for system in ("slurm", "pbs"):
        if text.startswith(system + ":"):
            path = Path(text[len(system) + 1 :]).expanduser()
            if not path.is_file():
                raise UserError(f"--cluster {system}:FILE: no such file {str(path)!r}")
            return ClusterSpec("jobqueue", system=system, config=path)
    m = _ADDRESS.match(text)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UserError(
            f"bad --cluster value {spec!r}: expected a scheduler address (tcp://host:port), "
            "local[:N] or slurm:FILE"
        )
    return ClusterSpec("address", address=text if m.group(1) else f"tcp://{text}")


def _jobqueue_cluster(spec: ClusterSpec) -> Any:
    try:
        import dask_jobqueue
    except ImportError:
        raise UserError(
            f"--cluster {spec.system}:FILE needs dask-jobqueue: pip install 'scalinglab[cluster]'"
        ) from None
    import yaml

    assert spec.config is not None
    try:
        kw = yaml.safe_load(spec.config.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UserError(
            f"cannot read the jobqueue file {spec.config}: {e}".splitlines()[0]
        ) from None
    if not isinstance(kw, dict):
        raise UserError(f"the jobqueue file {spec.config} must hold a mapping of settings")
    jobs = int(kw.pop("jobs", 1))
    cls = dask_jobqueue.SLURMCluster if spec.system == "slurm" else dask_jobqueue.PBSCluster
    try:
        cluster = cls(**kw)
    except (TypeError, ValueError) as e:
        raise UserError(f"bad setting in {spec.config}: {e}".splitlines()[0]) from None
    cluster.scale(jobs=jobs)
    return cluster


@contextmanager
def connect(
    spec: str | Any,
    *,
    memory_limit: str | None = None,
    dashboard: bool = True,
    quiet: bool = False,
) -> Iterator[Any]:
    """A :class:`distributed.Client` for a ``--cluster`` value, closed on exit.

    An existing Client passes through unchanged (and is not closed). The
    clusters started here (``local[:N]``, ``slurm:FILE``) are shut down on exit.
    The dashboard address is printed unless ``quiet``.
    """
    require_dask()
    from distributed import Client, LocalCluster

    if isinstance(spec, Client):
        yield spec
        return
    parsed = parse_spec(spec)
    cluster = None
    try:
        if parsed.kind == "local":
            n = parsed.workers or max(1, os.cpu_count() or 1)
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit or "auto",
                dashboard_address=":0" if dashboard else None,
            )
            client = Client(cluster)
        elif parsed.kind == "jobqueue":
            cluster = _jobqueue_cluster(parsed)
            client = Client(cluster)
        else:
            try:
                client = Client(parsed.address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as e:
                raise UserError(
                    f"cannot reach a Dask scheduler at {parsed.address} "
                    f"({type(e).__name__} after {CONNECT_TIMEOUT_S} s)"
                ) from None
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        if not quiet:
            link = client.dashboard_link if dashboard or parsed.kind != "local" else None
            workers = len(client.scheduler_info().get("workers", {}))
            info(
                f"cluster: {client.scheduler.address}, {workers} worker(s)"
                + (f"; dashboard {link}" if link else "")
            )
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def gather_with_progress(
    client: Any, futures: Iterable[Any], description: str, *, progress: bool = True
) -> list[Any]:
    """Results of ``futures`` in order, with a bar of tasks done / total and tasks/s.

    A task that fails (a worker lost more often than the scheduler allows, or an
    error inside it) ends with a one-line :class:`UserError`.
    """
    from distributed import as_completed

    futs = list(futures)
    index = {f.key: i for i, f in enumerate(futs)}
    out: list[Any] = [None] * len(futs)
    t0 = time.perf_counter()
    prog = make_progress(transient=True) if progress else None
    try:
        if prog is not None:
            prog.start()
            task = prog.add_task(description, total=len(futs))
        for k, fut in enumerate(as_completed(futs), 1):
            out[index[fut.key]] = task_result(fut)
            if prog is not None:
                rate = k / max(time.perf_counter() - t0, 1e-9)
                prog.update(task, completed=k, description=f"{description} ({rate:.3g} tasks/s)")
    finally:
        if prog is not None:
            prog.stop()
    return out


def task_result(fut: Any) -> Any:
    """``fut.result()``, with a lost worker or a failed task as a one-line UserError."""
    from distributed.scheduler import KilledWorker

    try:
        return fut.result()
    except KilledWorker as e:
        raise UserError(
            f"a cluster task was lost with its worker too many times "
            f"({e.args[0] if e.args else 'no key'}); workers may be running out of memory"
        ) from None
    except UserError:
        raise


#: Help of the ``--cluster`` option of stats, predict, sweep and validate.
OPTION_HELP = (
    "Run on a Dask cluster: a scheduler ADDRESS (tcp://host:8786), local[:N] (N worker "
    "processes here) or slurm:FILE / pbs:FILE (a dask-jobqueue YAML). Needs scalinglab[cluster]."
)


def check_option(value: str | None) -> str | None:
    """A ``--cluster`` value checked before any work (None passes through)."""
    if value is None:
        return None
    parse_spec(value)
    require_dask()
    return value


_OPEN: dict[str, Any] = {}
_STACK = ExitStack()
atexit.register(_STACK.close)


def _is_client(value: Any) -> bool:
    from distributed import Client

    return isinstance(value, Client)


def client_for(cluster: Any) -> Any:
    """The Client for ``cluster`` (a Client, or a ``--cluster`` string connected once per
    process and closed at exit)."""
    require_dask()
    if _is_client(cluster):
        return cluster
    key = str(check_option(str(cluster)))
    if key not in _OPEN:
        _OPEN[key] = _STACK.enter_context(connect(key))
    return _OPEN[key]
