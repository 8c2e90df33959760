"""`bgnn-deploy results list|show|compare|export`: the runs kept by `run`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import user_errors
from bgnn_deploy.cli.options import OverwriteFileOption

if TYPE_CHECKING:
    from bgnn_deploy.results import ResultsStore

app = typer.Typer(
    help="Stored runs (every `run` is kept; --db or $BGNN_DEPLOY_DB picks the file).",
    no_args_is_help=True,
)
DbOption = Annotated[Path | None, typer.Option("--db", help="Results database.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def open_store(db: Path | None) -> ResultsStore:
    """The store at ``--db`` (else $BGNN_DEPLOY_DB, else the user's data dir), or a clean
    exit when it cannot be opened; shared by every command that reads stored runs."""
    from bgnn_deploy.results import ResultsStore

    with user_errors():
        return ResultsStore(db)


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """One line per run: id, target, model, time, median latency."""
    runs = open_store(db).list_runs()
    if as_json:
        typer.echo(json.dumps(runs))
        return
    table = Table()
    for col in ("run_id", "target", "model", "created", "median ms", "speedup"):
        table.add_column(col, no_wrap=col in ("run_id", "created"))
    for r in runs:
        target = f"{r['target']} (emulated)" if r["emulated"] else r["target"]
        speedup = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
        table.add_row(
            r["run_id"],
            target,
            Path(r["model"]).name,
            r["created"],
            f"{r['latency_ms_median']:.2f}",
            speedup,
        )
    Console().print(table)


@app.command()
def show(run_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Everything stored about one run."""
    store = open_store(db)
    with user_errors():
        run = store.get_run(run_id)
    if as_json:
        typer.echo(json.dumps(run.to_dict()))
        return
    console = Console()
    report = run.report
    label = " (EMULATED)" if report.emulated else ""
    created = run.created.isoformat(timespec="seconds")
    console.print(f"[bold]{run.run_id}[/] on {report.target}{label}, {created}")
    console.print(f"facts: {json.dumps(report.facts)}")
    console.print(f"flags: {json.dumps(dict(run.flags))}")
    for m in report.results:
        rss = m.result.peak_rss_kb
        console.print(
            f"  {m.role:<7} {m.threads} thr  median {m.latency.median:.2f} ms  "
            f"p90 {m.latency.p90:.2f} ms  peak RSS "
            f"{f'{rss / 1024:.1f} MiB' if rss is not None else 'unknown'}  {m.model}"
        )
    if report.single_thread_speedup:
        console.print(f"speedup binary vs float: {report.single_thread_speedup:.2f}x")


@app.command()
def compare(a: str, b: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Median latency and peak memory of run B relative to run A."""
    store = open_store(db)
    with user_errors():
        rows = store.compare(a, b)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{b} relative to {a}")
    for col in ("model", "threads", "A ms", "B ms", "B/A", "same model"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["role"],
            str(r["threads"]),
            f"{r['a_ms']:.2f}",
            f"{r['b_ms']:.2f}",
            f"{r['b_over_a']:.3f}" if r["b_over_a"] else "-",
            "yes" if r["same_model"] else "no",
        )
    Console().print(table)


@app.command()
def export(
    db: DbOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV (default: JSON).")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File [stdout].")] = None,
    overwrite: OverwriteFileOption = False,
) -> None:
    """Every measurement of every run, as CSV or JSON."""
    from bgnn_deploy.outputs import write_file

    store = open_store(db)
    rows = store.measurements()
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["run_id"])
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        text = json.dumps(rows, indent=2) + "\n"
    if output is not None:
        with user_errors():
            write_file(output, text.encode(), overwrite=overwrite, inputs=[store.path])
    else:
        typer.echo(text, nl=False)
