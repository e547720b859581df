"""The checks a corpus directory passes on load: meta.json's fields, the document
offsets, and every token id below the vocabulary size (a chunked max over the memmap).
Each failure is one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_json
from ..errors import UserError

#: Token ids scanned per step of the check that every id is below vocab_size.
CHECK_CHUNK = 1 << 22


def _read_meta(p: Path) -> dict[str, Any]:
    """meta.json, with every field that loading relies on checked."""
    where = p / "meta.json"
    try:
        meta = read_json(where)
    except UnicodeDecodeError:
        raise UserError(f"corrupt corpus: {where} is not UTF-8 text") from None
    except ValueError as e:
        raise UserError(f"corrupt corpus: {where} is not valid JSON ({e})") from None
    except OSError as e:
        raise UserError(f"cannot read {where}: {e.strerror}") from None
    if not isinstance(meta, dict):
        raise UserError(f"corrupt corpus: {where} does not hold a JSON object")

    def bad(what: str) -> UserError:
        return UserError(f"corrupt corpus: {where}: {what}")

    for key in ("vocab_size", "num_tokens", "dtype"):
        if key not in meta:
            raise bad(f"no {key!r}")
    vs, n = meta["vocab_size"], meta["num_tokens"]
    if isinstance(vs, bool) or not isinstance(vs, int) or not 0 < vs <= 2**32:
        raise bad(f"vocab_size {vs!r} is not an integer in 1..2^32")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise bad(f"num_tokens {n!r} is not a non-negative integer")
    if meta["dtype"] not in ("uint16", "uint32"):
        raise bad(f"dtype {meta['dtype']!r} is neither uint16 nor uint32")
    if vs > {"uint16": 2**16, "uint32": 2**32}[meta["dtype"]]:
        raise bad(f"vocab_size {vs} does not fit dtype {meta['dtype']}")
    tok = meta.get("tokenizer", {})
    if not isinstance(tok, dict):
        raise bad("tokenizer is not an object")
    eod = tok.get("eod_token")
    if eod is not None and (isinstance(eod, bool) or not isinstance(eod, int) or not 0 <= eod < vs):
        raise bad(f"eod_token {eod!r} is not an id below vocab_size {vs}")
    split = meta.get("split")
    if not isinstance(split, dict) or "heldout_start" not in split:
        raise bad("no split.heldout_start")
    start = split["heldout_start"]
    if isinstance(start, bool) or not isinstance(start, int) or not 0 < start <= max(n, 1):
        raise bad(f"split.heldout_start {start!r} is outside 1..num_tokens ({n})")
    if "heldout_tokens" in split and split["heldout_tokens"] != n - start:
        raise bad(
            f"split.heldout_tokens {split['heldout_tokens']!r} != num_tokens - heldout_start "
            f"({n - start})"
        )
    if "content_hash" not in meta:
        raise bad("no content_hash")
    return meta


def _read_offsets(p: Path, meta: dict[str, Any], n: int) -> np.ndarray:
    """doc_offsets.npy, checked: 1-D integers, starting at 0, increasing, below num_tokens."""
    where = p / "doc_offsets.npy"
    docs = meta.get("documents", {})
    count = docs.get("count") if isinstance(docs, dict) else None
    if not where.exists():
        if count not in (None, 1):
            raise UserError(
                f"corrupt corpus: {where} is missing (meta.json says {count} documents)"
            )
        return np.zeros(1, dtype=np.int64)
    try:
        offs = np.load(where, allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise UserError(f"corrupt corpus: cannot read {where} ({e})") from None
    if offs.ndim != 1 or not np.issubdtype(offs.dtype, np.integer) or offs.size == 0:
        raise UserError(
            f"corrupt corpus: {where} holds {offs.dtype} {offs.shape}, not a 1-D integer array"
        )
    offs = offs.astype(np.int64, copy=False)
    if offs[0] != 0:
        raise UserError(f"corrupt corpus: {where}: the first document starts at {offs[0]}, not 0")
    if offs.size > 1 and not bool(np.all(np.diff(offs) > 0)):
        i = int(np.argmax(np.diff(offs) <= 0)) + 1
        raise UserError(
            f"corrupt corpus: {where}: document offsets are not increasing "
            f"(offset {i} is {offs[i]}, after {offs[i - 1]})"
        )
    if int(offs[-1]) >= n:
        raise UserError(
            f"corrupt corpus: {where}: a document starts at {int(offs[-1])}, past the "
            f"{n} tokens of tokens.bin"
        )
    if count is not None and count != offs.size:
        raise UserError(
            f"corrupt corpus: {where} holds {offs.size} documents, meta.json says {count}"
        )
    return offs


def _check_ids(p: Path, tokens: np.ndarray, vocab_size: int) -> None:
    """Every id below ``vocab_size``: a max over chunks of the memmap (no copy of the corpus)."""
    if vocab_size > np.iinfo(tokens.dtype).max:
        return  # every value the dtype holds is a valid id
    for i in range(0, tokens.size, CHECK_CHUNK):
        chunk = tokens[i : i + CHECK_CHUNK]
        mx = int(chunk.max())
        if mx >= vocab_size:
            pos = i + int(np.argmax(chunk >= vocab_size))
            raise UserError(
                f"corrupt corpus: {p / 'tokens.bin'} holds token id {int(tokens[pos])} at "
                f"position {pos}, at or above meta.json's vocab_size {vocab_size}"
            )
