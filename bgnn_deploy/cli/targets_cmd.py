"""`bgnn-deploy targets list|show`: the board profiles."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import user_errors
from bgnn_deploy.cli.options import ConfigOption

app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: wraps at the terminal, no type names
    help="Board profiles: built-in and your own ([targets.NAME] in the config file).",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """List the target profiles."""
    from bgnn_deploy.targets.profiles import list_targets

    with user_errors():
        targets = list_targets(config)
    if as_json:
        typer.echo(json.dumps([_row(t) for t in targets.values()]))
        return
    table = Table()
    for col in ("name", "arch", "transport", "runtime", "energy"):
        table.add_column(col)
    for t in targets.values():
        name = f"{t.name} (emulated)" if t.emulated else t.name
        table.add_row(name, t.arch, t.transport, t.runtime, t.energy)
    Console().print(table)


@app.command()
def show(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Target profile (see `targets list`).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show one target profile."""
    from bgnn_deploy.targets.profiles import get_target

    with user_errors():
        target = get_target(name, config=config)
    if as_json:
        typer.echo(json.dumps(_row(target)))
        return
    for key, value in _row(target).items():
        if value not in (None, "", [], {}):
            Console().print(f"[bold]{key}[/]: {value}")


@app.command(short_help="Whether the runner will run on NAME, and the board's facts.")
def check(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Target profile (see `targets list`).")
    ],
    accept_new_host_key: Annotated[
        bool, typer.Option(help="Trust and record an unknown SSH host key (never a changed one).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Connect to NAME and report arch, glibc, cores, governor, free disk, and whether
    the runner will run there (and why not)."""
    from bgnn_deploy.targets.check import check_target
    from bgnn_deploy.targets.profiles import get_target

    with user_errors():
        target = get_target(name, config=config)
        result = check_target(target, accept_new_host_key=accept_new_host_key)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        console = Console()
        for key in ("arch", "kernel", "glibc", "cores", "governor", "free_disk_mb"):
            console.print(f"[bold]{key}[/]: {getattr(result, key)}")
        if result.runner_ok:
            console.print("[bold green]the runner will run here[/]")
        for problem in result.problems:
            console.print(f"[bold red]problem:[/] {problem}")
    if not result.runner_ok:
        raise typer.Exit(code=3)


def _row(target) -> dict:
    data = dataclasses.asdict(target)
    data["launcher"] = list(target.launcher)
    return data
