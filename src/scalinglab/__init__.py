"""scalinglab: the science of neural scaling laws.

Measure a corpus (token correlations, conditional entropies), predict its
data-limited scaling law (alpha_D = gamma / (2 beta)), verify by training small
models, fit scaling-law forms and generate synthetic corpora with known
structure.

>>> import scalinglab as sl
>>> corpus = sl.corpus.load("out/shakespeare")        # doctest: +SKIP
>>> pred = sl.theory.predict(corpus)                  # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

from .errors import UserError

__version__ = "0.1.0"

_SUBPACKAGES = (
    "corpus", "stats", "theory", "train", "fit", "synth", "report", "validation", "cluster",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    # Subpackages load lazily so that `import scalinglab` stays fast and torch is
    # imported only by code that trains.
    if name == "validate":  # the function, from its subpackage
        from .validation import validate

        globals()["validate"] = validate
        return validate
    if name in _SUBPACKAGES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBPACKAGES, "validate"])


__all__ = ["UserError", "__version__", "validate", *_SUBPACKAGES]
