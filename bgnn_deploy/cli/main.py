"""The `bgnn-deploy` command: one Typer app, one module per command."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from bgnn_deploy import __version__
from bgnn_deploy.cli import results_cmd, targets_cmd
from bgnn_deploy.cli.build_cmd import build, verify
from bgnn_deploy.cli.convert_cmd import convert
from bgnn_deploy.cli.errors import err_console
from bgnn_deploy.cli.evaluate_cmd import evaluate
from bgnn_deploy.cli.help import use_plain_help
from bgnn_deploy.cli.inspect_cmd import inspect
from bgnn_deploy.cli.models_cmd import models
from bgnn_deploy.cli.report_cmd import report
from bgnn_deploy.cli.run_cmd import run
from bgnn_deploy.cli.train_cmd import train


class _OneLineErrors(TyperGroup):
    """Usage mistakes (an unknown option, a value of the wrong type or out of range) as
    one ``error:`` line and a ``hint:`` naming the command's help, exit 2, like every
    other mistake; click's own framed message would be several lines."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as e:  # click's usage errors (typer vendors click)
            message = e.format_message() if hasattr(e, "format_message") else str(e)
            if not message.strip():  # no arguments: the help was printed, nothing to add
                sys.exit(getattr(e, "exit_code", 2))
            err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
            ctx = getattr(e, "ctx", None)
            if ctx is not None:
                err_console.print(f"[dim]hint:[/] see '{ctx.command_path} --help'", soft_wrap=True)
            sys.exit(getattr(e, "exit_code", 2))
        except typer.Abort:
            err_console.print("[bold red]error:[/] aborted")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: wraps at the terminal, no type names
    cls=_OneLineErrors,
    name="bgnn-deploy",
    help="Binary graph neural networks from a trained checkpoint to measured numbers on a board.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
# short_help: the one line of each command in `bgnn-deploy --help` (80 columns, uncut)
app.command(short_help="The architectures and their sizes.")(models)
app.command(short_help="Train ARCH and save a checkpoint.")(train)
app.command(short_help="Accuracy and confusion of MODEL on a data set.")(evaluate)
app.command(short_help="MODEL to LCE and float .tflite files, with parity checks.")(convert)
app.command(short_help="What is inside any .tflite: ops, options, tensors, MACs.")(inspect)
app.command(short_help="Compile the runner for a target and fetch its runtime.")(build)
app.command(short_help="Compare the runner's outputs on a target with the host.")(verify)
app.command(short_help="Latency, memory and speedup of MODEL on a target.")(run)
app.add_typer(targets_cmd.app, name="targets", short_help="Board profiles: list, show, check.")
app.add_typer(
    results_cmd.app, name="results", short_help="Stored runs: list, show, compare, export."
)
app.command(short_help="Stored runs as PNG figures and one HTML page.")(report)
use_plain_help(app)  # metavars, never type names, in every --help


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
