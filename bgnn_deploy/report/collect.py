"""Stored runs as tidy records for the report: runs, their measurements, and pairs.

The report reads the store only through :class:`~bgnn_deploy.results.ResultsStore`
(``list_runs``, ``get_run``), so SQL stays in the store module, and gets typed records
(:mod:`bgnn_deploy.results.records`) from it. A :class:`Measurement` is one model at one
thread count in one run, with its run's id, time and target beside it; a
:class:`Pair` puts the binary model and its float baseline of the same run and thread
count side by side, which is the unit every "binary vs float" view compares.

    >>> op_kind("LceBconv2d"), op_kind("CONV_2D"), op_kind("other (unattributed)")
    ('binary', 'builtin', 'remainder')
    >>> runtime_name("litert", None, "LiteRt CompiledModel API (ai-edge-litert 2.x)")
    'litert (ai-edge-litert 2.3.0)'
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgnn_deploy.errors import ConfigError
from bgnn_deploy.results import ResultsStore, records
from bgnn_deploy.results.records import Energy, RunEnergy

__all__ = [
    "Measurement",
    "ModelSize",
    "Pair",
    "Run",
    "collect_runs",
    "model_sizes",
    "op_kind",
    "pairs",
    "runtime_mixes",
    "runtime_name",
    "threads_text",
]

# The runner's profile names every op type where the runtime timed each node, and
# reports what no event covered under UNATTRIBUTED; where it could not (and in runs
# stored before per-node profiles), it names our custom ops only and reports the rest of
# the mean latency under BUILTIN_OPS, all LiteRT's builtin kernels together.
BUILTIN_OPS = "builtin (LiteRT)"
UNATTRIBUTED = "other (unattributed)"


def threads_text(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def runtime_name(api: str | None, package: str | None, reported: str | None = None) -> str:
    """One name per runtime, the same in every table, figure and warning (and in the
    terminal): :func:`~bgnn_deploy.results.records.runtime_label`."""
    return records.runtime_label(api, package, reported)


def op_kind(name: str) -> str:
    """``'binary'`` for our custom ops (``Lce*``, ``Bgnn*``), ``'remainder'`` for the
    profile's remainders (:data:`UNATTRIBUTED`, :data:`BUILTIN_OPS`), ``'builtin'`` for
    the rest: LiteRT's builtins, XNNPACK's operators and the runtime's own stages."""
    if name in (UNATTRIBUTED, BUILTIN_OPS):
        return "remainder"
    return "binary" if name.startswith(("Lce", "Bgnn")) else "builtin"


@dataclass(frozen=True)
class Measurement:
    """One model at one thread count in one run: what the runner measured."""

    run_id: str
    created: _dt.datetime
    target: str
    emulated: bool
    role: str  # binary, float, or model (a run without a baseline)
    model: str  # the path given to `run`
    model_sha256: str
    threads: int
    latency_ms: Mapping[str, float]  # min, median, mean, std, p90, p95, p99, max
    timed_runs: int | None
    peak_rss_kb: int | None
    model_bytes: int | None  # of the file the runner loaded (see `loaded_prepared_copy`)
    loaded_prepared_copy: bool  # the LiteRt API loads a prepared copy, not the file itself
    energy: Energy | None  # the figure or why there is none; None: run without --energy
    ops_ms: Mapping[str, float]  # ms per run by op; empty unless run with --profile-ops
    runtime: str | None = None  # the runtime library's version
    isa: str | None = None  # the kernel variant the runner picked (scalar, neon, avx2, ...)
    runs_ms: tuple[float, ...] = ()  # each timed run, in order (runners since runs_ms)
    runtime_api: str | None = None  # litert or tflite-c (runners since runtime_api)
    runtime_package: str | None = None  # e.g. ai-edge-litert 2.3.0 (runs since it was stored)
    stable: bool = True  # the timed runs' verdict (records.Measurement.stability)
    stability: str = ""  # why: "CV 2.1%", "CV 14% > 10%: re-run on a quiet board", ...
    cv: float | None = None  # std / mean of the timed runs

    @property
    def runtime_name(self) -> str:
        """The runtime as :func:`runtime_name` names it."""
        return runtime_name(self.runtime_api, self.runtime_package, self.runtime)

    @property
    def model_label(self) -> str:
        """``converted-fused/binary.tflite``: enough of the path to tell models apart."""
        path = Path(self.model)
        return f"{path.parent.name}/{path.name}" if path.parent.name else path.name

    @property
    def energy_mj(self) -> float | None:
        return self.energy.mj if self.energy is not None else None


