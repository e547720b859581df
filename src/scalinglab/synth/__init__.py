"""Synthetic corpora with known structure.

Every generator has an in-memory API returning token arrays (and its exact
statistics) and a ``generate_*`` function writing a TokenCorpus whose
``meta.json`` records the generator, its parameters and seed, with the ground
truth in ``DIR/truth.json``.
"""

from . import markov
from .markov import MarkovChain, PowerLawSource, generate_markov, generate_powerlaw, random_chain

__all__ = [
    "MarkovChain",
    "PowerLawSource",
    "generate_markov",
    "generate_powerlaw",
    "markov",
    "random_chain",
]
