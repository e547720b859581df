"""Token corpora: sources, tokenizers and the memory-mapped TokenCorpus on disk."""

from .core import CorpusWriter, TokenCorpus, dtype_for_vocab, is_corpus_dir, load, write_corpus
from .build import DEFAULT_CORPUS, DEFAULT_TOKENIZER, resolve, tokenize

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
