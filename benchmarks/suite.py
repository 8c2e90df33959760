"""The order of the suite: prepare models, time on the host (pinned to one core, quiet),
time 1 vs 2 threads on the host (unpinned), count under qemu (two processes at a time:
counts ignore load), emulate threads, measure SSH deployment, then judge the goals and
write the report.

A section that fails is recorded under ``errors`` (its goals show NOT MEASURED with the
error) and the rest still runs; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.layers import DGCNN_LAYERS, sweep_layers
from benchmarks.stats import ratio_spread

__all__ = ["Plan", "main"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    """How much of everything to run: the full suite or ``--quick``."""

    rounds: int
    budget_s: float
    layer_names: tuple[str, ...] | None  # None: every DGCNN layer
    sweep: tuple[int, ...]
    knn_sizes: tuple[tuple[int, int], ...]
    sizes: tuple[str, ...]  # network sizes for end to end and counts
    emulated_rounds: dict[str, int]
    emulated_threads: tuple[int, ...]  # the binary models'
    emulated_float_threads: tuple[int, ...]  # the float DGCNN's (slow: 30 s per paper run)
    deploy_rounds: int
    count_layers: bool
    # the float EdgeConv single-layer models too (about 3 more minutes of counting at the
    # paper size on 2 busy cores: off, to keep the suite under 20 minutes)
    count_float_edgeconv: bool


FULL = Plan(
    rounds=5,
    budget_s=0.25,
    layer_names=None,
    sweep=(32, 64, 128, 256, 512),
    knn_sizes=tuple((n, c) for n in (256, 1024, 4096) for c in (64, 128, 256)),
    sizes=("paper", "demo"),
    emulated_rounds={"paper": 1, "demo": 3},
    emulated_threads=(1, 2, 3, 4),
    emulated_float_threads=(1, 2),
    deploy_rounds=3,
    count_layers=True,
    count_float_edgeconv=False,
)
QUICK = Plan(
    rounds=3,
    budget_s=0.15,
    layer_names=("EdgeConv 2: 2x64->64", "EdgeConv 4: 2x128->256", "MLP 2048->512"),
    sweep=(64, 256),
    knn_sizes=((256, 64), (1024, 256)),
    sizes=("demo",),
    emulated_rounds={"demo": 1},
    emulated_threads=(1, 2, 4),
    emulated_float_threads=(1, 2),
    deploy_rounds=2,
    count_layers=False,
    count_float_edgeconv=False,
)


class _Progress:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        print(
            f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {message}",
            file=sys.stderr,
            flush=True,
        )


def _section(results: dict, name: str, say: Callable[[str], None], fn: Callable[[], object]):
    """Run one section; keep its time, and its error instead of stopping the suite."""
    t0 = time.perf_counter()
    try:
        return fn()
    except Exception as e:  # any failure of one section must not lose the others
        traceback.print_exc()
        results["errors"][name] = f"{type(e).__name__}: {str(e).strip()[:500]}"
        say(f"{name}: FAILED ({results['errors'][name][:200]})")
        return None
    finally:
        results["phases"][name] = results["phases"].get(name, 0.0) + time.perf_counter() - t0


def _count_jobs(plan: Plan, layer_models, nets: dict, fused_ops) -> list:
    from benchmarks.qemu_count import CountJob

    heavy, light = [], []
    for size in plan.sizes:
        n = nets.get(size)
        if n is None:
            continue
        heavy.append(CountJob(f"{size}/dgcnn_float", n.dgcnn_float, size))
        light += [
            CountJob(f"{size}/fuse", n.binary_fuse, size),
            CountJob(f"{size}/fused", n.binary_fused, size),
            CountJob(f"{size}/builtin", n.binary_builtin, size),
        ]
    if fused_ops:
        layers, embed = fused_ops
        for layer in sorted(layers, key=lambda x: -x.network_macs):
            light.append(
                CountJob(f"op/{layer.name}/fused", layer.fused, "op", input_path=layer.fused_input)
            )
            if plan.count_float_edgeconv:
                heavy.append(
                    CountJob(
                        f"op/{layer.name}/float", layer.float, "op", input_path=layer.float_input
                    )
                )
        light.append(CountJob(embed_count_name(embed), embed.model, "op", input_path=embed.input))
    if plan.count_layers:
        for m in sorted(layer_models, key=lambda m: -m.shape.macs):
            if m.shape.group == "dgcnn":
                heavy.append(CountJob(f"layer/{m.shape.name}/float", m.float, "layer"))
                light.append(CountJob(f"layer/{m.shape.name}/binary", m.binary, "layer"))
    return heavy + light  # slowest to emulate (float) first, so two workers finish together


def embed_count_name(embed) -> str:
    return f"op/Embedding {sum(embed.channels_in)}->{embed.channels_out}/fused"


def _together(layers: list[dict]) -> dict | None:
    """All DGCNN layers as one: per round, summed float time over summed binary time."""
    rows = [r for r in layers if r["shape"]["group"] == "dgcnn"]
    if not rows:
        return None
    rounds = len(rows[0]["binary_ms"])
    f = [sum(r["float_ms"][i] for r in rows) for i in range(rounds)]
    b = [sum(r["binary_ms"][i] for r in rows) for i in range(rounds)]
    return ratio_spread(f, b).to_dict()


def _two_threads_summary(threads: dict) -> dict:
    """Issue 7's 2-thread figure (the fused-k-NN BinDGCNN vs the float DGCNN, both at 2
    threads) from the threads section, in the form its goal reads."""
    if not threads["measured"]:
        return {"measured": False, "reason": threads["reason"]}
    return {
        "measured": True,
        "reason": None,
        "ms": {k: v for k, v in threads["ms"].items() if k.endswith("@2")},
        "speedup_vs_dgcnn": threads["speedup_vs_dgcnn"]["fused"],
    }


def run_suite(plan: Plan, *, quick: bool, work: Path, md: Path, assets: Path) -> int:
    from benchmarks import deploy, endtoend, fused, knn, lce, qemu_count
    from benchmarks.goals import evaluate_goals
    from benchmarks.layers import build_layer_models, measure_layers
    from benchmarks.machine import machine_facts
    from benchmarks.models import prepare_networks
    from benchmarks.report import write_report
    from benchmarks.timing import pinned_to_one_cpu

    say = _Progress()
    results: dict = {"quick": quick, "errors": {}, "phases": {}, "plan": plan.__dict__}
    started = time.perf_counter()
    results["generated"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["machine"] = machine_facts(ROOT)
    say(f"machine: {results['machine']['cpu_model']}, {results['machine']['cores']} cores")

    def builds():
        from bgnn_deploy.targets.build import build_runner

        say("building the runner for local and qemu-aarch64")
        return build_runner("local"), build_runner("qemu-aarch64")

    local, qemu = _section(results, "build", say, builds) or (None, None)
    if local is None:
        return _finish(results, started, md, assets, say, evaluate_goals, write_report)
    results["builds"] = {"host": local.to_dict(), "qemu": qemu.to_dict()}

    nets: dict = {}
    for size in plan.sizes:
        made = _section(
            results, f"convert {size}", say, lambda size=size: prepare_networks(size, work, say)
        )
        if made is not None:
            nets[size] = made
    wanted = [s for s in DGCNN_LAYERS if plan.layer_names is None or s.name in plan.layer_names]
    shapes = [*wanted, *sweep_layers(plan.sweep)]

    def layer_models():
        say(f"single-layer models: {len(shapes)} shapes x (binary, float, trivial)")
        return [build_layer_models(s, work / "layers") for s in shapes]

    models = _section(results, "layer models", say, layer_models) or []
    _section(
        results,
        "k-NN models",
        say,
        lambda: [knn.build_knn_models(n, c, work / "knn") for n, c in plan.knn_sizes],
    )
    # the fused ops alone, at the largest network size of this run (paper in the full suite)
    op_size = "paper" if "paper" in nets else next(iter(nets), None)

    def fused_op_models():
        n = nets[op_size]
        say(f"single-op models of the fused ops ({op_size} size)")
        return fused.build_fused_layers(n, n.checkpoint.parent / "ops")

    fused_ops = _section(results, "fused-op models", say, fused_op_models) if op_size else None

    with pinned_to_one_cpu() as cpu:
        say(f"host timings pinned to CPU {cpu}")
        results["pinned_cpu"] = cpu
        layers = _section(
            results,
            "layers",
            say,
            lambda: measure_layers(
                local, models, rounds=plan.rounds, budget_s=plan.budget_s, say=say
            ),
        )
        if layers:
            results["layers"] = layers
            results["layers_together"] = _together(layers)
            results["isa"] = {"host": layers[0].get("isa")}
        results["lce"] = (
            _section(
                results,
                "lce",
                say,
                lambda: lce.measure_lce(
                    local, models, rounds=plan.rounds, budget_s=plan.budget_s, say=say
                ),
            )
            or []
        )
        results["knn"] = (
            _section(
                results,
                "knn",
                say,
                lambda: knn.measure_knn(
                    local,
                    list(plan.knn_sizes),
                    work,
                    rounds=plan.rounds,
                    budget_s=plan.budget_s,
                    say=say,
                ),
            )
            or []
        )
        if fused_ops:
            results["fused_ops"] = _section(
                results,
                "fused ops",
                say,
                lambda: fused.measure_fused_layers(
                    local,
                    nets[op_size],
                    *fused_ops,
                    rounds=plan.rounds,
                    budget_s=plan.budget_s,
                    say=say,
                ),
            )
        results["endtoend"], results["sizes"] = {}, {}
        for size, n in nets.items():
            host = _section(
                results,
                f"end to end {size}",
                say,
                lambda n=n: endtoend.measure_host(
                    local, n, rounds=plan.rounds, budget_s=plan.budget_s, say=say
                ),
            )
            if host:
                results["endtoend"][size] = host
                results["sizes"][size] = endtoend.sizes(n)

    # two threads need two cores: measured after the pinning is lifted
    results["threads"] = {}
    for size, n in nets.items():
        threads = _section(
            results,
            f"threads {size}",
            say,
            lambda n=n: endtoend.measure_threads(
                local, n, rounds=plan.rounds, budget_s=plan.budget_s, say=say
            ),
        )
        if threads:
            results["threads"][size] = threads
            if size in results["endtoend"]:
                results["endtoend"][size]["two_threads"] = _two_threads_summary(threads)

    def counts():
        jobs = _count_jobs(plan, models, nets, fused_ops)
        facts = qemu_count.plugin_facts()
        out = {"plugin": facts, "jobs": qemu_count.run_counts(qemu, jobs, workers=2, say=say)}
        out["method"] = (
            f"Debian's qemu-user lists {len(facts['debian_plugins'])} plugin files and "
            f"{len(facts['qemu_plugin_h'])} qemu-plugin.h headers are installed, so the "
            "suite compiles its own counting plugin (`benchmarks/qemu_plugin/insn_count.c`, "
            "plugin API version 1 of qemu 7.2) with the host C compiler into the cache. One "
            "inference's count is the difference between runner invocations with r and r + m "
            "timed runs, divided by m, so start-up drops out; m puts at least 10^8 "
            "instructions into each difference (start-up varies by some hundred "
            "instructions between processes). Three invocations per model give two such "
            "counts. Counts are single-threaded. The single-op models of section 5 run on "
            "the same input files as their host timings (`--input`)."
        )
        return out

    results["counts"] = _section(results, "counts", say, counts) or {
        "error": results["errors"].get("counts")
    }

    results["emulated"] = {}
    for size, rounds in plan.emulated_rounds.items():
        if size in nets:
            emu = _section(
                results,
                f"emulated {size}",
                say,
                lambda s=size, r=rounds: endtoend.measure_emulated(
                    qemu,
                    nets[s],
                    rounds=r,
                    threads=plan.emulated_threads,
                    float_threads=plan.emulated_float_threads,
                    say=say,
                ),
            )
            if emu:
                results["emulated"][size] = emu
                results.setdefault("isa", {})["qemu"] = emu.get("isa")

    demo = nets.get("demo")
    if demo is not None:
        results["deploy"] = _section(
            results,
            "deploy",
            say,
            lambda: deploy.measure_deploy(
                demo.binary_fused, rounds=plan.deploy_rounds, num_runs=20, say=say
            ),
        )
    return _finish(results, started, md, assets, say, evaluate_goals, write_report)


def _finish(results, started, md, assets, say, evaluate_goals, write_report) -> int:
    from benchmarks.machine import load_average

    results["machine"]["load_average_at_end"] = load_average()
    results["wall_s"] = time.perf_counter() - started
    results["goals"] = evaluate_goals(results)
    write_report(results, md, assets)
    for g in results["goals"]:
        say(f"goal {g['item']}: {g['status']}: {g['goal']}: {g['measured']}")
    say(f"wrote {md} and {assets}/ in {results['wall_s'] / 60:.1f} minutes")
    return 1 if results["errors"] else 0


def _rerender(source: Path, md: Path, assets: Path) -> int:
    """Rewrite BENCHMARKS.md and the plots from a run's raw figures (after a change to
    the report's layout): nothing is measured, the figures stay that run's."""
    import json

    from benchmarks.goals import evaluate_goals
    from benchmarks.report import write_report

    results = json.loads(source.read_text())
    results["goals"] = evaluate_goals(results)
    write_report(results, md, assets)
    return 1 if results.get("errors") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer shapes and rounds, demo-size networks only"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the markdown report (default: BENCHMARKS.md; with --quick "
        "out/bench-quick/BENCHMARKS.md, so a quick run never replaces the full report)",
    )
    parser.add_argument(
        "--assets",
        type=Path,
        help="folder for the plots and benchmarks.json (default: benchmarks/results; "
        "with --quick out/bench-quick)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "out" / "bench",
        help="scratch folder for models (cached between runs)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="only rewrite the report from a previous run's benchmarks.json",
    )
    args = parser.parse_args(argv)
    quick_dir = ROOT / "out" / "bench-quick"
    if args.out is None:
        args.out = quick_dir / "BENCHMARKS.md" if args.quick else ROOT / "BENCHMARKS.md"
    if args.assets is None:
        args.assets = quick_dir if args.quick else ROOT / "benchmarks" / "results"
    if args.from_json is not None:
        return _rerender(args.from_json, args.out.resolve(), args.assets.resolve())
    return run_suite(
        QUICK if args.quick else FULL,
        quick=args.quick,
        work=args.work,
        md=args.out.resolve(),
        assets=args.assets.resolve(),
    )
