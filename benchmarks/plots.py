"""The PNG figures BENCHMARKS.md shows, drawn from the results dict of one run.

Each function writes one PNG into ``out`` and returns its file name, or None when its
section has no data. Every title says whether the figure is host time, emulated time or
counted instructions; error bars are the min-max spread over the rounds.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["draw_all"]

COLORS = {
    "ours": "#1f77b4",
    "xnnpack": "#ff7f0e",
    "lce": "#2ca02c",
    "faiss": "#9467bd",
    "builtin": "#d62728",
    "paper": "#7f7f7f",
    "counted": "#17becf",
    "host": "#1f77b4",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 110})
    return plt


def _err(spread: dict) -> list[float]:
    return [spread["median"] - spread["min"], spread["max"] - spread["median"]]


def _hbars(ax, labels, spreads, color, goal: float, goal_text: str) -> None:
    import numpy as np

    y = np.arange(len(labels))
    med = [s["median"] for s in spreads]
    err = np.array([_err(s) for s in spreads]).T
    ax.barh(y, med, xerr=err, color=color, capsize=3, height=0.6)
    for yi, m, s in zip(y, med, spreads, strict=True):
        ax.text(s["max"] * 1.08, yi, f"{m:.2f}x", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_ylim(len(labels) - 0.5, -0.9)  # top to bottom, room above for the goal label
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.axvline(goal, color="red", ls="--", lw=1)
    ax.text(goal, -0.55, f" goal {goal_text}", color="red", fontsize=8, va="bottom")
    lo = min(min(s["min"] for s in spreads), 0.5)
    hi = max(max(s["max"] for s in spreads), goal) * 2.2
    ax.set_xlim(lo * 0.7, hi)


def layers_png(results: dict, out: Path) -> str | None:
    layers, lce = results.get("layers", []), results.get("lce", [])
    if not layers:
        return None
    plt = _plt()
    panels = 2 if lce else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(6.2 * panels, 0.42 * len(layers) + 1.8), squeeze=False
    )
    labels = [r["shape"]["name"] for r in layers]
    _hbars(axes[0][0], labels, [r["speedup"] for r in layers], COLORS["xnnpack"], 2.0, "2x")
    axes[0][0].set_title(
        "HOST: LceBconv2d (ours) vs float CONV_2D (XNNPACK)\n"
        "speedup, 1 thread, same runner, incl. quantizing the input"
    )
    axes[0][0].set_xlabel("float time / binary time (log scale)")
    if lce:
        by_name = {r["shape"]["name"]: r for r in lce}
        names = [n for n in labels if n in by_name]
        _hbars(
            axes[0][1],
            names,
            [by_name[n]["speedup_vs_lce"] for n in names],
            COLORS["lce"],
            10.0,
            "10x",
        )
        axes[0][1].set_title(
            "HOST: LceBconv2d (ours) vs LCE's own x86 kernels\n"
            "same .tflite, LCE's Python call overhead subtracted"
        )
        axes[0][1].set_xlabel("LCE time / our time (log scale)")
    fig.tight_layout()
    name = "layers.png"
    fig.savefig(out / name)
    plt.close(fig)
    return name


def knn_png(results: dict, out: Path) -> str | None:
    rows = results.get("knn", [])
    if not rows:
        return None
    import numpy as np

    plt = _plt()
    dims = sorted({r["c"] for r in rows})
    fig, axes = plt.subplots(
        1, len(dims), figsize=(4.3 * len(dims), 3.8), squeeze=False, sharey=True
    )
    for ax, c in zip(axes[0], dims, strict=True):
        sub = sorted((r for r in rows if r["c"] == c), key=lambda r: r["n"])
        n = [r["n"] for r in sub]
        for key, label, color in (
            ("ours_ms", "ours: BgnnHammingKnn (runner)", COLORS["ours"]),
            ("builtin_ms", "builtin: SIGN+MATMUL+TOPK_V2 (runner)", COLORS["builtin"]),
            ("faiss_ms", "FAISS IndexBinaryFlat (1 thread)", COLORS["faiss"]),
        ):
            med = [float(np.median(r[key])) for r in sub]
            err = np.array(
                [[m - min(r[key]), max(r[key]) - m] for m, r in zip(med, sub, strict=True)]
            ).T
            ax.errorbar(n, med, yerr=err, marker="o", capsize=3, label=label, color=color)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(n, [str(x) for x in n])
        ax.set_title(f"HOST: C = {c} bits, k = 20")
        ax.set_xlabel("points N")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("time per call, ms (log scale)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    name = "knn.png"
    fig.savefig(out / name)
    plt.close(fig)
    return name


def paper_png(table: list[dict], out: Path) -> str | None:
    """Relative run time vs the float DGCNN: the paper's Pi 4B beside ours."""
    if not table:
        return None
    import numpy as np

    plt = _plt()
    series = [
        ("paper", "paper: Raspberry Pi 4B (time)", COLORS["paper"]),
        ("host", "ours: HOST x86_64 (time)", COLORS["host"]),
        ("counted", "ours: COUNTED aarch64 instructions", COLORS["counted"]),
    ]
    series = [s for s in series if any(row.get(s[0]) for row in table)]
    x = np.arange(len(table))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    for i, (key, label, color) in enumerate(series):
        vals = [row[key]["median"] if row.get(key) else np.nan for row in table]
        errs = np.array([_err(row[key]) if row.get(key) else [0, 0] for row in table]).T
        bars = ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            vals,
            width,
            yerr=errs,
            capsize=3,
            label=label,
            color=color,
        )
        for b, v, hi in zip(bars, vals, errs[1], strict=True):
            if not np.isnan(v):
                x_mid = b.get_x() + b.get_width() / 2
                ax.text(x_mid, v + hi + 0.02, f"{v:.2f}", ha="center", fontsize=8)
    ax.set_xticks(x, [textwrap.fill(row["model"], 17) for row in table])
    ax.set_ylabel("run time relative to float DGCNN")
    ax.set_title("Relative run time (lower is better): paper vs this run")
    ax.legend(fontsize=8)
    ax.set_ylim(0, max(1.2, ax.get_ylim()[1]))
    fig.tight_layout()
    name = "paper.png"
    fig.savefig(out / name)
    plt.close(fig)
    return name


