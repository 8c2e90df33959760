"""Sections 2 and 6: whole networks through our runner, and their size and memory.

Host (x86_64, this machine): the BinDGCNN with our fused ops (``convert --fuse``), with
the fused Hamming k-NN only (``--knn fused``), with the builtin k-NN graph, the float
DGCNN (the paper's baseline) and the BinDGCNN's own float twin (``float.tflite``: the
same network with float weights and activations), in interleaved rounds, one thread,
pinned to one core (``measure_host``).

Threads on the host (``measure_threads``): 1 and 2 threads in the same interleaved
rounds, not pinned (two threads need two cores; the suite's pinning is lifted for it).
If the runner refuses two threads here, its message is the reason.

Emulated (qemu-aarch64, ``measure_emulated``): the fused-ops, fused-k-NN and float
DGCNN models at 1 to 4 threads through the TFLite C API runner that boards use, all
(model, threads) pairs interleaved in each round. Emulated time is not a board figure
(and this machine has 2 cores, so 3 and 4 guest threads share them); it is shown only
because the instruction counts (``qemu_count.py``) cannot show threads.

Sizes are the .tflite files on disk; peak RSS is the runner's VmHWM per invocation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.machine import cpu_snapshot, others_busy
from benchmarks.models import NetworkSet
from benchmarks.stats import Spread, interleaved, ratio_spread
from benchmarks.timing import RunnerSide, ops_profile

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = ["measure_emulated", "measure_host", "measure_threads", "sizes"]

# "fuse": convert --fuse (our bit-domain ops); "fused": --knn fused (BgnnHammingKnn only)
ROLES = ("fuse", "fused", "builtin", "dgcnn_float", "bf2_float")
BINARY_ROLES = ("fuse", "fused", "builtin")


def _paths(nets: NetworkSet) -> dict[str, Path]:
    return {
        "fuse": nets.binary_fuse,
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
        self.rss_kb.append(self.side.last.peak_rss_kb or -1)
        return value


def two_threads_refusal(build: RunnerBuild, model: Path) -> str | None:
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
    """Interleaved host rounds of all five models, 1 thread, and one profiled
    invocation of each binary model (where its time goes)."""
    paths = _paths(nets)
    say(f"end to end ({nets.size}): calibrating run counts")
    sides = {
        role: _RssSide(RunnerSide(build, path, budget_s=budget_s)) for role, path in paths.items()
    }
    say(f"end to end ({nets.size}): {rounds} interleaved rounds of {', '.join(ROLES)}")
    values = interleaved(list(sides.items()), rounds)
    from bgnn_deploy.targets.execute import run_runner

    profiles = {
        role: run_runner(build, paths[role], num_runs=sides[role].side.runs, profile_ops=True)
        for role in ("fuse", "fused")
    }
    return {
        "size": nets.size,
        "config": nets.config,
        "threads": 1,
        "ms": values,
        "runs_per_invocation": {role: s.side.runs for role, s in sides.items()},
        "peak_rss_kb": {role: s.rss_kb for role, s in sides.items()},
        "speedup_vs_dgcnn": {
            role: ratio_spread(values["dgcnn_float"], values[role]).to_dict()
            for role in BINARY_ROLES
        },
        "speedup_vs_bf2_float": {
            role: ratio_spread(values["bf2_float"], values[role]).to_dict() for role in BINARY_ROLES
        },
        "relative_time_vs_dgcnn": {
            role: ratio_spread(values[role], values["dgcnn_float"]).to_dict()
            for role in (*BINARY_ROLES, "bf2_float")
        },
        "fuse_ops_profile": ops_profile(profiles["fuse"]),
        "fuse_profile_ms": profiles["fuse"].latency.mean,
        "fused_ops_profile": ops_profile(profiles["fused"]),
        "isa": profiles["fuse"].isa,
        "runtime": profiles["fuse"].runtime,
    }


def measure_threads(
    build: RunnerBuild,
    nets: NetworkSet,
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> dict:
    """1 vs 2 threads on the host, unpinned: the fused-ops model at both, the fused-k-NN
    model and the float DGCNN at 2 (and the float at 1, for its own scaling)."""
    from bgnn_deploy.targets.execute import run_runner

    paths = _paths(nets)
    refusal = two_threads_refusal(build, paths["fuse"])
    out: dict = {"size": nets.size, "measured": refusal is None, "reason": refusal}
    if refusal is not None:
        say(f"threads ({nets.size}): the runner refuses 2 threads: {refusal}")
        return out
    pairs = (("fuse", 1), ("fuse", 2), ("fused", 2), ("dgcnn_float", 1), ("dgcnn_float", 2))
    sides = [
        (f"{role}@{t}", RunnerSide(build, paths[role], budget_s=budget_s, threads=t))
        for role, t in pairs
    ]
    say(f"threads ({nets.size}): {rounds} interleaved rounds of 1 and 2 threads, unpinned")
    # two threads can only scale where nothing else holds the second core: how busy
    # other processes kept the machine's cores during the rounds is recorded with them
    before = cpu_snapshot()
    values = interleaved(sides, rounds)
    out["others_busy_cores"] = others_busy(before, cpu_snapshot())
    out["cores"] = os.cpu_count()
    runs = dict(sides)["fuse@1"].runs
    profiles = {
        str(t): run_runner(build, paths["fuse"], num_runs=runs, threads=t, profile_ops=True)
        for t in (1, 2)
    }
    out.update(
        ms=values,
        fuse_scaling=ratio_spread(values["fuse@1"], values["fuse@2"]).to_dict(),
        dgcnn_float_scaling=ratio_spread(
            values["dgcnn_float@1"], values["dgcnn_float@2"]
        ).to_dict(),
        speedup_vs_dgcnn={
            role: ratio_spread(values["dgcnn_float@2"], values[f"{role}@2"]).to_dict()
            for role in ("fuse", "fused")
        },
        fuse_ops_profile={t: ops_profile(p) for t, p in profiles.items()},
        fuse_profile_ms={t: p.latency.mean for t, p in profiles.items()},
    )
    return out


EMULATED_ROLES = ("fuse", "fused", "dgcnn_float")


def measure_emulated(
    build: RunnerBuild,
    nets: NetworkSet,
    *,
    rounds: int,
    threads: tuple[int, ...],
    float_threads: tuple[int, ...] = (1, 2),
    say: Callable[[str], None],
) -> dict:
    """qemu-aarch64 time of the fused-ops and fused-k-NN models at each of ``threads``,
    the float DGCNN at each of ``float_threads`` (its 1-thread paper-size run alone takes
    a minute): one first inference plus one timed run per invocation (emulation is slow),
    every (model, threads) pair once per round; our ops' split for the fused-ops model at
    each thread count (the runner's op profile)."""
    from bgnn_deploy.targets.execute import run_runner

    paths = _paths(nets)
    out: dict = {"size": nets.size, "rounds": rounds, "threads": {}, "fuse_ops_profile": {}}

    def side(role: str, t: int) -> Callable[[], float]:
        def run() -> float:
            result = run_runner(
                build,
                paths[role],
                num_runs=1,
                warmup_runs=0,
                threads=t,
                profile_ops=role == "fuse",
                timeout=1800,
            )
            out["isa"], out["runtime"] = result.isa, result.runtime
            if role == "fuse":
                out["fuse_ops_profile"][str(t)] = ops_profile(result)
            return result.latency.median

        return run

    say(
        f"emulated end to end ({nets.size}): {', '.join(EMULATED_ROLES)} at "
        f"{', '.join(map(str, threads))} threads, {rounds} round(s)"
    )
    pairs = [
        (role, t)
        for t in threads
        for role in EMULATED_ROLES
        if role != "dgcnn_float" or t in float_threads
    ]
    before = cpu_snapshot()
    values = interleaved([(f"{role}@{t}", side(role, t)) for role, t in pairs], rounds)
    out["others_busy_cores"] = others_busy(before, cpu_snapshot())
    for t in threads:
        ms = {role: values[f"{role}@{t}"] for role in EMULATED_ROLES if f"{role}@{t}" in values}
        row: dict = {
            "ms": ms,
            "scaling": {
                role: ratio_spread(values[f"{role}@{threads[0]}"], ms[role]).to_dict()
                for role in ms
                if f"{role}@{threads[0]}" in values
            },
        }
        if "dgcnn_float" in ms:
            row["speedup_vs_dgcnn"] = ratio_spread(ms["dgcnn_float"], ms["fused"]).to_dict()
            row["fuse_speedup_vs_dgcnn"] = ratio_spread(ms["dgcnn_float"], ms["fuse"]).to_dict()
        out["threads"][str(t)] = row
    return out


def sizes(nets: NetworkSet) -> dict:
    """File sizes and the binary/float size ratios (goal: binary <= 1/20 of float)."""
    size = {role: path.stat().st_size for role, path in _paths(nets).items()}
    return {
        "bytes": size,
        "float_over_binary": {
            "bf2_float/fused": size["bf2_float"] / size["fused"],
            "bf2_float/fuse": size["bf2_float"] / size["fuse"],
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
