"""The report page: one self-contained ``index.html`` with the figures and tables.

Each figure is embedded as a base64 ``data:`` URI, so the page shows everything even
when ``index.html`` alone is mailed or copied, and links to its PNG beside the page
(a relative link) for full size; on a narrow screen (a phone) the page shows a narrow
drawing of the same figure instead, so its text stays legible. Every table sits in its
own horizontally scrolling box, so the page itself is never wider than the screen. No
external CSS, JavaScript or fonts: the page opens offline and the same everywhere.
Emulated rows carry an EMULATED badge in every table, unstable measurements a red cross
and the advice to re-run them, and speedups their 95% interval where the run stored one.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from bgnn_deploy.report.collect import (
    Measurement,
    Pair,
    Run,
    model_sizes,
    pairs,
    runtime_mixes,
    threads_text,
)
from bgnn_deploy.report.plots import UNSTABLE_LABEL, UNSTABLE_MARK
from bgnn_deploy.results.stats import MIN_SAMPLES, STABLE_CV

__all__ = ["Section", "render_html"]

# the narrow figures are shown up to this viewport width
NARROW_MEDIA = "(max-width: 720px)"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #212121; margin: 0 auto; padding: 1.5em 2em; max-width: 1180px;
       overflow-wrap: anywhere; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #E0E0E0; }
.meta, .caption, .none { color: #555; }
.none { font-style: italic; }
.warning { background: #FDECEA; border-left: 4px solid #B2182B; padding: 0.6em 1em; }
figure { margin: 0.8em 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #EEE; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 0.9em; overflow-wrap: normal; }
th, td { border: 1px solid #DDD; padding: 0.3em 0.6em; text-align: left; vertical-align: top;
         white-space: nowrap; }
td.prose { white-space: normal; min-width: 12em; }
th { background: #F5F5F5; white-space: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.emulated td { background: #FFF4E5; }
.badge { display: inline-block; background: #B2182B; color: white; font-size: 0.75em;
         font-weight: bold; padding: 0 0.4em; border-radius: 3px; margin-left: 0.3em; }
.binary { color: #0072B2; font-weight: 600; }
.float { color: #B07800; font-weight: 600; }
.unstable { color: #B2182B; font-weight: 600; }
.ci { color: #555; font-size: 0.9em; }
code { font-size: 0.95em; }
@media (max-width: 720px) {
  body { padding: 0.8em 0.75em; font-size: 15px; }
  h1 { font-size: 1.35em; }
}
"""


@dataclass(frozen=True)
class Section:
    """One view on the page: its PNG (file name and bytes), or None and the reason."""

    name: str
    title: str
    caption: str
    filename: str | None
    png: bytes | None
    narrow_png: bytes | None = None  # the same figure drawn for narrow screens


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _td(text: str, num: bool = False, prose: bool = False) -> str:
    """A cell: ``num`` right-aligned figures, ``prose`` a sentence that may wrap (every
    other cell keeps to one line per ``<br>``; the table scrolls instead)."""
    if num:
        return f'<td class="num">{text}</td>'
    return f'<td class="prose">{text}</td>' if prose else f"<td>{text}</td>"


