"""How a run reads in the terminal (`run`, `results show`): what was measured and how,
the latency statistics, each model's start-up, memory and throughput, the stability
verdicts and the speedups with their intervals. Fits 80 columns."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bgnn_deploy.results.records import Measurement, RunReport, mixed_runtimes
from bgnn_deploy.results.stats import PERCENTILE_MIN_SAMPLES

__all__ = ["fmt_ms", "mixed_runtime_warning", "print_report", "report_view", "target_line"]


def fmt_ms(value: float | None) -> str:
    """A latency in at most 7 characters: 0.754, 12.35, 1076.1, 31020."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.3f}"
    if value < 1000:
        return f"{value:.2f}"
    if value < 10000:
        return f"{value:.1f}"
    return f"{value:.0f}"


def target_line(report: RunReport) -> str:
    """The target as it was measured: the guest and its emulator for an emulated one."""
    f = report.facts
    runtimes = ", ".join(report.runtimes)
    if report.emulated:
        on = f"{f.get('arch') or '?'} under {f.get('emulator') or 'an emulator'}"
        if f.get("host_cpu"):
            on += f" on {f['host_cpu']}"
    else:
        on = ", ".join(str(f[k]) for k in ("arch", "cpu") if f.get(k)) or "?"
    return f"{report.target}: {on}; {runtimes}" if runtimes else f"{report.target}: {on}"


def parameters_line(report: RunReport) -> str | None:
    """The run's parameters, as benchmark_model echoes its own, so a pasted log explains
    itself; None for runs stored before they were kept."""
    p = report.parameters
    if not p:
        return None
    threads = ",".join(str(t) for t in p.get("threads", ())) or "?"
    rounds = p.get("rounds", 1)
    parts = [
        f">= {p.get('num_runs', '?')} runs and >= {p.get('min_secs', 0):g} s of timed runs "
        f"per model",
        f"{rounds} round{'s' if rounds != 1 else ''}"
        + (" (binary and float alternating)" if p.get("baseline") and rounds > 1 else ""),
        f"{p.get('warmup_runs', '?')} warm-up run(s) per round",
        f"threads {threads}",
        f"op profile {'on' if p.get('profile_ops') else 'off'}",
        f"energy {'on' if p.get('energy') else 'off'}",
    ]
    return "parameters: " + ", ".join(parts)


