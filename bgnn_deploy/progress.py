"""Stages of a long job, told to whoever listens: the library's side of progress.

A job (``convert``, ``train``, ``build``) runs its steps inside :meth:`Stages.stage`;
each stage sends a :class:`StageEvent` when it starts and one when it ends (with its
duration, and whether it failed). Without a listener nothing is sent: the library is
silent unless asked. The CLI's renderer (:mod:`bgnn_deploy.cli.progress`) draws them.

>>> events = []
>>> stages = Stages(events.append)
>>> with stages.stage("loading"):
...     pass
>>> [(e.label, e.state) for e in events]
[('loading', 'start'), ('loading', 'done')]
>>> events[1].seconds >= 0
True

A stage that raises ends as ``failed`` and the exception goes on:

>>> with stages.stage("converting"):
...     raise ValueError("no")
Traceback (most recent call last):
ValueError: no
>>> events[-1].label, events[-1].state
('converting', 'failed')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

__all__ = ["StageEvent", "StageFn", "Stages"]


@dataclass(frozen=True)
class StageEvent:
    label: str
    state: Literal["start", "done", "failed"]
    seconds: float | None = None  # the stage's duration, once it ended


StageFn = Callable[[StageEvent], None]


class Stages:
    """Times each stage and tells ``listener`` (if any) as it starts and ends."""

    def __init__(self, listener: StageFn | None = None) -> None:
        self._listener = listener

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        if self._listener is None:
            yield
            return
        self._listener(StageEvent(label, "start"))
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self._listener(StageEvent(label, "failed", time.perf_counter() - started))
            raise
        self._listener(StageEvent(label, "done", time.perf_counter() - started))
