"""The typed records a measurement travels in, from the runner's JSON to the report.

The runner prints one JSON object per invocation. :meth:`RunnerResult.parse` reads it
once, checking every field's type, into a :class:`RunnerResult`; ``run`` adds what it
knows (the model, its role, the thread count, the energy) to make a :class:`Measurement`,
and collects a run's measurements in a :class:`RunReport`. The CLI renders these, the
results store keeps them (as the JSON of :meth:`RunReport.to_dict`, the format of
``run --json``) and gives them back as a :class:`StoredRun`, and the report draws
them. Stored runs of earlier versions lack some fields: those are optional here.

    >>> r = RunnerResult.parse({"runtime": "2.20", "arch": "aarch64", "peak_rss_kb": 900,
    ...     "latency_ms": {"min": 1, "median": 2, "mean": 2, "p90": 3, "max": 3, "runs": 5}})
    >>> r.latency.median, r.latency.runs, r.peak_rss_kb
    (2.0, 5, 900)
    >>> bad = {"runtime": "2.20", "arch": "aarch64", "latency_ms": {"min": "0"}}
    >>> RunnerResult.parse(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bgnn_deploy.results.records.RecordError: the runner's JSON: latency_ms.min is str, ...
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from bgnn_deploy.errors import BgnnDeployError
from bgnn_deploy.results.stats import latency_summary, rounds_agree, stability

__all__ = [
    "Energy",
    "Latency",
    "Measurement",
    "NodeTime",
    "OpTime",
    "OutputTensor",
    "ProfileSource",
    "RecordError",
    "Round",
    "RunEnergy",
    "RunReport",
    "RunnerResult",
    "StoredRun",
    "mixed_runtimes",
    "runtime_label",
]


class RecordError(BgnnDeployError):
    """A runner's JSON or a stored run that lacks a field or has one of the wrong type
    (``run`` reports the runner's as a :class:`~bgnn_deploy.targets.execute.RunnerError`)."""


class _Fields:
    """Typed reads of one JSON object; errors name the field's path and ``where``."""

    def __init__(self, obj: Any, where: str, path: str = ""):
        if not isinstance(obj, Mapping):
            what = path.rstrip(".") or "the record"
            raise RecordError(f"{where}: {what} is {_kind(obj)}, expected an object")
        self.obj, self.where, self.path = obj, where, path

    def _fail(self, key: str, value: Any, expected: str) -> RecordError:
        return RecordError(f"{self.where}: {self.path}{key} is {_kind(value)}, expected {expected}")

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.obj or self.obj[key] is None:
            if required:
                raise RecordError(f"{self.where}: {self.path}{key} is missing")
            return None
        return self.obj[key]

    def number(self, key: str, *, required: bool = True) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, value, "a number")
        if not math.isfinite(value):
            raise self._fail(key, value, "a finite number")
        return float(value)

    def integer(self, key: str, *, required: bool = True) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, value, "an integer")
        return value

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, value, "a string")
        return value

    def flag(self, key: str, *, required: bool = True) -> bool | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def numbers(self, key: str, *, required: bool = False) -> tuple[float, ...] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._fail(key, value, "a list of numbers")
        items = _Fields(dict(enumerate(value)), self.where, f"{self.path}{key}.")
        return tuple(items.number(i) for i in range(len(value)))

    def integers(self, key: str) -> tuple[int, ...]:
        value = self._get(key, True)
        if not isinstance(value, list):
            raise self._fail(key, value, "a list of integers")
        items = _Fields(dict(enumerate(value)), self.where, f"{self.path}{key}.")
        return tuple(items.integer(i) for i in range(len(value)))

    def nested(self, key: str, *, required: bool = True) -> _Fields | None:
        value = self._get(key, required)
        return None if value is None else _Fields(value, self.where, f"{self.path}{key}.")

    def items(self, key: str) -> list[_Fields]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, value, "a list")
        return [_Fields(v, self.where, f"{self.path}{key}[{i}].") for i, v in enumerate(value)]


def _kind(value: Any) -> str:
    return "missing" if value is None else type(value).__name__


