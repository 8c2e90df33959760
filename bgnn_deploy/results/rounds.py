"""A run's rounds merged into one result per model.

`run` measures each model in several runner invocations (rounds), binary and float
alternating, so that a drift of the board's speed (another process, the clock, the
temperature) hits both sides alike. :func:`merge_rounds` makes one
:class:`~bgnn_deploy.results.records.RunnerResult` of a model's rounds: statistics over all
their timed runs, the cold first inference and set-up of the first round, the highest
peak memory, op and node times averaged per run; and the :class:`~bgnn_deploy.results.records.Round`
of each, for the rounds' verdict and the speedup's bootstrap.

    >>> from bgnn_deploy.results.records import Latency, RunnerResult
    >>> def one(runs, rss):
    ...     lat = Latency.from_samples(runs)
    ...     timed = sum(runs) / 1e3
    ...     return RunnerResult("v", "x86_64", lat, rss, runs_ms=tuple(runs), timed_s=timed)
    >>> merged, rounds = merge_rounds([one([1.0, 2.0], 900), one([3.0, 4.0], 950)])
    >>> merged.latency.median, merged.latency.runs, merged.peak_rss_kb, merged.timed_s
    (2.5, 4, 950, 0.01)
    >>> [r.median_ms for r in rounds]
    [1.5, 3.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bgnn_deploy.results.records import Latency, NodeTime, OpTime, Round, RunnerResult

__all__ = ["merge_rounds"]


def merge_rounds(results: Sequence[RunnerResult]) -> tuple[RunnerResult, tuple[Round, ...]]:
    """One result for a model's rounds (in the order they ran) and each round's summary."""
    if not results:
        raise ValueError("no rounds to merge")
    rounds = tuple(
        Round(
            runs=r.latency.runs,
            median_ms=r.latency.median,
            timed_s=r.timed_s,
            runs_ms=r.runs_ms,
        )
        for r in results
    )
    first = results[0]
    samples = [t for r in results for t in r.runs_ms]
    total_runs = sum(r.latency.runs for r in results)
    # past 2000 runs a round's runs_ms are 2000 evenly spaced ones: the statistics are
    # those of the samples, the count is of every run
    latency = (
        replace(Latency.from_samples(samples), runs=total_runs)
        if samples and all(r.runs_ms for r in results)
        else first.latency
    )
    timed = [r.timed_s for r in results]
    return (
        replace(
            first,
            latency=latency,
            runs_ms=tuple(samples),
            peak_rss_kb=_max(r.peak_rss_kb for r in results),
            peak_rss_kb_after_init=_max(r.peak_rss_kb_after_init for r in results),
            timed_window_boottime_s=first.timed_window_boottime_s if len(results) == 1 else None,
            timed_s=sum(timed) if None not in timed else None,
            ops=_ops(results, total_runs),
            nodes=_nodes(results, total_runs),
        ),
        rounds,
    )


def _max(values) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _ops(results: Sequence[RunnerResult], total_runs: int) -> dict[str, OpTime]:
    """Each op's time and calls per run over all rounds (weighted by their runs)."""
    names = list(dict.fromkeys(name for r in results for name in r.ops))
    merged = {}
    for name in names:
        ms = sum(r.ops[name].ms_per_run * r.latency.runs for r in results if name in r.ops)
        calls = [
            r.ops[name].calls_per_run * r.latency.runs
            for r in results
            if name in r.ops and r.ops[name].calls_per_run is not None
        ]
        merged[name] = OpTime(ms / total_runs, sum(calls) / total_runs if calls else None)
    return merged


def _nodes(results: Sequence[RunnerResult], total_runs: int) -> tuple[NodeTime, ...]:
    """Each node's time and calls per run over all rounds (weighted by their runs), in
    the order they ran."""
    sums: dict[tuple, list[float]] = {}
    for r in results:
        for n in r.nodes:
            key = (n.subgraph, n.delegate_kernel, n.index, n.op)
            acc = sums.setdefault(key, [0.0, 0.0])
            acc[0] += n.ms_per_run * r.latency.runs
            acc[1] += n.calls_per_run * r.latency.runs
    return tuple(
        NodeTime(
            index=index,
            op=op,
            ms_per_run=ms / total_runs,
            calls_per_run=calls / total_runs,
            subgraph=subgraph,
            delegate_kernel=kernel,
        )
        for (subgraph, kernel, index, op), (ms, calls) in sums.items()
    )
