"""How the CLI reports our errors: one ``error:`` line (and a ``hint:``) on stderr, exit 2."""

from __future__ import annotations

import signal
import threading
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


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Inside, SIGTERM (``kill``, a CI job's timeout) stops the command as Ctrl-C does:
    the board is cleaned up, what was measured is printed, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
