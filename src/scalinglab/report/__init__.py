"""scalinglab.report"""

from .html import html as html  # sl.report.html(dirs, out): the one-page HTML report
