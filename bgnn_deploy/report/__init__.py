"""The report: stored runs as PNG figures and one self-contained HTML page.

From Python (the `report` command does exactly this)::

    from bgnn_deploy.report import write_report
    from bgnn_deploy.results import ResultsStore

    result = write_report(ResultsStore(), [], "report", last=5)
    print(result.index, *result.images)

:mod:`.collect` turns stored runs into records, :mod:`.plots` draws one figure per
view, :mod:`.html` writes the page, :mod:`.write` puts them in a folder.
"""

from bgnn_deploy.report.collect import Measurement, Pair, Run, collect_runs
from bgnn_deploy.report.write import ReportResult, write_report

__all__ = ["Measurement", "Pair", "ReportResult", "Run", "collect_runs", "write_report"]
