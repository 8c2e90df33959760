"""The report's figures: one matplotlib figure per view, drawn on the Agg canvas.

Figures are built from :class:`matplotlib.figure.Figure` with a ``FigureCanvasAgg``
rather than through ``pyplot``: no global backend switch, no window, and nothing kept
alive between calls, so the library can be used from any program or thread.

Every view function takes the runs and returns a :class:`View`: a figure and a caption
that says what is drawn, or no figure and a sentence saying why (the page shows that
sentence instead of an empty plot). Captions are written from the data drawn (rows,
targets, models, timed runs), in the order the figure shows them. Binary is always blue
and float always orange. Emulated results sit in panels titled EMULATED, their row
labels say EMULATED (readable however thin a bar is) and their bars are pale and
hatched, so no figure can pass them off as board figures. Measurements whose timed runs
were unstable carry a red cross and the legend says to re-run them on a quiet board.

:func:`render_views` draws every view at a width: :data:`WIDTH_IN` for wide screens,
:data:`NARROW_WIDTH_IN` for phones, where the page shows the narrow figure at about its
own pixel width, so its text stays as large as drawn.
"""

from __future__ import annotations

import contextvars
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from bgnn_deploy.report.collect import (
    BUILTIN_OPS,
    UNATTRIBUTED,
    Measurement,
    Pair,
    Run,
    model_sizes,
    op_kind,
    pairs,
    threads_text,
)

__all__ = ["NARROW_WIDTH_IN", "VIEWS", "WIDTH_IN", "View", "render_png", "render_views"]

ROLE_COLORS = {"binary": "#0072B2", "float": "#E69F00", "model": "#7F7F7F"}  # Okabe-Ito
# darker and lighter shades of the same hue tell models of the same role apart (trend)
ROLE_SHADES = {
    "binary": ("#0072B2", "#56B4E9", "#003B5C", "#7FA7C9"),
    "float": ("#E69F00", "#F5C56B", "#8C6100", "#D55E00"),
    "model": ("#7F7F7F", "#BDBDBD", "#404040"),
}
EMULATED_HATCH = "///"
EMULATED_TITLE_COLOR = "#B2182B"
UNSTABLE_COLOR = "#B2182B"
UNSTABLE_LABEL = "unstable: re-run on a quiet board"
UNSTABLE_MARK = "\u2716"  # heavy multiplication x
OP_COLORS = {
    "LceBconv2d": "#0072B2",
    "BgnnHammingKnn": "#CC79A7",
    "LceQuantize": "#56B4E9",
    "LceDequantize": "#009E73",
    "LceBMaxPool2d": "#D55E00",
    BUILTIN_OPS: "#BDBDBD",
}
EXTRA_OP_COLORS = ("#882255", "#44AA99", "#DDCC77", "#332288", "#999933", "#AA4499")
DPI = 110
WIDTH_IN = 10.0
NARROW_WIDTH_IN = 3.6  # 396 px: shown at ~90% of that on a 390 px wide phone
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.color": "#E0E0E0",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "hatch.linewidth": 0.8,
}
VALUE_FONT = 7.5  # values printed beside bars and ticks
RUN_ID = re.compile(r"^\d{8}-\d{6}-([0-9a-f]+)\b")  # the store's run ids: the end tells them apart
LEGEND_ROW_IN = 0.2  # a legend row's height, for narrow figures that stack their legend

T = TypeVar("T")

# the width the views draw at (render_views sets it)
_width: contextvars.ContextVar[float] = contextvars.ContextVar("width", default=WIDTH_IN)


@dataclass(frozen=True)
class View:
    """One view of the report: ``figure`` is None when there is nothing to draw, and
    then ``caption`` says why."""

    name: str  # the PNG's stem
    title: str
    figure: Figure | None
    caption: str


# ---------------------------------------------------------------- shared helpers


def _narrow() -> bool:
    return _width.get() < 6


