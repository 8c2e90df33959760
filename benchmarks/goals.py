"""The issues' goals (7 and 11), judged against the figures of one run.

A goal is judged on the median of its spread (the spread is shown beside it); a goal
over several shapes is met only when every shape meets it, and the row says how many
did. A figure that could not be measured is NOT MEASURED, with the reason. A goal that
is not met carries a ``profile``: where the time (or the instructions) went, from the
runner's per-op split (``--profile-ops``) or the per-op counts of the same run.

>>> judge(2.5, 2.0)
'MET'
>>> judge(0.4, 1.0, higher_is_better=False)
'MET'
>>> judge(None, 2.0)
'NOT MEASURED'
>>> profile_text({"BgnnEdgeConv": {"ms_per_run": 3.0}, "builtin (LiteRT)": {"ms_per_run": 1.0}})
'BgnnEdgeConv 3.00 ms (75%), builtin (LiteRT) 1.00 ms (25%)'
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.stats import Spread

__all__ = [
    "PAPER_PI4",
    "density_rows",
    "evaluate_goals",
    "judge",
    "network_size",
    "profile_text",
]

MET, NOT_MET, NOT_MEASURED = "MET", "NOT MET", "NOT MEASURED"

# Counts this large are what the repeatability goal is about: below it, a few hundred
# instructions of per-process variation outside the model are a visible fraction.
BIG_COUNT = 1e7

# Bahri et al. (CVPR 2021): Raspberry Pi 4B run time relative to the float DGCNN.
PAPER_PI4 = {"float DGCNN": 1.0, "BF": 0.68, "BF + Hamming k-NN": 0.49}


def network_size(results: dict, section: str = "endtoend") -> str | None:
    """The network size whole-model goals are judged at: the paper's when it was run
    (the full suite), else the one that was (``--quick`` runs the demo size only)."""
    sizes = list(results.get(section, {}))
    return "paper" if "paper" in sizes else (sizes[0] if sizes else None)


def judge(value: float | None, threshold: float, *, higher_is_better: bool = True) -> str:
    if value is None:
        return NOT_MEASURED
    ok = value >= threshold if higher_is_better else value <= threshold
    return MET if ok else NOT_MET


def _all_of(medians: list[float], threshold: float) -> tuple[str, str]:
    """Status over several shapes and the 'k of n' text."""
    if not medians:
        return NOT_MEASURED, "no shapes measured"
    hits = sum(m >= threshold for m in medians)
    status = MET if hits == len(medians) else NOT_MET
    return (
        status,
        f"{hits} of {len(medians)} meet it; medians {min(medians):.2f}x to {max(medians):.2f}x",
    )


def _why(errors: dict, *prefixes: str) -> str:
    """The error of the first failed section named by ``prefixes``, else "not run"."""
    for name, error in errors.items():
        if name.startswith(prefixes):
            return f"{name} failed: {error}"
    return "not run"


def _row(
    item: str,
    goal: str,
    measured: str,
    status: str,
    label: str,
    *,
    issue: int = 7,
    profile: str | None = None,
) -> dict:
    return {
        "issue": issue,
        "item": item,
        "goal": goal,
        "measured": measured,
        "status": status,
        "label": label,
        "profile": profile if status == NOT_MET else None,
    }


def profile_text(ops: dict, *, digits: int = 2, least: float = 0.005) -> str:
    """The runner's per-op split, largest first, with each op's share of the total; ops
    under ``least`` of it are summed into one "others" entry."""
    items = sorted(
        ((name, v["ms_per_run"]) for name, v in ops.items() if v.get("ms_per_run") is not None),
        key=lambda item: -item[1],
    )
    total = sum(ms for _, ms in items)
    if not items or total <= 0:
        return "no op profile"
    shown = [(name, ms) for name, ms in items if ms >= least * total]
    rest = [ms for name, ms in items if ms < least * total]
    text = ", ".join(f"{name} {ms:.{digits}f} ms ({ms / total:.0%})" for name, ms in shown)
    if rest:
        text += f", {len(rest)} other op{'s' * (len(rest) > 1)} {sum(rest):.{digits}f} ms"
    return text


def _x(spread: dict) -> str:
    return f"{spread['median']:.2f}x ({spread['min']:.2f}-{spread['max']:.2f})"


def _count_of(results: dict, name: str) -> float | None:
    for job in results.get("counts", {}).get("jobs", []):
        if job.get("name") == name:
            return job["median"]
    return None


def _medians(rows: Iterable[dict], key: str) -> list[float]:
    return [r[key]["median"] for r in rows]


def evaluate_goals(results: dict) -> list[dict]:
    """One row per goal of issue 7, from the suite's results dict."""
    errors = results.get("errors", {})
    rows = []

    layers = [r for r in results.get("layers", []) if r["shape"]["group"] == "dgcnn"]
    status, text = _all_of(_medians(layers, "speedup"), 2.0)
    together = results.get("layers_together")
    if together:
        text += f"; all layers together {together['median']:.2f}x"
    rows.append(
        _row(
            "1",
            "LceBconv2d >= 2x float XNNPACK per DGCNN layer (1 thread, incl. quantizing input)",
            text if layers else f"not measured ({_why(errors, 'layers')})",
            status,
            "host",
        )
    )

    size_name = network_size(results)
    at = f" ({size_name} size)" if size_name else ""
    host = results.get("endtoend", {}).get(size_name)
    if host:
        s = host["speedup_vs_dgcnn"]["fused"]
        rows.append(
            _row(
                "2",
                "BinDGCNN >= 4x float DGCNN end to end, 1 thread",
                f"{s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f}) with the fused k-NN{at}",
                judge(s["median"], 4.0),
                "host",
            )
        )
        two = host.get("two_threads") or {
            "measured": False,
            "reason": _why(errors, f"threads {size_name}"),
        }
        emulated = results.get("emulated", {}).get(size_name, {}).get("threads", {}).get("2")
        if two["measured"]:
            s2 = two["speedup_vs_dgcnn"]
            text, status = (
                f"{s2['median']:.2f}x ({s2['min']:.2f}-{s2['max']:.2f})",
                judge(s2["median"], 4.0),
            )
        else:
            text, status = f"host: not measurable ({two['reason']})", NOT_MEASURED
        if emulated:
            e = emulated["speedup_vs_dgcnn"]
            text += f"; emulated (qemu, not a board figure): {e['median']:.2f}x"
        rows.append(
            _row(
                "2",
                "BinDGCNN >= 4x float DGCNN end to end, 2 threads",
                text,
                status,
                "host" + (" / emulated" if emulated else ""),
            )
        )
    else:
        rows.append(
            _row(
                "2",
                "BinDGCNN >= 4x float DGCNN",
                f"not measured ({_why(errors, 'end to end', 'convert', 'build')})",
                NOT_MEASURED,
                "host",
            )
        )

    lce = [r for r in results.get("lce", []) if r["shape"]["group"] == "dgcnn"]
    status, text = _all_of(_medians(lce, "speedup_vs_lce"), 10.0)
    rows.append(
        _row(
            "3",
            "LceBconv2d >= 10x LCE's own x86 kernels per DGCNN layer (call overhead subtracted)",
            text if lce else f"not measured ({_why(errors, 'lce')})",
            status,
            "host",
        )
    )

    knn = results.get("knn", [])
    for key, threshold, name in (
        ("vs_faiss", 1.0, "FAISS IndexBinaryFlat"),
        ("vs_builtin", 10.0, "the builtin graph"),
    ):
        status, text = _all_of(_medians(knn, key), threshold)
        rows.append(
            _row(
                "4",
                f"Hamming k-NN >= {threshold:g}x {name} (N 256-4096, C 64-256, k=20)",
                text if knn else f"not measured ({_why(errors, 'knn')})",
                status,
                "host",
            )
        )

    counts = results.get("counts", {})
    jobs = [j for j in counts.get("jobs", []) if j.get("relative_difference") is not None]
    big = [j["relative_difference"] for j in jobs if j["median"] >= BIG_COUNT]
    small = [j for j in jobs if j["median"] < BIG_COUNT]
    if big:
        text = (
            f"largest relative difference between two counts of one model: {max(big):.5%} "
            f"(the {len(big)} models of >= 10^7 instructions per inference)"
        )
        if small:
            worst = max(small, key=lambda j: j["relative_difference"])
            text += (
                f"; {len(small)} smaller ones vary by up to "
                f"{worst['relative_difference']:.3%} ({worst.get('name', '?')}, "
                f"{worst['median']:,.0f} instructions)"
            )
    else:
        text = f"not measured ({counts.get('error') or _why(errors, 'counts')})"
    rows.append(
        _row(
            "5",
            "guest instruction counts repeatable to ~0.001%",
            text,
            judge(max(big) if big else None, 1e-5, higher_is_better=False),
            "counted",
        )
    )

    size = results.get("sizes", {}).get(size_name)
    ratio = size["float_over_binary"]["bf2_float/fused"] if size else None
    rows.append(
        _row(
            "6",
            "binary .tflite <= 1/20 of float for BinDGCNN",
            f"binary is 1/{ratio:.1f} of the same network in float{at}"
            if ratio
            else f"not measured ({_why(errors, 'end to end', 'convert', 'build')})",
            judge(ratio, 20.0),
            "file sizes",
        )
    )

    deploy = results.get("deploy")
    cached = deploy["overhead_s"]["cached"] if deploy else None
    rows.append(
        _row(
            "7",
            "`run` over SSH with unchanged artifacts: < 1 s beyond the runs themselves",
            f"{cached['median']:.2f} s ({cached['min']:.2f}-{cached['max']:.2f})"
            if cached
            else f"not measured ({_why(errors, 'deploy', 'convert demo')})",
            judge(cached["median"] if cached else None, 1.0, higher_is_better=False),
            "host (loopback SSH)",
        )
    )
    return rows + issue_11_goals(results)


