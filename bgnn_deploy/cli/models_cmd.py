"""`bgnn-deploy models`: the architectures and their sizes."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """List the architectures with parameter counts at the paper's default sizes."""
    from bgnn_deploy.models import describe_architectures  # PyTorch: only when needed

    rows = describe_architectures()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        title="Architectures at the paper's sizes (DGCNN: 1024 points, k=20, 40 classes; "
        "SAGE: ogbn-products, 100 features, 3 layers of 256, 47 classes)"
    )
    table.add_column("architecture", no_wrap=True)
    for col in ("params", "binary", "deployed"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("description")
    for row in rows:
        table.add_row(
            row["arch"],
            f"{row['parameters']:,}",
            f"{row['binary_parameters']:,}",
            f"{row['deployed_weight_bytes'] / 1024:,.0f} KiB",
            row["description"],
        )
    Console().print(table)
