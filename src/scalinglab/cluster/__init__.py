"""Scaling out on Dask: corpus statistics and sweeps on a cluster, the same numbers.

``connect("local:2" | "tcp://host:8786" | "slurm:jobqueue.yaml")`` gives a
:class:`distributed.Client`; :func:`correlations`, :func:`entropy` and
:func:`sweep` take it and return the very result types of the single-process
engines (``sl.stats.correlations``, ``sl.stats.entropy``, ``sl.train.run_sweep``).
Needs the ``cluster`` extra (``pip install 'scalinglab[cluster]'``).
"""

from __future__ import annotations

from ._client import OPTION_HELP, ClusterSpec, check_option, connect, parse_spec, require_dask
from ._session import CONTEXT_KEY, Backend, backend, client_for
from .correlations import correlations
from .entropy import entropy
from .sweep import sweep

__all__ = [
    "CONTEXT_KEY",
    "OPTION_HELP",
    "Backend",
    "ClusterSpec",
    "backend",
    "check_option",
    "client_for",
    "connect",
    "correlations",
    "entropy",
    "parse_spec",
    "require_dask",
    "sweep",
]
