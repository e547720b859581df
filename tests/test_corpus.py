"""Token corpora: every source type and tokenizer, round trips, memmaps, streaming, errors."""

from __future__ import annotations

import functools
import gzip
import json
import subprocess
import sys
import sysconfig
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.corpus.sources import _utf8_safe_cut, open_source, stdlib_files
from scalinglab.corpus.tokenizers import ByteTokenizer, CharTokenizer
from scalinglab.errors import UserError

TEXT = "Hello, world!\nÜber naïve café — ∑ 日本語 🎉\n" * 50
DOCS = ["first document\nwith two lines\n", "second: ünïcödé 🎉", "third\n\nthe end"]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scalinglab.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"SCALINGLAB_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def txt(tmp_path: Path) -> Path:
    p = tmp_path / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


@pytest.mark.parametrize("spec", ["char", "byte", "bpe:300"])
def test_round_trip_single_document(txt: Path, tmp_path: Path, spec: str) -> None:
    c = sl.corpus.tokenize(txt, spec, tmp_path / "c")
    assert c.decode() == TEXT
    assert c.num_documents == 1 and c.eod_token is None
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["num_tokens"] == c.num_tokens == (tmp_path / "c" / "tokens.bin").stat().st_size // 2
    assert meta["dtype"] == "uint16" and meta["tokenizer"]["spec"] == spec
    assert meta["content_hash"].startswith("blake2b:")
    assert meta["split"]["heldout_start"] == c.num_tokens - round(c.num_tokens * 0.01)


def test_char_ids_are_ranks_of_sorted_characters(txt: Path, tmp_path: Path) -> None:
    c = sl.corpus.tokenize(txt, "char", tmp_path / "c")
    chars = sorted(set(TEXT))
    assert c.vocab_size == len(chars)
    expected = np.array([chars.index(ch) for ch in TEXT])
    np.testing.assert_array_equal(np.asarray(c.tokens), expected)


def test_byte_ids_are_utf8_bytes(txt: Path, tmp_path: Path) -> None:
    c = sl.corpus.tokenize(txt, "byte", tmp_path / "c")
    np.testing.assert_array_equal(np.asarray(c.tokens), np.frombuffer(TEXT.encode(), np.uint8))
    assert c.vocab_size == 256


def _write_docs(kind: str, tmp: Path) -> Path:
    if kind == "dir":
        d = tmp / "docs"
        (d / "sub").mkdir(parents=True)
        for i, t in enumerate(DOCS):
            (d / ("sub" if i == 1 else ".") / f"{i}.txt").write_text(t)
        return d
    if kind in ("jsonl", "jsonl.gz"):
        p = tmp / f"d.{kind}"
        lines = "".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(DOCS))
        if kind == "jsonl.gz":
            with gzip.open(p, "wt") as f:
                f.write(lines)
        else:
            p.write_text(lines)
        return p
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp / "d.parquet"
        pq.write_table(pa.table({"text": DOCS, "n": [1, 2, 3]}), p)
        return p
    if kind == "hf":
        datasets = pytest.importorskip("datasets")  # optional source type
        p = tmp / "hfds"
        datasets.Dataset.from_dict({"text": DOCS}).save_to_disk(str(p))
        return p
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dir", "jsonl", "jsonl.gz", "parquet", "hf"])
@pytest.mark.parametrize("spec", ["char", "byte", "bpe:280"])
def test_multi_document_sources(tmp_path: Path, kind: str, spec: str) -> None:
    src = _write_docs(kind, tmp_path)
    c = sl.corpus.tokenize(src, spec, tmp_path / "c")
    # Directory files come sorted by path: 0.txt, 2.txt, sub/1.txt.
    order = [0, 2, 1] if kind == "dir" else [0, 1, 2]
    assert c.num_documents == 3 and c.eod_token is not None
    assert [c.decode(d) for d in c.documents()] == [DOCS[i] for i in order]
    eods = np.flatnonzero(np.asarray(c.tokens) == c.eod_token)
    np.testing.assert_array_equal(eods + 1, np.append(c.doc_offsets[1:], c.num_tokens))
    assert c.meta["split"]["heldout_start"] == c.doc_offsets[-1]  # the last document


