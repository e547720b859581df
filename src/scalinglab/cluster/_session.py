"""The backend behind ``cluster=`` in the API and ``--cluster`` on the command line.

The engines never import this package: :func:`scalinglab.stats.measure`,
:func:`scalinglab.train.run_sweep` (and ``predict`` and ``validate``, which pass
it on) take any object with the three methods of :class:`Backend`. A Backend
wraps a :class:`distributed.Client`, or a ``--cluster`` string that is parsed at
once (a bad one fails before any work) and connected on first use, one
connection per string for the life of the process (closed at exit), so that
``stats`` counts correlations and entropies on one cluster. The command line
gets :func:`backend` from ``scalinglab.cli`` (``ctx.meta[CONTEXT_KEY]``).
"""

from __future__ import annotations

from typing import Any

from ._client import _is_client, check_option, client_for, require_dask

__all__ = ["CONTEXT_KEY", "Backend", "backend", "client_for"]

#: Where ``scalinglab.cli`` puts :func:`backend` for the verbs (``ctx.meta``).
CONTEXT_KEY = "scalinglab.cluster.backend"


class Backend:
    """Counting and training on a Dask cluster, with the engines' signatures."""

    def __init__(self, cluster: Any):
        require_dask()
        if not _is_client(cluster):
            check_option(str(cluster))
        self.cluster = cluster

    @property
    def client(self) -> Any:
        return client_for(self.cluster)

    def run_correlations(self, c: Any, cfg: Any, lags: Any, *, progress: bool = True) -> Any:
        """``stats.correlations.run_correlations`` with the counting on the cluster."""
        from .correlations import run_on

        return run_on(self.client, c, cfg, lags, progress=progress)

    def run_entropy(self, c: Any, cfg: Any, *, progress: bool = True) -> Any:
        """``stats.entropy.run_entropy`` with the n-gram counts partitioned on the cluster."""
        from .entropy import run_on

        return run_on(self.client, c, cfg, progress=progress)

    def run_jobs(self, todo: list[Any], corpus: Any, *, progress: bool = True) -> dict[str, Any]:
        """The sweep runs ``todo`` as tasks (:func:`scalinglab.cluster.sweep.run_jobs`)."""
        from .sweep import run_jobs

        return run_jobs(self.client, todo, corpus, progress=progress)


def backend(cluster: Any) -> Backend | None:
    """A :class:`Backend` for a Client, a ``--cluster`` string or a Backend (None: None)."""
    if cluster is None or isinstance(cluster, Backend):
        return cluster
    return Backend(cluster)
