"""Turning a source into a TokenCorpus: ``tokenize`` and the CORPUS resolver ``resolve``.

Memory bound: text is streamed in pieces of ``chunk_bytes`` (4 MB by default)
and encoded in batches of at most ``batch_bytes`` (16 MB of text, about 16
bytes of working memory per character), so peak memory stays under 2 GB
whatever the size of the source, a 10 GB text file included (measured by
benchmarks/tokenize.py). BPE training reads at most ``bpe_train_bytes`` of text (the first 256 MB
by default; HF tokenizers keeps a word-count table of that sample).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_json
from .._progress import info, make_progress
from ..errors import UserError
from .core import (
    CorpusWriter,
    TokenCorpus,
    dtype_for_vocab,
    is_corpus_dir,
    load,
    remove_stale_tmp,
)
from .sources import (
    CHUNK_BYTES,
    DEFAULT_CORPUS,
    TextSource,
    file_digest,
    first_safe_break,
    open_source,
)
from .tokenizers import ByteTokenizer, CharTokenizer, HFTokenizer, Tokenizer, parse_spec

DEFAULT_TOKENIZER = "bpe:8192"
BATCH_BYTES = 16 << 20
BPE_TRAIN_BYTES = 256 << 20
ENCODE_PIECE = 64 << 10

__all__ = ["DEFAULT_CORPUS", "DEFAULT_TOKENIZER", "resolve", "tokenize", "cache_dir"]


def cache_dir() -> Path:
    """Where raw sources given to a verb are tokenized: ``$SCALINGLAB_CACHE`` or ~/.cache."""
    env = os.environ.get("SCALINGLAB_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "scalinglab"
    return base / "corpora"


def _split_lines(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of about ``size`` characters at safe breaks.

    A cut goes at the first safe break (:func:`.sources.first_safe_break`)
    past ``size`` characters, so that a byte-level BPE encodes the pieces
    exactly as the whole text; a piece without one within ``2 size`` runs to
    the next newline, or to the end.
    """
    if len(text) <= size:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = first_safe_break(text, start + size, start + 2 * size)
        if end < 0:
            end = text.find("\n", start + size)
            end = len(text) if end < 0 else end + 1
        out.append(text[start:end])
        start = end
    return out


def _text_sample(src: TextSource, limit: int, chunk_bytes: int) -> Iterator[str]:
    done = 0
    for (_s, _e, text), nb in src.pieces(chunk_bytes):
        yield text
        done += nb
        if done >= limit:
            return


def _build_tokenizer(
    src: TextSource, spec: str, chunk_bytes: int, bpe_train_bytes: int
) -> Tokenizer:
    kind, arg = parse_spec(spec)
    with_eod = src.multi_document
    if kind == "byte":
        return ByteTokenizer(with_eod=with_eod)
    if kind == "char":
        with make_progress(transient=True) as prog:
            task = prog.add_task("collecting characters", total=src.total_bytes)

            def texts() -> Iterator[str]:
                for (_s, _e, text), nb in src.pieces(chunk_bytes):
                    prog.advance(task, nb)
                    yield text

            chars = CharTokenizer.alphabet_of(texts())
        return CharTokenizer(chars, with_eod=with_eod)
    if kind == "bpe":
        info(f"training byte-level BPE with {arg} tokens on {src.name or src.path}")
        tok = HFTokenizer.train_bpe(_text_sample(src, bpe_train_bytes, chunk_bytes), arg)
        return tok
    return HFTokenizer.from_file(arg, with_eod=with_eod)


