"""`write_report`: stored runs to ``DIR/index.html`` plus one PNG per view beside it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bgnn_deploy.outputs import check_output_dir, output_errors, publish_dir, staging_dir
from bgnn_deploy.report.collect import Pair, Run, collect_runs, pairs
from bgnn_deploy.report.html import Section, render_html
from bgnn_deploy.report.plots import NARROW_WIDTH_IN, render_png, render_views
from bgnn_deploy.results import ResultsStore

__all__ = ["MARKER", "ReportResult", "write_report"]


@dataclass(frozen=True)
class ReportResult:
    """What `write_report` wrote, and what it had to leave out and why."""

    out_dir: Path
    index: Path
    images: tuple[Path, ...]
    skipped: dict[str, str]  # view name -> why it has no figure
    runs: tuple[Run, ...]
    rows: tuple[Pair, ...]  # binary vs float per run and thread count: the summary table

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.index, *self.images)


MARKER = ".bgnn-deploy-report"  # beside index.html: this folder is a report's


def write_report(
    store: ResultsStore,
    run_ids: Sequence[str] = (),
    out_dir: str | os.PathLike = "report",
    *,
    last: int | None = None,
    overwrite: bool = False,
) -> ReportResult:
    """Render the runs ``run_ids`` (default: all, or the latest ``last``) into ``out_dir``.

    Each view is drawn twice: the wide figure is the PNG beside the page, and a narrow one
    for phones is embedded in the page only. The page and its PNGs are drawn in a temporary
    folder beside ``out_dir`` and moved into place, ``index.html`` last, so a page that
    exists has its figures. ``out_dir`` may be new, empty, or a folder an earlier report
    wrote (it holds the marker file ``.bgnn-deploy-report``); any other folder needs
    ``overwrite=True``. Either way only the report's own files there are replaced
    (``index.html``, one PNG per view, the marker), and PNGs of views that have no data this
    time are removed, so the folder never holds a figure its page does not show; every other
    file is left alone. Raises :class:`~bgnn_deploy.errors.ConfigError` for an unknown run
    id or an empty store, and :class:`~bgnn_deploy.errors.OutputError` for a folder that is
    taken or cannot be written.
    """
    runs = collect_runs(store, run_ids, last=last)
    out = Path(out_dir)
    rules = {"overwrite": overwrite, "inputs": [store.path], "marker": MARKER}
    check_output_dir(out, ["index.html"], owned="index.html and the view PNGs", **rules)
    views = render_views(runs)
    narrow = render_views(runs, width=NARROW_WIDTH_IN)  # the same views for phones
    work = staging_dir(out)
    sections, images, skipped = [], [], {}
    try:
        with output_errors(out):
            for view, small in zip(views, narrow, strict=True):
                filename = f"{view.name}.png"
                if view.figure is None:
                    skipped[view.name] = view.caption
                    sections.append(Section(view.name, view.title, view.caption, None, None))
                    continue
                png = render_png(view.figure)
                (work / filename).write_bytes(png)
                images.append(out / filename)
                narrow_png = render_png(small.figure) if small.figure is not None else None
                sections.append(
                    Section(view.name, view.title, view.caption, filename, png, narrow_png)
                )
            page = render_html(runs, sections, source=store.path)
            (work / "index.html").write_bytes(page.encode("utf-8"))
        names = [*(f"{view.name}.png" for view in views), "index.html"]
        publish_dir(work, out, names, **rules)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ReportResult(
        out_dir=out,
        index=out / "index.html",
        images=tuple(images),
        skipped=skipped,
        runs=tuple(runs),
        rows=tuple(pairs(runs)),
    )
