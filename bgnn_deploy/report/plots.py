"""The report's figures: one matplotlib figure per view, drawn on the Agg canvas.

Figures are built from :class:`matplotlib.figure.Figure` with a ``FigureCanvasAgg``
rather than through ``pyplot``: no global backend switch, no window, and nothing kept
alive between calls, so the library can be used from any program or thread.

Every view function takes the runs and returns a :class:`View`: a figure and a caption
that says what is drawn, or no figure and a sentence saying why (the page shows that
sentence instead of an empty plot). Binary is always blue and float always orange;
emulated results are hatched and sit in panels titled EMULATED, so no figure can pass
them off as board figures.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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

__all__ = ["VIEWS", "View", "render_png", "render_views"]

ROLE_COLORS = {"binary": "#0072B2", "float": "#E69F00", "model": "#7F7F7F"}  # Okabe-Ito
# darker and lighter shades of the same hue tell models of the same role apart (trend)
ROLE_SHADES = {
    "binary": ("#0072B2", "#56B4E9", "#003B5C", "#7FA7C9"),
    "float": ("#E69F00", "#F5C56B", "#8C6100", "#D55E00"),
    "model": ("#7F7F7F", "#BDBDBD", "#404040"),
}
EMULATED_HATCH = "///"
EMULATED_TITLE_COLOR = "#B2182B"
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
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
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

T = TypeVar("T")


@dataclass(frozen=True)
class View:
    """One view of the report: ``figure`` is None when there is nothing to draw, and
    then ``caption`` says why."""

    name: str  # the PNG's stem
    title: str
    figure: Figure | None
    caption: str


# ---------------------------------------------------------------- shared helpers


def _figure(height: float, width: float = WIDTH_IN) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
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
    """Solid for measured figures; pale and hatched for emulated ones."""
    if emulated:
        return {
            "facecolor": to_rgba(color, 0.22),
            "edgecolor": color,
            "hatch": EMULATED_HATCH,
            "linewidth": 0.8,
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
            f"{run.target}: EMULATED (not a board figure)",
            loc="left",
            color=EMULATED_TITLE_COLOR,
        )
    else:
        ax.set_title(run.target, loc="left")


def _panels(groups: Sequence[tuple[Run, list]], row_in: float, sharex: bool = False):
    """A figure with one horizontal-bar panel per target group, heights by row count."""
    rows = [len(items) for _, items in groups]
    height = sum(0.55 + row_in * n for n in rows) + 0.9
    fig = _figure(height)
    axes = fig.subplots(len(groups), 1, sharex=sharex, height_ratios=rows, squeeze=False)[:, 0]
    for ax, (run, items) in zip(axes, groups, strict=True):
        _panel_title(ax, run)
        ax.set_ylim(len(items) - 0.5, -0.5)  # first row on top
    return fig, list(axes)


def _row_labels(ax, labels: Sequence[str]) -> None:
    ax.set_yticks(range(len(labels)), labels)
    ax.tick_params(axis="y", length=0)


def _header(fig: Figure, title: str, handles: Sequence, ncols: int | None = None) -> None:
    """The title with the legend under it, above the panels. One legend artist carries
    both (as its title), so the layout engine can never make them overlap."""
    legend = fig.legend(
        handles=handles,
        title=title,
        loc="outside upper left",
        ncols=ncols or max(len(handles), 1),
        frameon=False,
        alignment="left",
    )
    legend.get_title().set_fontsize(STYLE["figure.titlesize"])
    legend.get_title().set_fontweight("bold")


def _legend(fig: Figure, title: str, roles: set[str], emulated: bool, extra: Sequence = ()) -> None:
    handles = [
        Patch(color=ROLE_COLORS[role], label=role)
        for role in ("binary", "float", "model")
        if role in roles
    ]
    handles += list(extra)
    if emulated:
        handles.append(Patch(**_bar_style("#555555", True), label="emulated: hatched"))
    _header(fig, title, handles)


def _log_if_wide(ax, low: float, high: float) -> bool:
    """Log scale when values in one panel span more than 30x, else linear from zero."""
    if low > 0 and high / low > 30:
        ax.set_xscale("log")
        ax.set_xlim(low / 1.6, high * 3.0)
        return True
    ax.set_xlim(0, max(high, 1e-9) * 1.2)
    return False


def _pair_rows(ax, items: Sequence[Pair], value: Callable[[Measurement], float | None], fmt):
    """Grouped horizontal bars, binary above float, with values printed at the bar ends."""
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
                    fontsize=7.5,
                    fontstyle="italic",
                    color="#616161",
                )
                continue
            ax.barh(i + offset, v, height=0.36, **_bar_style(_color(m.role), m.emulated))
            ax.annotate(
                fmt(v),
                (v, i + offset),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
            )
    _row_labels(ax, [p.label for p in items])


def _roles(items: Sequence[Pair]) -> set[str]:
    return {m.role for p in items for m in p.measurements}


# ---------------------------------------------------------------- the views


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
                ax.hlines(y, lat["min"], lat["max"], color=color, linewidth=1.2)
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
                ax.plot(lat["median"], y, marker="|", markersize=13, mew=2.2, color="black")
                ax.annotate(
                    f"{_ms(lat['median'])} ms",
                    (lat["max"], y),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7.5,
                )
        _row_labels(ax, [p.label for p in group])
        ax.set_xlabel("latency per inference (ms" + (", log scale)" if logs[-1] else ")"))
    markers = [
        Line2D([], [], color="black", marker="|", markersize=10, mew=2, ls="", label="median"),
        Patch(facecolor="#9E9E9E", label="min to p90"),
        Line2D([], [], color="#9E9E9E", lw=1.2, label="to max"),
    ]
    _legend(fig, title, _roles(items), any(p.run.emulated for p in items), markers)
    runs_per = sorted({m.timed_runs for p in items for m in p.measurements if m.timed_runs})
    caption = (
        "One row per run and thread count, binary above float. The bar spans the fastest "
        "run to the 90th percentile (9 in 10 runs were at least that fast), the thin line "
        "continues to the slowest run, the black tick and printed value are the median, "
        "and the grey dots are the timed runs themselves, in run order from bottom to top "
        "(runs stored before the runner reported each run show the range only)."
    )
    if runs_per:
        caption += f" Timed runs per row: {', '.join(map(str, runs_per))}."
    if any(logs):
        caption += " Panels whose values span more than 30x use a log scale."
    return View("latency", title, fig, caption)


def speedup_view(runs: Sequence[Run]) -> View:
    """Binary vs float speedup per run, target and thread count."""
    items = [p for p in pairs(runs) if p.speedup is not None]
    title = "Binary vs float speedup"
    if not items:
        return View(
            "speedup", title, None, "no run measured a binary model together with a float baseline"
        )
    groups = _by_target(items, lambda p: p.run)
    fig, axes = _panels(groups, row_in=0.45, sharex=True)
    high = max(p.speedup for p in items)
    for ax, (_, group) in zip(axes, groups, strict=True):
        for i, pair in enumerate(group):
            ax.barh(
                i, pair.speedup, height=0.55, **_bar_style(ROLE_COLORS["binary"], pair.run.emulated)
            )
            ax.annotate(
                f"{pair.speedup:.2f}x",
                (pair.speedup, i),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
            )
        ax.axvline(1.0, color="#424242", linestyle="--", linewidth=1)
        _row_labels(ax, [p.label for p in group])
    axes[0].set_xlim(0, max(high * 1.15, 1.3))
    axes[-1].set_xlabel("speedup (float median latency / binary median latency)")
    parity = Line2D([], [], color="#424242", ls="--", lw=1, label="1.0: equally fast")
    _legend(fig, title, {"binary"}, any(p.run.emulated for p in items), [parity])
    caption = (
        "Float median latency divided by binary median latency, measured in the same run at "
        "the same thread count. Right of the dashed line the binary model is faster."
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
        ax.set_xlim(0, high / 1024 * 1.2)
    axes[-1].set_xlabel("peak resident set size of the runner process (MiB)")
    _legend(fig, title, _roles(items), any(p.run.emulated for p in items))
    caption = (
        "Peak resident set size (VmHWM) of the runner process: runtime library, model and "
        "tensors. Under qemu it includes the emulator itself."
    )
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
        _pair_rows(ax, group, lambda m: m.energy_mj, lambda v: f"{v:.3g} mJ")
        high = max(m.energy_mj for p in group for m in p.measurements if m.energy_mj is not None)
        ax.set_xlim(0, max(high, 1e-9) * 1.2)
    axes[-1].set_xlabel("energy per inference above idle (mJ)")
    _legend(fig, title, _roles(items), any(p.run.emulated for p in items))
    caption = (
        "Mean power while the model ran minus mean power while the target idled, times the "
        "median latency."
    )
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
    fig = _figure(0.55 + 0.42 * len(known) + 0.9)
    ax = fig.subplots()
    for i, s in enumerate(known):
        kib = s.size_bytes / 1024
        ax.barh(i, kib, height=0.6, **_bar_style(_color(s.role), False))
        ax.annotate(
            f"{kib:,.1f} KiB ({s.size_bytes:,} bytes)",
            (kib, i),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
    ax.set_ylim(len(known) - 0.5, -0.5)
    _row_labels(ax, [f"{s.label} ({s.role})\nsha256 {s.sha256[:10]}" for s in known])
    ax.set_xlim(0, max(s.size_bytes for s in known) / 1024 * 1.35)
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
        "One bar per distinct model (by SHA-256): file sizes, the same on every target, "
        "so nothing here is emulated."
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


def trend_view(runs: Sequence[Run]) -> View:
    """Median latency over time for each model (by hash) on each target."""
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
    groups = _by_target(list(series), lambda key: run_by_id[series[key][0].run_id])
    fig = _figure(sum(2.9 for _ in groups) + 0.6)
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    # colour: role, shaded per model of that role; marker: thread count; dashed: emulated
    shas = {
        role: list(dict.fromkeys(k[1] for k in series if k[2] == role)) for *_, role, _ in series
    }
    thread_counts = sorted({k[3] for k in series})
    markers = "os^DvP*X"
    for ax, (run, keys) in zip(axes, groups, strict=True):
        _panel_title(ax, run)
        ax.grid(axis="both")
        values = []
        for key in keys:
            ms = sorted(series[key], key=lambda m: m.created)
            _, sha, role, threads = key
            x = [m.created for m in ms]
            med = [m.latency_ms["median"] for m in ms]
            values += [_stat(m, "min") for m in ms] + [_stat(m, "p90") for m in ms]
            shades = ROLE_SHADES.get(role, ROLE_SHADES["model"])
            color = shades[shas[role].index(sha) % len(shades)]
            ax.fill_between(
                x,
                [_stat(m, "min") for m in ms],
                [_stat(m, "p90") for m in ms],
                color=color,
                alpha=0.15,
                linewidth=0,
            )
            ax.plot(
                x,
                med,
                color=color,
                marker=markers[thread_counts.index(threads) % len(markers)],
                linestyle="--" if run.emulated else "-",
                linewidth=1.5,
                markersize=5,
                label=f"{ms[0].model_label}, {threads} thr (sha256 {sha[:8]})",
            )
        low, high = min(values), max(values)
        if low > 0 and high / low > 30:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, high * 1.15)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("median latency (ms)")
        ax.set_xlabel("run time (UTC)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(title, x=0.01, ha="left")
    caption = (
        "Median latency of each model (by SHA-256) per target and thread count over the "
        "runs that measured it, with a band from the fastest run to the 90th percentile. "
        "Only models measured in at least two runs are drawn. Blue is binary, orange "
        "float (a shade per model); the marker is the thread count."
    )
    if any(run_by_id[ms[0].run_id].emulated for ms in series.values()):
        caption += " Dashed lines are emulated."
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


def render_views(runs: Sequence[Run]) -> list[View]:
    """Every view, in the page's order, drawn with the report's style."""
    with matplotlib.rc_context(STYLE):
        return [view(runs) for view in VIEWS]


def render_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp or version metadata, so reruns are identical)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
