"""`write_report`: stored runs to ``DIR/index.html`` plus one PNG per view beside it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bgnn_deploy.errors import ConfigError
from bgnn_deploy.report.collect import Pair, Run, collect_runs, pairs
from bgnn_deploy.report.html import Section, render_html
from bgnn_deploy.report.plots import render_png, render_views
from bgnn_deploy.results import ResultsStore

__all__ = ["ReportResult", "write_report"]


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


def _write(path: Path, data: bytes) -> None:
    """Write by renaming a finished temporary file: no reader ever sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_report(
    store: ResultsStore,
    run_ids: Sequence[str] = (),
    out_dir: str | os.PathLike = "report",
    *,
    last: int | None = None,
) -> ReportResult:
    """Render the runs ``run_ids`` (default: all, or the latest ``last``) into ``out_dir``.

    The PNGs are written first and ``index.html`` last, so a page that exists has its
    figures. PNGs of views that have no data this time are removed, so the folder never
    holds a figure its page does not show. Raises :class:`ConfigError` for an unknown
    run id, an empty store, or a folder that cannot be written.
    """
    runs = collect_runs(store, run_ids, last=last)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{out} exists and is not a folder") from None
    except OSError as e:
        raise ConfigError(f"cannot create {out}: {e.strerror}") from None

    sections, images, skipped = [], [], {}
    try:
        for view in render_views(runs):
            filename = f"{view.name}.png"
            if view.figure is None:
                skipped[view.name] = view.caption
                (out / filename).unlink(missing_ok=True)
                sections.append(Section(view.name, view.title, view.caption, None, None))
                continue
            png = render_png(view.figure)
            _write(out / filename, png)
            images.append(out / filename)
            sections.append(Section(view.name, view.title, view.caption, filename, png))
        page = render_html(runs, sections, source=store.path)
        _write(out / "index.html", page.encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write the report to {out}: {e.strerror or e}") from None
    return ReportResult(
        out_dir=out,
        index=out / "index.html",
        images=tuple(images),
        skipped=skipped,
        runs=tuple(runs),
        rows=tuple(pairs(runs)),
    )
