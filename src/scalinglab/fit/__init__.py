"""scalinglab.fit: scaling-law forms and robust fitting with honest uncertainties.

>>> import scalinglab as sl
>>> r = sl.fit.fit([1e3, 1e4, 1e5, 1e6], [4.0, 3.1, 2.6, 2.35], form="power_law_offset",
...                n_boot=0, progress=False)                      # doctest: +SKIP
>>> r.params                                                      # doctest: +SKIP

Forms: :data:`FORMS` (``power_law``, ``power_law_offset``, ``chinchilla``,
``kaplan``, ``dynamical``, ``bnsl``, ``bnsl2``, ``bnsl3``) or any callable via
:meth:`Form.from_callable`. The command line is ``scalinglab fit``.

:func:`fit_power_law` (``fit.powerlaw``) is the one log-log power-law fitter
(weighted, with or without an offset, with a bootstrap) behind the exponents
beta, gamma and alpha_D (``fit.alpha`` gives alpha_D of a loss curve).
"""

from .core import FitPrediction, FitResult, fit
from .data import FitData, prepare, read_table
from .forms import FORMS, Form, Param, get_form
from .optim import Loss, lbfgs_batched, minimize_many
from .powerlaw import PowerLaw, fit_power_law

__all__ = [
    "FORMS",
    "FitData",
    "FitPrediction",
    "FitResult",
    "Form",
    "Loss",
    "Param",
    "PowerLaw",
    "fit",
    "fit_power_law",
    "get_form",
    "lbfgs_batched",
    "minimize_many",
    "prepare",
    "read_table",
]
