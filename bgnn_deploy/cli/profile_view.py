"""The terminal view of ``run --profile-ops``: where each measurement's time goes.

For each measurement (model role, thread count) one table of op types, most time first,
with ms per run, share of the mean latency and calls per run, then the nodes that took
the most time (``top``; the rest summed in one row). Shares are of the sum of the op
types, which the runner makes the mean latency (its ``other (unattributed)`` or
``builtin (LiteRT)`` entry is the rest); the mean is of the profiled runs, which the
profiler slows. Long op names wrap, numbers never do: the tables fit 80 columns.
Emulated measurements say so in their title.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bgnn_deploy.results.records import Measurement, NodeTime

__all__ = ["node_label", "profile_table"]


def node_label(node: NodeTime) -> str:
    """``#12`` for interpreter node 12, ``k0.3`` for operator 3 of the run's first delegate
    kernel, ``k0`` for that kernel's own time; ``s1`` before any outside the main subgraph."""
    where = f"s{node.subgraph}" if node.subgraph else ""
    if node.delegate_kernel is not None and node.index < 0:
        return f"{where}k{node.delegate_kernel}"
    if node.delegate_kernel is not None:
        return f"{where}k{node.delegate_kernel}.{node.index}"
    return f"{where}#{node.index}"


def _share(ms: float, total: float) -> str:
    return f"{100 * ms / total:.1f}%" if total > 0 else "-"


def _calls(calls: float | None) -> str:
    if calls is None:
        return "-"
    return f"{calls:.0f}" if calls == int(calls) else f"{calls:.2f}"


def _table(first: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    if first:
        table.add_column(first, no_wrap=True)
    table.add_column("op", overflow="fold", ratio=1)
    for name in ("ms/run", "share", "calls/run"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _one(m: Measurement, top: int) -> list[RenderableType]:
    r = m.result
    total = sum(op.ms_per_run for op in r.ops.values())
    source = r.profile.source if r.profile is not None else "runner"
    emulated = " [bold yellow]EMULATED[/]" if r.emulated else ""
    head = (
        f"{m.role} ({escape(Path(m.model).name)}), {m.threads} thread(s): "
        f"{r.latency.mean:.3f} ms mean{emulated} [dim](timed by {escape(source)})[/]"
    )
    ops = _table("")
    for name, op in sorted(r.ops.items(), key=lambda kv: (-kv[1].ms_per_run, kv[0])):
        ms = op.ms_per_run
        ops.add_row(escape(name), f"{ms:.3f}", _share(ms, total), _calls(op.calls_per_run))
    out: list[RenderableType] = [Text.from_markup(head), ops]
    if r.profile is not None and r.profile.unavailable:
        out.append(Text(f"no per-node profile: {r.profile.unavailable}", style="dim"))
    if not r.nodes:
        return out
    ranked = sorted(r.nodes, key=lambda n: -n.ms_per_run)
    nodes = _table("node")
    for n in ranked[:top]:
        nodes.add_row(
            node_label(n),
            escape(n.op),
            f"{n.ms_per_run:.3f}",
            _share(n.ms_per_run, total),
            _calls(n.calls_per_run),
        )
    rest = ranked[top:]
    if rest:
        ms = sum(n.ms_per_run for n in rest)
        nodes.add_row("", f"{len(rest)} more", f"{ms:.3f}", _share(ms, total), "")
    out += [Text(f"the {min(top, len(ranked))} slowest of {len(ranked)} nodes:"), nodes]
    if any(n.delegate_kernel is not None for n in r.nodes):
        note = "kK.I: operator I of delegate kernel K, as XNNPACK names and times it (whole µs)"
        note += "; kK: that kernel's own time outside its operators"
        out.append(Text(note, style="dim"))
    return out


def profile_table(measurements: Sequence[Measurement], *, top: int = 10) -> Group:
    """The op-type and top-node tables of every profiled measurement, in order."""
    parts: list[RenderableType] = []
    for m in measurements:
        if m.result.ops:
            parts.extend(_one(m, top))
    if not parts:
        parts.append(Text("no op profile in these results (the runner printed none)"))
    return Group(*parts)