# Binary GEMM density is judged on these ops (the fused network's own), in this order.
DENSITY_OPS = ("EdgeConv 3", "EdgeConv 4", "Embedding")


def density_rows(results: dict) -> list[dict]:
    """Binary MACs per counted aarch64 instruction of the fused single-op models (EdgeConv
    3 and 4: BgnnEdgeConv; the embedding: BgnnEmbedPool), with the network's and the
    executed MACs, and the portable LceBconv2d layer of the same shape where counted."""
    ops = results.get("fused_ops") or {}
    rows = []
    for layer in ops.get("layers", []):
        if not layer["name"].startswith(DENSITY_OPS) or not layer["binary_input"]:
            continue
        count = _count_of(results, f"op/{layer['name']}/fused")
        if count:
            rows.append(
                {
                    "name": layer["name"],
                    "op": "BgnnEdgeConv",
                    "instructions": count,
                    "network_macs": layer["network_macs"],
                    "executed_macs": layer["executed_macs"],
                    "edges": layer["n"] * layer["k"],
                    "cin": layer["cin"],
                    "cout": layer["cout"],
                }
            )
    embed = ops.get("embed")
    if embed:
        name = f"Embedding {sum(embed['channels_in'])}->{embed['channels_out']}"
        count = _count_of(results, f"op/{name}/fused")
        if count:
            rows.append(
                {
                    "name": name,
                    "op": "BgnnEmbedPool",
                    "instructions": count,
                    "network_macs": embed["macs"],
                    "executed_macs": embed["macs"],
                    "edges": embed["n"],
                    "cin": sum(embed["channels_in"]),
                    "cout": embed["channels_out"],
                }
            )
    for r in results.get("layers", []):  # the portable form, where this run counted it
        shape = r["shape"]
        if shape["group"] != "dgcnn" or not shape["name"].startswith(DENSITY_OPS):
            continue
        count = _count_of(results, f"layer/{shape['name']}/binary")
        if count:
            rows.append(
                {
                    "name": shape["name"],
                    "op": "LceQuantize + LceBconv2d (portable)",
                    "instructions": count,
                    "network_macs": r["macs"],
                    "executed_macs": r["macs"],
                    "edges": shape["h"] * shape["w"],
                    "cin": shape["cin"],
                    "cout": shape["cout"],
                }
            )
    for row in rows:
        row["density_network"] = row["network_macs"] / row["instructions"]
        row["density_executed"] = row["executed_macs"] / row["instructions"]
        row["fused"] = row["op"].startswith("Bgnn")
    return rows


