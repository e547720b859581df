"""Tokenizers: ``char``, ``byte``, ``bpe:N`` (trained with HF tokenizers) or a tokenizer.json.

Every tokenizer maps a batch of texts to arrays of ids (vectorised, or the
multi-threaded Rust encoder of HF tokenizers) and decodes ids back to text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

EOD_TEXT = "<|endoftext|>"
# Special tokens recognised as end-of-document in an existing tokenizer.json.
_KNOWN_EOD = (EOD_TEXT, "</s>", "<eos>", "<|eos|>", "<|end_of_text|>", "[SEP]")


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype="<u4")


class CharTokenizer:
    """id = rank of the character among the sorted distinct characters of the source.

    With ``with_eod`` the end-of-document token takes the next id, ``len(chars)``.
    """

    def __init__(self, chars: str, with_eod: bool = False):
        self.chars = "".join(sorted(set(chars)))
        self.codes = _codepoints(self.chars).astype(np.int64)
        self.with_eod = with_eod
        self.spec = "char"

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + int(self.with_eod)

    @property
    def eod_token(self) -> int | None:
        return len(self.chars) if self.with_eod else None

    @staticmethod
    def alphabet_of(texts: Iterable[str]) -> str:
        """The sorted distinct characters of ``texts`` (vectorised per chunk)."""
        seen = np.zeros(0, dtype=np.uint32)
        for t in texts:
            seen = np.union1d(seen, np.unique(_codepoints(t)))
        return _codes_to_str(seen)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        codes = self.codes.astype(np.uint32)
        out = []
        for t in texts:
            cp = _codepoints(t)
            idx = np.searchsorted(codes, cp).astype(np.uint32)
            np.minimum(idx, len(codes) - 1, out=idx)
            bad = codes[idx] != cp
            if bad.any():
                ch = chr(int(cp[np.argmax(bad)]))
                raise UserError(f"character {ch!r} is not in the char vocabulary")
            out.append(idx)
        return out

    def decode(self, ids: np.ndarray) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        table = np.array(list(self.chars) + ([EOD_TEXT] if self.with_eod else []), dtype=object)
        return "".join(table[ids].tolist())

    def to_meta(self) -> dict[str, Any]:
        return {"spec": "char", "eod_token": self.eod_token, "vocab_file": "vocab.json"}

    def save(self, directory: Path) -> None:
        import json

        (directory / "vocab.json").write_text(json.dumps({"chars": self.chars}) + "\n")


def _codes_to_str(codes: np.ndarray) -> str:
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le", errors="surrogatepass")


class ByteTokenizer:
    """The 256 byte values of the UTF-8 encoding; EOD is id 256 when present."""

    spec = "byte"

    def __init__(self, with_eod: bool = False):
        self.with_eod = with_eod

    @property
    def vocab_size(self) -> int:
        return 256 + int(self.with_eod)

    @property
    def eod_token(self) -> int | None:
        return 256 if self.with_eod else None

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        return [
            np.frombuffer(t.encode("utf-8", errors="surrogatepass"), dtype=np.uint8) for t in texts
        ]

    def decode(self, ids: np.ndarray) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        if not self.with_eod:
            return ids.astype(np.uint8).tobytes().decode("utf-8", errors="replace")
        parts = np.split(ids, np.flatnonzero(ids == 256))
        texts = [
            p[p != 256].astype(np.uint8).tobytes().decode("utf-8", errors="replace") for p in parts
        ]
        return EOD_TEXT.join(texts)

    def to_meta(self) -> dict[str, Any]:
        return {"spec": "byte", "eod_token": self.eod_token}

    def save(self, directory: Path) -> None:
        pass


class HFTokenizer:
    """A Hugging Face ``tokenizers.Tokenizer`` (a trained byte-level BPE or a tokenizer.json).

    When the tokenizer has no end-of-document special token and one is needed,
    it is appended as id ``vocab_size`` of the base tokenizer.
    """

    def __init__(self, tok: Any, spec: str, with_eod: bool = False, origin: str | None = None):
        self.tok = tok
        self.spec = spec
        self.origin = origin
        self.base_vocab = int(tok.get_vocab_size(with_added_tokens=True))
        self._eod = None
        for name in _KNOWN_EOD:
            tid = tok.token_to_id(name)
            if tid is not None:
                self._eod = int(tid)
                break
        self._extra_eod = with_eod and self._eod is None
        if self._extra_eod:
            self._eod = self.base_vocab

    @property
    def vocab_size(self) -> int:
        return self.base_vocab + int(self._extra_eod)

    @property
    def eod_token(self) -> int | None:
        return self._eod

    @classmethod
    def train_bpe(cls, texts: Iterator[str], vocab_size: int) -> HFTokenizer:
        """Train a byte-level BPE of ``vocab_size`` tokens (EOD included) on ``texts``."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if vocab_size < 257:
            raise UserError(f"bpe:N needs N >= 257 (256 bytes + end-of-document), got {vocab_size}")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[EOD_TEXT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok, spec=f"bpe:{vocab_size}")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], with_eod: bool = False) -> HFTokenizer:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # the Rust error text is long; keep its first line
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError(f"cannot read tokenizer {path}: {first}") from None
        return cls(tok, spec=str(path), with_eod=with_eod, origin=str(Path(path).resolve()))

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        # encode_batch runs on all cores (Rayon) in Rust.
        encs = self.tok.encode_batch(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in encs]

    def decode(self, ids: np.ndarray) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        if self._extra_eod:
            parts = np.split(ids, np.flatnonzero(ids == self._eod))
            return EOD_TEXT.join(
                self.tok.decode(p[p != self._eod].tolist(), skip_special_tokens=False)
                for p in parts
            )
        return self.tok.decode(ids.tolist(), skip_special_tokens=False)

    def to_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "spec": self.spec,
            "eod_token": self.eod_token,
            "tokenizer_json": "tokenizer.json",
            "appended_eod": self._extra_eod,
        }
        if self.origin:
            meta["origin"] = self.origin
        return meta

    def save(self, directory: Path) -> None:
        self.tok.save(str(directory / "tokenizer.json"))


