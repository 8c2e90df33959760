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

from benchmarks.goals import PAPER_PI4, density_rows, network_size, profile_text
from benchmarks.plots import draw_all
from benchmarks.stats import Spread

__all__ = ["counted_layers", "goals_table", "markdown_table", "paper_table", "write_report"]


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


# (row name, end-to-end role); the last row has no paper figure (the paper has no such op)
PAPER_ROWS = (
    ("float DGCNN", None),
    ("BF", "builtin"),
    ("BF + Hamming k-NN", "fused"),
    ("BF + Hamming k-NN, our fused ops (`--fuse`)", "fuse"),
)


def paper_table(results: dict) -> list[dict]:
    """Relative run time vs the float DGCNN: paper (Pi 4B), ours on the host, ours
    counted in aarch64 instructions."""
    size = network_size(results) or "paper"
    host = results.get("endtoend", {}).get(size)
    dgcnn = _count_of(results, f"{size}/dgcnn_float")
    rows = []
    for model, role in PAPER_ROWS:
        paper = PAPER_PI4.get(model)
        row: dict = {"model": model, "paper": _point(paper) if paper is not None else None}
        if role is None:
            row["host"] = _point(1.0) if host else None
            row["counted"] = _point(1.0) if dgcnn else None
        else:
            row["host"] = host["relative_time_vs_dgcnn"].get(role) if host else None
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
`bgnn-deploy convert` (`convert_checkpoint`, parity checked on one cloud) three ways:
the portable LCE form with the builtin k-NN graph, with the fused Hamming k-NN
(`--knn fused`) and with our fused bit-domain ops (`--fuse`: the first BgnnEdgeConv with
its own L2 k-NN, BgnnHammingKnn on packed features and BgnnEdgeConv per later layer,
BgnnEmbedPool, then LCE's head). Speed does not
depend on training; accuracy is not measured here."""


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


def goals_table(goals: list[dict], issue: int) -> str:
    """One issue's goals as a table, then, for each goal not met, where the time went."""
    mine = [g for g in goals if g.get("issue", 7) == issue]
    rows = [
        [g["item"], g["goal"], g["measured"], g["label"].upper(), f"**{g['status']}**"]
        for g in mine
    ]
    text = markdown_table(["#", "goal", "measured", "kind", "status"], rows)
    why = [f"- **{g['item']}** {g['profile']}" for g in mine if g.get("profile")]
    if why:
        text += "\n\nWhy the goals not met are not met (this run's profiles):\n\n" + "\n".join(why)
    return text


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
            _ms(r["packed_ms"]) if "packed_ms" in r else "-",
            _ms(r["builtin_ms"]),
            _ms(r["faiss_ms"]),
            _s(r["vs_builtin"], 2, "x"),
            _s(r.get("packed_vs_builtin"), 2, "x"),
            _s(r["vs_faiss"], 2, "x"),
            _s(r.get("packed_vs_faiss"), 2, "x"),
        ]
        for r in results.get("knn", [])
    ]
    return markdown_table(
        [
            "N",
            "C (bits)",
            "ours ms (float in)",
            "ours ms (packed in)",
            "builtin ms",
            "FAISS ms",
            "float-in vs builtin",
            "packed-in vs builtin",
            "float-in vs FAISS",
            "packed-in vs FAISS",
        ],
        rows,
    )


