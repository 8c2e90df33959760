"""`bgnn-deploy run MODEL --target NAME`: measure a model (and its float baseline) on a target.

The float baseline is ``--baseline`` or, for a converted ``binary.tflite``, the
``float.tflite`` beside it. Both run in the same session with the same flags, in
interleaved rounds, so the speedup (float median / binary median) compares like with
like. Emulated targets are labelled as such: their timings are not board figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.check import collect_facts
from bgnn_deploy.targets.energy import EnergyWindow, Probe, get_probe
from bgnn_deploy.targets.execute import run_runner
from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import Connection, connect

from bgnn_deploy.errors import BgnnDeployError, CheckpointError, ConfigError, RunInterrupted
from bgnn_deploy.results import ResultsStore
from bgnn_deploy.results.records import Energy, Measurement, RunEnergy, RunnerResult, RunReport
from bgnn_deploy.results.rounds import merge_rounds
from bgnn_deploy.results.stats import speedup_ci

__all__ = ["RunReport", "run_models", "run_on_targets"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_models(
    model: str | Path,
    target: str | TargetProfile,
    *,
    baseline: str | Path | None = None,
    threads: tuple[int, ...] = (1,),
    num_runs: int = 50,
    warmup_runs: int = 1,
    rounds: int = 5,
    profile_ops: bool = False,
    accept_new_host_key: bool = False,
    energy: bool = False,
    energy_probe: str | None = None,
    idle_seconds: float = 2.0,
    min_secs: float = 0.0,
    store: ResultsStore | None = None,
    progress: Callable[[str], None] | None = None,
    board_wait_s: float = 60,
    on_connect: Callable[[Connection], None] | None = None,
) -> RunReport:
    """Measure ``model`` (and its float baseline) on ``target``; with ``store``, the
    completed run is appended to the results store and gets its ``run_id``.

    Each model runs at least ``num_runs`` times and for at least ``min_secs`` seconds of
    timed runs, split over ``rounds`` runner invocations (fewer when there are fewer
    runs) in which binary and float alternate (binary, float, float, binary, ...), so that
    a drift of the board's speed hits both sides. The run holds the board's run lock
    while it measures, so that two runs never share a board; it waits up to
    ``board_wait_s`` s for another one to finish. ``on_connect`` is given the connection
    once it exists (:func:`run_on_targets` stops runs through it)."""
    say = progress or (lambda _m: None)
    model = Path(model)
    if not model.is_file():
        raise CheckpointError(f"model file not found: {model}")
    if num_runs < 1 or warmup_runs < 0 or rounds < 1 or not threads or min(threads) < 1:
        raise ConfigError("--num-runs, --rounds and --threads must be >= 1, --warmup-runs >= 0")
    if not 0 <= min_secs <= 86400:
        raise ConfigError(f"--min-secs must be from 0 to 86400, got {min_secs:g}")
    if (
        baseline is None
        and model.name == "binary.tflite"
        and (model.parent / "float.tflite").is_file()
    ):
        baseline = model.parent / "float.tflite"
    models = [("binary" if baseline is not None else "model", model)]
    if baseline is not None:
        baseline = Path(baseline)
        if not baseline.is_file():
            raise CheckpointError(f"baseline file not found: {baseline}")
        models.append(("float", baseline))
    say(f"building the runner for {getattr(target, 'name', target)}")
    build = build_runner(target)
    report = RunReport(build.target.name, build.target.emulated)
    report.parameters = {
        "threads": list(threads),
        "num_runs": num_runs,
        "warmup_runs": warmup_runs,
        "rounds": max(1, min(rounds, num_runs)),
        "min_secs": min_secs,
        "profile_ops": profile_ops,
        "energy": energy,
        "energy_probe": energy_probe,
        "baseline": str(baseline) if baseline is not None else None,
    }
    try:
        _measure(
            build,
            models,
            report,
            say,
            probe=get_probe(build.target, energy_probe) if energy else None,
            idle_seconds=idle_seconds,
            min_secs=min_secs,
            threads=threads,
            num_runs=num_runs,
            warmup_runs=warmup_runs,
            rounds=report.parameters["rounds"],
            profile_ops=profile_ops,
            accept_new_host_key=accept_new_host_key,
            board_wait_s=board_wait_s,
            on_connect=on_connect,
        )
    except KeyboardInterrupt:
        # what was measured before is kept
        message = f"interrupted: the run on {report.target} was stopped"
        raise RunInterrupted(message, partial_report=report) from None
    except BgnnDeployError as e:
        e.partial_report = report
        raise
    if store is not None:
        try:
            report.run_id = store.add_run(report, flags=report.parameters)
        except BgnnDeployError as e:  # the store failed: the measurements are still printed
            e.partial_report = report
            raise
    return report


def _split(runs: int, rounds: int) -> list[int]:
    """``runs`` over ``rounds`` as evenly as they go: 10 over 4 is [3, 3, 2, 2]."""
    each, extra = divmod(runs, rounds)
    return [each + (i < extra) for i in range(rounds)]


def _measure(
    build,
    models,
    report: RunReport,
    say,
    *,
    threads,
    num_runs,
    warmup_runs,
    rounds,
    profile_ops,
    accept_new_host_key,
    probe: Probe | None = None,
    idle_seconds: float = 2.0,
    min_secs: float = 0.0,
    board_wait_s: float = 60,
    on_connect: Callable[[Connection], None] | None = None,
) -> None:
    """Measure thread count by thread count; each one's measurements are appended to
    ``report`` when its rounds end, also when a round fails (then with the rounds that
    completed), so a later failure loses nothing."""
    target = build.target.name
    with connect(build.target, accept_new_host_key=accept_new_host_key) as conn:
        if on_connect is not None:
            on_connect(conn)
        conn.lock_board(wait_s=board_wait_s, waiting=say)
        report.facts = collect_facts(conn)
        idle = _idle_power(probe, conn, report, idle_seconds, say) if probe else None
        # with energy, the timed runs of all rounds together last as long as the idle window
        seconds = max(min_secs, idle_seconds if idle is not None else 0.0) / rounds
        for n in threads:
            done: dict[str, list[RunnerResult]] = {role: [] for role, _ in models}
            power: dict[str, list[EnergyWindow] | str] = {role: [] for role, _ in models}
            try:
                for i, runs in enumerate(_split(num_runs, rounds)):
                    for role, path in models if i % 2 == 0 else models[::-1]:
                        so_far = sum(r.latency.runs for r in done[role])
                        say(
                            f"round {i + 1}/{rounds}: {path.name} ({role}, {n} thread"
                            f"{'s' if n > 1 else ''}) on {target}, {so_far} of "
                            f"{num_runs}+ runs done"
                        )
                        result, window = _one_round(
                            build, conn, path, probe if idle is not None else None,
                            num_runs=runs, warmup_runs=warmup_runs, threads=n,
                            profile_ops=profile_ops, min_secs=seconds,
                        )  # fmt: skip
                        done[role].append(result)
                        if isinstance(power[role], list):
                            power[role] = window if isinstance(window, str) else [
                                *power[role], window
                            ]  # fmt: skip
            finally:  # the rounds that completed are kept, also when a later one failed
                _record(report, build, models, n, done, power, idle)


def _one_round(build, conn, path, probe, *, min_secs, **flags):
    """One runner invocation, with the probe sampling around it when there is one: the
    result and its energy window (or why it has none)."""
    if probe is not None:
        probe.start(conn)
    try:
        result = run_runner(build, path, min_secs=min_secs, conn=conn, **flags)
    except BaseException:
        if probe is not None:  # no sampler outlives a failed run
            with contextlib.suppress(Exception):
                probe.stop(conn)
        raise
    if probe is None:
        return result, None
    try:
        return result, probe.stop(conn, result.timed_window_boottime_s)
    except ConfigError as e:  # keep the latency; say why energy is missing
        return result, str(e)


def _record(report: RunReport, build, models, n: int, done, power, idle) -> None:
    """The measurements of thread count ``n`` from their rounds, and its speedup."""
    merged = {}
    for role, path in models:
        if not done[role]:
            continue
        result, rounds = merge_rounds(done[role])
        energy = None
        if idle is not None:
            windows = power[role]
            energy = (
                Energy(available=False, reason=windows)
                if isinstance(windows, str)
                else _energy(_joined(windows), idle, result)
            )
        merged[role] = (result, rounds)
        report.results.append(
            Measurement(
                result=result,
                role=role,
                model=str(path.resolve()),
                model_sha256=_sha256(path),
                threads=n,
                target=build.target.name,
                energy=energy,
                rounds=rounds,
            )
        )
    if "float" in merged and "binary" in merged and merged["binary"][0].latency.median > 0:
        (fast, fast_rounds), (slow, slow_rounds) = merged["binary"], merged["float"]
        report.speedup[str(n)] = slow.latency.median / fast.latency.median
        report.speedup_rounds[str(n)] = tuple(
            s.median_ms / f.median_ms
            for s, f in zip(slow_rounds, fast_rounds, strict=False)
            if f.median_ms > 0
        )
        ci = speedup_ci([r.runs_ms for r in slow_rounds], [r.runs_ms for r in fast_rounds])
        if ci is not None:
            report.speedup_ci[str(n)] = ci


def _joined(windows: list[EnergyWindow]) -> EnergyWindow:
    """The rounds' energy windows as one: mean power weighted by each window's length."""
    seconds = sum(w.seconds for w in windows)
    mean = (
        sum(w.mean_power_w * w.seconds for w in windows) / seconds
        if seconds > 0
        else sum(w.mean_power_w for w in windows) / len(windows)
    )
    return EnergyWindow(mean, seconds, sum(w.samples for w in windows), windows[0].source)


def _idle_power(probe: Probe, conn, report: RunReport, seconds: float, say) -> EnergyWindow | None:
    """Mean power while the target idles, or None (with the reason in the report)."""
    reason = probe.unavailable(conn)
    if reason is not None:
        report.energy = RunEnergy(available=False, probe=probe.name, reason=reason)
        return None
    say(f"measuring idle power for {seconds:g} s")
    probe.start(conn)
    time.sleep(seconds)
    idle = probe.stop(conn)
    report.energy = RunEnergy(
        available=True,
        probe=probe.name,
        idle_power_w=idle.mean_power_w,
        idle_samples=idle.samples,
        source=idle.source,
    )
    return idle


def _energy(active: EnergyWindow, idle: EnergyWindow, result: RunnerResult) -> Energy:
    """Energy per inference: power above idle, times the median latency (W x ms = mJ)."""
    above_idle = max(active.mean_power_w - idle.mean_power_w, 0.0)
    return Energy(
        available=True,
        active_power_w=active.mean_power_w,
        idle_power_w=idle.mean_power_w,
        energy_per_inference_mj=above_idle * result.latency.median,
        sampling_rate_hz=active.rate_hz,
        samples=active.samples,
        window_s=active.seconds,
        source=active.source,
    )


class _Stop:
    """Stops the runs of :func:`run_on_targets` from the main thread: every connection they
    opened is interrupted, and one opened later is interrupted at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._stopped = False

    def watch(self, conn: Connection) -> None:
        with self._lock:
            self._connections.append(conn)
            stopped = self._stopped
        if stopped:
            conn.interrupt()

    def __call__(self) -> None:
        with self._lock:
            self._stopped = True
            connections = list(self._connections)
        for conn in connections:
            conn.interrupt()


def run_on_targets(
    targets: list[str | TargetProfile], model, **kwargs
) -> list[RunReport | BaseException]:
    """`run_models` on several targets at once, in parallel threads: one report (or the
    error, with whatever it measured as ``partial_report``) per target, in order.

    Ctrl-C (KeyboardInterrupt in the calling thread) stops every run still going (their
    commands on the boards too); those are :class:`RunInterrupted` errors in the list,
    with what they measured, and the runs that had completed are kept."""
    from concurrent.futures import ThreadPoolExecutor, wait

    kwargs.pop("progress", None)
    stop = _Stop()
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [
            pool.submit(run_models, model, t, on_connect=stop.watch, **kwargs) for t in targets
        ]
        try:
            wait(futures)
        except KeyboardInterrupt:
            stop()
        outcomes: list[RunReport | BaseException] = []
        for future, t in zip(futures, targets, strict=True):
            try:
                outcomes.append(future.result())
            except BgnnDeployError as e:
                outcomes.append(e)
            except KeyboardInterrupt:  # not from a worker: a second Ctrl-C while stopping
                stop()
                name = getattr(t, "name", t)
                outcomes.append(RunInterrupted(f"interrupted: the run on {name} was stopped"))
    return outcomes
