"""Timing through our runner and in-process, the same way for every section.

A runner side is one invocation of ``run_runner`` (our runner as ``bgnn-deploy run``
executes it) whose median over its timed runs is the round's value; the full runner JSON
of the last invocation is kept (a RunnerResult) for the raw figures. In-process sides (FAISS, LCE's
interpreter) are timed with ``perf_counter`` around the call, median over the calls.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.stats import runs_for

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

    from bgnn_deploy.results.records import RunnerResult

__all__ = ["RunnerSide", "median_call_ms", "ops_profile", "pinned_to_one_cpu"]


class RunnerSide:
    """One model on one runner build, with a run count fitted to a time budget."""

    def __init__(
        self,
        build: RunnerBuild,
        model: Path,
        *,
        budget_s: float = 0.25,
        profile_ops: bool = False,
        input_path: Path | None = None,
        max_runs: int = 400,
        threads: int = 1,
    ):
        from bgnn_deploy.targets.execute import run_runner

        self._run = run_runner
        self.build, self.model, self.input_path = build, Path(model), input_path
        self.profile_ops, self.threads = profile_ops, threads
        probe = self.invoke(3)  # also the warm-up: LiteRt preparation cached, pages hot
        self.runs = runs_for(probe.latency.median, budget_s, hi=max_runs)
        self.last: RunnerResult = probe

    def invoke(self, runs: int) -> RunnerResult:
        return self._run(
            self.build,
            self.model,
            num_runs=runs,
            warmup_runs=1,
            threads=self.threads,
            profile_ops=self.profile_ops,
            input_path=self.input_path,
        )

    def __call__(self) -> float:
        self.last = self.invoke(self.runs)
        return self.last.latency.median


def ops_profile(result: RunnerResult) -> dict:
    """The runner's op profile as it printed it (``{}`` without --profile-ops), for the JSON."""
    return result.to_dict().get("ops", {})


def median_call_ms(fn: Callable[[], object], calls: int) -> float:
    """Median wall time of ``calls`` calls of ``fn`` (after one untimed call), in ms."""
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


@contextlib.contextmanager
def pinned_to_one_cpu() -> Iterator[int | None]:
    """Run this thread, and every process it starts, on one CPU: both sides of a ratio
    then share a core and its caches ("same core, single thread"). Yields the CPU, or
    None where affinity cannot be set."""
    try:
        before = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        yield None
        return
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)
