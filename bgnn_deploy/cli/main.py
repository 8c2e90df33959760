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
