"""BENCHMARKS.md, its plots and the JSON of raw figures, from one run's results dict.

Nothing here measures or rounds in anyone's favour: every number in the document is
read from the results dict the suite produced in the same run.

>>> print(markdown_table(["a", "b"], [[1, "x"]]))
| a | b |
|---|---|
| 1 | x |
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from benchmarks.goals import PAPER_PI4, network_size
from benchmarks.plots import draw_all
from benchmarks.stats import Spread

__all__ = ["counted_layers", "markdown_table", "paper_table", "write_report"]


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub markdown table; cells are str()-ed and '|' inside them escaped."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, table has {len(headers)} columns")
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines)


def _s(spread: dict | None, digits: int = 2, unit: str = "") -> str:
    if not spread:
        return "-"
    return Spread(spread["min"], spread["median"], spread["max"], spread["n"]).fmt(digits, unit)


def _ms(values: list[float]) -> str:
    return _s(Spread.of(values).to_dict(), 3) if values else "-"


def _point(value: float) -> dict:
    return {"min": value, "median": value, "max": value, "n": 1}


def _count_of(results: dict, name: str) -> float | None:
    for job in results.get("counts", {}).get("jobs", []):
        if job["name"] == name:
            return job["median"]
    return None


def paper_table(results: dict) -> list[dict]:
    """Relative run time vs the float DGCNN: paper (Pi 4B), ours on the host, ours
    counted in aarch64 instructions."""
    size = network_size(results) or "paper"
    host = results.get("endtoend", {}).get(size)
    dgcnn = _count_of(results, f"{size}/dgcnn_float")
    rows = []
    for model, role in (("float DGCNN", None), ("BF", "builtin"), ("BF + Hamming k-NN", "fused")):
        row: dict = {"model": model, "paper": _point(PAPER_PI4[model])}
        if role is None:
            row["host"] = _point(1.0) if host else None
            row["counted"] = _point(1.0) if dgcnn else None
        else:
            row["host"] = host["relative_time_vs_dgcnn"][role] if host else None
            count = _count_of(results, f"{size}/{role}")
            row["counted"] = _point(count / dgcnn) if count and dgcnn else None
        rows.append(row)
    return rows


def counted_layers(results: dict) -> list[dict]:
    """Per DGCNN layer: binary and float instruction counts, their ratio, and the host
    time ratio of the same layer from this run."""
    host = {r["shape"]["name"]: r["speedup"] for r in results.get("layers", [])}
    rows = []
    for r in results.get("layers", []):
        name = r["shape"]["name"]
        binary = _count_of(results, f"layer/{name}/binary")
        float_ = _count_of(results, f"layer/{name}/float")
        if binary and float_:
            rows.append(
                {
                    "name": name,
                    "binary": binary,
                    "float": float_,
                    "counted": float_ / binary,
                    "host": host.get(name),
                }
            )
    return rows


LABELS = """\
**Labels.** **HOST**: wall time on this machine (x86_64, the CPU below), our runner
through the LiteRt CompiledModel API. **EMULATED**: wall time of the aarch64 runner
under qemu-aarch64 on this machine; it says nothing about a board and is shown only
where no count can stand in (threads). **COUNTED**: aarch64 guest instructions the
runner executes under qemu-aarch64 (a TCG plugin), exact and independent of machine
load: the proxy for ARM cost until real boards report. Ratios are `median (min-max)`
over interleaved rounds: both sides of a ratio run back to back in each round (order
reversed every other round) and each round gives one ratio."""

MODELS = """\
**Models.** The networks are untrained but correctly shaped: BinDGCNN BF2 with Hamming
k-NN and the float DGCNN at the paper's sizes (1024 points, k=20, EdgeConv
64-64-128-256, embedding 1024, MLP 512-256, 40 classes) and at `make demo`'s sizes
(256 points, k=10), BatchNorm statistics from 16 synthetic clouds, converted by
`bgnn-deploy convert` (`convert_checkpoint`, parity checked on one cloud). Speed does
not depend on training; accuracy is not measured here."""


def _machine(results: dict) -> str:
    m = results["machine"]
    builds = results.get("builds", {})
    pk = m["packages"]
    rows = [
        ["CPU", f"{m['cpu_model']} ({m['arch']}), {m['cores']} cores"],
        ["flags used by the kernels", ", ".join(m["flags_of_interest"]) or "-"],
        ["kernel, Python", f"{m['kernel']}, {m['python']}"],
        [
            "load average (1, 5, 15 min)",
            f"{m['load_average_at_start']} at start, {m.get('load_average_at_end', '-')} at end",
        ],
        [
            "runner ISA chosen (host / qemu)",
            f"{results.get('isa', {}).get('host', '-')} / "
            f"{results.get('isa', {}).get('qemu', '-')}",
        ],
        ["runtime (host / qemu)", " / ".join(b.get("runtime", "-") for b in builds.values())],
        ["host timings pinned to", f"CPU {results.get('pinned_cpu')} (both sides of a ratio)"],
        ["qemu", m.get("qemu") or "-"],
        ["packages", ", ".join(f"{k} {v}" for k, v in pk.items() if v)],
        [
            "commit",
            f"{m.get('git', {}).get('commit')} "
            f"({m.get('git', {}).get('modified_files', 0)} modified tracked files)",
        ],
    ]
    return markdown_table(["", ""], rows)


def _goals(results: dict) -> str:
    rows = [
        [g["item"], g["goal"], g["measured"], g["label"].upper(), f"**{g['status']}**"]
        for g in results["goals"]
    ]
    return markdown_table(["#", "goal", "measured", "kind", "status"], rows)


def _paper(results: dict, table: list[dict]) -> str:
    rows = [[r["model"], _s(r["paper"]), _s(r["host"]), _s(r["counted"], 3)] for r in table]
    return markdown_table(
        [
            "network",
            "paper: Raspberry Pi 4B (time)",
            "ours: HOST x86_64 (time)",
            "ours: COUNTED aarch64 instructions",
        ],
        rows,
    )


def _layers(results: dict) -> str:
    rows = []
    for r in results.get("layers", []):
        s = r["shape"]
        prof = r.get("binary_ops_profile", {})
        q, b = (
            prof.get("LceQuantize", {}).get("ms_per_run"),
            prof.get("LceBconv2d", {}).get("ms_per_run"),
        )
        share = f"{q / (q + b):.0%}" if q is not None and b else "-"
        rows.append(
            [
                s["name"],
                f"[1, {s['h']}, {s['w']}, {s['cin']}] -> {s['cout']}",
                f"{r['macs'] / 1e6:,.1f} M",
                _ms(r["binary_ms"]),
                _ms(r["float_ms"]),
                _s(r["speedup"], 2, "x"),
                share,
            ]
        )
    table = markdown_table(
        [
            "layer",
            "input -> Cout",
            "MACs",
            "binary ms (ours)",
            "float ms (XNNPACK)",
            "speedup",
            "LceQuantize share",
        ],
        rows,
    )
    together = results.get("layers_together")
    if together:
        table += (
            "\n\nThe DGCNN layers together (per round, their summed float time over their "
            f"summed binary time): {_s(together, 2, 'x')}. LceQuantize share: the part of the "
            "binary layer's time spent bit-packing its float input (runner op profile)."
        )
    return table


def _lce(results: dict) -> str:
    rows = [
        [
            r["shape"]["name"],
            _ms(r["ours_ms"]),
            _ms(r["lce_raw_ms"]),
            _ms(r["lce_overhead_ms"]),
            _ms(r["lce_ms"]),
            _s(r["speedup_vs_lce"], 2, "x"),
            _s(r["speedup_vs_lce_raw"], 2, "x"),
        ]
        for r in results.get("lce", [])
    ]
    return markdown_table(
        [
            "layer",
            "ours ms",
            "LCE predict ms",
            "LCE call overhead ms",
            "LCE ms (corrected)",
            "ours vs LCE",
            "ours vs LCE (raw)",
        ],
        rows,
    )


def _knn(results: dict) -> str:
    rows = [
        [
            r["n"],
            r["c"],
            _ms(r["ours_ms"]),
            _ms(r["builtin_ms"]),
            _ms(r["faiss_ms"]),
            _s(r["vs_builtin"], 2, "x"),
            _s(r["vs_faiss"], 2, "x"),
        ]
        for r in results.get("knn", [])
    ]
    return markdown_table(
        ["N", "C (bits)", "ours ms", "builtin ms", "FAISS ms", "ours vs builtin", "ours vs FAISS"],
        rows,
    )


ROLE_NAMES = {
    "fused": "BinDGCNN, fused Hamming k-NN (`--knn fused`)",
    "builtin": "BinDGCNN, builtin k-NN graph",
    "dgcnn_float": "float DGCNN (baseline)",
    "bf2_float": "BinDGCNN's float twin (`float.tflite`)",
}


def _endtoend(results: dict) -> str:
    parts = []
    for size, host in results.get("endtoend", {}).items():
        sizes = results.get("sizes", {}).get(size, {}).get("bytes", {})
        rss = {
            role: Spread.of([kb / 1024 for kb in kbs]).to_dict()
            for role, kbs in host["peak_rss_kb"].items()
            if kbs
        }
        rows = []
        for role, name in ROLE_NAMES.items():
            speed = host["speedup_vs_dgcnn"].get(role)
            rows.append(
                [
                    name,
                    _ms(host["ms"][role]),
                    _s(speed, 2, "x") if speed else ("1x" if role == "dgcnn_float" else "-"),
                    _s(host["relative_time_vs_dgcnn"].get(role)) if role != "dgcnn_float" else "1",
                    f"{sizes.get(role, 0) / 1024:,.0f} KiB",
                    _s(rss.get(role), 1),
                ]
            )
        cfg = host["config"]
        parts.append(
            f"**{size} size** ({cfg['num_points']} points, k={cfg['k']}), HOST, 1 thread:\n\n"
            + markdown_table(
                [
                    "model",
                    "ms",
                    "speedup vs float DGCNN",
                    "relative time",
                    ".tflite size",
                    "peak RSS MiB",
                ],
                rows,
            )
        )
        prof = host.get("fused_ops_profile", {})
        if prof:
            parts.append(
                "Where the fused BinDGCNN's time goes (runner `--enable_op_profiling`, "
                "ms per inference): "
                + ", ".join(f"{op} {v['ms_per_run']:.2f}" for op, v in prof.items())
            )
        two = host["two_threads"]
        if not two["measured"]:
            parts.append(f"Two threads on the host: not measurable: {two['reason']}.")
    for size, emu in results.get("emulated", {}).items():
        rows = [
            [
                t,
                _ms(v["ms"]["fused"]),
                _ms(v["ms"]["dgcnn_float"]),
                _s(v["speedup_vs_dgcnn"], 2, "x"),
            ]
            for t, v in emu["threads"].items()
        ]
        parts.append(
            f"**EMULATED** ({size} size, qemu-aarch64, TFLite C API runner, {emu['rounds']} "
            "round(s) of one timed inference each; not a board figure):\n\n"
            + markdown_table(["threads", "fused binary ms", "float DGCNN ms", "speedup"], rows)
        )
    return "\n\n".join(parts)


def _counts(results: dict, per_layer: list[dict]) -> str:
    counts = results.get("counts", {})
    if counts.get("error"):
        return f"Not measured: {counts['error']}"
    parts = [counts.get("method", "")]
    rows = [
        [
            j["name"],
            _count(j["median"]),
            ", ".join(_count(c) for c in j["per_inference"]),
            f"{j['relative_difference']:.5%}" if j["relative_difference"] is not None else "-",
            ", ".join(str(r) for r in j.get("runs", [])),
            _count(j["startup_instructions"]) if "startup_instructions" in j else "-",
        ]
        for j in counts.get("jobs", [])
    ]
    parts.append(
        markdown_table(
            [
                "model",
                "instructions per inference",
                "each count",
                "relative difference",
                "timed runs r, r+m, r+2m",
                "start-up instructions",
            ],
            rows,
        )
    )
    if per_layer:
        rows = [
            [
                r["name"],
                f"{r['binary']:,.0f}",
                f"{r['float']:,.0f}",
                f"{r['counted']:.2f}x",
                _s(r["host"], 2, "x") if r.get("host") else "-",
            ]
            for r in per_layer
        ]
        parts.append(
            "Per layer, float/binary:\n\n"
            + markdown_table(
                [
                    "layer",
                    "binary instructions",
                    "float instructions",
                    "COUNTED float/binary",
                    "HOST time float/binary",
                ],
                rows,
            )
        )
    return "\n\n".join(p for p in parts if p)


def _count(value: float) -> str:
    """Whole instructions for big counts; one decimal where a count is a mean over many
    runs (small models)."""
    return f"{value:,.0f}" if value >= 1e6 else f"{value:,.1f}"


def _deploy(results: dict) -> str:
    d = results.get("deploy")
    if not d:
        return f"Not measured: {results.get('errors', {}).get('deploy', '?')}"
    rows = []
    for state in ("cold", "cached"):
        runs = d["runs"][state]
        rows.append(
            [
                state,
                _s(d["wall_s"][state], 2, " s"),
                _s(Spread.of([r["timed_runs_s"] for r in runs]).to_dict(), 3, " s"),
                _s(d["overhead_s"][state], 2, " s"),
                _s(d["transport_s"][state], 2, " s"),
                f"{runs[0]['remote_commands']}",
                _s(
                    Spread.of(
                        [r["remote_commands_s"] - r["runner_commands_s"] for r in runs]
                    ).to_dict(),
                    2,
                    " s",
                ),
            ]
        )
    cached = d["runs"]["cached"]
    other = [r["remote_commands"] - 2 for r in cached]  # all but the two runner commands
    per_command = Spread.of(
        [
            (r["remote_commands_s"] - r["runner_commands_s"]) / max(n, 1)
            for r, n in zip(cached, other, strict=True)
        ]
    )
    names = cached[0].get("remote_command_names")
    which = (
        " (" + ", ".join(f"{n} x{c}" for n, c in Counter(names).most_common()) + ")"
        if names
        else ""
    )
    finding = (
        f"With nothing to upload, `run` sends {cached[0]['remote_commands']} remote "
        f"commands{which}; each non-runner command takes {per_command.median * 1e3:.0f} ms "
        "on loopback (a new SSH channel and a shell on the board)."
    )
    return (
        f"Board: {d['board']}; model `{Path(d['model']).parent.name}/"
        f"{Path(d['model']).name}` and its float baseline, {d['num_runs']} timed runs each; "
        f"a cold run uploads {d['uploaded_bytes_cold'] / 2**20:.1f} MiB.\n\n"
        + markdown_table(
            [
                "state",
                "wall",
                "timed runs",
                "overhead (wall - timed runs)",
                "without runner start-up/first run",
                "remote commands",
                "time in non-runner commands",
            ],
            rows,
        )
        + "\n\n"
        + finding
    )


def write_report(results: dict, md_path: Path, assets: Path) -> None:
    """Write BENCHMARKS.md at ``md_path`` and the PNGs and JSON into ``assets``."""
    assets.mkdir(parents=True, exist_ok=True)
    table = paper_table(results)
    per_layer = counted_layers(results)
    plots = draw_all(results, table, per_layer, assets)
    rel = Path(os.path.relpath(assets, md_path.parent)).as_posix()
    json_path = assets / "benchmarks.json"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")

    def img(key: str, alt: str) -> str:
        return f"![{alt}]({rel}/{plots[key]})\n\n" if key in plots else ""

    m = results["machine"]
    quick = " --quick" if results["quick"] else ""
    sections = [
        "# Benchmarks\n",
        f"Generated by `make bench` (`python -m benchmarks{quick}`)"
        f" on {results['generated']} in {results['wall_s'] / 60:.1f} minutes on "
        f"{m['cpu_model']} ({m['cores']} cores). Do not edit: rerun `make bench`. Raw "
        f"figures: [`{rel}/benchmarks.json`]({rel}/benchmarks.json).\n",
        LABELS + "\n",
        MODELS + "\n",
        "## Machine\n",
        _machine(results) + "\n",
        "## Goals (issue 7)\n",
        _goals(results) + "\n",
        "## Against the paper (Raspberry Pi 4B, relative run time)\n",
        f"Our figures: the {network_size(results) or 'paper'}-size networks of this run. "
        "The paper's BF row has its k-NN in float arithmetic; ours computes the same "
        "Hamming k-NN as a float matrix product and TOPK_V2 (`--knn builtin`). "
        "BF + Hamming k-NN is our fused XOR + popcount op. Lower is better.\n",
        _paper(results, table) + "\n",
        img("paper", "relative run time"),
        "## 1. Binary convolution vs float (HOST, 1 thread)\n",
        "One 1x1 convolution per model: LceQuantize + LceBconv2d (float input, our "
        "kernels) against CONV_2D (LiteRT's XNNPACK), both through our runner on the "
        "same pinned core. The width sweep is C -> C over 1024 x 20 edge rows.\n",
        img("layers", "binary convolution speedups"),
        _layers(results) + "\n",
        "## 2. End to end\n",
        _endtoend(results) + "\n",
        "## 3. Against LCE's own kernels (HOST, 1 thread)\n",
        "The same binary .tflite in `larq_compute_engine.testing.Interpreter(num_threads=1)`."
        " Its `predict` copies the input in and the output out; that call overhead is "
        "measured in the same rounds on a model with the same input and output shapes "
        "that does no real work, and subtracted.\n",
        _lce(results) + "\n",
        "## 4. Hamming k-NN, k = 20 (HOST, 1 thread)\n",
        "Same random ±1 rows for all three; our op and the builtin graph return identical "
        "indices and the same distances as FAISS (checked before timing). FAISS time "
        "includes building the index (add), as a GNN layer has new features each call; "
        "ours includes packing float rows into bits.\n",
        img("knn", "Hamming k-NN times"),
        _knn(results) + "\n",
        "## 5. ARM cost without a board (COUNTED)\n",
        img("counts", "instruction ratios"),
        _counts(results, per_layer) + "\n",
        "## 6. Size and memory\n",
        "File sizes and peak RSS (the runner's VmHWM, HOST) are in the tables of section "
        "2; the size goal compares the binary .tflite with the same network in float.\n",
        markdown_table(
            ["size", "float twin / binary (fused)", "float DGCNN / binary (fused)"],
            [
                [
                    size,
                    f"{s['float_over_binary']['bf2_float/fused']:.1f}x",
                    f"{s['float_over_binary']['dgcnn_float/fused']:.1f}x",
                ]
                for size, s in results.get("sizes", {}).items()
            ],
        )
        + "\n",
        "## 7. Deployment overhead over SSH (HOST, loopback)\n",
        _deploy(results) + "\n",
        "## How long each part took\n",
        markdown_table(
            ["phase", "seconds"], [[k, f"{v:.0f}"] for k, v in results.get("phases", {}).items()]
        )
        + "\n",
    ]
    if results.get("errors"):
        sections.append("## Errors\n")
        sections.append(
            markdown_table(["section", "error"], [[k, v] for k, v in results["errors"].items()])
            + "\n"
        )
    md_path.write_text("\n".join(s for s in sections if s) + "\n")
