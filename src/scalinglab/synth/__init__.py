"""Synthetic corpora with known structure.

Every generator has an in-memory API returning token arrays (and its exact
statistics) and a ``generate_*`` function writing a TokenCorpus whose
``meta.json`` records the generator, its parameters and seed, with the ground
truth in ``DIR/truth.json``; :func:`summarize` reads its headline numbers back.
"""

from . import facts, groups, ladder, markov, pcfg, powerlaw, prng, rhm, summary, walks
from .facts import FactsSource, generate_facts
from .groups import Group, generate_group, group
from .ladder import KGramModel, generate_ladder
from .markov import MarkovChain, generate_markov, random_chain
from .pcfg import VaryingTreePCFG, generate_pcfg
from .powerlaw import PowerLawSource, generate_powerlaw
from .prng import generate_lcg, generate_pcg, lcg, pcg
from .rhm import RandomHierarchyModel, generate_rhm
from .summary import SynthSummary, highlights, read_truth, summarize
from .walks import GraphWalk, generate_walk, random_graph

__all__ = [
    "FactsSource",
    "Group",
    "GraphWalk",
    "KGramModel",
    "MarkovChain",
    "PowerLawSource",
    "RandomHierarchyModel",
    "SynthSummary",
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
    "highlights",
    "facts",
    "groups",
    "ladder",
    "lcg",
    "markov",
    "pcfg",
    "pcg",
    "powerlaw",
    "prng",
    "random_chain",
    "random_graph",
    "read_truth",
    "rhm",
    "summarize",
    "summary",
    "walks",
]
