"""Token arrays that travel to workers by reference: a memmapped file, or a scattered copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TokenRef", "token_ref"]

#: Open memmaps of this worker process, by (file, dtype, offset, length).
_OPEN: dict[tuple[str, str, int, int], np.ndarray] = {}


@dataclass(frozen=True)
class TokenRef:
    """Where a worker finds a token array: a file region or a scattered in-memory copy."""

    length: int
    filename: str | None = None
    dtype: str | None = None
    offset: int = 0

    def open(self, data: Any = None) -> np.ndarray:
        """The tokens, read-only: a memmap of the file region (nothing is copied), or
        ``data``, the scattered array, which Dask passes to the task in place of its
        future."""
        if self.filename is None:
            return np.asarray(data)
        key = (self.filename, str(self.dtype), self.offset, self.length)
        arr = _OPEN.get(key)
        if arr is None:
            arr = np.memmap(
                self.filename,
                dtype=np.dtype(self.dtype),
                mode="r",
                offset=self.offset,
                shape=(self.length,),
            )
            _OPEN[key] = arr
        return arr


def _root_memmap(arr: np.ndarray) -> np.memmap | None:
    root: Any = arr
    while isinstance(root, np.memmap) and isinstance(root.base, np.memmap):
        root = root.base
    return root if isinstance(root, np.memmap) and root.filename else None


def token_ref(client: Any, tokens: np.ndarray) -> tuple[TokenRef, Any]:
    """A reference to ``tokens`` for the workers and the future of its data (or None).

    A contiguous view of a memmapped file is passed as the file region (every
    worker maps it itself, so the cluster needs the file on a shared path); any
    other array is scattered to the workers once.
    """
    n = int(tokens.shape[0])
    root = _root_memmap(tokens)
    if root is not None and tokens.flags.c_contiguous:
        start = tokens.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        ref = TokenRef(
            n, filename=str(root.filename), dtype=tokens.dtype.str, offset=int(root.offset + start)
        )
        return ref, None
    arr = np.ascontiguousarray(tokens)
    return TokenRef(n), client.scatter(arr, broadcast=True, hash=False)