def _dict(record: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dataclass as JSON fields, leaving out unset (None) optional ones."""
    out = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name not in skip and value is not None:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True)
class Latency:
    """Statistics over the timed runs, in ms: the runner's for one invocation,
    :meth:`from_samples` for the rounds of a run together. A percentile is None where
    there were too few runs for it (:data:`~bgnn_deploy.results.stats.PERCENTILE_MIN_SAMPLES`;
    the runner prints them all)."""

    min: float
    median: float
    mean: float
    p90: float | None
    max: float
    runs: int
    std: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def from_samples(cls, samples_ms) -> Latency:
        """The statistics of these timed runs (:func:`.stats.latency_summary`)."""
        return cls(**latency_summary(samples_ms))

    @classmethod
    def _read(cls, f: _Fields) -> Latency:
        return cls(
            min=f.number("min"),
            median=f.number("median"),
            mean=f.number("mean"),
            p90=f.number("p90", required=False),
            max=f.number("max"),
            runs=f.integer("runs"),
            std=f.number("std", required=False),
            p95=f.number("p95", required=False),
            p99=f.number("p99", required=False),
        )

    @property
    def cv(self) -> float | None:
        """Coefficient of variation, std / mean (None without a std)."""
        return self.std / self.mean if self.std is not None and self.mean > 0 else None

    def stats(self) -> dict[str, float]:
        """The statistics by name (min, median, mean, std, p90, p95, p99, max) that exist."""
        return {k: v for k, v in _dict(self, skip=("runs",)).items()}

    def to_dict(self) -> dict[str, Any]:
        """The runner's ``latency_ms`` and, derived, ``cv``."""
        out = _dict(self)
        if self.cv is not None:
            out["cv"] = self.cv
        return out


@dataclass(frozen=True)
class OutputTensor:
    """One output the runner wrote with ``--output``: its bytes follow the previous one's."""

    name: str
    type: int  # the TfLiteType code
    bytes: int
    shape: tuple[int, ...]


@dataclass(frozen=True)
class OpTime:
    """One op kind's share of a run (``--enable_op_profiling``)."""

    ms_per_run: float
    calls_per_run: float | None = None  # None for the builtin-ops remainder


@dataclass(frozen=True)
class NodeTime:
    """One node's share of a run (``--enable_op_profiling`` where the runtime times its
    nodes), in execution order: an interpreter node by its index, or, with
    ``delegate_kernel`` set, an operator a delegate (XNNPACK) ran and timed inside its
    ``delegate_kernel``-th kernel of the run, ``index`` then its place in that kernel (-1:
    the kernel's own time outside its operators)."""

    index: int
    op: str  # CONV_2D, LceBconv2d, or the delegate's name ("Fully Connected (NC, F32) GEMM")
    ms_per_run: float
    calls_per_run: float
    subgraph: int = 0
    delegate_kernel: int | None = None

    @classmethod
    def _read(cls, f: _Fields) -> NodeTime:
        node = cls(
            index=f.integer("index"),
            op=f.text("op"),
            ms_per_run=f.number("ms_per_run"),
            calls_per_run=f.number("calls_per_run"),
            subgraph=f.integer("subgraph", required=False) or 0,
            delegate_kernel=f.integer("delegate_kernel", required=False),
        )
        if node.ms_per_run < 0 or node.calls_per_run < 0:
            raise RecordError(f"{f.where}: {f.path.rstrip('.')} has a negative time or count")
        return node


@dataclass(frozen=True)
class ProfileSource:
    """What timed a profile's ops: the runtime's profiler (``litert-profiler``,
    ``tflite-telemetry``: every node, in ``nodes``) or, where that is ``unavailable``
    (the reason), the runner's timers of our own ops alone (``runner``)."""

    source: str
    unavailable: str | None = None

    @classmethod
    def _read(cls, f: _Fields) -> ProfileSource:
        return cls(source=f.text("source"), unavailable=f.text("unavailable", required=False))


@dataclass(frozen=True)
class RunnerResult:
    """What one runner invocation printed: latency, memory, outputs, op profile; or, in a
    :class:`Measurement`, a model's rounds merged into one (:mod:`.rounds`)."""

    runtime: str  # what the runtime library calls itself (its version string)
    arch: str
    latency: Latency
    peak_rss_kb: int | None  # VmHWM at the end; None where the target has no /proc
    runtime_api: str | None = None  # litert or tflite
    isa: str | None = None  # the kernel variant the runner picked (scalar, neon, avx2, ...)
    emulated: bool = False
    graph: str | None = None  # the file the runner loaded (a prepared copy for LiteRt)
    model_bytes: int | None = None  # that file's size
    num_threads: int | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_ms: float | None = None
    # each timed run in order (past 2000 in one invocation: 2000 evenly spaced), the
    # rounds' one after another
    runs_ms: tuple[float, ...] = ()
    # CLOCK_BOOTTIME start/end of the timed runs; None for several rounds merged
    timed_window_boottime_s: tuple[float, float] | None = None
    timed_s: float | None = None  # seconds of timed runs (of all rounds, merged)
    runtime_package: str | None = None  # the wheel the library came from, e.g. ai-edge-litert 2.3.0
    peak_rss_kb_after_init: int | None = None
    outputs: tuple[OutputTensor, ...] = ()
    ops: Mapping[str, OpTime] = field(default_factory=dict)  # empty without profiling
    nodes: tuple[NodeTime, ...] = ()  # empty without the runtime's per-node profile
    profile: ProfileSource | None = None  # None without profiling (or from older runners)

    @classmethod
    def parse(cls, obj: Any, *, where: str = "the runner's JSON") -> RunnerResult:
        """Read the runner's JSON object (or a stored copy of it); :class:`RecordError`
        names the first field that is missing or of the wrong type."""
        f = _Fields(obj, where)
        window = f.numbers("timed_window_boottime_s")
        if window is not None and len(window) != 2:
            raise RecordError(f"{where}: timed_window_boottime_s has {len(window)} numbers, not 2")
        rss = f.integer("peak_rss_kb", required=False)
        rss_init = f.integer("peak_rss_kb_after_init", required=False)
        outputs = tuple(
            OutputTensor(
                name=o.text("name"),
                type=o.integer("type"),
                bytes=o.integer("bytes"),
                shape=o.integers("shape"),
            )
            for o in f.items("outputs")
        )
        ops_f = f.nested("ops", required=False)
        ops = {}
        if ops_f is not None:
            for name in ops_f.obj:
                op = ops_f.nested(name)
                ops[str(name)] = OpTime(
                    op.number("ms_per_run"), op.number("calls_per_run", required=False)
                )
        nodes = tuple(NodeTime._read(n) for n in f.items("nodes"))
        profile = f.nested("profile", required=False)
        return cls(
            runtime=f.text("runtime"),
            arch=f.text("arch"),
            latency=Latency._read(f.nested("latency_ms")),
            # the runner prints -1 where it cannot read its peak memory
            peak_rss_kb=rss if rss is not None and rss > 0 else None,
            runtime_api=f.text("runtime_api", required=False),
            isa=f.text("isa", required=False),
            emulated=bool(f.flag("emulated", required=False)),
            graph=f.text("graph", required=False),
            model_bytes=f.integer("model_bytes", required=False),
            num_threads=f.integer("num_threads", required=False),
            init_ms=f.number("init_ms", required=False),
            first_ms=f.number("first_ms", required=False),
            warmup_ms=f.number("warmup_ms", required=False),
            runs_ms=f.numbers("runs_ms") or (),
            timed_window_boottime_s=window,
            timed_s=f.number("timed_s", required=False)
            if "timed_s" in f.obj
            else (window[1] - window[0] if window is not None else None),
            runtime_package=f.text("runtime_package", required=False),
            peak_rss_kb_after_init=rss_init if rss_init is not None and rss_init > 0 else None,
            outputs=outputs,
            ops=ops,
            nodes=nodes,
            profile=ProfileSource._read(profile) if profile is not None else None,
        )

    @property
    def runtime_label(self) -> str:
        """The runtime's one name in every view (:func:`runtime_label`)."""
        return runtime_label(self.runtime_api, self.runtime_package, self.runtime)

    def to_dict(self) -> dict[str, Any]:
        """The runner's JSON again (``latency_ms``, ``ops``, ``nodes``, ``profile`` and
        ``outputs`` as it names them)."""
        out = _dict(self, skip=("latency", "outputs", "ops", "nodes", "profile"))
        out["latency_ms"] = self.latency.to_dict()
        out["outputs"] = [_dict(o) for o in self.outputs]
        if self.ops:
            out["ops"] = {name: _dict(op) for name, op in self.ops.items()}
        if self.nodes:
            out["nodes"] = [_dict(n) for n in self.nodes]
        if self.profile is not None:
            out["profile"] = _dict(self.profile)
        return out


@dataclass(frozen=True)
class Energy:
    """Energy per inference of one measurement, or why there is none (``available`` False
    and ``reason``)."""

    available: bool
    reason: str | None = None
    energy_per_inference_mj: float | None = None  # power above idle x median latency
    active_power_w: float | None = None
    idle_power_w: float | None = None
    sampling_rate_hz: float | None = None
    samples: int | None = None
    window_s: float | None = None
    source: str | None = None  # what the probe read (e.g. "INA3221 VDD_IN")

    @classmethod
    def _read(cls, f: _Fields) -> Energy:
        available = f.flag("available", required=False)
        figure = f.number("energy_per_inference_mj", required=False)
        return cls(
            available=figure is not None if available is None else available,
            reason=f.text("reason", required=False),
            energy_per_inference_mj=figure,
            active_power_w=f.number("active_power_w", required=False),
            idle_power_w=f.number("idle_power_w", required=False),
            sampling_rate_hz=f.number("sampling_rate_hz", required=False),
            samples=f.integer("samples", required=False),
            window_s=f.number("window_s", required=False),
            source=f.text("source", required=False),
        )

    @property
    def mj(self) -> float | None:
        """The figure, or None when it was not measured."""
        return self.energy_per_inference_mj if self.available else None


@dataclass(frozen=True)
class RunEnergy:
    """A run's energy set-up: the probe and idle power, or why energy is not available."""

    available: bool
    probe: str | None = None
    reason: str | None = None
    idle_power_w: float | None = None
    idle_samples: int | None = None
    source: str | None = None

    @classmethod
    def _read(cls, f: _Fields) -> RunEnergy:
        return cls(
            available=bool(f.flag("available")),
            probe=f.text("probe", required=False),
            reason=f.text("reason", required=False),
            idle_power_w=f.number("idle_power_w", required=False),
            idle_samples=f.integer("idle_samples", required=False),
            source=f.text("source", required=False),
        )

    def status(self) -> str:
        if not self.available:
            return f"not available: {self.reason or 'no reason stored'}"
        return f"measured ({self.source or self.probe or '?'})"


@dataclass(frozen=True)
class Round:
    """One runner invocation of a run's interleaved rounds (binary and float alternate)."""

    runs: int
    median_ms: float
    timed_s: float | None = None
    runs_ms: tuple[float, ...] = ()  # not stored: the measurement's runs_ms holds them all

    @classmethod
    def _read(cls, f: _Fields) -> Round:
        return cls(
            runs=f.integer("runs"),
            median_ms=f.number("median_ms"),
            timed_s=f.number("timed_s", required=False),
        )

    def to_dict(self) -> dict[str, Any]:
        return _dict(self, skip=("runs_ms",))


@dataclass(frozen=True)
class Measurement:
    """One model at one thread count in one run: the runner's result and what ``run``
    knows about it."""

    result: RunnerResult
    role: str  # binary, float, or model (a run without a baseline)
    model: str  # the model's resolved path on this host
    model_sha256: str
    threads: int
    target: str
    energy: Energy | None = None  # None: run without --energy
    rounds: tuple[Round, ...] = ()  # in the order they ran; empty in runs stored before rounds

    @classmethod
    def from_dict(cls, obj: Any, *, where: str, target: str | None = None) -> Measurement:
        """One entry of :meth:`to_dict`'s JSON; ``target`` stands in where it has none."""
        f = _Fields(obj, where)
        energy = f.nested("energy", required=False)
        return cls(
            result=RunnerResult.parse(obj, where=where),
            role=f.text("role"),
            model=f.text("model"),
            model_sha256=f.text("model_sha256"),
            threads=f.integer("threads"),
            target=f.text("target", required=target is None) or target,
            energy=Energy._read(energy) if energy is not None else None,
            rounds=tuple(Round._read(r) for r in f.items("rounds")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The runner's JSON with ``role``, ``model``, ``model_sha256``, ``threads``,
        ``target``, ``rounds`` and ``energy`` beside its fields (one entry of ``run
        --json``'s results)."""
        out = self.result.to_dict()
        out.update(
            role=self.role,
            model=self.model,
            model_sha256=self.model_sha256,
            threads=self.threads,
            target=self.target,
            # derived, for readers of run --json (not read back)
            throughput_per_s=self.throughput_per_s,
            samples=self.samples,
            stable=self.stability[0],
            runtime_label=self.result.runtime_label,
            rounds=[r.to_dict() for r in self.rounds],
        )
        if self.energy is not None:
            out["energy"] = _dict(self.energy)
        return out

    @property
    def latency(self) -> Latency:
        return self.result.latency

    @property
    def samples(self) -> int:
        """Timed runs behind the statistics."""
        return self.latency.runs

    @property
    def throughput_per_s(self) -> float | None:
        """Inferences per second, one after another (1000 / mean ms)."""
        return 1e3 / self.latency.mean if self.latency.mean > 0 else None

    @property
    def stability(self) -> tuple[bool, str]:
        """(stable, why): the timed runs' spread judged (:func:`.stats.stability`)."""
        return stability(self.latency.cv, self.samples)


@dataclass
class RunReport:
    """One ``run`` on one target: its measurements as they complete, the speedups, the
    target's facts; ``run_id`` once stored. A failed run's error carries the part measured
    before the failure as its ``partial_report``."""

    target: str
    emulated: bool
    results: list[Measurement] = field(default_factory=list)
    speedup: dict[str, float] = field(default_factory=dict)  # per thread count, as text
    # a 95% bootstrap interval of each speedup, where both sides had enough timed runs
    speedup_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    run_id: str | None = None
    energy: RunEnergy | None = None  # None: run without --energy
    facts: dict[str, Any] = field(default_factory=dict)  # arch, cpu, glibc, kernel, governor
    # each round's float median / binary median, per thread count (interleaved rounds)
    speedup_rounds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    # how the run was asked for: num_runs, warmup_runs, min_secs, rounds, threads, ...
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def single_thread_speedup(self) -> float | None:
        """The speedup at the fewest threads measured (the run's headline figure)."""
        return self._fewest(self.speedup)

    def speedup_stability(self, threads: str) -> tuple[bool, str]:
        """(stable, why) for the speedup at ``threads``: both sides' runs stable and the
        rounds' speedups agreeing (:func:`.stats.rounds_agree`)."""
        for m in self.results:
            if str(m.threads) == threads and m.role in ("binary", "float"):
                stable, why = m.stability
                if not stable:
                    return False, f"{m.role}: {why}"
        return rounds_agree(self.speedup_rounds.get(threads, ()))

    @property
    def runtimes(self) -> list[str]:
        """The runtimes of its measurements, by :attr:`RunnerResult.runtime_label`."""
        return sorted({m.result.runtime_label for m in self.results})

    def _fewest(self, by_threads: dict):
        fewest = min((m.threads for m in self.results), default=1)
        return by_threads.get(str(fewest))

    def to_dict(self) -> dict[str, Any]:
        """The ``run --json`` object, also what the store keeps."""
        return {
            "target": self.target,
            "emulated": self.emulated,
            "results": [m.to_dict() for m in self.results],
            "speedup": self.single_thread_speedup,
            "speedup_by_threads": self.speedup,
            "speedup_ci": list(ci) if (ci := self._fewest(self.speedup_ci)) else None,
            "speedup_ci_by_threads": {k: list(v) for k, v in self.speedup_ci.items()},
            "run_id": self.run_id,
            "energy": _dict(self.energy) if self.energy is not None else None,
            "facts": self.facts,
            "speedup_rounds_by_threads": {k: list(v) for k, v in self.speedup_rounds.items()},
            # derived, for readers of run --json (not read back)
            "speedup_stable": self._fewest({k: self.speedup_stability(k)[0] for k in self.speedup}),
            "speedup_stable_by_threads": {k: self.speedup_stability(k)[0] for k in self.speedup},
            "parameters": self.parameters,
        }

    @classmethod
    def from_dict(cls, obj: Any, *, where: str = "the run") -> RunReport:
        """A report from :meth:`to_dict`'s JSON (a stored run, ``run --json``)."""
        f = _Fields(obj, where)
        target = f.text("target")
        speedups = f.nested("speedup_by_threads", required=False)
        cis = f.nested("speedup_ci_by_threads", required=False)
        energy = f.nested("energy", required=False)
        facts = f.nested("facts", required=False)
        rounds = f.nested("speedup_rounds_by_threads", required=False)
        parameters = f.nested("parameters", required=False)
        return cls(
            target=target,
            emulated=bool(f.flag("emulated")),
            results=[
                Measurement.from_dict(m.obj, where=f"{where}, {m.path.rstrip('.')}", target=target)
                for m in f.items("results")
            ],
            speedup={} if speedups is None else {str(k): speedups.number(k) for k in speedups.obj},
            speedup_ci={}
            if cis is None
            else {str(k): tuple(cis.numbers(k, required=True)) for k in cis.obj},
            run_id=f.text("run_id", required=False),
            energy=RunEnergy._read(energy) if energy is not None else None,
            facts=dict(facts.obj) if facts is not None else {},
            speedup_rounds={}
            if rounds is None
            else {str(k): rounds.numbers(k, required=True) for k in rounds.obj},
            parameters=dict(parameters.obj) if parameters is not None else {},
        )


def runtime_label(api: str | None, package: str | None, reported: str | None = None) -> str:
    """A runtime's one name, the same in every view: the runner's API, the package its
    library came from and, when the library reports a plain version number (a TFLite
    build of its own), that too.

    Runs stored before the package was recorded are named by the package ``build`` pins
    for that API today; a runtime neither names is named by what the library reported.

        >>> runtime_label("litert", "ai-edge-litert 2.3.0", "LiteRt CompiledModel API")
        'litert (ai-edge-litert 2.3.0)'
        >>> runtime_label("tflite-c", None, "2.20.0-dev0+selfbuilt")
        'tflite-c (ai-edge-litert 1.4.0)'
        >>> runtime_label("tflite-c", "ai-edge-litert 1.4.0", "2.16.1")
        'tflite-c (ai-edge-litert 1.4.0, TFLite 2.16.1)'
        >>> runtime_label(None, None, "2.16.1")
        'TFLite 2.16.1'
    """
    if package is None:
        from bgnn_deploy.targets.toolchain.runtimes import RUNTIMES

        spec = RUNTIMES.get(api or "")
        package = f"{spec.package} {spec.version}" if spec is not None else None
    plain = bool(reported) and reported.replace(".", "").isdigit()
    parts = [p for p in (package, f"TFLite {reported}" if plain else None) if p]
    if not parts:
        parts = [reported or "unknown version"]
    return f"{api} ({', '.join(parts)})" if api else ", ".join(parts)


def mixed_runtimes(measurements) -> str | None:
    """A warning when ``measurements`` (of one comparison) come from different runtimes,
    whose speeds are not comparable; None when they share one."""
    names = sorted({m.result.runtime_label for m in measurements})
    if len(names) < 2:
        return None
    return (
        f"these figures come from {len(names)} runtimes ({', '.join(names)}): "
        "compare speedups within one runtime, not across them"
    )


@dataclass(frozen=True)
class StoredRun:
    """A run as the results store keeps it: the report, when it was stored, its flags."""

    report: RunReport
    created: _dt.datetime  # UTC
    flags: Mapping[str, Any]  # threads, num_runs, warmup_runs, profile_ops, energy, ...

    @property
    def run_id(self) -> str:
        return self.report.run_id or ""

    @classmethod
    def from_dict(cls, obj: Any, *, where: str) -> StoredRun:
        f = _Fields(obj, where)
        created_text = f.text("created")
        try:
            created = _dt.datetime.fromisoformat(created_text)
        except ValueError:
            raise RecordError(f"{where}: created is not an ISO time: {created_text!r}") from None
        flags = f.nested("flags", required=False)
        return cls(
            report=RunReport.from_dict(obj, where=where),
            created=created if created.tzinfo else created.replace(tzinfo=_dt.UTC),
            flags=dict(flags.obj) if flags is not None else {},
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored ``run --json`` object with ``flags`` and ``created`` beside it."""
        return {
            **self.report.to_dict(),
            "flags": dict(self.flags),
            "created": self.created.isoformat(timespec="seconds"),
        }
