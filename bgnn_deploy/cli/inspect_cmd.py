"""`bgnn-deploy inspect`: what is inside any .tflite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import user_errors


def inspect(
    model: Annotated[
        Path, typer.Argument(metavar="MODEL", help="A .tflite flatbuffer (any, not only ours).")
    ],
    tensors: Annotated[bool, typer.Option(help="Also list every tensor.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ops by type, custom ops with their options, tensors, size and estimated MACs."""
    from bgnn_deploy.converters.tflite_model import summarize_file

    with user_errors():
        summary = summarize_file(model, with_tensors=tensors or as_json)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), default=str))
        return
    console = Console()
    total = summary.macs["binary"] + summary.macs["float"]
    share = summary.macs["binary"] / total if total else 0.0
    console.print(
        f"[bold]{model}[/]: {summary.size_bytes:,} bytes, {sum(summary.ops.values())} ops, "
        f"~{total:,} MACs ({share:.1%} binary)"
    )
    for kind in ("inputs", "outputs"):
        items = ", ".join(f"{t['name']} {t['type']}{t['shape']}" for t in getattr(summary, kind))
        console.print(f"{kind}: {items}")
    table = Table(title="ops")
    table.add_column("op")
    table.add_column("count", justify="right")
    for name, count in summary.ops.items():
        table.add_row(name, str(count))
    console.print(table)
    options = [c for c in summary.custom_ops if c["options"]]
    if options:
        custom = Table(title="custom op options")
        custom.add_column("op")
        custom.add_column("#", justify="right")
        custom.add_column("options")
        for c in options:
            custom.add_row(c["op"], str(c["index"]), _options_text(c["options"]))
        console.print(custom)
    if tensors:
        table = Table(title="tensors")
        for col in ("#", "name", "type", "shape"):
            table.add_column(col)
        for t in summary.tensors:
            table.add_row(str(t["index"]), t["name"], t["type"], str(t["shape"]))
        console.print(table)


def _options_text(options: object) -> str:
    """``channels_in=16, padding=VALID, ...``: decoded options as a person reads them."""
    if not isinstance(options, dict):
        return json.dumps(options, default=str)
    return ", ".join(f"{key}={value}" for key, value in options.items())