def test_pretokenized_bin_and_npy(tmp_path: Path) -> None:
    ids = np.random.default_rng(0).integers(0, 50257, size=10_000).astype(np.uint16)
    ids.tofile(tmp_path / "train.bin")
    c = sl.corpus.tokenize(tmp_path / "train.bin", "byte", tmp_path / "c1", vocab_size=50257)
    np.testing.assert_array_equal(np.asarray(c.tokens), ids)
    assert c.vocab_size == 50257 and c.tokenizer_spec == "pretokenized"
    big = np.array([0, 70000, 5], dtype=np.int64)
    np.save(tmp_path / "a.npy", big)
    c2 = sl.corpus.tokenize(tmp_path / "a.npy", "byte", tmp_path / "c2")
    assert c2.meta["dtype"] == "uint32" and c2.vocab_size == 70001
    np.testing.assert_array_equal(np.asarray(c2.tokens), big)


def test_existing_tokenizer_json(txt: Path, tmp_path: Path) -> None:
    first = sl.corpus.tokenize(txt, "bpe:300", tmp_path / "a")
    tj = tmp_path / "a" / "tokenizer.json"
    again = sl.corpus.tokenize(txt, str(tj), tmp_path / "b")
    np.testing.assert_array_equal(np.asarray(first.tokens), np.asarray(again.tokens))
    assert again.decode() == TEXT
    # A tokenizer without an end-of-document token gets one appended for many documents.
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "wl.json"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.txt").write_text("a b a")
    (tmp_path / "d" / "2.txt").write_text("b b")
    c = sl.corpus.tokenize(tmp_path / "d", str(tmp_path / "wl.json"), tmp_path / "c")
    assert c.vocab_size == 4 and c.eod_token == 3
    np.testing.assert_array_equal(np.asarray(c.tokens), [0, 1, 0, 3, 1, 1, 3])


def test_load_is_memmap(txt: Path, tmp_path: Path) -> None:
    sl.corpus.tokenize(txt, "char", tmp_path / "c")
    c = sl.corpus.load(tmp_path / "c")
    assert isinstance(c.tokens, np.memmap)
    assert isinstance(c.train, np.memmap) and c.train.size + c.heldout.size == c.num_tokens


def test_resolve_caches_raw_sources(txt: Path) -> None:
    a = sl.corpus.resolve(txt, "char")
    b = sl.corpus.resolve(txt, "char")
    assert a.path == b.path and a.content_hash == b.content_hash
    assert sl.corpus.resolve(a.path).path == a.path  # a corpus directory is loaded as is
    assert sl.corpus.resolve(txt, "byte").path != a.path