def _table(headers: Sequence[str], rows: Sequence[tuple[bool, Sequence[str]]]) -> str:
    """``rows`` are (emulated, cells); cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for emulated, cells in rows:
        css = ' class="emulated"' if emulated else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _target(run: Run) -> str:
    badge = '<span class="badge">EMULATED</span>' if run.emulated else ""
    return f"{escape(run.target)}{badge}"


def _time(run: Run) -> str:
    return run.created.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _role(m: Measurement) -> str:
    return f'<span class="{escape(m.role)}">{escape(m.role)}</span>'


def _stability(m: Measurement) -> str:
    """'CV 3.0%', or the red cross, 'unstable' and why."""
    if m.stable:
        return escape(m.stability or "stable")
    return f'<span class="unstable">{UNSTABLE_MARK} unstable</span>: {escape(m.stability)}'


def _stability_cell(pair: Pair) -> str:
    return "<br>".join(f"{_role(m)} {_stability(m)}" for m in pair.measurements)


def _speedup_cell(pair: Pair) -> str:
    """'1.40x', '(emulated)' where it is, its 95% interval, and a cross when unstable."""
    if pair.speedup is None:
        return "-"
    text = f"{pair.speedup:.2f}x" + (" (emulated)" if pair.run.emulated else "")
    if pair.speedup_ci is not None:
        lo, hi = pair.speedup_ci
        text += f'<br><span class="ci">95% CI {lo:.2f}-{hi:.2f}</span>'
    if not pair.stable:
        text += f'<br><span class="unstable">{UNSTABLE_MARK} unstable</span>'
    return text


def _energy_cell(pair: Pair) -> str:
    """Each model's figure, or why that model has none; else the run's energy status."""
    cells = []
    for m in pair.measurements:
        role = f'<span class="{escape(m.role)}">{escape(m.role)}</span>'
        if m.energy_mj is not None:
            cells.append(f"{role} {m.energy_mj:.3g}")
        elif m.energy is not None and not m.energy.available:
            cells.append(f"{role} not available: {escape(m.energy.reason or '?')}")
    if any(m.energy_mj is not None for m in pair.measurements):
        return "<br>".join(cells)
    return escape(pair.run.energy_status())


def _summary_table(rows: Sequence[Pair]) -> str:
    headers = (
        "run",
        "created (UTC)",
        "target",
        "model",
        "threads",
        "binary median ms",
        "float median ms",
        "speedup",
        "stability of the timed runs",
        "peak RSS MiB (binary / float)",
        "energy per inference (mJ)",
    )

    def median(m: Measurement | None) -> str:
        return _num(m.latency_ms["median"] if m else None)

    def rss(m: Measurement | None) -> str:
        return _num(m.peak_rss_kb / 1024 if m and m.peak_rss_kb else None, "{:.1f}")

    body = []
    for p in rows:
        body.append(
            (
                p.run.emulated,
                [
                    _td(f"<code>{escape(p.run.run_id)}</code>"),
                    _td(_time(p.run).replace(" ", "<br>")),
                    _td(_target(p.run)),
                    _td(escape(p.model_label)),
                    _td(str(p.threads), num=True),
                    _td(median(p.binary), num=True),
                    _td(median(p.baseline), num=True),
                    _td(_speedup_cell(p), num=True),
                    _td(_stability_cell(p), prose=True),
                    _td(f"{rss(p.binary)} / {rss(p.baseline)}", num=True),
                    _td(_energy_cell(p), prose=True),
                ],
            )
        )
    return _table(headers, body)


def _measurements_table(runs: Sequence[Run]) -> str:
    headers = ("run", "target", "model", "role", "threads", "timed runs", "CV", "stability")
    stats = ("min", "median", "mean", "p90", "p99", "max")
    body = []
    for run in runs:
        for m in run.measurements:
            cells = [
                _td(f"<code>{escape(run.run_id)}</code>"),
                _td(_target(run)),
                _td(escape(m.model_label)),
                _td(_role(m)),
                _td(str(m.threads), num=True),
                _td(str(m.timed_runs or "-"), num=True),
                _td(_num(m.cv * 100 if m.cv is not None else None, "{:.1f}%"), num=True),
                _td(_stability(m), prose=True),
            ]
            cells += [_td(_num(m.latency_ms.get(s)), num=True) for s in stats]
            body.append((run.emulated, cells))
    return _table((*headers, *(f"{s} ms" for s in stats)), body)


def _ops_table(runs: Sequence[Run], top: int = 5) -> str:
    """Each profiled measurement's op types by time: the ``top`` slowest with ms per run
    and share of the profile, then the rest together (a float model has dozens)."""
    profiled = [(run, m) for run in runs for m in run.measurements if m.ops_ms]
    if not profiled:
        return ""
    note = (
        f'<p class="caption">The table lists all {len(profiled)} profiled measurements in '
        f"run order (oldest first), each with its {top} slowest op types (ms per run, share "
        "of the profiled time) and the rest together.</p>"
    )
    body = []
    for run, m in profiled:
        ranked = sorted(m.ops_ms.items(), key=lambda kv: -kv[1])
        total = sum(ms for _, ms in ranked) or 1.0
        shown = [f"{escape(name)} {ms:.3f} ({ms / total:.0%})" for name, ms in ranked[:top]]
        rest = ranked[top:]
        if rest:
            ms = sum(v for _, v in rest)
            shown.append(f"{len(rest)} more {ms:.3f} ({ms / total:.0%})")
        cells = [
            _td(f"<code>{escape(run.run_id)}</code>"),
            _td(_target(run)),
            _td(f"{escape(m.model_label)} ({escape(m.role)})"),
            _td(str(m.threads), num=True),
            _td(f"{total:.3f}", num=True),
            _td("<br>".join(shown)),
        ]
        body.append((run.emulated, cells))
    headers = ("run", "target", "model", "threads", "profiled ms", "slowest op types")
    return note + _table(headers, body)


def _sizes_table(runs: Sequence[Run]) -> str:
    body = []
    for s in model_sizes(runs):
        size = "-" if s.size_bytes is None else f"{s.size_bytes:,}"
        body.append(
            (
                False,
                [
                    _td(escape(s.label)),
                    _td(escape(s.role)),
                    _td(f"<code>{s.sha256[:16]}</code>"),
                    _td(size, num=True),
                    _td(escape(s.source), prose=True),
                ],
            )
        )
    return _table(("model", "role", "sha256", "bytes", "from"), body)


def _cpu(facts) -> str:
    """The CPU, or for an emulated target the emulator and the machine under it."""
    if facts.get("emulator"):
        return f"{facts['emulator']} on {facts.get('host_cpu') or '?'}"
    return str(facts.get("cpu") or "-")


def _runs_table(runs: Sequence[Run]) -> str:
    headers = ("#", "run", "target", "arch", "cpu", "cores", "kernel", "glibc", "governor")
    headers += ("runtime", "isa", "flags")
    body = []
    for number, run in enumerate(runs, start=1):
        f, first = run.facts, (run.measurements[0] if run.measurements else None)
        flags = ", ".join(
            f"{k}={v}"
            for k, v in run.flags.items()
            if k in ("threads", "num_runs", "warmup_runs", "profile_ops", "energy")
        )
        # one runner per run: the first measurement speaks for all
        isa = (first.isa if first else None) or "-"
        cells = [
            _td(str(number), num=True),
            _td(f"<code>{escape(run.run_id)}</code>"),
            _td(_target(run)),
            _td(escape(str(f.get("arch", "-")))),
            _td(escape(_cpu(f)), prose=True),
            *(_td(escape(str(f.get(k, "-")))) for k in ("cores", "kernel")),
            *(_td(escape(str(f.get(k) or "-"))) for k in ("glibc", "governor")),
            _td("<br>".join(escape(name) for name in run.runtimes) or "-"),
            _td(escape(isa)),
            _td(escape(flags), prose=True),
        ]
        body.append((run.emulated, cells))
    return _table(headers, body)


def _figure(section: Section) -> str:
    if section.png is None:
        return f'<p class="none">{escape(section.caption)}</p>'
    data = base64.b64encode(section.png).decode("ascii")
    narrow = ""
    if section.narrow_png is not None:
        small = base64.b64encode(section.narrow_png).decode("ascii")
        narrow = f'<source media="{NARROW_MEDIA}" srcset="data:image/png;base64,{small}">'
    return (
        f'<figure><a href="{escape(section.filename)}"><picture>{narrow}'
        f'<img src="data:image/png;base64,{data}" alt="{escape(section.title)}"'
        f' data-view="{escape(section.name)}"></picture></a>'
        f'<figcaption class="caption">{escape(section.caption)} '
        f'<a href="{escape(section.filename)}">{escape(section.filename)}</a></figcaption>'
        "</figure>"
    )


def render_html(
    runs: Sequence[Run],
    sections: Sequence[Section],
    *,
    source: Path | str,
    generated: _dt.datetime | None = None,
) -> str:
    """The whole page as one string; ``source`` names the results database for the reader."""
    generated = generated or _dt.datetime.now(_dt.UTC)
    emulated = [r for r in runs if r.emulated]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>bgnn-deploy report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>bgnn-deploy report</h1>",
        f'<p class="meta">{len(runs)} run(s) from <code>{escape(str(source))}</code>, '
        f"{escape(_time(runs[0]))} to {escape(_time(runs[-1]))} UTC; "
        f"written {generated.astimezone(_dt.UTC):%Y-%m-%d %H:%M:%S} UTC by "
        "<code>bgnn-deploy report</code>.</p>",
    ]
    if emulated:
        targets = ", ".join(sorted({r.target for r in emulated}))
        parts.append(
            f'<p class="warning"><b>{len(emulated)} of {len(runs)} run(s) are emulated</b> '
            f"({escape(targets)}): their timings and memory come from qemu on this machine, "
            "not from a board. In the figures they sit in panels titled EMULATED, their rows "
            "are labelled EMULATED and their bars are pale and hatched; the tables mark them "
            "EMULATED.</p>"
        )
    parts += [f'<p class="warning"><b>Different runtimes</b>: {escape(text)}.</p>'
              for text in runtime_mixes(runs)]  # fmt: skip
    unstable = [m for r in runs for m in r.measurements if not m.stable]
    if unstable:
        listed = "; ".join(
            f"run {m.run_id} {m.role}, {threads_text(m.threads)} ({m.stability})" for m in unstable
        )
        parts.append(
            f'<p class="warning"><span class="unstable">{UNSTABLE_MARK} '
            f"{escape(UNSTABLE_LABEL)}</span>: {len(unstable)} measurement(s) had timed runs "
            f"too spread (CV above {STABLE_CV:.0%}) or too few (under {MIN_SAMPLES}) to "
            f"trust: {escape(listed)}. Figures and tables mark them with the red cross.</p>"
        )
    drifted = [
        f"run {r.run_id}, {threads_text(int(n))}: {why}"
        for r in runs
        for n, (ok, why) in r.speedup_verdicts.items()
        if not ok and why.startswith("the rounds disagree")
    ]
    if drifted:
        parts.append(
            f'<p class="warning"><span class="unstable">{UNSTABLE_MARK} '
            f"{escape(UNSTABLE_LABEL)}</span>: the board's speed drifted during "
            f"{len(drifted)} run(s), whose interleaved binary and float rounds give "
            f"different speedups: {escape('; '.join(drifted))}.</p>"
        )
    parts += ["<h2>Summary</h2>", _summary_table(pairs(runs))]
    for section in sections:
        parts += [f'<h2 id="{escape(section.name)}">{escape(section.title)}</h2>', _figure(section)]
        if section.name == "ops":
            parts.append(_ops_table(runs))
        if section.name == "size":
            parts.append(_sizes_table(runs))
    parts += [
        "<h2>Latency figures</h2>",
        _measurements_table(runs),
        "<h2>Runs</h2>",
        _runs_table(runs),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
