"""Synthetic corpora with known structure.

Every generator has an in-memory API returning token arrays (and its exact
statistics) and a ``generate_*`` function writing a TokenCorpus whose
``meta.json`` records the generator, its parameters and seed, with the ground
truth in ``DIR/truth.json``.
"""

from . import groups, markov, prng, rhm
from .groups import Group, generate_group, group
from .markov import MarkovChain, PowerLawSource, generate_markov, generate_powerlaw, random_chain
from .prng import generate_lcg, generate_pcg, lcg, pcg
from .rhm import RandomHierarchyModel, generate_rhm

__all__ = [
    "Group",
    "MarkovChain",
    "PowerLawSource",
    "RandomHierarchyModel",
    "generate_group",
    "generate_lcg",
    "generate_markov",
    "generate_pcg",
    "generate_rhm",
    "generate_powerlaw",
    "group",
    "groups",
    "lcg",
    "markov",
    "pcg",
    "prng",
    "rhm",
    "random_chain",
]