def _table(*columns: str) -> Table:
    """A borderless table: the model column left, the figures right, nothing wrapped."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    for col in columns:
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    return table


def _has_enough_runs(m: Measurement, percentile: str) -> bool:
    """Whether ``m`` has the runs ``percentile`` needs: runs stored before the rule carry
    every percentile, shown only where it holds."""
    return m.samples >= PERCENTILE_MIN_SAMPLES[percentile]


def _latency_table(results: list[Measurement]) -> Table:
    table = _table("model", "thr", "runs", "median", "mean", "std", "min", "max", "p90", "p99",
                   "CV")  # fmt: skip
    for m in results:
        lat = m.latency
        table.add_row(
            m.role,
            str(m.threads),
            str(m.samples),
            fmt_ms(lat.median),
            fmt_ms(lat.mean),
            fmt_ms(lat.std),
            fmt_ms(lat.min),
            fmt_ms(lat.max),
            fmt_ms(lat.p90 if _has_enough_runs(m, "p90") else None),
            fmt_ms(lat.p99 if _has_enough_runs(m, "p99") else None),
            f"{lat.cv:.0%}" if lat.cv is not None else "-",
        )
    return table


def _model_table(results: list[Measurement]) -> Table:
    table = _table("model", "thr", "first ms", "init ms", "inf/s", "peak RSS MiB", "rounds")
    for m in results:
        r = m.result
        table.add_row(
            m.role,
            str(m.threads),
            fmt_ms(r.first_ms),
            fmt_ms(r.init_ms),
            f"{m.throughput_per_s:.1f}" if m.throughput_per_s is not None else "-",
            f"{r.peak_rss_kb / 1024:.1f}" if r.peak_rss_kb is not None else "-",
            str(len(m.rounds) or 1),
        )
    return table


def _percentile_note(results: Iterable[Measurement]) -> str | None:
    shown = ("p90", "p99")  # the table's percentiles
    missing = {n for m in results for n in shown if not _has_enough_runs(m, n)}
    if not missing:
        return None
    needs = ", ".join(f"{n} >= {PERCENTILE_MIN_SAMPLES[n]}" for n in sorted(missing))
    return f"'-': too few runs for that percentile ({needs} runs)"


def report_view(report: RunReport) -> RenderableType:
    """A run as the terminal shows it."""
    kind = "EMULATED: timings are not board figures"
    parts: list[RenderableType] = [Text(target_line(report), style="bold")]
    if report.emulated:
        parts.append(Text(f"({kind})", style="bold yellow"))
    if (line := parameters_line(report)) is not None:
        parts.append(Text(line, style="dim"))
    if report.parameters.get("profile_ops"):
        parts.append(
            Text(
                "op profile on: the profiler's own time and memory are in these figures; "
                "quote a run without --profile-ops",
                style="yellow",
            )
        )
    parts += [Text(""), Text("latency, ms"), _latency_table(report.results)]
    if (note := _percentile_note(report.results)) is not None:
        parts.append(Text(note, style="dim"))
    parts += [Text(""), _model_table(report.results), Text("")]
    for role, path in {m.role: m.model for m in report.results}.items():
        parts.append(Text(f"{role}: {path}", style="dim"))
    if report.run_id:
        parts.append(Text(f"stored as run {report.run_id}", style="dim"))
    for m in report.results:
        stable, why = m.stability
        if not stable:
            parts.append(
                Text.assemble(("unstable: ", "yellow"), f"{m.role}, {m.threads} thr: {why}")
            )
    parts += _speedup_lines(report)
    parts += _energy_lines(report)
    return Group(*parts)


def _speedup_lines(report: RunReport) -> list[Text]:
    lines = []
    for n, speedup in report.speedup.items():
        kind = "emulated " if report.emulated else ""
        ci = report.speedup_ci.get(n)
        rounds = report.speedup_rounds.get(n, ())
        around = [f"95% CI {ci[0]:.2f}-{ci[1]:.2f}x"] if ci else []
        if len(rounds) > 1:
            around.append(f"{len(rounds)} rounds {min(rounds):.2f}-{max(rounds):.2f}x")
        line = Text.assemble(
            f"{kind}speedup binary vs float, {n} thr: ",
            (f"{speedup:.2f}x", "bold"),
            f" ({', '.join(around)})" if around else "",
        )
        lines.append(line)
        stable, why = report.speedup_stability(n)
        if not stable:
            side = why.split(":", 1)[0]
            if side in ("binary", "float"):  # its runs' verdict is printed above
                why = f"as the {side} runs above"
            lines.append(Text.assemble(("  unstable: ", "yellow"), why))
    return lines


def _energy_lines(report: RunReport) -> list[Text]:
    lines = []
    if report.energy is not None and not report.energy.available:
        lines.append(Text(f"energy: not available ({report.energy.reason})"))
    elif report.energy is not None:
        lines.append(Text(f"energy measured: {report.energy.source or report.energy.probe}"))
    for m in report.results:
        e = m.energy
        if e is not None and not e.available:
            lines.append(Text(f"{m.role}: energy not available ({e.reason})"))
        elif e is not None:
            lines.append(
                Text(
                    f"{m.role}: {e.energy_per_inference_mj:.3f} mJ per inference "
                    f"({e.active_power_w:.2f} W active, {e.idle_power_w:.2f} W idle, "
                    f"{e.samples} samples at {e.sampling_rate_hz:.1f} Hz)"
                )
            )
    return lines


def print_report(report: RunReport, console: Console | None = None) -> None:
    (console or Console()).print(report_view(report))


def mixed_runtime_warning(reports: Iterable[RunReport]) -> str | None:
    """The warning for runs on several targets whose runtimes differ."""
    return mixed_runtimes([m for r in reports for m in r.results])