@dataclass(frozen=True)
class Run:
    """One stored `run`: the target, its facts and flags, and its measurements."""

    run_id: str
    created: _dt.datetime
    target: str
    emulated: bool
    energy: RunEnergy | None  # None: run without --energy
    flags: Mapping[str, Any]
    facts: Mapping[str, Any]
    measurements: tuple[Measurement, ...]
    # a 95% bootstrap interval of the speedup per thread count (as text), where both
    # models had enough timed runs
    speedup_ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # (stable, why) of each speedup: both sides' runs stable and the interleaved rounds
    # agreeing (records.RunReport.speedup_stability)
    speedup_verdicts: Mapping[str, tuple[bool, str]] = field(default_factory=dict)

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtime names of this run's measurements, each once (one, unless mixed)."""
        return tuple(dict.fromkeys(m.runtime_name for m in self.measurements))

    def energy_status(self) -> str:
        """A sentence on this run's energy: the probe that measured it, or why there is none."""
        if self.energy is None:
            return "not measured (run without --energy)"
        if not self.energy.available:
            return self.energy.status()
        reasons = [
            m.energy.reason or "no reason stored"
            for m in self.measurements
            if m.energy is not None and not m.energy.available
        ]
        if reasons and all(m.energy_mj is None for m in self.measurements):
            return f"not available: {reasons[0]}"
        return self.energy.status()


@dataclass(frozen=True)
class Pair:
    """The binary model and its float baseline, same run and thread count (either may be
    missing: a run without a baseline stores its model under role ``model``, which then
    stands in ``binary``)."""

    run: Run
    threads: int
    binary: Measurement | None
    baseline: Measurement | None  # the float model

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(m for m in (self.binary, self.baseline) if m is not None)

    @property
    def speedup(self) -> float | None:
        """Float median over binary median: above 1, the binary model is faster."""
        if self.binary is None or self.baseline is None or self.binary.role != "binary":
            return None
        b, f = self.binary.latency_ms["median"], self.baseline.latency_ms["median"]
        return f / b if b > 0 else None

    @property
    def speedup_ci(self) -> tuple[float, float] | None:
        """The run's 95% interval of :attr:`speedup`, where it stored one."""
        if self.speedup is None:
            return None
        return self.run.speedup_ci.get(str(self.threads))

    @property
    def stable(self) -> bool:
        """Both models' timed runs were stable (a speedup is only as firm as its sides),
        and the rounds in which they alternated agree on the speedup."""
        rounds = self.run.speedup_verdicts.get(str(self.threads), (True, ""))[0]
        return rounds and all(m.stable for m in self.measurements)

    @property
    def model_label(self) -> str:
        first = self.binary or self.baseline
        return first.model_label if first is not None else "?"

    @property
    def label(self) -> str:
        """Two lines for an axis: the run, then the model and thread count."""
        return f"{self.run.run_id}\n{self.model_label}, {threads_text(self.threads)}"


@dataclass(frozen=True)
class ModelSize:
    """The size of one model file (by content), or why it is unknown."""

    label: str
    role: str
    sha256: str
    size_bytes: int | None
    source: str  # where the size comes from, or why it is unknown


def _measurement(run: records.StoredRun, m: records.Measurement) -> Measurement:
    r = m.result
    return Measurement(
        run_id=run.run_id,
        created=run.created,
        target=run.report.target,
        emulated=run.report.emulated,
        role=m.role,
        model=m.model,
        model_sha256=m.model_sha256,
        threads=m.threads,
        latency_ms=r.latency.stats(),
        timed_runs=r.latency.runs,
        peak_rss_kb=r.peak_rss_kb,
        model_bytes=r.model_bytes,
        loaded_prepared_copy=r.runtime_api == "litert",
        energy=m.energy,
        ops_ms={name: op.ms_per_run for name, op in r.ops.items()},
        runtime=r.runtime,
        isa=r.isa,
        runs_ms=r.runs_ms,
        runtime_api=r.runtime_api,
        runtime_package=r.runtime_package,
        stable=m.stability[0],
        stability=m.stability[1],
        cv=r.latency.cv,
    )


def _run(stored: records.StoredRun) -> Run:
    return Run(
        run_id=stored.run_id,
        created=stored.created,
        target=stored.report.target,
        emulated=stored.report.emulated,
        energy=stored.report.energy,
        flags=stored.flags,
        facts=stored.report.facts,
        measurements=tuple(_measurement(stored, m) for m in stored.report.results),
        speedup_ci=dict(stored.report.speedup_ci),
        speedup_verdicts={k: stored.report.speedup_stability(k) for k in stored.report.speedup},
    )


