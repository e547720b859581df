"""The token corpus on disk: the one representation that crosses every boundary.

Layout of a corpus directory::

    DIR/tokens.bin       flat little-endian token ids (uint16 if V <= 65536, else uint32)
    DIR/doc_offsets.npy  int64 start offset of every document in tokens.bin
    DIR/meta.json        vocab_size, dtype, num_tokens, tokenizer, documents, split,
                         source, content_hash, ...
    DIR/tokenizer.json   (bpe tokenizers) the Hugging Face tokenizer
    DIR/vocab.json       (char tokenizer) the sorted distinct characters

:func:`load` maps ``tokens.bin`` with :class:`numpy.memmap`; nothing reads the
whole corpus into memory unless asked (``corpus.tokens[:]`` or ``np.asarray``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_json, write_json
from ..errors import UserError
from ._checks import _check_ids, _read_meta, _read_offsets

FORMAT_VERSION = 1


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """uint16 when ids fit (``vocab_size <= 65536``), else uint32."""
    if vocab_size <= 0:
        raise UserError(f"vocabulary size must be positive, got {vocab_size}")
    if vocab_size > 2**32:
        raise UserError(f"vocabulary size {vocab_size} exceeds 2^32")
    return np.dtype("<u2") if vocab_size <= 65536 else np.dtype("<u4")


@dataclass
class TokenCorpus:
    """A tokenized corpus: memory-mapped token ids plus their metadata.

    Attributes
    ----------
    path : Path or None
        The corpus directory (None for an in-memory corpus made by :meth:`from_array`).
    tokens : np.ndarray
        All token ids, a read-only ``np.memmap`` for corpora on disk.
    meta : dict
        The contents of ``meta.json``.
    doc_offsets : np.ndarray
        int64 start offset of each document (``doc_offsets[0] == 0``).
    """

    path: Path | None
    tokens: np.ndarray
    meta: dict[str, Any]
    doc_offsets: np.ndarray = field(repr=False)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_array(
        cls,
        tokens: Iterable[int] | np.ndarray,
        vocab_size: int | None = None,
        doc_offsets: Iterable[int] | None = None,
        name: str = "array",
        eod_token: int | None = None,
    ) -> TokenCorpus:
        """Wrap an integer array as an in-memory corpus (for tests, notebooks, synth)."""
        arr = np.asarray(tokens)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise UserError("tokens must be a one-dimensional integer array")
        if arr.size and arr.min() < 0:
            raise UserError("token ids must be non-negative")
        vs = int(vocab_size) if vocab_size is not None else (int(arr.max()) + 1 if arr.size else 1)
        if arr.size and int(arr.max()) >= vs:
            raise UserError(f"token id {int(arr.max())} >= vocab_size {vs}")
        dt = dtype_for_vocab(vs)
        arr = arr.astype(dt, copy=False)
        offs = np.asarray([0] if doc_offsets is None else list(doc_offsets), dtype=np.int64)
        meta = _make_meta(
            vocab_size=vs,
            dtype=dt,
            num_tokens=int(arr.size),
            doc_offsets=offs,
            tokenizer={"spec": "pretokenized", "eod_token": eod_token},
            source={"kind": "array", "description": name},
            content_hash=content_hash_of(arr),
        )
        return cls(path=None, tokens=arr, meta=meta, doc_offsets=offs)

    # -- properties ------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def num_tokens(self) -> int:
        return int(self.meta["num_tokens"])

    def __len__(self) -> int:
        return self.num_tokens

    @property
    def name(self) -> str:
        src = self.meta.get("source", {})
        return str(src.get("name") or src.get("description") or (self.path or "corpus"))

    @property
    def tokenizer_spec(self) -> str:
        return str(self.meta.get("tokenizer", {}).get("spec", "unknown"))

    @property
    def eod_token(self) -> int | None:
        eod = self.meta.get("tokenizer", {}).get("eod_token")
        return None if eod is None else int(eod)

    @property
    def content_hash(self) -> str:
        return str(self.meta["content_hash"])

    @property
    def num_documents(self) -> int:
        return int(self.doc_offsets.size)

    @property
    def split_index(self) -> int:
        """Token index where the held-out split begins."""
        return int(self.meta["split"]["heldout_start"])

    @property
    def train(self) -> np.ndarray:
        """Tokens of the training split (a view, no copy)."""
        return self.tokens[: self.split_index]

    @property
    def heldout(self) -> np.ndarray:
        """Tokens of the held-out split (a view, no copy)."""
        return self.tokens[self.split_index :]

    def documents(self) -> Iterable[np.ndarray]:
        """Iterate over documents as views of the token array (EOD separators excluded)."""
        ends = np.append(self.doc_offsets[1:], self.num_tokens)
        eod = self.eod_token
        for start, end in zip(self.doc_offsets, ends, strict=True):
            doc = self.tokens[int(start) : int(end)]
            if eod is not None and doc.size and doc[-1] == eod:
                doc = doc[:-1]
            yield doc

    def describe(self) -> dict[str, Any]:
        """The corpus block of result files: source, tokens, vocab_size, tokenizer."""
        return {
            "source": self.name,
            "tokens": self.num_tokens,
            "vocab_size": self.vocab_size,
            "tokenizer": self.tokenizer_spec,
            "content_hash": self.content_hash,
            "path": str(self.path) if self.path else None,
        }

    def decode(self, ids: np.ndarray | None = None) -> str:
        """Decode token ids back to text (char, byte and BPE tokenizers)."""
        from .tokenizers import tokenizer_from_meta

        if ids is None:
            ids = self.tokens[:]
        return tokenizer_from_meta(self.meta, self.path).decode(np.asarray(ids))

    def save(self, out: str | os.PathLike[str]) -> TokenCorpus:
        """Write an in-memory corpus to ``out`` and return the on-disk corpus."""
        with CorpusWriter(out, vocab_size=self.vocab_size) as w:
            w.write(np.asarray(self.tokens))
            w.doc_offsets = list(map(int, self.doc_offsets))
            w.finish(
                tokenizer=self.meta["tokenizer"],
                source=self.meta["source"],
                extra={k: v for k, v in self.meta.items() if k not in _CORE_KEYS},
            )
        return load(out)


_CORE_KEYS = {
    "format_version",
    "vocab_size",
    "dtype",
    "num_tokens",
    "tokenizer",
    "documents",
    "split",
    "source",
    "content_hash",
}


def content_hash_of(arr: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(arr).view(np.uint8).data)
    return "blake2b:" + h.hexdigest()


def _split_for(doc_offsets: np.ndarray, num_tokens: int, fraction: float = 0.01) -> dict[str, Any]:
    """Held-out split: the last 1% of documents, or of tokens for a single document."""
    n_docs = int(doc_offsets.size)
    if n_docs >= 2:
        k = max(1, round(n_docs * fraction))
        k = min(k, n_docs - 1)
        start = int(doc_offsets[n_docs - k])
        rule = f"last {k} of {n_docs} documents ({fraction:.0%})"
    else:
        start = num_tokens - max(1, round(num_tokens * fraction)) if num_tokens > 1 else num_tokens
        rule = f"last {fraction:.0%} of tokens (single document)"
    return {"heldout_start": int(start), "heldout_tokens": int(num_tokens - start), "rule": rule}


def _make_meta(
    *, vocab_size, dtype, num_tokens, doc_offsets, tokenizer, source, content_hash, extra=None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "vocab_size": int(vocab_size),
        "dtype": np.dtype(dtype).name,
        "num_tokens": int(num_tokens),
        "tokenizer": tokenizer,
        "documents": {"count": int(doc_offsets.size), "offsets_file": "doc_offsets.npy"},
        "split": _split_for(doc_offsets, num_tokens),
        "source": source,
        "content_hash": content_hash,
    }
    if extra:
        meta.update(extra)
    return meta


def is_corpus_dir(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "meta.json").is_file() and (p / "tokens.bin").is_file()


def load(path: str | os.PathLike[str], *, check: bool = True) -> TokenCorpus:
    """Open a corpus directory written by ``scalinglab tokenize`` (memory-mapped).

    Everything that can be checked cheaply and completely is checked first
    (:func:`check_corpus`): meta.json's fields, the dtype, the length of
    tokens.bin, every id below ``vocab_size`` (a chunked max over the memmap),
    the document offsets and the held-out split. ``check=False`` skips the
    scan over the ids (the structural checks always run).

    Raises
    ------
    UserError
        When ``path`` is not a complete, consistent corpus directory; the
        message names the file and the problem.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"corpus not found: {p}")
    if not is_corpus_dir(p):
        raise UserError(f"not a token corpus (no meta.json/tokens.bin): {p}")
    meta = _read_meta(p)
    dtype = np.dtype(meta["dtype"]).newbyteorder("<")
    n = int(meta["num_tokens"])
    try:
        size = (p / "tokens.bin").stat().st_size
    except OSError as e:
        raise UserError(f"cannot read {p / 'tokens.bin'}: {e.strerror}") from None
    if size != n * dtype.itemsize:
        raise UserError(
            f"corrupt corpus: {p / 'tokens.bin'} has {size} bytes, meta.json says "
            f"{n} tokens x {dtype.itemsize} bytes (truncated or half-written?)"
        )
    if n == 0:
        raise UserError(f"empty corpus: {p}")
    if not os.access(p / "tokens.bin", os.R_OK):
        raise UserError(f"cannot read {p / 'tokens.bin'}: permission denied")
    tokens = np.memmap(p / "tokens.bin", dtype=dtype, mode="r", shape=(n,))
    doc_offsets = _read_offsets(p, meta, n)
    if check:
        _check_ids(p, tokens, int(meta["vocab_size"]))
    return TokenCorpus(path=p.resolve(), tokens=tokens, meta=meta, doc_offsets=doc_offsets)


