"""The issue's goals, judged against the figures of one run.

A goal is judged on the median of its spread (the spread is shown beside it); a goal
over several shapes is met only when every shape meets it, and the row says how many
did. A figure that could not be measured is NOT MEASURED, with the reason.

>>> judge(2.5, 2.0)
'MET'
>>> judge(0.4, 1.0, higher_is_better=False)
'MET'
>>> judge(None, 2.0)
'NOT MEASURED'
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PAPER_PI4", "evaluate_goals", "judge", "network_size"]

MET, NOT_MET, NOT_MEASURED = "MET", "NOT MET", "NOT MEASURED"

# Counts this large are what the repeatability goal is about: below it, a few hundred
# instructions of per-process variation outside the model are a visible fraction.
BIG_COUNT = 1e7

# Bahri et al. (CVPR 2021): Raspberry Pi 4B run time relative to the float DGCNN.
PAPER_PI4 = {"float DGCNN": 1.0, "BF": 0.68, "BF + Hamming k-NN": 0.49}


def network_size(results: dict) -> str | None:
    """The network size whole-model goals are judged at: the paper's when it was run
    (the full suite), else the one that was (``--quick`` runs the demo size only)."""
    sizes = list(results.get("endtoend", {}))
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


def _row(item: str, goal: str, measured: str, status: str, label: str) -> dict:
    return {"item": item, "goal": goal, "measured": measured, "status": status, "label": label}


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
        two = host["two_threads"]
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
    return rows
