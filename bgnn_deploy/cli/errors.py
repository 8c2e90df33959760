"""How the CLI reports our errors: one ``error:`` line (and a ``hint:``) on stderr, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from bgnn_deploy.errors import BgnnDeployError

err_console = Console(stderr=True, highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`BgnnDeployError` raised inside into a clean exit; anything else is a bug."""
    try:
        yield
    except BgnnDeployError as e:
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        if e.hint:
            err_console.print(f"[dim]hint:[/] {escape(e.hint)}", soft_wrap=True)
        raise typer.Exit(code=e.exit_code) from None