def _peak_tokenizing(tmp: Path, megabytes: int) -> tuple[int, int]:
    line = ("the quick brown fox jumps over the lazy dog " * 3 + "\n").encode()
    p = tmp / f"big{megabytes}.txt"
    with open(p, "wb") as f:
        for _ in range(megabytes):
            f.write(line * ((1 << 20) // len(line)))
    tracemalloc.start()
    c = sl.corpus.tokenize(
        p, "char", tmp / f"c{megabytes}", chunk_bytes=1 << 20, batch_bytes=2 << 20
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert c.num_tokens == p.stat().st_size
    return peak, p.stat().st_size


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    """Peak memory depends on the batch size, not on the size of the source."""
    small, _ = _peak_tokenizing(tmp_path, 8)
    big, size = _peak_tokenizing(tmp_path, 48)
    assert big < 1.25 * small + (1 << 20), (small, big)
    # About 16 bytes of working memory per character of one 2 MB batch.
    assert big < 20 * (2 << 20) < size, f"peak {big / 2**20:.1f} MB for {size / 2**20:.0f} MB"


@given(st.text(min_size=0, max_size=40))
@settings(max_examples=200, deadline=None)
def test_utf8_cut_never_splits_a_character(s: str) -> None:
    b = s.encode("utf-8")
    for end in range(len(b) + 1):
        cut = _utf8_safe_cut(b[:end])
        b[:cut].decode("utf-8")  # must not raise
        assert cut >= end - 3


@given(st.text(min_size=1, max_size=200))
@settings(max_examples=100, deadline=None)
def test_char_and_byte_round_trip_property(s: str) -> None:
    s = s.encode("utf-8", "ignore").decode("utf-8")
    if not s:
        return
    ct = CharTokenizer(CharTokenizer.alphabet_of([s]))
    assert ct.decode(ct.encode_batch([s])[0]) == s
    bt = ByteTokenizer()
    assert bt.decode(bt.encode_batch([s])[0]) == s


def test_python_stdlib_source() -> None:
    files = stdlib_files()
    assert len(files) > 300
    assert not any("site-packages" in f.parts or "test" in f.parts for f in files)
    assert all(f.suffix == ".py" for f in files)
    assert open_source("python-stdlib").multi_document


def test_output_dir_holding_another_corpus(txt: Path, tmp_path: Path) -> None:
    sl.corpus.tokenize(txt, "char", tmp_path / "c")
    sl.corpus.tokenize(txt, "char", tmp_path / "c")  # the same corpus again is fine
    with pytest.raises(UserError, match="different corpus"):
        sl.corpus.tokenize(txt, "byte", tmp_path / "c")
    assert sl.corpus.load(tmp_path / "c").tokenizer_spec == "char"


def _assert_clean_error(r: subprocess.CompletedProcess, needle: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    err_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1 and needle in err_lines[0], r.stderr


@pytest.mark.parametrize(
    ("setup", "args", "needle"),
    [
        (None, ["missing.txt"], "source not found"),
        ("empty", ["empty.txt"], "empty corpus"),
        ("latin1", ["latin1.txt"], "byte offset 4"),
        ("ok", ["ok.txt", "--tokenizer", "bpe:x"], "bad tokenizer spec"),
        ("ok", ["ok.txt", "--tokenizer", "wordpiece"], "unknown tokenizer spec"),
        ("ok", ["ok.txt", "--tokenizer", "nothere.json"], "tokenizer file not found"),
        ("bin", ["ids.bin"], "--vocab-size"),
        ("jsonl", ["d.jsonl", "--text-field", "body"], "no field 'body'"),
        ("unreadable", ["locked.txt"], "cannot read"),
    ],
)
def test_cli_errors(tmp_path: Path, setup: str | None, args: list[str], needle: str) -> None:
    if setup == "empty":
        (tmp_path / "empty.txt").write_text("")
    elif setup == "latin1":
        (tmp_path / "latin1.txt").write_bytes("abcd\xe9".encode("latin-1"))
    elif setup == "ok":
        (tmp_path / "ok.txt").write_text("hello")
    elif setup == "bin":
        np.arange(10, dtype=np.uint16).tofile(tmp_path / "ids.bin")
    elif setup == "jsonl":
        (tmp_path / "d.jsonl").write_text('{"text": "a"}\n')
    elif setup == "unreadable":
        p = tmp_path / "locked.txt"
        p.write_text("x")
        p.chmod(0)
        if p.open("rb").readable():  # root can read anything: nothing to test
            pytest.skip("running as root")
    r = _cli("tokenize", *args, "--out", "out", cwd=tmp_path)
    _assert_clean_error(r, needle)
    assert not (tmp_path / "out" / "meta.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_cli_tokenize_and_replace_errors(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_bytes("abcd\xe9f".encode("latin-1"))
    r = _cli(
        "tokenize",
        "l.txt",
        "--tokenizer",
        "char",
        "--errors",
        "replace",
        "--out",
        "c",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert sl.corpus.load(tmp_path / "c").decode() == "abcd\ufffdf"


def test_cli_refuses_to_overwrite_different_corpus(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("aaaa bbbb")
    assert (
        _cli("tokenize", "a.txt", "--tokenizer", "char", "--out", "c", cwd=tmp_path).returncode == 0
    )
    r = _cli("tokenize", "a.txt", "--tokenizer", "byte", "--out", "c", cwd=tmp_path)
    _assert_clean_error(r, "different corpus")


# ----------------------------------------------------------------------------- safe cuts
@functools.cache
def _byte_level_bpe():
    """A small byte-level BPE (the bpe:N pipeline's own) trained on varied text."""
    from scalinglab.corpus.tokenizers import HFTokenizer

    lib = Path(sysconfig.get_paths()["stdlib"])
    sample = [(lib / f).read_text() for f in ("argparse.py", "textwrap.py")] + [TEXT]
    return HFTokenizer.train_bpe(iter(sample), 600).tok


_PIECES = st.lists(
    st.sampled_from(list("ab xy\n\t\r'sé日\u00a0\u2028\x1c0.(") + ["    ", "  \n", "\n\n"]),
    max_size=150,
).map("".join)
_WS = " \t\n\r\x0b\x0c"


def _enc(text: str) -> list[int]:
    return _byte_level_bpe().encode(text, add_special_tokens=False).ids


def _is_safe(buf: str | bytes, cut: int) -> bool:
    """A safe break: ASCII whitespace at ``cut``, a visible character after it."""
    if not 0 < cut < len(buf) - 1:
        return False
    if isinstance(buf, bytes):
        return chr(buf[cut]) in _WS and 0x21 <= buf[cut + 1] < 0x7F
    return buf[cut] in _WS and not buf[cut + 1].isspace()


@given(_PIECES, st.integers(1, 40))
@settings(max_examples=300, deadline=None)
def test_cut_pieces_encode_like_the_whole_text(text: str, size: int) -> None:
    """Pieces cut at safe breaks encode to the ids of the whole text (byte-level BPE)."""
    from scalinglab.corpus.build import _split_lines
    from scalinglab.corpus.sources import last_safe_break

    whole = _enc(text)
    pieces = _split_lines(text, size)
    assert "".join(pieces) == text
    bounds = np.cumsum([len(p) for p in pieces])[:-1].tolist()
    starts = [0, *bounds]
    for start, b in zip(starts, bounds, strict=False):
        window = range(start + size, min(start + 2 * size, len(text)) - 1)
        if any(_is_safe(text, c) for c in window):  # a safe break was there: it was used
            assert _is_safe(text, b), (start, b)
    if all(_is_safe(text, b) for b in bounds):
        assert [i for p in pieces for i in _enc(p)] == whole
    for buf in (text, text.encode()):  # the reader's cut: a safe break when there is one
        cut = last_safe_break(buf, 0, len(buf))
        safe = [c for c in range(len(buf)) if _is_safe(buf, c)]
        if safe:
            assert cut in safe
            head, tail = buf[:cut], buf[cut:]
            if isinstance(buf, bytes):
                head, tail = head.decode(), tail.decode()
            assert _enc(head) + _enc(tail) == whole


def test_bpe_pipeline_equals_encoding_each_document(tmp_path: Path, monkeypatch) -> None:
    """Python code cut into many small pieces: the ids of tokenizer.encode(document)."""
    from tokenizers import Tokenizer

    import scalinglab.corpus.build as build

    monkeypatch.setattr(build, "ENCODE_PIECE", 700)
    lib = Path(sysconfig.get_paths()["stdlib"])
    src = tmp_path / "src"
    src.mkdir()
    for name in ("argparse.py", "textwrap.py"):
        (src / name).write_bytes((lib / name).read_bytes())
    c = sl.corpus.tokenize(src, "bpe:400", tmp_path / "c", chunk_bytes=5000)
    tok = Tokenizer.from_file(str(tmp_path / "c" / "tokenizer.json"))
    for f, doc in zip(sorted(src.iterdir()), c.documents(), strict=True):
        ids = tok.encode(f.read_text(), add_special_tokens=False).ids
        np.testing.assert_array_equal(np.asarray(doc), ids)


# ----------------------------------------------------------------------------- more errors
@pytest.mark.parametrize("gz", [False, True])
def test_undecodable_jsonl_names_line_and_file_offset(tmp_path: Path, gz: bool) -> None:
    raw = b'{"text": "abc"}\n{"text": "ab\xe9"}\n'  # the bad byte is byte 28 of the file
    p = tmp_path / ("d.jsonl.gz" if gz else "d.jsonl")
    p.write_bytes(gzip.compress(raw) if gz else raw)
    r = _cli("tokenize", p.name, "--tokenizer", "byte", "--out", "out", cwd=tmp_path)
    _assert_clean_error(r, f"{p.name}:2: undecodable UTF-8 at byte offset 28")
    assert ("uncompressed" in r.stderr) == gz
    c = sl.corpus.tokenize(p, "byte", tmp_path / "c", errors="replace")
    assert [c.decode(d) for d in c.documents()] == ["abc", "ab\ufffd"]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("notgz.jsonl.gz", b'{"text": "a"}\n', "corrupt gzip stream"),
        ("cut.jsonl.gz", gzip.compress(b'{"text": "abc"}\n' * 100)[:30], "corrupt gzip stream"),
        ("garbage.npy", b"not an array", "not a .npy file"),
        ("x.parquet", b"not parquet", "cannot read parquet"),
    ],
)
def test_corrupt_sources_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes, needle: str
) -> None:
    (tmp_path / name).write_bytes(content)
    r = _cli("tokenize", name, "--tokenizer", "byte", "--out", "out", cwd=tmp_path)
    _assert_clean_error(r, needle)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_unreadable_source_even_as_root(txt: Path, tmp_path: Path, monkeypatch) -> None:
    """The permission check and the open() failure both give 'cannot read'."""
    import scalinglab.corpus.sources as sources

    monkeypatch.setattr(sources.os, "access", lambda *a, **k: False)
    with pytest.raises(UserError, match="cannot read .*permission denied"):
        sl.corpus.tokenize(txt, "byte", tmp_path / "c")
    monkeypatch.undo()

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x")
    monkeypatch.setattr(sources, "open", refuse, raising=False)
    with pytest.raises(UserError, match="cannot read .*a.txt: Permission denied"):
        sl.corpus.tokenize(tmp_path / "d", "byte", tmp_path / "c", glob="*.txt")
    assert not (tmp_path / "c").exists()


def test_resolve_cache_is_keyed_by_source_and_tokenizer(tmp_path: Path) -> None:
    """A changed source is tokenized again; options and tokenizers get their own entries."""
    import os

    src = tmp_path / "s.txt"
    src.write_text("abab")
    a = sl.corpus.resolve(src, "char")
    assert sl.corpus.resolve(src, "char").path == a.path
    st_ = src.stat()
    src.write_text("abcd")  # same size: only the content and the modification time differ
    os.utime(src, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
    b = sl.corpus.resolve(src, "char")
    assert b.path != a.path and b.decode() == "abcd" and a.decode() == "abab"
    assert sl.corpus.resolve(src, "byte").path not in (a.path, b.path)
    assert sl.corpus.load(a.path).content_hash != b.content_hash


def test_resolve_cache_is_keyed_by_the_source_content(tmp_path: Path) -> None:
    """Touching a source reuses its entry; an edit that keeps size and mtime does not."""
    import os

    src = tmp_path / "s.txt"
    src.write_text("abab")
    a = sl.corpus.resolve(src, "char")
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    assert sl.corpus.resolve(src, "char").path == a.path  # same bytes: same entry
    st_ = src.stat()
    src.write_text("baba")
    os.utime(src, ns=(st_.st_atime_ns, st_.st_mtime_ns))  # size and mtime as before
    b = sl.corpus.resolve(src, "char")
    assert b.path != a.path and b.decode() == "baba"
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "s.txt").write_text("baba")
    assert (
        sl.corpus.resolve(copy / "s.txt", "char").path.name.split("-")[-1]
        == (b.path.name.split("-")[-1])
    )  # a copy elsewhere has the same key
    npy = tmp_path / "t.npy"
    np.save(npy, np.arange(10))
    c = sl.corpus.resolve(npy)
    st_ = npy.stat()
    np.save(npy, np.arange(10)[::-1])
    os.utime(npy, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    assert sl.corpus.resolve(npy).path != c.path


def test_other_corpus_in_out_is_refused_before_any_work(txt: Path, tmp_path: Path, monkeypatch):
    import scalinglab.corpus.build as build

    sl.corpus.tokenize(txt, "char", tmp_path / "c")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes").write_text("mine")

    def no_work(*a, **k):
        raise AssertionError("tokenizer built before the output was checked")

    monkeypatch.setattr(build, "_build_tokenizer", no_work)
    with pytest.raises(UserError, match="different corpus .*tokenizer char"):
        sl.corpus.tokenize(txt, "bpe:300", tmp_path / "c")
    other = tmp_path / "other.txt"
    other.write_text(TEXT + "more")
    with pytest.raises(UserError, match="different corpus"):
        sl.corpus.tokenize(other, "char", tmp_path / "c")
    with pytest.raises(UserError, match="not an empty directory"):
        sl.corpus.tokenize(txt, "char", tmp_path / "junk")
    ids = tmp_path / "ids.npy"
    np.save(ids, np.arange(5))
    with pytest.raises(UserError, match="different corpus"):
        sl.corpus.tokenize(ids, "byte", tmp_path / "c")
    assert sl.corpus.load(tmp_path / "c").decode() == TEXT  # untouched
    assert (tmp_path / "junk" / "notes").read_text() == "mine"


def test_python_stdlib_tokenizes_and_is_the_default(tmp_path: Path, monkeypatch, capsys) -> None:
    """The built-in corpus (here cut to three files) through tokenize and resolve(None)."""
    import scalinglab.corpus.sources as sources

    files = stdlib_files()[:3]
    monkeypatch.setattr(sources, "stdlib_files", lambda: files)
    c = sl.corpus.tokenize("python-stdlib", "byte", tmp_path / "py")
    assert c.meta["source"]["kind"] == "stdlib" and c.name == "python-stdlib"
    texts = [f.read_bytes().decode("utf-8", "replace") for f in files]
    assert [c.decode(d) for d in c.documents()] == texts
    capsys.readouterr()
    d = sl.corpus.resolve(None, "byte")
    err = capsys.readouterr().err
    assert "no corpus given" in err and "python-stdlib" in err and len(err.splitlines()) == 1
    assert d.content_hash == c.content_hash


# -- checks on load: a corrupt corpus fails with one line naming the file ----------------
def _small_corpus(tmp_path: Path) -> Path:
    ids = np.arange(200, dtype=np.int64) % 17
    sl.corpus.write_corpus(tmp_path / "c", ids, 17, doc_offsets=[0, 50, 120])
    return tmp_path / "c"


def _edit_meta(d: Path, **changes) -> None:
    meta = json.loads((d / "meta.json").read_text())
    for key, value in changes.items():
        if "." in key:
            a, b = key.split(".")
            meta[a][b] = value
        else:
            meta[key] = value
    (d / "meta.json").write_text(json.dumps(meta))


def test_load_rejects_id_at_or_above_vocab_size(tmp_path: Path) -> None:
    d = _small_corpus(tmp_path)
    ids = np.fromfile(d / "tokens.bin", dtype="<u2")
    ids[137] = 17  # == vocab_size
    ids.tofile(d / "tokens.bin")
    with pytest.raises(UserError, match=r"tokens\.bin holds token id 17 at position 137"):
        sl.corpus.load(d)


def test_load_scans_every_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scalinglab.corpus import _checks

    monkeypatch.setattr(_checks, "CHECK_CHUNK", 16)
    d = _small_corpus(tmp_path)
    ids = np.fromfile(d / "tokens.bin", dtype="<u2")
    ids[-1] = 1000
    ids.tofile(d / "tokens.bin")
    with pytest.raises(UserError, match="position 199"):
        sl.corpus.load(d)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"dtype": "float32"}, "dtype 'float32'"),
        ({"vocab_size": 0}, "vocab_size 0"),
        ({"vocab_size": 70000}, "does not fit dtype uint16"),
        ({"vocab_size": "17"}, "vocab_size '17'"),
        ({"num_tokens": 199, "split.heldout_tokens": 79}, "has 400 bytes, meta.json says 199"),
        ({"split.heldout_start": 500}, "heldout_start 500"),
        ({"split.heldout_tokens": 3}, "heldout_tokens 3"),
        ({"documents.count": 4}, "holds 3 documents, meta.json says 4"),
    ],
)
def test_load_rejects_inconsistent_meta(tmp_path: Path, change: dict, pattern: str) -> None:
    d = _small_corpus(tmp_path)
    _edit_meta(d, **change)
    with pytest.raises(UserError, match=pattern) as e:
        sl.corpus.load(d)
    assert "\n" not in str(e.value) and str(d) in str(e.value)


@pytest.mark.parametrize(
    ("offsets", "pattern"),
    [
        (np.array([0, 120, 50]), "not increasing"),
        (np.array([3, 50, 120]), "starts at 3"),
        (np.array([0, 50, 250]), "past the 200 tokens"),
        (np.array([[0, 50, 120]]), "not a 1-D integer array"),
        (np.array([0.0, 50.0, 120.0]), "not a 1-D integer array"),
    ],
)
def test_load_rejects_bad_document_offsets(tmp_path: Path, offsets, pattern: str) -> None:
    d = _small_corpus(tmp_path)
    np.save(d / "doc_offsets.npy", offsets)
    with pytest.raises(UserError, match=pattern):
        sl.corpus.load(d)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage", b"\x93NUMPY\x01\x00"])
def test_load_rejects_unreadable_offsets_and_meta(tmp_path: Path, content: bytes) -> None:
    d = _small_corpus(tmp_path)
    (d / "doc_offsets.npy").write_bytes(content)
    with pytest.raises(UserError, match="doc_offsets.npy"):
        sl.corpus.load(d)
    (d / "meta.json").write_bytes(content or b"{")
    with pytest.raises(UserError, match="meta.json"):
        sl.corpus.load(d)


def test_truncated_tokens_named(tmp_path: Path) -> None:
    d = _small_corpus(tmp_path)
    with open(d / "tokens.bin", "r+b") as f:
        f.truncate(101)
    with pytest.raises(UserError, match=r"tokens\.bin has 101 bytes.*truncated"):
        sl.corpus.load(d)


def test_stats_on_corrupt_corpus_is_one_line_exit_2(tmp_path: Path) -> None:
    """Regression: an id >= vocab_size used to end in a NumPy broadcast traceback."""
    d = _small_corpus(tmp_path)
    ids = np.fromfile(d / "tokens.bin", dtype="<u2")
    ids[10] = 40
    ids.tofile(d / "tokens.bin")
    r = _cli("stats", str(d), "--out", str(tmp_path / "st"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: corrupt corpus:"), r.stderr
    assert "tokens.bin" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "st").exists()


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path, txt: Path) -> None:
    c = sl.corpus.resolve(txt, "char")
    expected = np.asarray(c.tokens).copy()
    with open(c.path / "tokens.bin", "r+b") as f:  # a half-written entry
        f.truncate(f.seek(0, 2) // 2)
    again = sl.corpus.resolve(txt, "char")
    assert again.path == c.path
    np.testing.assert_array_equal(np.asarray(again.tokens), expected)


def test_stale_writer_tmp_removed(tmp_path: Path) -> None:
    from scalinglab.corpus.core import remove_stale_tmp

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".c.{dead}.abcd.tmp"
    stale.mkdir()
    (stale / "tokens.bin").write_bytes(b"\x00" * 10)
    live = tmp_path / f".c.{__import__('os').getpid()}.efgh.tmp"
    live.mkdir()
    assert remove_stale_tmp(tmp_path / "c") == [stale]
    assert not stale.exists() and live.exists()


def test_rewrite_same_corpus_keeps_a_complete_one(tmp_path: Path) -> None:
    ids = np.arange(300) % 11
    a = sl.corpus.write_corpus(tmp_path / "c", ids, 11, source={"kind": "array", "name": "a"})
    b = sl.corpus.write_corpus(tmp_path / "c", ids, 11, source={"kind": "array", "name": "b"})
    assert a.content_hash == b.content_hash and b.meta["source"]["name"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    with pytest.raises(UserError, match="different corpus"):
        sl.corpus.write_corpus(tmp_path / "c", ids[::-1], 11)
