"""`bgnn-deploy report [IDS...] -o DIR`: stored runs as PNG figures and one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bgnn_deploy.cli.errors import user_errors
from bgnn_deploy.cli.options import OverwriteDirOption
from bgnn_deploy.cli.progress import StageReporter
from bgnn_deploy.cli.results_cmd import DbOption, open_store

if TYPE_CHECKING:
    from bgnn_deploy.report import ReportResult


def report(
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", metavar="DIR", help="Folder for index.html and the PNGs beside it."
        ),
    ],
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ID...",
            show_default="every stored run",
            help="Run ids from `results list` (or their last characters).",
        ),
    ] = None,
    last: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", show_default="every run", help="Only the latest N runs."),
    ] = None,
    db: DbOption = None,
    overwrite: OverwriteDirOption = False,
) -> None:
    """Latency, speedup, memory, energy, size, per-op profile and trend of stored runs.

    OUT may be new, empty, or an earlier report's folder; other folders need --overwrite."""
    from bgnn_deploy.errors import ConfigError
    from bgnn_deploy.progress import Stages
    from bgnn_deploy.results import default_db_path

    path = db if db is not None else default_db_path()
    with user_errors():
        if not path.is_file():  # reading must not leave an empty database behind
            raise ConfigError(
                f"no results database at {path}",
                hint="`bgnn-deploy run` stores every run; --db or $BGNN_DEPLOY_DB picks a file",
            )
    with user_errors(), StageReporter() as show:
        stages = Stages(show)
        with stages.stage("reading the stored runs"):
            from bgnn_deploy.report import write_report  # matplotlib: seconds to import

            store = open_store(path)
        with stages.stage("drawing the report"):
            result = write_report(store, ids or (), out, last=last, overwrite=overwrite)
    _render(result)


def _render(result: ReportResult) -> None:
    """A compact table (memory, energy and the rest are on the page), what was skipped
    and why, and the files written."""
    console = Console()
    table = Table(
        title="median latency per inference",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("run / model", min_width=22, overflow="fold")
    table.add_column("target", min_width=12)
    for col in ("thr", "binary\nms", "float\nms", "speedup"):
        table.add_column(col, justify="right")
    for row in result.rows:
        table.add_row(
            f"{row.run.run_id}\n[dim]{escape(row.model_label)}[/]",
            escape(row.run.target) + ("\n(emulated)" if row.run.emulated else ""),
            str(row.threads),
            *(f"{m.latency_ms['median']:.2f}" if m else "-" for m in (row.binary, row.baseline)),
            f"{row.speedup:.2f}x" if row.speedup is not None else "-",
            style="yellow" if row.run.emulated else None,
        )
    console.print(table)
    if any(r.emulated for r in result.runs):
        console.print("[yellow](emulated): measured under an emulator, not board figures[/]")
    for name, why in result.skipped.items():
        console.print(f"[dim]{name}: {escape(why)}[/]", soft_wrap=True)
    for path in result.files:
        console.print(f"wrote {escape(str(path))}", soft_wrap=True, highlight=False)