def counts_png(per_layer: list[dict], out: Path) -> str | None:
    """Float/binary per layer: counted instructions beside host time."""
    rows = [r for r in per_layer if r.get("counted")]
    if not rows:
        return None
    import numpy as np

    plt = _plt()
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(rows) + 2.2))
    counted = [r["counted"] for r in rows]
    host = [r["host"]["median"] if r.get("host") else np.nan for r in rows]
    ax.barh(
        y - 0.2,
        counted,
        0.4,
        color=COLORS["counted"],
        label="COUNTED: float / binary aarch64 instructions",
    )
    ax.barh(y + 0.2, host, 0.4, color=COLORS["host"], label="HOST: float / binary time (x86_64)")
    for yi, v, h in zip(y, counted, host, strict=True):
        ax.text(v * 1.06, yi - 0.2, f"{v:.2f}x", va="center", fontsize=8)
        if not np.isnan(h):
            ax.text(h * 1.06, yi + 0.2, f"{h:.2f}x", va="center", fontsize=8)
    ax.set_yticks(y, [r["name"] for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(v for v in [*counted, *host] if not np.isnan(v)) * 2.0)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xlabel("float / binary (log scale; > 1: binary cheaper)")
    ax.set_title("Per layer: ARM instruction ratio (proxy for a Pi) vs host time ratio")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    name = "counts.png"
    fig.savefig(out / name)
    plt.close(fig)
    return name


def fused_png(results: dict, out: Path) -> str | None:
    """Per EdgeConv layer: fused BgnnEdgeConv vs the float EdgeConv (host time)."""
    layers = (results.get("fused_ops") or {}).get("layers", [])
    if not layers:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(layers) + 1.8))
    _hbars(
        ax, [r["name"] for r in layers], [r["speedup"] for r in layers], COLORS["ours"], 10.0, "10x"
    )
    ax.set_title(
        f"HOST: fused BgnnEdgeConv vs float EdgeConv (XNNPACK), "
        f"{results['fused_ops']['size']} size\nspeedup, 1 thread, same runner, same indices"
    )
    ax.set_xlabel("float time / fused time (log scale)")
    fig.tight_layout()
    name = "fused.png"
    fig.savefig(out / name)
    plt.close(fig)
    return name


def draw_all(
    results: dict, paper_table: list[dict], per_layer_counts: list[dict], out: Path
) -> dict[str, str]:
    """Every figure that has data; name -> file name inside ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    drawn = {
        "layers": layers_png(results, out),
        "knn": knn_png(results, out),
        "paper": paper_png(paper_table, out),
        "counts": counts_png(per_layer_counts, out),
        "fused": fused_png(results, out),
    }
    return {k: v for k, v in drawn.items() if v}
