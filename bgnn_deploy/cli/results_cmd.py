"""`bgnn-deploy results list|show|compare|export`: the runs kept by `run`."""

from __future__ import annotations

import csv
import dataclasses
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
    rich_markup_mode=None,  # click's plain help: wraps at the terminal, no type names
    help="Stored runs (every `run` is kept; --db or $BGNN_DEPLOY_DB picks the file).",
    no_args_is_help=True,
)
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="FILE",
        show_default="$BGNN_DEPLOY_DB, else ~/.local/share/bgnn-deploy/results.sqlite",
        help="Results database.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def open_store(db: Path | None) -> ResultsStore:
    """The store at ``--db`` (else $BGNN_DEPLOY_DB, else the user's data dir), or a clean
    exit when it cannot be opened; shared by every command that reads stored runs."""
    from bgnn_deploy.results import ResultsStore

    with user_errors():
        return ResultsStore(db)


@app.command("list", short_help="One line per run, oldest first.")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """One line per run: id (its last 6 characters do for show/compare), time, target,
    model, threads, binary and float median latency, speedup (! where unstable)."""
    store = open_store(db)
    with user_errors():
        runs, measured = store.list_runs(), store.measurements()
    if as_json:
        typer.echo(json.dumps(runs))
        return
    by_run: dict[str, dict] = {}
    for m in measured:  # the first thread count of each run speaks for it
        row = by_run.setdefault(m["run_id"], {"threads": m["threads"]})
        if m["threads"] == row["threads"]:
            row[m["role"]] = m
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    for col in ("id", "when (UTC)", "target", "model", "thr", "binary ms", "float ms", "speedup"):
        table.add_column(
            col,
            justify="right" if col.endswith(("ms", "speedup", "thr")) else "left",
            overflow="fold",  # a long name wraps rather than losing its end
        )
    for r in runs:
        row = by_run.get(r["run_id"], {})
        primary = row.get("binary") or row.get("model")
        baseline = row.get("float")
        model = Path((primary or baseline or r)["model"])
        table.add_row(
            r["run_id"][-6:],
            r["created"][5:16].replace("T", " "),
            f"{r['target']}*" if r["emulated"] else r["target"],
            _model_label(model),
            str(row.get("threads", "-")),
            f"{primary['latency_ms_median']:.2f}" if primary else "-",
            f"{baseline['latency_ms_median']:.2f}" if baseline else "-",
            (f"{r['speedup']:.2f}x" + ("!" if r["speedup_stable"] is False else ""))
            if r["speedup"]
            else "-",
        )
    console = Console()
    console.print(table)
    if any(r["emulated"] for r in runs):
        console.print("[dim]* emulated: timings are not board figures[/]")
    if any(r["speedup_stable"] is False for r in runs):
        console.print("[dim]! unstable: re-run on a quiet board (`results show ID` says why)[/]")


def _model_label(model: Path) -> str:
    """What tells stored models apart: convert's fixed names by their folder."""
    if model.name in ("binary.tflite", "float.tflite") and model.parent.name:
        return model.parent.name
    return model.name


@app.command(short_help="One run as `run` printed it, with its facts.")
def show(
    run_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="Run id from `results list` (or its last characters)."),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything stored about one run: the run as `run` printed it, the target's facts and
    when it ran (--json: the stored record, for scripts)."""
    from bgnn_deploy.cli.run_view import report_view

    store = open_store(db)
    with user_errors():
        run = store.get_run(run_id)
    if as_json:
        typer.echo(json.dumps(run.to_dict()))
        return
    console = Console()
    created = run.created.strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"run {run.run_id}, {created}", style="bold")
    report = run.report
    if not report.parameters and run.flags:  # stored before runs kept their parameters
        report = dataclasses.replace(report, parameters=dict(run.flags))
    console.print(report_view(report))
    facts = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    facts.add_column(style="dim")
    facts.add_column(overflow="fold")
    for key, value in report.facts.items():
        facts.add_row(key, "-" if value is None else str(value))
    console.print("\ntarget facts")
    console.print(facts)


@app.command(short_help="Run B against run A: medians, memory, runtimes.")
def compare(
    a: Annotated[str, typer.Argument(metavar="A", help="Run id of the reference run.")],
    b: Annotated[str, typer.Argument(metavar="B", help="Run id of the run compared with A.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Median latency and peak memory (MiB) of run B relative to run A (ids, or their ends)."""
    store = open_store(db)
    with user_errors():
        rows = store.compare(a, b)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{b} relative to {a}", box=None, pad_edge=False, padding=(0, 1, 0, 0))
    for col in ("model", "thr", "A ms", "B ms", "B/A", "A MiB", "B MiB", "same model"):
        table.add_column(col, justify="left" if col in ("model", "same model") else "right")

    def mib(kb):
        return f"{kb / 1024:.1f}" if kb else "-"

    for r in rows:
        table.add_row(
            r["role"],
            str(r["threads"]),
            f"{r['a_ms']:.2f}",
            f"{r['b_ms']:.2f}",
            f"{r['b_over_a']:.2f}x" if r["b_over_a"] else "-",
            mib(r["a_peak_rss_kb"]),
            mib(r["b_peak_rss_kb"]),
            "yes" if r["same_model"] else "no",
        )
    console = Console()
    console.print(table)
    runtimes = sorted({r[k] for r in rows for k in ("a_runtime", "b_runtime")})
    if len(runtimes) > 1:
        console.print(
            f"[yellow]warning:[/] A and B ran on different runtimes ({', '.join(runtimes)}): "
            "their ratio mixes runtime and board"
        )


@app.command()
def export(
    db: DbOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Write CSV instead of JSON.")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", metavar="FILE", show_default="standard output", help="File to write."
        ),
    ] = None,
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
