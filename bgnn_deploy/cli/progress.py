"""Progress of a long command on stderr: each stage as it starts, its time when it ends.

On a terminal the current stage is one live line (spinner, label, a bar when the stage
counts steps, elapsed time) and each finished stage is printed above it as
``✓ LCE conversion  4.1 s``. On anything else (a pipe, a CI log) the same news comes as
plain lines, no escape codes: ``LCE conversion ...`` when a stage starts, the ``✓`` line
when it ends. Standard output is never written, so ``--json`` stays clean.

TensorFlow's native chatter is kept off the terminal by pointing file descriptor 2
elsewhere while it runs (:mod:`bgnn_deploy.converters.quiet`); the reporter writes to its
own copy of the descriptor, taken when it starts, so its lines still reach the user.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from bgnn_deploy.progress import StageEvent

__all__ = ["StageReporter", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``4.1 s``, ``2 m 05 s``: the duration a person reads.

    >>> format_seconds(4.12), format_seconds(125.4)
    ('4.1 s', '2 m 05 s')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} m {rest:02d} s"


class _OnlyCounted(ProgressColumn):
    """A column shown only while the stage counts steps (a total is known)."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self._column = column

    def render(self, task: Task):
        return self._column.render(task) if task.total is not None else Text("")


def _stderr_copy() -> IO[str] | None:
    """A file on a duplicate of descriptor 2 when ``sys.stderr`` is that descriptor
    (not when a test runner has replaced it), else None."""
    try:
        if sys.stderr.fileno() != 2:
            return None
        fd = os.dup(2)
    except (AttributeError, OSError, ValueError):
        return None
    return open(fd, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="replace")


class StageReporter:
    """A :data:`~bgnn_deploy.progress.StageFn` that draws stages on stderr; use it as a
    context manager around the job: ``with StageReporter() as show: job(progress=show)``."""

    def __init__(self) -> None:
        self._file = _stderr_copy()
        self.console = Console(file=self._file or sys.stderr, highlight=False)
        self._live = self.console.is_terminal
        utf = (self.console.encoding or "").lower().startswith("utf")
        self._ok, self._failed = ("✓", "✗") if utf else ("ok", "failed")
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> StageReporter:
        if self._live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                _OnlyCounted(BarColumn(bar_width=24)),
                _OnlyCounted(MofNCompleteColumn()),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,  # finished stages stay as their own lines, the live line goes
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Take the live line off the terminal (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._file is not None:
            self._file.close()
            self._file = None
            self.console = Console(stderr=True, highlight=False)

    def __call__(self, event: StageEvent) -> None:
        if event.state == "start":
            self.begin(event.label)
            return
        mark = f"[green]{self._ok}[/]" if event.state == "done" else f"[red]{self._failed}[/]"
        self.line(f"{mark} {escape(event.label)}  [dim]{format_seconds(event.seconds or 0)}[/]")

    def begin(self, label: str) -> None:
        """The stage now running: the live line's label (elapsed time from 0), or a plain
        ``label ...`` line."""
        if self._progress is None:
            self.console.print(f"{escape(label)} ...", soft_wrap=True)
            return
        if self._task is not None:  # a new task: elapsed from 0, no bar until steps come
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(escape(label), total=None, detail="")

    def update(
        self, *, completed: int | None = None, total: int | None = None, detail: str = ""
    ) -> None:
        """Steps of the running stage (a bar on a terminal; nothing on plain output)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, total=total, detail=detail)

    def line(self, text: str) -> None:
        """A line of rich markup that stays (above the live line on a terminal)."""
        self.console.print(text, soft_wrap=True)