def _figure(height: float, width: float | None = None) -> Figure:
    fig = Figure(figsize=(width or _width.get(), height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _color(role: str) -> str:
    return ROLE_COLORS.get(role, ROLE_COLORS["model"])


def _stat(m: Measurement, key: str) -> float:
    """A latency statistic; a store written before the runner reported it has the median."""
    return m.latency_ms.get(key, m.latency_ms["median"])


def _ms(value: float) -> str:
    """Latency with as many digits as matter at its size."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _bar_style(color: str, emulated: bool) -> dict:
    """Solid for measured figures; pale, hatched and dash-edged for emulated ones."""
    if emulated:
        return {
            "facecolor": to_rgba(color, 0.22),
            "edgecolor": color,
            "hatch": EMULATED_HATCH,
            "linewidth": 1.2,
            "linestyle": (0, (3, 1.5)),
        }
    return {"facecolor": color, "edgecolor": color, "linewidth": 0.8}


def _by_target(items: Sequence[T], run_of: Callable[[T], Run]) -> list[tuple[Run, list[T]]]:
    """Items grouped by target, in order of first appearance, emulated targets last:
    each group gets its own panel, so emulated figures never share an axis with real
    ones. The group's key is its first run (for the target's name and flag)."""
    groups: dict[str, tuple[Run, list[T]]] = {}
    for item in items:
        run = run_of(item)
        groups.setdefault(run.target, (run, []))[1].append(item)
    return sorted(groups.values(), key=lambda g: g[0].emulated)


def _panel_title(ax, run: Run) -> None:
    if run.emulated:
        ax.set_title(
            f"{run.target}: EMULATED" + ("" if _narrow() else " (not a board figure)"),
            loc="left",
            color=EMULATED_TITLE_COLOR,
        )
    else:
        ax.set_title(run.target, loc="left")


def _panels(groups: Sequence[tuple[Run, list]], row_in: float, sharex: bool = False):
    """A figure with one horizontal-bar panel per target group, heights by row count."""
    rows = [len(items) for _, items in groups]
    row_in *= 1.3 if _narrow() else 1.0  # room for the label above each row
    height = sum(0.55 + row_in * n for n in rows) + (0.5 if _narrow() else 0.9)
    fig = _figure(height)
    axes = fig.subplots(len(groups), 1, sharex=sharex, height_ratios=rows, squeeze=False)[:, 0]
    for ax, (run, items) in zip(axes, groups, strict=True):
        _panel_title(ax, run)
        ax.set_ylim(len(items) - 0.5, -0.5)  # first row on top
    return fig, list(axes)


def _row_labels(ax, labels: Sequence[str], emulated: Sequence[bool] = ()) -> None:
    """Row labels; an emulated row's says so in its first line and is red, which reads
    even where a bar is too thin to show its hatching. Narrow figures print each label on
    one line in the gap above its row, across the panel (a run by the end of its id,
    ``...df600b``), so the bars keep the width."""
    flags = list(emulated) or [False] * len(labels)
    texts = [
        label.replace("\n", " EMULATED\n", 1) if flag else label
        for label, flag in zip(labels, flags, strict=True)
    ]
    if _narrow():
        ax.set_yticks([])
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top - 0.3)  # room above the first row
        where = blended_transform_factory(ax.transAxes, ax.transData)
        for i, (text, flag) in enumerate(zip(texts, flags, strict=True)):
            first, *rest = text.split("\n")
            line = " \u00b7 ".join([RUN_ID.sub(lambda m: "\u2026" + m[1], first), *rest])
            ax.text(
                0.0, i - 0.5, line, transform=where, ha="left", va="center",
                fontsize=VALUE_FONT, color=EMULATED_TITLE_COLOR if flag else "#212121",
                clip_on=False,
            )  # fmt: skip
        return
    ax.set_yticks(range(len(texts)), texts)
    ax.tick_params(axis="y", length=0)
    for tick, flag in zip(ax.get_yticklabels(), flags, strict=True):
        if flag:
            tick.set_color(EMULATED_TITLE_COLOR)


def _header(fig: Figure, title: str, handles: Sequence, ncols: int | None = None) -> None:
    """The title with the legend under it, above the panels. One legend artist carries
    both (as its title), so the layout engine can never make them overlap. Narrow
    figures get at most two legend columns."""
    ncols = ncols or max(len(handles), 1)
    labels = [(h[0] if isinstance(h, tuple) else h).get_label() for h in handles]
    if _narrow():  # one column when a label would not fit in half the width
        ncols = min(ncols, 1 if max(map(len, labels), default=0) > 24 else 2)
        rows = -(-len(labels) // ncols) + 1  # and the title
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + rows * LEGEND_ROW_IN)
    legend = fig.legend(
        handles=handles,
        labels=labels,
        title=title,
        loc="outside upper left",
        ncols=ncols,
        frameon=False,
        alignment="left",
        handler_map={tuple: HandlerTuple(ndivide=1)},
    )
    legend.get_title().set_fontsize(STYLE["figure.titlesize"])
    legend.get_title().set_fontweight("bold")


def _emulated_handle() -> Patch:
    return Patch(**_bar_style("#555555", True), label="emulated: hatched, labelled EMULATED")


def _unstable_handle() -> Line2D:
    """The legend's entry for the red cross :func:`_cross_after` draws."""
    return Line2D(
        [], [], marker=f"${UNSTABLE_MARK}$", markersize=9, color=UNSTABLE_COLOR, ls="",
        label=UNSTABLE_LABEL,
    )  # fmt: skip


def _legend(
    fig: Figure,
    title: str,
    roles: set[str],
    emulated: bool,
    extra: Sequence = (),
    unstable: bool = False,
) -> None:
    handles = [
        Patch(color=ROLE_COLORS[role], label=role)
        for role in ("binary", "float", "model")
        if role in roles
    ]
    handles += list(extra)
    if emulated:
        handles.append(_emulated_handle())
    if unstable:
        handles.append(_unstable_handle())
    _header(fig, title, handles)


def _log_if_wide(ax, low: float, high: float) -> bool:
    """Log scale when values in one panel span more than 30x, else linear from zero."""
    if low > 0 and high / low > 30:
        ax.set_xscale("log")
        ax.set_xlim(low / 1.6, high * 3.0)
        return True
    ax.set_xlim(0, max(high, 1e-9) * 1.25)
    return False


def _pair_rows(
    ax,
    items: Sequence[Pair],
    value: Callable[[Measurement], float | None],
    fmt,
    mark_unstable: bool = False,
):
    """Grouped horizontal bars, binary above float, with values printed at the bar ends
    (and, with ``mark_unstable``, a red cross after the value of an unstable model)."""
    for i, pair in enumerate(items):
        for offset, m in ((-0.2, pair.binary), (0.2, pair.baseline)):
            if m is None:
                continue
            v = value(m)
            if v is None:  # measured, but without this figure: say so where the bar would be
                ax.annotate(
                    f"{m.role}: not available",
                    (0, i + offset),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=VALUE_FONT,
                    fontstyle="italic",
                    color="#616161",
                )
                continue
            ax.barh(i + offset, v, height=0.36, **_bar_style(_color(m.role), m.emulated))
            text = ax.annotate(
                fmt(v),
                (v, i + offset),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=VALUE_FONT,
            )
            if mark_unstable and not m.stable:
                _cross_after(ax, text)
    _row_labels(ax, [p.label for p in items], [p.run.emulated for p in items])


def _cross_after(ax, text) -> None:
    """A red cross just right of an annotation (placed in that text's own coordinates)."""
    ax.annotate(
        UNSTABLE_MARK,
        (1, 0.5),
        xycoords=text,
        xytext=(3, 0),
        textcoords="offset points",
        va="center",
        ha="left",
        fontsize=9,
        color=UNSTABLE_COLOR,
        annotation_clip=False,
    )


def _roles(items: Sequence[Pair]) -> set[str]:
    return {m.role for p in items for m in p.measurements}


def _names(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _rows_sentence(groups: Sequence[tuple[Run, list]], what: str) -> str:
    """'5 rows (run and thread count) in 2 panels, one per target: rpi5 (3) and
    qemu-aarch64 (2, emulated); within a panel the rows follow the Summary table.'"""
    n = sum(len(items) for _, items in groups)
    panels = _names(
        f"{run.target} ({len(items)}{', emulated' if run.emulated else ''})"
        for run, items in groups
    )
    where = (
        f"in {len(groups)} panels, one per target: {panels}; within a panel"
        if len(groups) > 1
        else f"for {panels};"
    )
    return f"{_plural(n, 'row')} ({what}) {where} the rows follow the Summary table's order."


def _timed_runs_sentence(items: Sequence[Pair]) -> str:
    """How many timed runs each bar rests on, in the order of the rows."""
    ms = [m for p in items for m in p.measurements]
    counts = [m.timed_runs for m in ms]
    if len(set(counts)) == 1:
        return f"Each model was timed {counts[0] or '?'} times."
    firsts = dict.fromkeys(counts)
    common = max(firsts, key=counts.count)
    others = [
        f"run {m.run_id} {m.role}, {threads_text(m.threads)}: {m.timed_runs or '?'}"
        for m in ms
        if m.timed_runs != common
    ]
    return f"Each model was timed {common} times, except {'; '.join(others)}."


def _unstable_sentence(ms: Sequence[Measurement]) -> str:
    bad = [m for m in ms if not m.stable]
    if not bad:
        return ""
    listed = "; ".join(
        f"run {m.run_id} {m.role}, {threads_text(m.threads)} ({m.stability})" for m in bad
    )
    return f" A red cross marks a model whose timed runs were unstable: {listed}."


# ---------------------------------------------------------------- the views


def _median_tick(ax, x: float, y: float) -> None:
    """A white tick with a dark outline: it shows on dark and light bars alike."""
    ax.plot(x, y, marker="|", markersize=14, mew=4.2, color="#212121", zorder=4)
    ax.plot(x, y, marker="|", markersize=12, mew=1.8, color="white", zorder=5)


def _median_handle() -> tuple[Line2D, Line2D]:
    return (
        Line2D([], [], color="#212121", marker="|", markersize=11, mew=4.0, ls="", label="median"),
        Line2D([], [], color="white", marker="|", markersize=9, mew=1.6, ls=""),
    )


def latency_view(runs: Sequence[Run]) -> View:
    """Latency per model and thread count, as the range the runner's percentiles give."""
    items = [p for p in pairs(runs) if p.measurements]
    title = "Latency per inference"
    if not items:
        return View("latency", title, None, "no run has latency figures")
    groups = _by_target(items, lambda p: p.run)
    fig, axes = _panels(groups, row_in=0.62)
    logs = []
    for ax, (_, group) in zip(axes, groups, strict=True):
        ms = [m for p in group for m in p.measurements]
        logs.append(
            _log_if_wide(ax, min(_stat(m, "min") for m in ms), max(_stat(m, "max") for m in ms))
        )
        for i, pair in enumerate(group):
            for offset, m in ((-0.2, pair.binary), (0.2, pair.baseline)):
                if m is None:
                    continue
                lat = {k: _stat(m, k) for k in ("min", "median", "p90", "max")}
                color, y = _color(m.role), i + offset
                ax.hlines(
                    y, lat["min"], lat["max"], color=color, linewidth=1.2,
                    linestyles="--" if m.emulated else "-",
                )  # fmt: skip
                ax.barh(
                    y,
                    lat["p90"] - lat["min"],
                    left=lat["min"],
                    height=0.32,
                    **_bar_style(color, m.emulated),
                )
                if m.runs_ms:  # every timed run, spread vertically so that they can be seen
                    jitter = np.linspace(-0.12, 0.12, len(m.runs_ms)) if len(m.runs_ms) > 1 else [0]
                    ax.scatter(
                        m.runs_ms, y + np.asarray(jitter), s=4, color="black", alpha=0.35,
                        linewidths=0, zorder=3,
                    )  # fmt: skip
                _median_tick(ax, lat["median"], y)
                # beside the tick, on a white ground: it cannot be read as the maximum
                text = ax.annotate(
                    f"{_ms(lat['median'])} ms",
                    (lat["median"], y),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=VALUE_FONT,
                    zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                )
                if not m.stable:
                    _cross_after(ax, text)
        _row_labels(ax, [p.label for p in group], [p.run.emulated for p in group])
        ax.set_xlabel("latency per inference (ms" + (", log scale)" if logs[-1] else ")"))
    markers = [
        _median_handle(),
        Patch(facecolor="#9E9E9E", label="min to p90"),
        Line2D([], [], color="#9E9E9E", lw=1.2, label="to max"),
    ]
    ms = [m for p in items for m in p.measurements]
    _legend(
        fig, title, _roles(items), any(p.run.emulated for p in items), markers,
        unstable=not all(m.stable for m in ms),
    )  # fmt: skip
    caption = (
        f"{_rows_sentence(groups, 'one per run and thread count')} In each row binary is above "
        "float. The bar spans the fastest run to the 90th percentile (9 in 10 runs were at "
        "least that fast), the thin line continues to the slowest run, the white tick and "
        "the value beside it are the median, and the grey dots are the timed runs "
        "themselves, in run order from the top of the bar to its bottom (runs stored before "
        f"the runner reported each run show the range only). {_timed_runs_sentence(items)}"
    )
    caption += _unstable_sentence(ms)
    if any(logs):
        caption += " Panels whose values span more than 30x use a log scale."
    return View("latency", title, fig, caption)


def _ci_text(ci: tuple[float, float] | None) -> str:
    return f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def speedup_view(runs: Sequence[Run]) -> View:
    """Binary vs float speedup per run, target and thread count, with its 95% interval."""
    items = [p for p in pairs(runs) if p.speedup is not None]
    title = "Binary vs float speedup"
    if not items:
        return View(
            "speedup", title, None, "no run measured a binary model together with a float baseline"
        )
    groups = _by_target(items, lambda p: p.run)
    fig, axes = _panels(groups, row_in=0.45, sharex=True)
    high = max(max(p.speedup, p.speedup_ci[1] if p.speedup_ci else 0) for p in items)
    for ax, (_, group) in zip(axes, groups, strict=True):
        for i, pair in enumerate(group):
            ax.barh(
                i, pair.speedup, height=0.55, **_bar_style(ROLE_COLORS["binary"], pair.run.emulated)
            )
            end = pair.speedup
            if pair.speedup_ci:
                lo, hi = pair.speedup_ci
                ax.errorbar(
                    pair.speedup, i, xerr=[[pair.speedup - lo], [hi - pair.speedup]],
                    fmt="none", ecolor="#212121", elinewidth=1.2, capsize=3, zorder=4,
                )  # fmt: skip
                end = max(end, hi)
            text = ax.annotate(
                f"{pair.speedup:.2f}x{_ci_text(pair.speedup_ci)}",
                (end, i),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=VALUE_FONT,
            )
            if not pair.stable:
                _cross_after(ax, text)
        ax.axvline(1.0, color="#424242", linestyle="--", linewidth=1)
        _row_labels(ax, [p.label for p in group], [p.run.emulated for p in group])
    axes[0].set_xlim(0, max(high * (1.6 if _narrow() else 1.3), 1.3))
    axes[-1].set_xlabel(
        "speedup (float median / binary median)"
        if _narrow()
        else "speedup (float median latency / binary median latency)"
    )
    parity = Line2D([], [], color="#424242", ls="--", lw=1, label="1.0: equally fast")
    ci = Line2D([], [], color="#212121", lw=1.2, marker="|", markersize=6, label="95% interval")
    _legend(
        fig, title, {"binary"}, any(p.run.emulated for p in items),
        [parity, ci] if any(p.speedup_ci for p in items) else [parity],
        unstable=not all(p.stable for p in items),
    )  # fmt: skip
    with_ci = sum(1 for p in items if p.speedup_ci)
    caption = (
        f"{_rows_sentence(groups, 'one per run and thread count')} Each bar is the float "
        "median latency divided by the binary median latency, measured in the same run at "
        "the same thread count; right of the dashed line the binary model is faster. "
    )
    if with_ci == len(items):
        caption += "The whiskers and the bracketed figures are the 95% bootstrap interval."
    elif with_ci:
        caption += (
            f"The whiskers and the bracketed figures are the 95% bootstrap interval, for the "
            f"{with_ci} of {len(items)} rows whose models both had enough timed runs."
        )
    else:
        caption += "No row has a 95% interval (too few timed runs)."
    bad = [p for p in items if not p.stable]
    if bad:
        caption += (
            " A red cross marks a speedup whose binary or float timings were unstable: "
            + "; ".join(f"run {p.run.run_id}, {threads_text(p.threads)}" for p in bad)
            + "."
        )
    return View("speedup", title, fig, caption)


def memory_view(runs: Sequence[Run]) -> View:
    """Peak resident memory of the runner, binary vs float."""
    items = [p for p in pairs(runs) if any(m.peak_rss_kb for m in p.measurements)]
    title = "Peak memory"
    if not items:
        return View("memory", title, None, "no run recorded its peak memory")
    groups = _by_target(items, lambda p: p.run)
    fig, axes = _panels(groups, row_in=0.55, sharex=False)
    for ax, (_, group) in zip(axes, groups, strict=True):
        _pair_rows(
            ax,
            group,
            lambda m: m.peak_rss_kb / 1024 if m.peak_rss_kb else None,
            lambda v: f"{v:.1f} MiB",
        )
        high = max(m.peak_rss_kb for p in group for m in p.measurements if m.peak_rss_kb)
        ax.set_xlim(0, high / 1024 * (1.45 if _narrow() else 1.2))
    axes[-1].set_xlabel("peak resident set size (MiB)")
    _legend(fig, title, _roles(items), any(p.run.emulated for p in items))
    caption = (
        f"{_rows_sentence(groups, 'one per run and thread count')} Each bar is the peak "
        "resident set size (VmHWM) of the runner process, binary above float: runtime "
        "library, model and tensors."
    )
    if any(p.run.emulated for p in items):
        caption += " Under qemu it includes the emulator itself."
    return View("memory", title, fig, caption)


def _energy_reasons(runs: Sequence[Run]) -> str:
    """Why figures are missing: '2 runs (...): not measured (...)' for runs without any,
    and 'run X binary, 1 thread: not available: ...' for single models of the others."""
    by_status: dict[str, list[str]] = {}
    parts = []
    for run in runs:
        if not any(m.energy_mj is not None for m in run.measurements):
            by_status.setdefault(run.energy_status(), []).append(run.run_id)
            continue
        for m in run.measurements:
            if m.energy_mj is None and m.energy is not None and m.energy.reason:
                parts.append(
                    f"run {m.run_id} {m.role}, {m.threads} thread(s): "
                    f"not available: {m.energy.reason}"
                )
    for status, ids in by_status.items():
        if len(ids) == 1:
            parts.append(f"run {ids[0]}: {status}")
        else:
            shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            parts.append(f"{len(ids)} runs ({shown}): {status}")
    return "; ".join(parts)


def energy_view(runs: Sequence[Run]) -> View:
    """Energy per inference above idle, binary vs float."""
    items = [p for p in pairs(runs) if any(m.energy_mj is not None for m in p.measurements)]
    title = "Energy per inference"
    if not items:
        return View("energy", title, None, f"No run has energy figures. {_energy_reasons(runs)}.")
    groups = _by_target(items, lambda p: p.run)
    fig, axes = _panels(groups, row_in=0.55)
    for ax, (_, group) in zip(axes, groups, strict=True):
        _pair_rows(ax, group, lambda m: m.energy_mj, lambda v: f"{v:.3g} mJ", mark_unstable=True)
        high = max(m.energy_mj for p in group for m in p.measurements if m.energy_mj is not None)
        ax.set_xlim(0, max(high, 1e-9) * (1.45 if _narrow() else 1.2))
    axes[-1].set_xlabel("energy per inference above idle (mJ)")
    ms = [m for p in items for m in p.measurements if m.energy_mj is not None]
    _legend(
        fig, title, _roles(items), any(p.run.emulated for p in items),
        unstable=not all(m.stable for m in ms),
    )  # fmt: skip
    caption = (
        f"{_rows_sentence(groups, 'one per run and thread count')} Each bar is the mean power "
        "while the model ran minus the mean power while the target idled, times the median "
        "latency, binary above float."
    )
    caption += _unstable_sentence(ms)
    others = _energy_reasons(runs)
    if others:
        caption += f" Without figures: {others}."
    return View("energy", title, fig, caption)


def size_view(runs: Sequence[Run]) -> View:
    """Size of each distinct model file."""
    sizes = model_sizes(runs)
    known = [s for s in sizes if s.size_bytes is not None]
    unknown = [s for s in sizes if s.size_bytes is None]
    title = "Model size"
    unknown_text = "; ".join(
        f"{s.label} ({s.role}, sha256 {s.sha256[:10]}): {s.source}" for s in unknown
    )
    if not known:
        return View("size", title, None, f"No model size is known. {unknown_text}.")
    fig = _figure(
        0.55 + 0.42 * len(known) * (1.3 if _narrow() else 1) + (0.5 if _narrow() else 0.9)
    )
    ax = fig.subplots()
    for i, s in enumerate(known):
        kib = s.size_bytes / 1024
        ax.barh(i, kib, height=0.6, **_bar_style(_color(s.role), False))
        ax.annotate(
            f"{kib:,.1f} KiB" if _narrow() else f"{kib:,.1f} KiB ({s.size_bytes:,} bytes)",
            (kib, i),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=VALUE_FONT,
        )
    ax.set_ylim(len(known) - 0.5, -0.5)
    _row_labels(ax, [f"{s.label} ({s.role})\nsha256 {s.sha256[:10]}" for s in known])
    ax.set_xlim(0, max(s.size_bytes for s in known) / 1024 * (1.6 if _narrow() else 1.35))
    ax.set_xlabel("size of the .tflite file (KiB)")
    _legend(fig, title, {s.role for s in known}, False)
    by_sha = {s.sha256: s.size_bytes for s in known}
    ratios = []
    for pair in pairs(runs):
        if pair.speedup is not None:
            b, f = by_sha.get(pair.binary.model_sha256), by_sha.get(pair.baseline.model_sha256)
            if b and f:
                ratios.append(f"{pair.model_label}: float is {f / b:.1f}x the binary size")
    caption = (
        f"{_plural(len(known), 'bar')}, one per distinct model (by SHA-256) in the order of "
        "the Model size table: file sizes, the same on every target, so nothing here is "
        "emulated."
    )
    if ratios:
        caption += " " + "; ".join(dict.fromkeys(ratios)) + "."
    if unknown:
        caption += f" Unknown: {unknown_text}."
    return View("size", title, fig, caption)


OTHER_OPS = "other ops"  # the op types past the named ones, together
OPS_NAMED = 8  # op types named in the per-op view; the rest are OTHER_OPS
REMAINDER_COLORS = {UNATTRIBUTED: "#EEEEEE", BUILTIN_OPS: "#BDBDBD", OTHER_OPS: "#D9D9D9"}
# one colour each for as many named op types as lack one of their own (Paul Tol's)
NAMED_OP_COLORS = (*EXTRA_OP_COLORS, "#117733", "#88CCEE", "#CC6677", "#661100")


def _op_shares(m: Measurement) -> dict[str, float]:
    """Each op type's share (%) of the measurement's profile, which sums to its mean."""
    total = sum(m.ops_ms.values())
    return {n: 100 * ms / total for n, ms in m.ops_ms.items()} if total > 0 else {}


def _ops_caption(items: Sequence[Measurement], named: Sequence[str]) -> str:
    """What the per-op view shows, from the data it draws."""
    covered: dict[str, set[str]] = {}
    for m in items:
        covered.setdefault(m.model_label, set()).add(
            f"{m.target} (emulated)" if m.emulated else m.target
        )
    parts = [
        "Runs with --profile-ops: "
        + "; ".join(f"{label} on {', '.join(sorted(t))}" for label, t in covered.items())
        + ". Each bar is one inference split by op type, as shares of its mean latency."
    ]
    per_node = [m for m in items if UNATTRIBUTED in m.ops_ms]
    if per_node:
        kinds = {
            "LiteRT's builtins": [n for n in named if n.isupper() and n.replace("_", "").isalnum()],
            "our ops": [n for n in named if op_kind(n) == "binary"],
            "XNNPACK's operators": [n for n in named if "(" in n and "::" not in n],
        }
        shown = "; ".join(f"{kind} ({', '.join(ns)})" for kind, ns in kinds.items() if ns)
        parts.append(
            f"{len(per_node)} of the {len(items)} bars come from the runtime's profiler, "
            "which timed every node, each op type by the name its runtime gives it"
            + (f" ({shown})" if shown else "")
            + f"; '{UNATTRIBUTED}' is the part of the mean latency no event covered."
        )
    if len(per_node) < len(items):
        parts.append(
            f"{len(items) - len(per_node)} bars have no per-node times (an older runner or "
            f"runtime): only our ops are timed, and '{BUILTIN_OPS}' is the mean latency "
            "minus them, every builtin kernel together."
        )
    if len({n for m in items for n in m.ops_ms} - set(REMAINDER_COLORS)) > len(named):
        parts.append(f"Past the {len(named)} op types with the most time: '{OTHER_OPS}'.")
    top = {}
    for m in items:
        shares = {n: v for n, v in _op_shares(m).items() if op_kind(n) != "remainder"}
        if shares:
            name = max(shares, key=shares.get)
            where = f"{m.model_label} on {m.target}, {threads_text(m.threads)}"
            top.setdefault(where, f"{name} {shares[name]:.0f}%")
    if top:
        parts.append(
            "Most time: " + "; ".join(f"{op} ({where})" for where, op in top.items()) + "."
        )
    if any(m.emulated for m in items):
        parts.append("Hatched bars are emulated (qemu): their times are not board figures.")
    return " ".join(parts)


def ops_view(runs: Sequence[Run]) -> View:
    """Where each profiled model's time goes: every op type the profile names, binary and
    float models alike, the op types with the most time named and the rest together."""
    items = [m for run in runs for m in run.measurements if m.ops_ms]
    title = "Where the time goes (per-op profile)"
    if not items:
        return View("ops", title, None, "No run was profiled (run with --profile-ops).")
    weight: dict[str, float] = {}  # by share summed over the bars: most first
    for m in items:
        for name, share in _op_shares(m).items():
            if name not in REMAINDER_COLORS:
                weight[name] = weight.get(name, 0.0) + share
    named = sorted(weight, key=lambda n: (-weight[n], n))[:OPS_NAMED]
    order = [*named, OTHER_OPS, BUILTIN_OPS, UNATTRIBUTED]
    unknown = [n for n in named if n not in OP_COLORS]  # builtins, ops added since
    colors = {
        n: OP_COLORS.get(n)
        or REMAINDER_COLORS.get(n)
        or NAMED_OP_COLORS[unknown.index(n) % len(NAMED_OP_COLORS)]
        for n in order
    }
    run_by_id = {r.run_id: r for r in runs}
    groups = _by_target(items, lambda m: run_by_id[m.run_id])
    fig, axes = _panels(groups, row_in=0.5, sharex=True)
    drawn: set[str] = set()
    for ax, (_, group) in zip(axes, groups, strict=True):
        for i, m in enumerate(group):
            shares = _op_shares(m)
            by_name = {n: shares.pop(n, 0.0) for n in (*named, BUILTIN_OPS, UNATTRIBUTED)}
            by_name[OTHER_OPS] = sum(shares.values())
            left = 0.0
            for name in order:
                share = by_name[name]
                if share <= 0:
                    continue
                drawn.add(name)
                ax.barh(i, share, left=left, height=0.6, **_bar_style(colors[name], m.emulated))
                if share >= 7:  # room for the figure inside the segment
                    r, g, b = to_rgb(colors[name])
                    dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 and not m.emulated
                    ax.text(
                        left + share / 2,
                        i,
                        f"{share:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=7.5,
                        color="white" if dark else "black",
                    )
                left += share
            ax.annotate(
                f"{_ms(sum(m.ops_ms.values()))} ms",
                (100, i),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
            )
        _row_labels(ax, [f"{m.run_id}\n{m.model_label}, {threads_text(m.threads)}" for m in group])
    axes[0].set_xlim(0, 112)
    axes[0].set_xticks(range(0, 101, 20))
    axes[-1].set_xlabel("share of one inference's time (%); mean ms per inference at the right")
    handles = [
        Patch(
            facecolor=colors[n],
            edgecolor="#999999",
            label=n + (" (ours)" if op_kind(n) == "binary" else ""),
        )
        for n in order
        if n in drawn
    ]
    if any(m.emulated for m in items):
        handles.append(Patch(**_bar_style("#555555", True), label="emulated: hatched"))
    _header(fig, title, handles, ncols=min(len(handles), 4))
    return View("ops", title, fig, _ops_caption(items, named))


def _run_tick(number: int, run: Run) -> str:
    """'#3' over the run's date and time (UTC): the trend's x-axis, in run order."""
    return f"#{number}\n{run.created:%m-%d}\n{run.created:%H:%M}"


def trend_view(runs: Sequence[Run]) -> View:
    """Median latency across runs for each model (by hash) on each target."""
    series: dict[tuple, list[Measurement]] = {}
    for run in runs:
        for m in run.measurements:
            series.setdefault((m.target, m.model_sha256, m.role, m.threads), []).append(m)
    series = {k: v for k, v in series.items() if len({m.run_id for m in v}) >= 2}
    title = "Trend across runs"
    if not series:
        return View(
            "trend",
            title,
            None,
            "No model ran more than once on the same target with the same thread count: "
            "a trend needs at least two runs.",
        )
    run_by_id = {r.run_id: r for r in runs}
    number = {r.run_id: i for i, r in enumerate(runs, start=1)}  # oldest first, as the tables
    groups = _by_target(list(series), lambda key: run_by_id[series[key][0].run_id])
    narrow = _narrow()
    panel_in = [2.9 for _ in groups]
    fig = _figure(sum(panel_in) + (0.6 if narrow else 1.0))
    axes = fig.subplots(len(groups), 1, squeeze=False, height_ratios=panel_in)[:, 0]
    # colour: role, shaded per model of that role; marker: thread count; dashed: emulated
    shas = {
        role: list(dict.fromkeys(k[1] for k in series if k[2] == role)) for *_, role, _ in series
    }
    thread_counts = sorted({k[3] for k in series})
    markers = "os^DvP*X"
    unstable = False
    for ax, (run, keys) in zip(axes, groups, strict=True):
        _panel_title(ax, run)
        ax.grid(axis="both")
        values = []
        xs = sorted({number[m.run_id] for key in keys for m in series[key]})
        for k, key in enumerate(keys):
            ms = sorted(series[key], key=lambda m: number[m.run_id])
            _, sha, role, threads = key
            # series side by side at each run, so their bands never overlap
            shift = (k - (len(keys) - 1) / 2) * min(0.08, 0.3 / len(keys))
            x = np.array([number[m.run_id] for m in ms], dtype=float) + shift
            med = np.array([m.latency_ms["median"] for m in ms])
            low = np.array([_stat(m, "min") for m in ms])
            high = np.array([_stat(m, "p90") for m in ms])
            values += [*low, *high]
            shades = ROLE_SHADES.get(role, ROLE_SHADES["model"])
            color = shades[shas[role].index(sha) % len(shades)]
            ax.errorbar(
                x, med, yerr=[med - low, high - med], fmt="none", ecolor=color,
                elinewidth=1.4, capsize=3, alpha=0.9,
            )  # fmt: skip
            ax.plot(
                x,
                med,
                color=color,
                marker=markers[thread_counts.index(threads) % len(markers)],
                linestyle="--" if run.emulated else "-",
                linewidth=1.5,
                markersize=5.5,
                markeredgecolor="white",
                markeredgewidth=0.6,
                label=f"{ms[0].model_label} ({role}), {threads_text(threads)}",
            )
            for xi, mi, m in zip(x, med, ms, strict=True):
                if not m.stable:
                    unstable = True
                    ax.annotate(
                        UNSTABLE_MARK, (xi, mi), xytext=(0, 6), textcoords="offset points",
                        ha="center", va="bottom", fontsize=9, color=UNSTABLE_COLOR,
                    )  # fmt: skip
        low_all, high_all = min(values), max(values)
        if low_all > 0 and high_all / low_all > 30:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, high_all * 1.2)
        ax.set_xticks(xs, [_run_tick(n, runs[n - 1]) for n in xs])
        ax.set_xlim(xs[0] - 0.5, xs[-1] + 0.5)
        ax.set_ylabel("median latency (ms)")
        ax.set_xlabel("run (# in the Runs table; date and time UTC)")
        if not narrow:  # narrow figures list the lines in the header instead
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    lines = {}  # narrow: each model's line once, in the header
    if narrow:
        for line in (h for ax in axes for h in ax.get_lines()):
            if not line.get_label().startswith("_"):
                lines.setdefault((line.get_label(), line.get_color()), line)
    handles = list(lines.values()) + [
        Line2D([], [], color="#616161", marker=markers[i % len(markers)], ls="",
               label=threads_text(n))
        for i, n in enumerate(thread_counts)
    ]  # fmt: skip
    handles.append(
        Line2D([], [], color="#616161", marker="_", markersize=8, lw=1.4, label="fastest to p90")
    )
    emulated = any(run_by_id[ms[0].run_id].emulated for ms in series.values())
    if emulated:
        handles.append(Line2D([], [], color="#616161", ls="--", label="emulated: dashed"))
    if unstable:
        handles.append(_unstable_handle())
    _header(fig, title, handles)
    listed = "; ".join(
        f"{ms[0].model_label} ({role}), {threads_text(threads)} on {target}: "
        f"runs {', '.join(f'#{number[m.run_id]}' for m in ms)}"
        for (target, _, role, threads), ms in series.items()
    )
    caption = (
        f"{_plural(len(series), 'line')}, one per model (by SHA-256), target and thread "
        f"count measured in at least two runs: {listed}. Each point is a run's median "
        "latency; its whisker spans the fastest run to the 90th percentile. The x-axis "
        "numbers the runs as the Runs table does (oldest first), with each run's date and "
        "time. Blue is binary, orange float (a shade per model); the marker is the thread "
        "count."
    )
    if emulated:
        caption += " Dashed lines are emulated."
    bad = [m for ms in series.values() for m in ms if not m.stable]
    if bad:
        caption += _unstable_sentence(bad)
    return View("trend", title, fig, caption)


VIEWS: tuple[Callable[[Sequence[Run]], View], ...] = (
    latency_view,
    speedup_view,
    memory_view,
    energy_view,
    size_view,
    ops_view,
    trend_view,
)


def render_views(runs: Sequence[Run], *, width: float = WIDTH_IN) -> list[View]:
    """Every view, in the page's order, drawn with the report's style ``width`` inches
    wide (:data:`WIDTH_IN`, or :data:`NARROW_WIDTH_IN` for phones)."""
    token = _width.set(width)
    try:
        with matplotlib.rc_context(STYLE):
            views = [view(runs) for view in VIEWS]
            if _narrow():
                for view in views:
                    if view.figure is not None:
                        _wrap_axis_labels(view.figure)
            return views
    finally:
        _width.reset(token)


def _wrap_axis_labels(fig: Figure, limit: int = 48) -> None:
    """Axis labels longer than ``limit`` characters on two lines, broken at the '; ' or
    space nearest their middle, so a narrow figure does not cut them off."""
    for ax in fig.axes:
        text = ax.get_xlabel()
        if len(text) <= limit or "\n" in text:
            continue
        breaks = [i for i, c in enumerate(text) if c == " "]
        semis = [i + 1 for i in range(len(text) - 1) if text[i : i + 2] == "; "]
        at = min(semis or breaks, key=lambda i: abs(i - len(text) / 2))
        ax.set_xlabel(text[:at].rstrip() + "\n" + text[at:].lstrip())


def render_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp or version metadata, so reruns are identical)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