def _fused_ops(results: dict) -> str:
    ops = results.get("fused_ops")
    if not ops:
        why = next(
            (
                v
                for k, v in results.get("errors", {}).items()
                if k.startswith(("fused op", "fused-op"))
            ),
            "not run",
        )
        return f"Not measured: {why}"
    counted = [
        (_count_of(results, f"op/{r['name']}/fused"), _count_of(results, f"op/{r['name']}/float"))
        for r in ops["layers"]
    ]
    with_counts = any(f and b for b, f in counted)  # float EdgeConv counts are optional
    rows = []
    for r, (fused_count, float_count) in zip(ops["layers"], counted, strict=True):
        words = -(-r["cin"] // 32)
        row = [
            r["name"],
            f"[1, {r['n']}, {words if r['binary_input'] else r['cin']}] "
            + ("int32 (packed)" if r["binary_input"] else "float32"),
            f"{r['network_macs'] / 1e6:,.1f} M / {r['executed_macs'] / 1e6:,.1f} M",
            _ms(r["fused_ms"]),
            _ms(r["float_ms"]),
            _s(r["speedup"], 2, "x"),
        ]
        if with_counts:
            row.append(f"{float_count / fused_count:.2f}x" if fused_count and float_count else "-")
        rows.append(row)
    table = markdown_table(
        [
            "layer",
            "fused input",
            "MACs: network / executed",
            "fused ms (BgnnEdgeConv)",
            "float ms (XNNPACK)",
            "HOST speedup",
            *(["COUNTED float/fused"] if with_counts else []),
        ],
        rows,
    )
    first = ops["layers"][0] if ops["layers"] else {"n": "?", "k": "?"}
    text = (
        f"{ops['size']} size ({first['n']} points, k={first['k']}). Each fused model's "
        "output was checked against the NumPy reference of the op, bit for bit, before "
        "timing; so was BgnnEmbedPool's (within 1e-5).\n\n" + table
    )
    dens = density_rows(results)
    if dens:
        drows = [
            [
                d["name"],
                d["op"],
                f"{d['instructions']:,.0f}",
                f"{d['network_macs'] / 1e6:,.1f} M",
                f"{d['executed_macs'] / 1e6:,.1f} M",
                f"{d['density_network']:.1f}",
                f"{d['density_executed']:.1f}",
            ]
            for d in dens
        ]
        text += (
            "\n\n**Binary GEMM density (COUNTED)**: binary MACs per aarch64 instruction of "
            "one inference of the single-op model (the whole invocation: the op, packing its "
            "output, and LiteRT's per-invoke work). Two MAC counts: the network's (N k Cout "
            "2C per EdgeConv, what the portable form computes) and the ones the kernel "
            "executes (N k Cout C for the edge half + N Cout C for the centre half, computed "
            "once per node); the goal is judged on the executed ones. Portable rows, where "
            "this run counted them, are section 6's single-layer LceBconv2d models at the "
            "paper size (float input, so they include LceQuantize).\n\n"
            + markdown_table(
                [
                    "layer",
                    "op",
                    "instructions",
                    "network MACs",
                    "executed MACs",
                    "network MACs / instruction",
                    "executed MACs / instruction",
                ],
                drows,
            )
        )
    return text


ROLE_NAMES = {
    "fuse": "BinDGCNN, our fused ops (`convert --fuse`)",
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
            if role not in host["ms"]:
                continue
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
        for role, what in (("fuse", "fused-ops"), ("fused", "fused-k-NN")):
            prof = host.get(f"{role}_ops_profile", {})
            if prof:
                parts.append(
                    f"Where the {what} BinDGCNN's time goes (runner `--enable_op_profiling`, "
                    "ms per inference): " + profile_text(prof)
                )
        threads = results.get("threads", {}).get(size)
        if threads:
            parts.append(_threads(size, threads))
    for size, emu in results.get("emulated", {}).items():
        parts.append(_emulated(size, emu))
    return "\n\n".join(parts)


def _threads(size: str, threads: dict) -> str:
    if not threads["measured"]:
        return f"Two threads on the host ({size} size): not measurable: {threads['reason']}."
    ms = threads["ms"]
    rows = [
        [
            ROLE_NAMES[role],
            _ms(ms[f"{role}@1"]) if f"{role}@1" in ms else "-",
            _ms(ms[f"{role}@2"]),
            _s(threads.get(f"{role}_scaling"), 2, "x") if f"{role}_scaling" in threads else "-",
            _s(threads["speedup_vs_dgcnn"].get(role), 2, "x")
            if role in threads["speedup_vs_dgcnn"]
            else "1x",
        ]
        for role in ("fuse", "fused", "dgcnn_float")
    ]
    others = threads.get("others_busy_cores")
    busy = (
        f"; other processes kept {others:.2f} of the {threads.get('cores', '?')} cores busy "
        "on average during these rounds"
        if others is not None
        else ""
    )
    text = (
        f"**Threads, HOST** ({size} size; not pinned: both cores, shared with other work"
        f"{busy}; 1 and 2 threads in the same interleaved rounds):\n\n"
        + markdown_table(
            ["model", "1 thread ms", "2 threads ms", "1 / 2 threads", "vs float DGCNN, 2 threads"],
            rows,
        )
    )
    prof = threads.get("fuse_ops_profile", {})
    if prof.get("1") and prof.get("2"):
        one, two = prof["1"], prof["2"]
        text += "\n\nThe fused-ops model per op, 1 -> 2 threads (ms per inference): " + ", ".join(
            f"{op} {one[op]['ms_per_run']:.2f} -> {two[op]['ms_per_run']:.2f}"
            for op in sorted(one, key=lambda o: -one[o]["ms_per_run"])
            if op in two and one[op]["ms_per_run"] >= 0.01
        )
    return text


def _emulated(size: str, emu: dict) -> str:
    first = next(iter(emu["threads"]), "1")
    rows = []
    for t, v in emu["threads"].items():
        ms = v["ms"]
        scaling = v.get("scaling", {})
        rows.append(
            [
                t,
                _ms(ms["fuse"]) if "fuse" in ms else "-",
                _s(scaling.get("fuse"), 2, "x") if "fuse" in scaling else "-",
                _ms(ms["fused"]),
                _ms(ms["dgcnn_float"]) if "dgcnn_float" in ms else "-",
                _s(scaling.get("dgcnn_float"), 2, "x") if "dgcnn_float" in scaling else "-",
                _s(v["fuse_speedup_vs_dgcnn"], 2, "x") if "fuse_speedup_vs_dgcnn" in v else "-",
                _s(v["speedup_vs_dgcnn"], 2, "x") if "speedup_vs_dgcnn" in v else "-",
            ]
        )
    text = (
        f"**EMULATED** ({size} size, qemu-aarch64, TFLite C API runner, {emu['rounds']} "
        "round(s) of one timed inference each, every (model, threads) pair in each round; "
        "this machine has 2 cores, so 3 and 4 guest threads share them"
        + (
            f", and other processes kept {emu['others_busy_cores']:.2f} cores busy on average "
            "meanwhile"
            if "others_busy_cores" in emu
            else ""
        )
        + "; the float DGCNN where it has a figure; not a board figure):\n\n"
        + markdown_table(
            [
                "threads",
                "fused-ops ms",
                f"fused-ops scaling vs {first}",
                "fused-k-NN ms",
                "float DGCNN ms",
                f"float scaling vs {first}",
                "fused-ops vs float",
                "fused-k-NN vs float",
            ],
            rows,
        )
    )
    prof = emu.get("fuse_ops_profile", {})
    if prof:
        text += "\n\nThe fused-ops model's op split under qemu (ms per inference): " + "; ".join(
            f"{t} thread{'s' if t != '1' else ''}: {profile_text(p, digits=1)}"
            for t, p in prof.items()
        )
    return text


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
        "## Goals (issue 11)\n",
        goals_table(results["goals"], 11) + "\n",
        "## Goals (issue 7)\n",
        goals_table(results["goals"], 7) + "\n",
        "## Against the paper (Raspberry Pi 4B, relative run time)\n",
        f"Our figures: the {network_size(results) or 'paper'}-size networks of this run. "
        "The paper's BF row has its k-NN in float arithmetic; ours computes the same "
        "Hamming k-NN as a float matrix product and TOPK_V2 (`--knn builtin`). "
        "BF + Hamming k-NN is our fused XOR + popcount op (`--knn fused`); the last row is "
        "the same network with our fused ops (`convert --fuse`: bit-domain k-NN, EdgeConv "
        "and embedding + pooling), which the paper has no figure for. Lower is better.\n",
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
        "Same random ±1 rows for all; both forms of our op and the builtin graph return "
        "identical indices and the same distances as FAISS (checked before timing). FAISS "
        "time includes building the index (add), as a GNN layer has new features each "
        "call, from codes packed before timing. Our op in two forms: float ±1 input (as "
        "`--knn fused` writes it; includes packing the rows into bits) and packed int32 "
        "input (as `--fuse` writes it, fed by BgnnEdgeConv). Like for like: the float form "
        "against the builtin graph (same float input), the packed form against FAISS "
        "(same packed input).\n",
        img("knn", "Hamming k-NN times"),
        _knn(results) + "\n",
        "## 5. Fused ops alone: BgnnEdgeConv vs float EdgeConv (HOST), GEMM density (COUNTED)\n",
        "Per DGCNN layer, one model holding one BgnnEdgeConv (the layer's weights and rules "
        "from `plan_fusion` of this run's BinDGCNN; input as in the fused network: float "
        "points for layer 1, bit-packed features for layers 2-4; output the next layer's "
        "packed features) against the float DGCNN's EdgeConv as our backend writes it "
        "(GATHER, TILE, SUB, CONCATENATION, CONV_2D through XNNPACK, REDUCE_MAX; no "
        "BatchNorm or activation, which favours float), same input, same constant "
        "neighbour indices (the exact k-NN of the random input), same runner and pinned "
        "core.\n",
        img("fused", "fused EdgeConv speedups"),
        _fused_ops(results) + "\n",
        "## 6. ARM cost without a board (COUNTED)\n",
        img("counts", "instruction ratios"),
        _counts(results, per_layer) + "\n",
        "## 7. Size and memory\n",
        "File sizes and peak RSS (the runner's VmHWM, HOST) are in the tables of section "
        "2; the size goal compares the binary .tflite with the same network in float.\n",
        markdown_table(
            [
                "size",
                "float twin / binary (fused k-NN)",
                "float twin / binary (fused ops)",
                "float DGCNN / binary (fused k-NN)",
            ],
            [
                [
                    size,
                    f"{s['float_over_binary']['bf2_float/fused']:.1f}x",
                    f"{s['float_over_binary']['bf2_float/fuse']:.1f}x"
                    if "bf2_float/fuse" in s["float_over_binary"]
                    else "-",
                    f"{s['float_over_binary']['dgcnn_float/fused']:.1f}x",
                ]
                for size, s in results.get("sizes", {}).items()
            ],
        )
        + "\n",
        "## 8. Deployment overhead over SSH (HOST, loopback)\n",
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