def collect_runs(
    store: ResultsStore, run_ids: Sequence[str] = (), *, last: int | None = None
) -> list[Run]:
    """The runs to report, oldest first: ``run_ids`` (each must exist), else the latest
    ``last``, else all. Raises :class:`ConfigError` for an unknown id or an empty store,
    so the user sees why there is nothing to draw instead of an empty page."""
    if run_ids and last is not None:
        raise ConfigError("give run ids or --last, not both")
    if last is not None and last < 1:
        raise ConfigError(f"--last must be at least 1, got {last}")
    if run_ids:
        wanted = list(dict.fromkeys(run_ids))  # each once, in the order given
    else:
        listed = [r["run_id"] for r in store.list_runs()]
        if not listed:
            raise ConfigError(
                f"no runs in {store.path}",
                hint="measure one first: bgnn-deploy run MODEL.tflite --target NAME",
            )
        wanted = listed[-last:] if last is not None else listed
    runs = [_run(store.get_run(run_id)) for run_id in wanted]
    return sorted(runs, key=lambda r: r.created)  # stable: ties keep the listed order


def pairs(runs: Iterable[Run]) -> list[Pair]:
    """One :class:`Pair` per run and thread count, in run order then thread count."""
    out = []
    for run in runs:
        by_threads: dict[int, dict[str, Measurement]] = {}
        for m in run.measurements:
            by_threads.setdefault(m.threads, {})[m.role] = m
        for threads in sorted(by_threads):
            roles = by_threads[threads]
            primary = roles.get("binary") or roles.get("model")
            out.append(Pair(run, threads, primary, roles.get("float")))
    return out


def _file_size_if_same(path: Path, sha256: str) -> int | None:
    """The file's size if it still holds the measured model (same SHA-256), else None."""
    try:
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return path.stat().st_size if digest.hexdigest() == sha256 else None


def model_sizes(runs: Iterable[Run]) -> list[ModelSize]:
    """The size of each distinct model (by SHA-256) in the runs, first seen first.

    The runner's ``model_bytes`` is the size of what it loaded, which is the model file
    itself except under the LiteRt API (``local``), where it is a prepared copy with
    aligned buffers; so that figure is used only when it is the file's, and otherwise
    the file on disk is measured if it still has the same hash.
    """
    seen: dict[str, list[Measurement]] = {}
    for run in runs:
        for m in run.measurements:
            seen.setdefault(m.model_sha256, []).append(m)
    sizes = []
    for sha, ms in seen.items():
        first = ms[0]
        loaded = [m.model_bytes for m in ms if not m.loaded_prepared_copy and m.model_bytes]
        if loaded:
            size, source = loaded[0], "model_bytes in the runner's JSON"
        elif (on_disk := _file_size_if_same(Path(first.model), sha)) is not None:
            size, source = on_disk, f"size of {first.model}"
        else:
            size, source = None, f"unknown: {first.model} is gone or has changed since the run"
        sizes.append(ModelSize(first.model_label, first.role, sha, size, source))
    return sizes


def runtime_mixes(runs: Sequence[Run]) -> list[str]:
    """A sentence for each comparison whose runs used more than one runtime: the binary and
    float models of one run, the runs on one target (the latency, speedup and trend
    panels compare those), naming each runtime and its runs; and one when the report's
    runs as a whole (its speedup summary) span several runtimes."""
    out = []
    for run in runs:
        if len(run.runtimes) > 1:
            roles = {
                name: ", ".join(m.role for m in run.measurements if m.runtime_name == name)
                for name in run.runtimes
            }
            out.append(
                f"run {run.run_id} measured its models with different runtimes: "
                + "; ".join(f"{name} ({who})" for name, who in roles.items())
            )
    by_target: dict[str, dict[str, list[str]]] = {}
    for run in runs:
        for name in run.runtimes:
            by_target.setdefault(run.target, {}).setdefault(name, []).append(run.run_id)
    for target, names in by_target.items():
        if len(names) > 1:
            out.append(
                f"the runs on {target} used different runtimes, so their figures are not "
                "directly comparable: "
                + "; ".join(f"{name} (run {', '.join(ids)})" for name, ids in names.items())
            )
    everything = list(dict.fromkeys(name for run in runs for name in run.runtimes))
    if len(everything) > 1:  # e.g. this host's LiteRt beside an aarch64 board's TFLite C API
        out.append(
            f"these runs come from {len(everything)} runtimes ({', '.join(everything)}): "
            "compare speedups within one runtime, not across them"
        )
    return out
