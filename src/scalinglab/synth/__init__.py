"""Synthetic corpora with known structure.

Every generator has an in-memory API returning token arrays (and its exact
statistics) and a ``generate_*`` function writing a TokenCorpus whose
``meta.json`` records the generator, its parameters and seed, with the ground
truth in ``DIR/truth.json``.
"""

from . import facts, groups, ladder, markov, pcfg, prng, rhm, walks
from .facts import FactsSource, generate_facts
from .groups import Group, generate_group, group
from .ladder import KGramModel, generate_ladder
from .markov import MarkovChain, PowerLawSource, generate_markov, generate_powerlaw, random_chain
from .pcfg import VaryingTreePCFG, generate_pcfg
from .prng import generate_lcg, generate_pcg, lcg, pcg
from .rhm import RandomHierarchyModel, generate_rhm
from .walks import GraphWalk, generate_walk, random_graph

__all__ = [
    "FactsSource",
    "Group",
    "GraphWalk",
    "KGramModel",
    "MarkovChain",
    "PowerLawSource",
    "RandomHierarchyModel",
    "VaryingTreePCFG",
    "generate_facts",
    "generate_group",
    "generate_ladder",
    "generate_lcg",
    "generate_markov",
    "generate_pcfg",
    "generate_pcg",
    "generate_powerlaw",
    "generate_rhm",
    "generate_walk",
    "group",
    "facts",
    "groups",
    "ladder",
    "lcg",
    "markov",
    "pcfg",
    "pcg",
    "prng",
    "random_chain",
    "random_graph",
    "rhm",
    "walks",
]
