"""Suffix and LCP arrays of a token array, with bounded memory.

libdivsufsort (through ``pydivsufsort``) sorts byte strings only. A token array
over an alphabet of more than 256 symbols is therefore written as a
big-endian byte string of ``w`` bytes per token (``w`` = 2 for up to 65,536
distinct tokens, 4 beyond). Byte-wise order of big-endian codes equals the
order of the token ids, so the suffixes that start at multiples of ``w`` are
sorted exactly as the token suffixes; we keep those and divide by ``w``.

``pydivsufsort.divsufsort`` does this too, but allocates several temporary
arrays of ``w * N`` entries while filtering. Here the output is allocated once
and compacted in place, chunk by chunk, so that the peak is

    tokens (2 B) + codes (w B) + SA over bytes (4 w B)   = 12 B per token (w = 2)

after which the suffix array shrinks to 4 B per token (int32 up to 2^31
tokens, int64 beyond). :func:`lcp_array` uses Kasai's linear-time algorithm
(``pydivsufsort.kasai``), which holds the rank array, the suffix array and its
output at once (4 + 4 + 4 B per token) before we clip it to one byte.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import UserError

#: Entries compacted per step when dropping the unaligned byte suffixes.
_CHUNK = 1 << 22


def _codes(tokens: np.ndarray) -> tuple[np.ndarray, int]:
    """Map token ids onto ``0..K-1`` (K distinct ids, order kept) as big-endian bytes.

    Returns the byte string (a uint8 array of ``w * N`` entries) and ``w``.
    """
    x = np.asarray(tokens)
    top = int(x.max()) if x.size else 0
    if top < (1 << 24):
        used = np.bincount(x, minlength=top + 1) > 0
        lut = np.cumsum(used) - 1
        k = int(used.sum())
    else:  # very large ids: a sort instead of a dense table
        uniq = np.unique(x)
        k = int(uniq.size)
        lut = None
    dt: np.dtype[np.unsignedinteger[Any]]
    if k <= 256:
        width, dt = 1, np.dtype("u1")
    elif k <= 65536:
        width, dt = 2, np.dtype(">u2")
    else:
        width, dt = 4, np.dtype(">u4")
    codes = lut.astype(dt)[x] if lut is not None else np.searchsorted(uniq, x).astype(dt)
    return np.ascontiguousarray(codes).view(np.uint8), width


def suffix_array(tokens: np.ndarray) -> np.ndarray:
    """Suffix array of a 1-D integer array (libdivsufsort, O(N log N) worst case).

    Parameters
    ----------
    tokens : np.ndarray
        Token ids, any unsigned or non-negative integer dtype.

    Returns
    -------
    np.ndarray
        ``sa`` (int32 when ``N < 2**31``, else int64): ``tokens[sa[k]:]`` is the
        k-th smallest suffix in lexicographic order (a proper prefix sorts first).
    """
    from pydivsufsort.dll import libdivsufsort, libdivsufsort64

    x = np.asarray(tokens)
    n = int(x.size)
    if n == 0:
        raise UserError("cannot build a suffix array of an empty token array")
    codes, width = _codes(x)
    nb = n * width
    wide = nb > np.iinfo(np.int32).max
    out: npt.NDArray[np.signedinteger[Any]] = np.empty(nb, dtype=np.int64 if wide else np.int32)
    if wide:
        rc = libdivsufsort64.divsufsort64(
            codes.ctypes.data_as(ctypes.c_void_p),
            out.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int64(nb),
        )
    else:
        rc = libdivsufsort.divsufsort(
            codes.ctypes.data_as(ctypes.c_void_p),
            out.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int32(nb),
        )
    del codes
    if rc != 0:
        raise RuntimeError(f"libdivsufsort failed with code {rc}")
    if width > 1:
        shift = width.bit_length() - 1
        w = 0
        for start in range(0, nb, _CHUNK):  # chunks of the output, not tokens
            blk = out[start : start + _CHUNK]
            keep = blk[(blk & (width - 1)) == 0]
            keep >>= shift
            out[w : w + keep.size] = keep
            w += keep.size
        assert w == n
        out.resize(n, refcheck=False)
    if out.dtype == np.int64 and n <= np.iinfo(np.int32).max:
        out = out.astype(np.int32)
    return out


def lcp_array(tokens: np.ndarray, sa: np.ndarray, cap: int) -> np.ndarray:
    """Longest common prefixes of neighbouring suffixes, clipped at ``cap``.

    Returns ``lcp`` of length ``N - 1`` with ``lcp[k] = min(cap, LCP(sa[k], sa[k+1]))``
    in the smallest unsigned dtype that holds ``cap`` (one byte for ``cap < 256``).
    """
    from pydivsufsort import kasai

    full = kasai(np.asarray(tokens), sa)
    dt = np.uint8 if cap < 256 else (np.uint16 if cap < 65536 else np.uint32)
    out = np.empty(max(full.size - 1, 0), dtype=dt)
    for start in range(0, out.size, _CHUNK):  # chunks bound the temporaries
        stop = min(start + _CHUNK, out.size)
        out[start:stop] = np.minimum(full[start:stop], cap)
    del full
    return out
