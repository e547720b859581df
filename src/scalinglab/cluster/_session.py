"""What ``cluster=`` in the API and ``--cluster`` on the command line resolve to.

``cluster`` is a :class:`distributed.Client` (used as it is) or a ``--cluster``
string: the string is parsed at once (a bad one fails before any work) and
connected on first use, one connection per string for the life of the process
(closed at exit), so that ``stats`` counts correlations and entropies on one
cluster.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from ._client import parse_spec, require_dask

__all__ = ["client_for", "engines"]

_OPEN: dict[str, Any] = {}
_STACK = ExitStack()
atexit.register(_STACK.close)


def client_for(cluster: Any) -> Any:
    """The Client for ``cluster`` (a Client, or a ``--cluster`` string connected once)."""
    require_dask()
    from distributed import Client

    if isinstance(cluster, Client):
        return cluster
    key = str(cluster)
    parse_spec(key)
    if key not in _OPEN:
        from ._client import connect

        _OPEN[key] = _STACK.enter_context(connect(key))
    return _OPEN[key]


def engines(cluster: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(run_correlations, run_entropy)`` with the engines' signatures, counting on
    ``cluster`` (used by :func:`scalinglab.stats.measure`)."""
    require_dask()
    if not _is_client(cluster):
        parse_spec(str(cluster))  # a bad value fails here, before any work

    def run_correlations(c: Any, cfg: Any, lags: Any, *, progress: bool = True) -> Any:
        from .correlations import run_on

        return run_on(client_for(cluster), c, cfg, lags, progress=progress)

    def run_entropy(c: Any, cfg: Any, *, progress: bool = True) -> Any:
        from .entropy import run_on

        return run_on(client_for(cluster), c, cfg, progress=progress)

    return run_correlations, run_entropy


def _is_client(value: Any) -> bool:
    from distributed import Client

    return isinstance(value, Client)