class CorpusWriter:
    """Stream token arrays into a new corpus directory, atomically.

    Everything is written into a hidden temporary directory beside ``out``,
    which is renamed onto ``out`` by :meth:`finish`; an interrupted writer
    never leaves a directory that looks like a complete corpus.

    Examples
    --------
    >>> with CorpusWriter(out, vocab_size=257) as w:          # doctest: +SKIP
    ...     w.start_document(); w.write(ids)
    ...     w.finish(tokenizer={"spec": "byte"}, source={"kind": "txt"})
    """

    def __init__(self, out: str | os.PathLike[str], vocab_size: int, dtype: Any = None):
        self.out = Path(out)
        self.vocab_size = int(vocab_size)
        self.dtype = np.dtype(dtype) if dtype is not None else dtype_for_vocab(self.vocab_size)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"output exists and is not a directory: {self.out}")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_tmp(self.out)
            self.tmp = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.out.name}.{os.getpid()}.", suffix=".tmp", dir=self.out.parent
                )
            )
        except OSError as e:
            raise UserError(f"cannot create {self.out}: {e.strerror or e}") from None
        os.chmod(self.tmp, 0o755)
        self._f = open(self.tmp / "tokens.bin", "wb")  # noqa: SIM115
        self._hash = hashlib.blake2b(digest_size=16)
        self.num_tokens = 0
        self.doc_offsets: list[int] = []
        self._max_id = -1
        self._done = False

    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abort()

    @property
    def workdir(self) -> Path:
        """Temporary directory where side files (tokenizer.json, ...) may be written."""
        return self.tmp

    def start_document(self) -> None:
        self.doc_offsets.append(self.num_tokens)

    def write(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids)
        if ids.size == 0:
            return
        mx = int(ids.max())
        if mx >= self.vocab_size or int(ids.min()) < 0:
            raise UserError(f"token id {mx} outside the vocabulary of {self.vocab_size}")
        self._max_id = max(self._max_id, mx)
        buf = np.ascontiguousarray(ids, dtype=self.dtype)
        self._f.write(buf.data)
        self._hash.update(buf.view(np.uint8).data)
        self.num_tokens += int(ids.size)

    def finish(
        self,
        *,
        tokenizer: dict[str, Any],
        source: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write meta.json and doc_offsets.npy and move the corpus into place."""
        self._f.close()
        if self.num_tokens == 0:
            self.abort()
            raise UserError(f"empty corpus: the source produced no tokens ({source.get('path')})")
        offs = np.asarray(self.doc_offsets or [0], dtype=np.int64)
        # Drop empty trailing documents' duplicate offsets.
        offs = np.unique(offs[offs < self.num_tokens])
        if offs.size == 0 or offs[0] != 0:
            offs = np.concatenate([[0], offs]).astype(np.int64)
        np.save(self.tmp / "doc_offsets.npy", offs)
        meta = _make_meta(
            vocab_size=self.vocab_size,
            dtype=self.dtype,
            num_tokens=self.num_tokens,
            doc_offsets=offs,
            tokenizer=tokenizer,
            source=source,
            content_hash="blake2b:" + self._hash.hexdigest(),
            extra=extra,
        )
        write_json(self.tmp / "meta.json", meta)
        if self.out.exists():
            if not self._empty_or_same(meta["content_hash"]):
                self.abort()
                raise UserError(
                    f"{self.out} already holds a different corpus; choose another --out"
                )
            if is_corpus_dir(self.out):
                # The same tokens with new metadata: move the old corpus aside (a
                # temporary name that remove_stale_tmp cleans up should this
                # process die), the new one into place, then delete the old one.
                old_dir = Path(f"{self.tmp}.old.tmp")
                os.replace(self.out, old_dir)
                os.replace(self.tmp, self.out)
                shutil.rmtree(old_dir, ignore_errors=True)
                self._done = True
                return self.out
            self.out.rmdir()
        try:
            os.replace(self.tmp, self.out)
        except OSError:
            # Another writer moved its corpus into place between the check and the
            # rename: keep that one if it is the same corpus.
            same = is_corpus_dir(self.out) and self._empty_or_same(meta["content_hash"])
            self.abort()
            if not same:
                raise UserError(
                    f"{self.out} was written by another process meanwhile; choose another --out"
                ) from None
        self._done = True
        return self.out

    def _empty_or_same(self, content_hash: str) -> bool:
        """Whether ``out`` is an empty directory or a corpus with this content hash."""
        if is_corpus_dir(self.out):
            try:
                old = read_json(self.out / "meta.json")
            except (OSError, ValueError):
                return False
            return isinstance(old, dict) and old.get("content_hash") == content_hash
        return self.out.is_dir() and not any(self.out.iterdir())

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._done = True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(out: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary directories beside ``out`` left by writers that were killed.

    A writer's temporary directory is named ``.NAME.PID.XXXX.tmp``; one whose
    process no longer runs can never be completed and is removed. Returns the
    paths removed.
    """
    out = Path(out)
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    for tmp in out.parent.glob(f".{glob_escape(out.name)}.*.tmp"):
        pid = tmp.name[len(out.name) + 2 :].split(".", 1)[0]
        if tmp.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with the glob metacharacters escaped."""
    import glob as _glob

    return _glob.escape(name)


def write_corpus(
    out: str | os.PathLike[str],
    tokens: np.ndarray,
    vocab_size: int,
    *,
    doc_offsets: Iterable[int] | None = None,
    tokenizer: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    side_files: dict[str, bytes | str] | None = None,
) -> TokenCorpus:
    """Write an in-memory token array as a corpus directory and return it loaded.

    Used by the synthetic generators: ``extra`` is merged into meta.json (e.g.
    ``{"generator": {...}}``) and ``side_files`` are written beside tokens.bin
    (e.g. ``{"truth.json": json_text}``).
    """
    with CorpusWriter(out, vocab_size=vocab_size) as w:
        w.write(np.asarray(tokens))
        w.doc_offsets = [0] if doc_offsets is None else [int(o) for o in doc_offsets]
        for name, content in (side_files or {}).items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(w.workdir / name, mode) as f:
                f.write(content)
        w.finish(
            tokenizer=tokenizer or {"spec": "pretokenized", "eod_token": None},
            source=source or {"kind": "array"},
            extra=extra,
        )
    return load(out)
