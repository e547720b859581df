"""scalinglab.report: cross-package reports (collapse of a sweep against a prediction, HTML).

>>> import scalinglab as sl
>>> res = sl.report.collapse_sweep("out/sweep", "out/predict/prediction.json")  # doctest: +SKIP
>>> res.save("out/collapse")                      # collapse.json, collapse.png  # doctest: +SKIP
"""

from .collapse import SweepCollapse as SweepCollapse
from .collapse import collapse_sweep as collapse_sweep
from .html import html as html  # sl.report.html(dirs, out): the one-page HTML report

#: Where ``scalinglab.cli`` puts :func:`html` for the verbs that write report.html.
REPORT_KEY = "scalinglab.report.html"
