"""Sections 2 and 6: whole networks through our runner, and their size and memory.

Host (x86_64, this machine): the BinDGCNN with the fused Hamming k-NN, the same with
the builtin k-NN graph, the float DGCNN (the paper's baseline) and the BinDGCNN's own
float twin (``float.tflite``: the same network with float weights and activations), in
interleaved rounds, one thread. Two threads are asked of the runner as well; the x86_64
runner's LiteRt glue runs one thread only, so its refusal is recorded as the reason.

Emulated (qemu-aarch64): the same binary and float pair with 1 and 2 threads through
the TFLite C API runner that boards use. Emulated time is not a board figure; it is
shown only because the instruction counts (``qemu_count.py``) cannot show threads.

Sizes are the .tflite files on disk; peak RSS is the runner's VmHWM per invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.models import NetworkSet
from benchmarks.stats import Spread, interleaved, ratio_spread
from benchmarks.timing import RunnerSide

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = ["measure_emulated", "measure_host", "sizes"]

ROLES = ("fused", "builtin", "dgcnn_float", "bf2_float")


def _paths(nets: NetworkSet) -> dict[str, Path]:
    return {
        "fused": nets.binary_fused,
        "builtin": nets.binary_builtin,
        "dgcnn_float": nets.dgcnn_float,
        "bf2_float": nets.bf2_float,
    }


class _RssSide:
    """A RunnerSide that also keeps every invocation's peak RSS."""

    def __init__(self, side: RunnerSide):
        self.side, self.rss_kb = side, []

    def __call__(self) -> float:
        value = self.side()
        self.rss_kb.append(self.side.last.get("peak_rss_kb", -1))
        return value


def _two_threads(build: RunnerBuild, model: Path) -> str | None:
    """None if the runner runs two threads here, else the runner's own reason."""
    from bgnn_deploy.targets.execute import RunnerError, run_runner

    try:
        run_runner(build, model, num_runs=1, warmup_runs=0, threads=2)
    except RunnerError as e:
        return str(e)
    return None


def measure_host(
    build: RunnerBuild,
    nets: NetworkSet,
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> dict:
    """Interleaved host rounds of all four models (1 thread; 2 where the runner can)."""
    paths = _paths(nets)
    say(f"end to end ({nets.size}): calibrating run counts")
    sides = {
        role: _RssSide(RunnerSide(build, path, budget_s=budget_s)) for role, path in paths.items()
    }
    say(f"end to end ({nets.size}): {rounds} interleaved rounds of {', '.join(ROLES)}")
    values = interleaved(list(sides.items()), rounds)
    from bgnn_deploy.targets.execute import run_runner

    # one more invocation with the per-op profile: where the binary network's time goes
    profiled = run_runner(
        build, paths["fused"], num_runs=sides["fused"].side.runs, profile_ops=True
    )
    threads2 = _two_threads(build, paths["fused"])
    two: dict = {"measured": threads2 is None, "reason": threads2}
    if threads2 is None:
        say(f"end to end ({nets.size}): 2 threads")
        pair = [
            (role, RunnerSide(build, paths[role], budget_s=budget_s, threads=2))
            for role in ("fused", "dgcnn_float")
        ]
        v2 = interleaved(pair, rounds)
        two.update(ms=v2, speedup_vs_dgcnn=ratio_spread(v2["dgcnn_float"], v2["fused"]).to_dict())
    out = {
        "size": nets.size,
        "config": nets.config,
        "threads": 1,
        "ms": values,
        "runs_per_invocation": {role: s.side.runs for role, s in sides.items()},
        "peak_rss_kb": {role: s.rss_kb for role, s in sides.items()},
        "speedup_vs_dgcnn": {
            role: ratio_spread(values["dgcnn_float"], values[role]).to_dict()
            for role in ("fused", "builtin")
        },
        "speedup_vs_bf2_float": {
            role: ratio_spread(values["bf2_float"], values[role]).to_dict()
            for role in ("fused", "builtin")
        },
        "relative_time_vs_dgcnn": {
            role: ratio_spread(values[role], values["dgcnn_float"]).to_dict()
            for role in ("fused", "builtin", "bf2_float")
        },
        "fused_ops_profile": profiled.get("ops", {}),
        "isa": profiled.get("isa"),
        "runtime": profiled.get("runtime"),
        "two_threads": two,
    }
    return out


def measure_emulated(
    build: RunnerBuild, nets: NetworkSet, *, rounds: int, say: Callable[[str], None]
) -> dict:
    """qemu-aarch64 time of the fused binary and the float DGCNN at 1 and 2 threads:
    one first inference plus one timed run per invocation (emulation is slow)."""
    from bgnn_deploy.targets.execute import run_runner

    out: dict = {"size": nets.size, "rounds": rounds, "threads": {}}

    def side(path: Path, threads: int) -> Callable[[], float]:
        def run() -> float:
            result = run_runner(
                build, path, num_runs=1, warmup_runs=0, threads=threads, timeout=1800
            )
            out["isa"], out["runtime"] = result.get("isa"), result.get("runtime")
            return float(result["latency_ms"]["median"])

        return run

    for threads in (1, 2):
        say(f"emulated end to end ({nets.size}, {threads} thread{'s' if threads > 1 else ''})")
        values = interleaved(
            [
                ("fused", side(nets.binary_fused, threads)),
                ("dgcnn_float", side(nets.dgcnn_float, threads)),
            ],
            rounds,
        )
        out["threads"][str(threads)] = {
            "ms": values,
            "speedup_vs_dgcnn": ratio_spread(values["dgcnn_float"], values["fused"]).to_dict(),
        }
    return out


def sizes(nets: NetworkSet) -> dict:
    """File sizes and the binary/float size ratios (goal: binary <= 1/20 of float)."""
    size = {role: path.stat().st_size for role, path in _paths(nets).items()}
    return {
        "bytes": size,
        "float_over_binary": {
            "bf2_float/fused": size["bf2_float"] / size["fused"],
            "bf2_float/builtin": size["bf2_float"] / size["builtin"],
            "dgcnn_float/fused": size["dgcnn_float"] / size["fused"],
        },
    }


def rss_spread(host: dict) -> dict[str, dict]:
    """Peak RSS per model over the rounds, in MiB."""
    return {
        role: Spread.of([kb / 1024 for kb in kbs]).to_dict()
        for role, kbs in host["peak_rss_kb"].items()
        if kbs and min(kbs) > 0
    }