def tokenize(
    source: str | os.PathLike[str],
    tokenizer: str = DEFAULT_TOKENIZER,
    out: str | os.PathLike[str] = "corpus",
    *,
    glob: str | None = None,
    text_field: str = "text",
    vocab_size: int | None = None,
    errors: str = "strict",
    chunk_bytes: int = CHUNK_BYTES,
    batch_bytes: int = BATCH_BYTES,
    bpe_train_bytes: int = BPE_TRAIN_BYTES,
) -> TokenCorpus:
    """Tokenize ``source`` into a corpus directory ``out`` and return it (memory-mapped).

    Parameters
    ----------
    source : str or path
        ``python-stdlib``, a .txt file, a directory, .jsonl(.gz), .parquet, a
        Hugging Face dataset directory, a nanoGPT-style .bin (with ``vocab_size``)
        or a .npy array of integer ids.
    tokenizer : str
        ``char``, ``byte``, ``bpe:N`` or the path of a tokenizer.json (ignored
        for pre-tokenized .bin/.npy sources).
    out : path
        Output directory; written under a temporary name and renamed when complete.
    """
    p = Path(str(source)).expanduser()
    suffix = p.name.lower()
    if str(source) != DEFAULT_CORPUS and is_corpus_dir(p):
        load(p)  # a damaged corpus is reported as such
        raise UserError(
            f"{p} is already a token corpus: give it to the other verbs as it is "
            "(nothing re-tokenizes a TokenCorpus)"
        )
    if str(source) != DEFAULT_CORPUS and suffix.endswith((".bin", ".npy")) and p.is_file():
        return _from_token_file(p, out, vocab_size)
    src = open_source(source, glob=glob, text_field=text_field, errors=errors)
    _refuse_other_corpus(out, tokenizer, src.total_bytes)
    tok = _build_tokenizer(src, tokenizer, chunk_bytes, bpe_train_bytes)
    # An end-of-document token separates documents only when there is more than one.
    eod = tok.eod_token if src.multi_document else None
    n_docs = 0
    with CorpusWriter(out, vocab_size=tok.vocab_size) as w, make_progress() as prog:
        task = prog.add_task(f"tokenizing ({tok.spec})", total=src.total_bytes or None)
        batch: list[tuple[bool, bool, str]] = []
        size = 0

        def flush() -> None:
            nonlocal n_docs
            # Cut pieces into ~64 KB sub-pieces at line breaks so that encode_batch
            # spreads even a single large document over all cores.
            subs = [_split_lines(t, ENCODE_PIECE) for _, _, t in batch]
            flat = tok.encode_batch([x for sub in subs for x in sub])
            ids_list, k = [], 0
            for sub in subs:
                part = flat[k : k + len(sub)]
                ids_list.append(np.concatenate(part) if len(part) > 1 else part[0])
                k += len(sub)
            for (starts, ends, _t), ids in zip(batch, ids_list, strict=True):
                if starts:
                    w.start_document()
                    n_docs += 1
                w.write(ids)
                if ends and eod is not None:
                    w.write(np.array([eod]))
            batch.clear()

        for piece, nb in src.pieces(chunk_bytes):
            batch.append(piece)
            size += len(piece[2])
            prog.advance(task, nb)
            if size >= batch_bytes:
                flush()
                size = 0
        if batch:
            flush()
        tok.save(w.workdir)
        w.finish(
            tokenizer={**tok.to_meta(), "eod_token": eod},
            source={**src.describe(), "fingerprint": src.fingerprint()},
        )
    return load(out)


def _refuse_other_corpus(out: str | os.PathLike[str], spec: str, source_bytes: int) -> None:
    """Fail before any work when ``out`` holds a corpus of another tokenizer or source size.

    (A corpus of the same tokenizer and source size is compared by content
    hash once the new one is written, and replaced only when they are equal.)
    """
    if not is_corpus_dir(out):
        if Path(out).is_dir() and any(Path(out).iterdir()):
            raise UserError(f"{out} exists and is not an empty directory")
        return
    try:
        old = read_json(Path(out) / "meta.json")
        t, src = old.get("tokenizer", {}), old.get("source", {})
    except (ValueError, AttributeError):
        return  # the final check reports it
    if spec == "pretokenized":
        new_id = spec
    else:
        kind, arg = parse_spec(spec)
        new_id = f"bpe:{arg}" if kind == "bpe" else str(Path(arg).resolve()) if arg else kind
    old_id = t.get("origin") or t.get("spec")
    if old_id != new_id or src.get("bytes", source_bytes) != source_bytes:
        raise UserError(
            f"{out} already holds a different corpus ({src.get('name', '?')}, "
            f"{src.get('bytes', '?')} bytes, tokenizer {t.get('spec', '?')}); choose another --out"
        )