def _op_share(ops: dict, op: str) -> str:
    """', of which BgnnEdgeConv 98%': one op's share of a single-op model's profile."""
    total = sum(v.get("ms_per_run", 0.0) for v in ops.values())
    if op not in ops or total <= 0:
        return ""
    return f" (of which {op} {ops[op]['ms_per_run'] / total:.0%}, the rest LiteRT's invoke)"


def _emulated_scaling(results: dict, size: str | None) -> str:
    emu = results.get("emulated", {}).get(size or "", {}).get("threads", {})
    parts = [
        f"{t} threads {v['scaling']['fuse']['median']:.2f}x"
        for t, v in emu.items()
        if t != "1" and "scaling" in v
    ]
    return f"; EMULATED (qemu, 2 host cores) vs 1 thread: {', '.join(parts)}" if parts else ""


def issue_11_goals(results: dict) -> list[dict]:
    """One row per goal of issue 11 (items 11.1-11.6; the paper table is item 7)."""
    errors = results.get("errors", {})
    rows = []
    size = network_size(results)
    at = f" ({size} size)" if size else ""
    e2e = results.get("endtoend", {})
    host = e2e.get(size)
    fuse = host["speedup_vs_dgcnn"].get("fuse") if host else None
    if fuse:
        text = f"{_x(fuse)}{at}" + "".join(
            f"; {other} size {_x(h['speedup_vs_dgcnn']['fuse'])}"
            for other, h in e2e.items()
            if other != size and "fuse" in h["speedup_vs_dgcnn"]
        )
        float_ms = Spread.of(host["ms"]["dgcnn_float"]).median
        fuse_ms = Spread.of(host["ms"]["fuse"]).median
        profile = (
            f"fused-ops model{at} {fuse_ms:.2f} ms per inference vs float DGCNN "
            f"{float_ms:.2f} ms; its ops: {profile_text(host.get('fuse_ops_profile', {}))}"
        )
        status = judge(fuse["median"], 6.0)
    else:
        text = f"not measured ({_why(errors, 'end to end', 'convert', 'build')})"
        status, profile = NOT_MEASURED, None
    rows.append(
        _row(
            "11.1",
            "BinDGCNN with our fused ops (`convert --fuse`) >= 6x float DGCNN (XNNPACK) end "
            "to end, 1 thread (1024 points, k=20, BF2, Hamming k-NN)",
            text,
            status,
            "host",
            issue=11,
            profile=profile,
        )
    )

    dgcnn = _count_of(results, f"{size}/dgcnn_float")
    fuse_count = _count_of(results, f"{size}/fuse")
    if dgcnn and fuse_count:
        ratio = dgcnn / fuse_count
        text = f"{ratio:.2f}x ({dgcnn:,.0f} / {fuse_count:,.0f} instructions){at}"
        ops = results.get("fused_ops") or {}
        parts = []
        if ops.get("size") == size:
            for layer in ops.get("layers", []):
                c = _count_of(results, f"op/{layer['name']}/fused")
                if c:
                    parts.append((f"{layer['name']} {c / fuse_count:.0%}", c / fuse_count))
            embed = ops.get("embed")
            if embed:
                name = f"Embedding {sum(embed['channels_in'])}->{embed['channels_out']}"
                c = _count_of(results, f"op/{name}/fused")
                if c:
                    parts.append((f"BgnnEmbedPool {c / fuse_count:.0%}", c / fuse_count))
        emulated = results.get("emulated", {}).get(size, {}).get("fuse_ops_profile", {}).get("1")
        why = []
        if parts:
            why.append(
                "COUNTED instructions of each op alone (single-op models of the same shapes) "
                f"as a share of the fused-ops model's: {', '.join(name for name, _ in parts)}"
                f" (together {sum(share for _, share in parts):.0%}; the rest: the k-NN ops, "
                "the head and the runtime)"
            )
        if emulated:
            why.append(f"EMULATED op split (qemu, 1 thread): {profile_text(emulated, digits=1)}")
        profile = "; ".join(why) or None
        status = judge(ratio, 10.0)
    else:
        text = f"not measured ({results.get('counts', {}).get('error') or _why(errors, 'counts')})"
        status, profile = NOT_MEASURED, None
    rows.append(
        _row(
            "11.2",
            "BinDGCNN with our fused ops >= 10x fewer aarch64 instructions than float DGCNN",
            text,
            status,
            "counted",
            issue=11,
            profile=profile,
        )
    )

    ops = results.get("fused_ops") or {}
    layers = ops.get("layers", [])
    status, text = _all_of(_medians(layers, "speedup"), 10.0)
    if layers:
        text += f" ({ops['size']} size)"
        slow = [r for r in layers if r["speedup"]["median"] < 10.0]
        profile = "; ".join(
            f"{r['name']}: fused {Spread.of(r['fused_ms']).median:.3f} ms"
            f"{_op_share(r.get('fused_ops_profile', {}), 'BgnnEdgeConv')} vs float "
            f"{Spread.of(r['float_ms']).median:.3f} ms"
            + (
                f", COUNTED float/fused {f / b:.2f}x"
                if (f := _count_of(results, f"op/{r['name']}/float"))
                and (b := _count_of(results, f"op/{r['name']}/fused"))
                else ""
            )
            for r in slow
        )
    else:
        text, profile = f"not measured ({_why(errors, 'fused op', 'fused-op')})", None
    rows.append(
        _row(
            "11.3",
            "fused BgnnEdgeConv >= 10x the float EdgeConv of the same layer (GATHER, TILE, SUB, "
            "CONCATENATION, CONV_2D through XNNPACK, REDUCE_MAX) per DGCNN layer, 1 thread",
            text,
            status,
            "host",
            issue=11,
            profile=profile or None,
        )
    )

    dens = [r for r in density_rows(results) if r["fused"]]
    if dens:
        hits = sum(r["density_executed"] >= 30.0 for r in dens)
        status = MET if hits == len(dens) else NOT_MET
        text = (
            f"{hits} of {len(dens)} meet it on the MACs the kernels execute: "
            + ", ".join(
                f"{r['name']} {r['density_executed']:.1f} (network MACs: "
                f"{r['density_network']:.1f})"
                for r in dens
            )
            + f" ({ops.get('size')} size)"
        )
        profile = "; ".join(
            f"{r['name']} ({r['op']}): {r['instructions']:,.0f} instructions for "
            f"{r['executed_macs'] / 1e6:,.1f} M executed MACs, "
            + (
                f"{r['instructions'] / (r['edges'] * r['cout']):,.1f} instructions per "
                + ("edge" if r["op"] == "BgnnEdgeConv" else "point")
                + f" and output channel ({r['cin']} input channels, "
                f"{-(-r['cin'] // 32)} word{'s' * (r['cin'] > 32)})"
            )
            for r in dens
            if r["density_executed"] < 30.0
        )
    else:
        text = f"not measured ({_why(errors, 'fused op', 'fused-op', 'counts')})"
        status, profile = NOT_MEASURED, None
    rows.append(
        _row(
            "11.4",
            "binary GEMM density >= 30 binary MACs per aarch64 instruction, incl. packing "
            "(EdgeConv 3, EdgeConv 4: BgnnEdgeConv; embedding: BgnnEmbedPool)",
            text,
            status,
            "counted",
            issue=11,
            profile=profile or None,
        )
    )

    knn = results.get("knn", [])
    for key, other, threshold, name, form in (
        ("vs_builtin", "packed_vs_builtin", 10.0, "the builtin graph", "float-input form"),
        ("packed_vs_faiss", "vs_faiss", 2.0, "FAISS IndexBinaryFlat", "packed-input form"),
    ):
        rows_with = [r for r in knn if key in r]
        status, text = _all_of(_medians(rows_with, key), threshold)
        profile = None
        if rows_with:
            others = _medians([r for r in rows_with if other in r], other)
            text = f"{form} (like for like): {text}"
            if others:
                text += f"; the other form {min(others):.2f}x to {max(others):.2f}x"
            worst = min(rows_with, key=lambda r: r[key]["median"])
            ours = "packed_ms" if key.startswith("packed") else "ours_ms"
            theirs = "builtin_ms" if "builtin" in key else "faiss_ms"
            if all(k in worst for k in ("n", "c", ours, theirs)):
                profile = (
                    f"slowest ratio at N={worst['n']}, C={worst['c']}: ours "
                    f"{Spread.of(worst[ours]).median:.3f} ms vs {name} "
                    f"{Spread.of(worst[theirs]).median:.3f} ms (a single op: no split)"
                )
        else:
            text = f"not measured ({_why(errors, 'knn')})"
        rows.append(
            _row(
                "11.5",
                f"Hamming k-NN >= {threshold:g}x {name} (N 256-4096, C 64-256, k=20)",
                text,
                status,
                "host",
                issue=11,
                profile=profile,
            )
        )

    tsize = network_size(results, "threads")
    threads = results.get("threads", {}).get(tsize)
    emulated = _emulated_scaling(results, tsize)
    if threads and threads.get("measured"):
        sc = threads["fuse_scaling"]
        text = f"{_x(sc)} ({tsize} size)" + emulated
        status = judge(sc["median"], 1.7)
        one, two = (threads["fuse_ops_profile"].get(t, {}) for t in ("1", "2"))
        others = threads.get("others_busy_cores")
        busy = (
            f"other processes kept {others:.2f} cores busy on average during the rounds "
            f"(of {threads.get('cores', '?')}); "
            if others is not None
            else ""
        )
        per_op = ", ".join(
            f"{op} {one[op]['ms_per_run']:.2f} -> {two[op]['ms_per_run']:.2f} ms "
            f"({one[op]['ms_per_run'] / two[op]['ms_per_run']:.2f}x)"
            for op in sorted(one, key=lambda o: -one[o]["ms_per_run"])
            if op in two and two[op]["ms_per_run"] > 0 and one[op]["ms_per_run"] >= 0.01
        )
        profile = f"{busy}per op, 1 -> 2 threads: {per_op}"
    else:
        reason = threads["reason"] if threads else _why(errors, "threads")
        text = f"host: not measurable ({reason}){emulated}"
        status, profile = NOT_MEASURED, None
    rows.append(
        _row(
            "11.6",
            "BinDGCNN with our fused ops: 2 threads >= 1.7x 1 thread (host)",
            text,
            status,
            "host" + (" / emulated" if emulated else ""),
            issue=11,
            profile=profile,
        )
    )
    return rows