Tokenizer = CharTokenizer | ByteTokenizer | HFTokenizer


def parse_spec(spec: str) -> tuple[str, Any]:
    """Validate a tokenizer spec: ``char``, ``byte``, ``bpe:N`` or a path to tokenizer.json."""
    s = spec.strip()
    if s in ("char", "byte"):
        return s, None
    if s.startswith("bpe:"):
        try:
            n = int(s[4:])
        except ValueError:
            raise UserError(f"bad tokenizer spec {spec!r}: bpe:N needs an integer N") from None
        if n < 257 or n > 2**20:
            raise UserError(f"bad tokenizer spec {spec!r}: N must be in 257..{2**20}")
        return "bpe", n
    p = Path(s).expanduser()
    if p.suffix == ".json":
        if not p.is_file():
            raise UserError(f"tokenizer file not found: {p}")
        return "file", p
    raise UserError(f"unknown tokenizer spec {spec!r}: use char, byte, bpe:N or a tokenizer.json")


def tokenizer_from_meta(meta: dict[str, Any], directory: Path | None) -> Tokenizer:
    """Rebuild the tokenizer recorded in a corpus's meta.json (for decoding)."""
    import json

    t = meta.get("tokenizer", {})
    spec = t.get("spec")
    with_eod = t.get("eod_token") is not None
    if spec == "char":
        if directory is None:
            raise UserError("an in-memory char corpus has no vocabulary file")
        chars = json.loads((directory / t.get("vocab_file", "vocab.json")).read_text())["chars"]
        return CharTokenizer(chars, with_eod=with_eod)
    if spec == "byte":
        return ByteTokenizer(with_eod=with_eod)
    if t.get("tokenizer_json") and directory is not None:
        tok = HFTokenizer.from_file(
            directory / t["tokenizer_json"], with_eod=bool(t.get("appended_eod"))
        )
        tok.spec = spec
        return tok
    raise UserError(f"corpus tokenized with {spec!r} cannot be decoded")
