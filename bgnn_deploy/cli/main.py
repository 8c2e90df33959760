"""The `bgnn-deploy` command: one Typer app, one module per command."""

from __future__ import annotations

from typing import Annotated

import typer

from bgnn_deploy import __version__
from bgnn_deploy.cli import results_cmd, targets_cmd
from bgnn_deploy.cli.build_cmd import build, verify
from bgnn_deploy.cli.convert_cmd import convert
from bgnn_deploy.cli.evaluate_cmd import evaluate
from bgnn_deploy.cli.inspect_cmd import inspect
from bgnn_deploy.cli.models_cmd import models
from bgnn_deploy.cli.report_cmd import report
from bgnn_deploy.cli.run_cmd import run
from bgnn_deploy.cli.train_cmd import train

app = typer.Typer(
    name="bgnn-deploy",
    help="Binary graph neural networks from a trained checkpoint to measured numbers on a board.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command()(models)
app.command()(train)
app.command()(evaluate)
app.command()(convert)
app.command()(inspect)
app.command()(build)
app.command()(verify)
app.command()(run)
app.add_typer(targets_cmd.app, name="targets")
app.add_typer(results_cmd.app, name="results")
app.command()(report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bgnn-deploy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Binary graph neural networks from a trained checkpoint to measured numbers on a board."""


def main() -> None:
    app()