def _from_token_file(
    path: Path, out: str | os.PathLike[str], vocab_size: int | None
) -> TokenCorpus:
    """Copy pre-tokenized ids (.bin with --vocab-size, or .npy) into a corpus, streaming."""
    if path.suffix.lower() == ".bin":
        if vocab_size is None:
            raise UserError(f"{path} is a raw .bin of token ids: give --vocab-size")
        dt = dtype_for_vocab(vocab_size)
        if path.stat().st_size % dt.itemsize:
            raise UserError(f"{path}: size is not a multiple of {dt.itemsize} bytes ({dt.name})")
        arr = np.memmap(path, dtype=dt, mode="r")
    else:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":
            raise UserError(f"{path} is not a .npy file (no NumPy header)")
        try:
            arr = np.load(path, mmap_mode="r")
        except ValueError as e:
            raise UserError(f"cannot read {path}: {e}") from None
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise UserError(
                f"{path}: expected a 1-D array of integers, got {arr.dtype} {arr.shape}"
            )
    if arr.size == 0:
        raise UserError(f"empty corpus: {path} holds no tokens")
    _refuse_other_corpus(out, "pretokenized", path.stat().st_size)
    step = CHUNK_BYTES
    if vocab_size is None:
        mx = max(int(arr[i : i + step].max()) for i in range(0, arr.size, step))
        vocab_size = mx + 1
    with CorpusWriter(out, vocab_size=vocab_size) as w, make_progress() as prog:
        task = prog.add_task("copying token ids", total=int(arr.size))
        w.start_document()
        for i in range(0, arr.size, step):
            chunk = np.asarray(arr[i : i + step])
            if chunk.size and int(chunk.min()) < 0:
                raise UserError(f"{path}: negative token id near position {i}")
            w.write(chunk)
            prog.advance(task, chunk.size)
        w.finish(
            tokenizer={"spec": "pretokenized", "eod_token": None},
            source={
                "kind": path.suffix.lstrip("."),
                "path": str(path),
                "name": path.name,
                "bytes": path.stat().st_size,
            },
        )
    return load(out)


# Bumped whenever the ids a tokenization pipeline writes for the same source and
# tokenizer change (2: cuts only where byte-level BPE ids do not change), so that
# a cache written by an older pipeline is never reused.
_PIPELINE_VERSION = 2


def _cache_key(source: str, tokenizer: str, options: dict[str, Any]) -> str:
    """Key of a raw source's cache entry: a hash of the source's content and the tokenizer.

    The built-in python-stdlib is keyed by its files' paths, sizes and modification
    times (it belongs to the running Python and changes only with it).
    """
    if source == DEFAULT_CORPUS:
        fp = open_source(source).fingerprint()
    else:
        p = Path(source).expanduser()
        if not p.exists():
            raise UserError(f"source not found: {p}")
        if p.is_file() and p.suffix.lower() in (".bin", ".npy"):
            fp = f"{p.suffix.lower()}|{file_digest(p)}"
        else:
            fp = open_source(
                source,
                glob=options.get("glob"),
                text_field=options.get("text_field", "text"),
                errors=options.get("errors", "strict"),
            ).content_digest()
    h = hashlib.blake2b(digest_size=8)
    h.update(f"v{_PIPELINE_VERSION}|{fp}|{tokenizer}|{sorted(options.items())}".encode())
    return h.hexdigest()


def resolve(
    corpus: str | os.PathLike[str] | TokenCorpus | None,
    tokenizer: str | None = None,
    **options: Any,
) -> TokenCorpus:
    """Turn the CORPUS argument of any verb into a TokenCorpus.

    ``None`` means the built-in default corpus (python-stdlib, bpe:8192); a
    directory with meta.json is loaded as is; anything else is a raw source,
    tokenized once into a cache keyed by a hash of the source's content and the
    tokenizer, so a second call reuses it.
    """
    if isinstance(corpus, TokenCorpus):
        return corpus
    if corpus is None:
        info(
            f"no corpus given: using the built-in default corpus {DEFAULT_CORPUS} "
            f"({tokenizer or DEFAULT_TOKENIZER})"
        )
        corpus = DEFAULT_CORPUS
    if str(corpus) != DEFAULT_CORPUS and is_corpus_dir(corpus):
        return load(corpus)
    spec = tokenizer or DEFAULT_TOKENIZER
    parse_spec(spec)
    options = {k: v for k, v in options.items() if v is not None}
    key = _cache_key(str(corpus), spec, options)
    stem = DEFAULT_CORPUS if str(corpus) == DEFAULT_CORPUS else Path(str(corpus)).name
    target = cache_dir() / f"{stem}-{spec.replace(':', '').replace('/', '_')[:40]}-{key}"
    remove_stale_tmp(target)  # what killed writers of this entry left
    if is_corpus_dir(target):
        try:
            return load(target)
        except UserError as e:
            # A cache entry is never trusted when it fails the checks on load (a
            # damaged disk, an edit, a writer older than the atomic rename): it is
            # rebuilt from the source.
            info(f"discarding the damaged cache entry {target} ({e})")
            _discard(target)
    elif target.exists():
        _discard(target)  # a directory that is not a corpus: nothing in it can be trusted
    return tokenize(corpus, spec, target, **options)


def _discard(target: Path) -> None:
    """Remove a cache entry that cannot be trusted."""
    import shutil

    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)
