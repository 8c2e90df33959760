"""Facts about this machine and the software measured, recorded with every run: a figure
means little without the CPU, its SIMD features, the core count, the load while it was
taken and the exact versions of every runtime involved.

>>> facts = machine_facts()
>>> facts["cores"] >= 1 and "cpu_model" in facts
True
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "PACKAGES",
    "CpuSnapshot",
    "cpu_flags",
    "cpu_snapshot",
    "load_average",
    "machine_facts",
    "others_busy",
]

# The Python packages whose code is measured or does the measuring.
PACKAGES = (
    "bgnn-deploy",
    "tensorflow",
    "tf-keras",
    "larq",
    "larq-compute-engine",
    "torch",
    "numpy",
    "faiss-cpu",
    "matplotlib",
    "ziglang",
    "paramiko",
)
# CPU features our kernels and XNNPACK dispatch on.
FLAGS_OF_INTEREST = ("popcnt", "avx2", "fma", "avx512f", "avx512_vpopcntdq", "avx512bw", "asimd")


def cpu_flags(cpuinfo: str) -> list[str]:
    """The feature flags of the first CPU in a /proc/cpuinfo text (x86 ``flags``, ARM
    ``Features``)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return value.split()
    return []


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware"):
            return value.strip()
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds spent so far: by every CPU of the machine (busy, not idle), and by
    this process and its waited-for children; and the wall clock."""

    machine_busy_s: float
    ours_s: float
    wall_s: float


def cpu_snapshot() -> CpuSnapshot:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    t = os.times()
    return CpuSnapshot(
        (sum(fields) - idle) / os.sysconf("SC_CLK_TCK"),
        t.user + t.system + t.children_user + t.children_system,
        time.monotonic(),
    )


def others_busy(start: CpuSnapshot, end: CpuSnapshot) -> float:
    """How many cores other processes kept busy on average between two snapshots: the
    machine's busy CPU time minus ours, over the wall time.

    >>> others_busy(CpuSnapshot(10.0, 1.0, 0.0), CpuSnapshot(30.0, 11.0, 10.0))
    1.0
    """
    wall = end.wall_s - start.wall_s
    if wall <= 0:
        return 0.0
    other = (end.machine_busy_s - start.machine_busy_s) - (end.ours_s - start.ours_s)
    return max(other, 0.0) / wall


def _command_version(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = (done.stdout or done.stderr).strip().splitlines()
    return line[0] if line else None


def _git(root: Path) -> dict:
    """The commit measured and whether the tree had changes (read-only git calls)."""
    head = _command_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"commit": head, "modified_files": len(status.stdout.splitlines())}


def machine_facts(root: Path | None = None) -> dict:
    """CPU model, flags, cores, kernel, load, tool and package versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = cpu_flags(cpuinfo)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    facts = {
        "cpu_model": _cpu_model(cpuinfo),
        "arch": platform.machine(),
        "cores": os.cpu_count() or 1,
        "flags_of_interest": [f for f in FLAGS_OF_INTEREST if f in flags],
        "all_flags": flags,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
        "packages": versions,
        "qemu": _command_version(["qemu-aarch64", "--version"]),
        "cc": _command_version(["cc", "--version"]),
    }
    if root is not None:
        facts["git"] = _git(root)
    return facts
