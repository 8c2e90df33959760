"""`bgnn-deploy run`: latency and memory of a model (and its float baseline) on a target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import err_console, user_errors
from bgnn_deploy.cli.options import parse_int_list


def run(
    model: Annotated[
        Path, typer.Argument(help="A .tflite (a converted binary.tflite finds its float.tflite).")
    ],
    target: Annotated[str, typer.Option(help="Target profile (see `bgnn-deploy targets list`).")],
    baseline: Annotated[Path | None, typer.Option(help="Float baseline .tflite.")] = None,
    num_runs: Annotated[int, typer.Option(help="Timed runs.")] = 50,
    warmup_runs: Annotated[int, typer.Option(help="Untimed runs first.")] = 1,
    threads: Annotated[str, typer.Option(help="Thread counts, e.g. 1,4.")] = "1",
    profile_ops: Annotated[bool, typer.Option(help="Time our ops vs LiteRT's builtins.")] = False,
    accept_new_host_key: Annotated[
        bool, typer.Option(help="Trust and record an unknown SSH host key (never a changed one).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run MODEL on TARGET and report latency, memory and the speedup over the float baseline."""
    from bgnn_deploy.targets.run import run_models

    with user_errors(), err_console.status("starting") as status:
        report = run_models(
            model,
            target,
            baseline=baseline,
            threads=parse_int_list(threads, "--threads"),
            num_runs=num_runs,
            warmup_runs=warmup_runs,
            profile_ops=profile_ops,
            accept_new_host_key=accept_new_host_key,
            progress=lambda msg: status.update(msg),
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    label = " [bold yellow](EMULATED: timings are not board figures)[/]" if report.emulated else ""
    table = Table(title=f"{report.target}{label}")
    for col in ("model", "threads", "median ms", "p90 ms", "min ms", "init ms", "peak RSS MiB"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in report.results:
        lat = r["latency_ms"]
        table.add_row(
            r["role"],
            str(r["threads"]),
            f"{lat['median']:.2f}",
            f"{lat['p90']:.2f}",
            f"{lat['min']:.2f}",
            f"{r['init_ms']:.1f}",
            f"{r['peak_rss_kb'] / 1024:.1f}",
        )
    console = Console()
    console.print(table)
    for role, path in {r["role"]: r["model"] for r in report.results}.items():
        console.print(f"[dim]{role}: {path}[/]")
    for n, speedup in report.speedup.items():
        kind = "emulated " if report.emulated else ""
        console.print(f"{kind}speedup binary vs float, {n} thread(s): [bold]{speedup:.2f}x[/]")
    if profile_ops:
        for r in report.results:
            ops = ", ".join(f"{k} {v['ms_per_run']:.2f} ms" for k, v in r.get("ops", {}).items())
            console.print(f"{Path(r['model']).name}: {ops}")
