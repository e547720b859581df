"""Token corpora: sources, tokenizers and the memory-mapped TokenCorpus on disk."""

from .build import DEFAULT_CORPUS, DEFAULT_TOKENIZER, resolve, tokenize
from .core import CorpusWriter, TokenCorpus, dtype_for_vocab, is_corpus_dir, load, write_corpus

__all__ = [
    "DEFAULT_CORPUS",
    "DEFAULT_TOKENIZER",
    "CorpusWriter",
    "TokenCorpus",
    "dtype_for_vocab",
    "is_corpus_dir",
    "load",
    "resolve",
    "tokenize",
    "write_corpus",
]
