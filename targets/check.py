"""`bgnn-deploy targets check NAME`: what a board is, and whether the runner will run there."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from bgnn_deploy.targets.profiles import TargetProfile, get_target
from bgnn_deploy.targets.transport import Connection, connect

from bgnn_deploy.errors import BgnnDeployError

__all__ = ["TargetCheck", "check_target", "collect_facts"]

# The oldest glibc each runtime library loads on (ai-edge-litert wheels' requirements).
MIN_GLIBC = {"tflite-c": (2, 30), "litert": (2, 27)}


@dataclass
class TargetCheck:
    target: str
    reachable: bool
    arch: str | None = None
    glibc: str | None = None
    cores: int | None = None
    governor: str | None = None
    free_disk_mb: int | None = None
    kernel: str | None = None
    cpu: str | None = None
    emulator: str | None = None  # an emulated target's emulator and version
    host_cpu: str | None = None  # the machine an emulated target runs on
    runner_ok: bool = False
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# One shell command for every fact: on a board each command is a round trip (tens of ms
# over a LAN, more through a jump host). Sections are separated by a marker line; $1 is
# the folder whose free space counts (where bgnn-deploy keeps its files).
_FACTS_SCRIPT = r"""
mark='@@bgnn-facts@@'
uname -m; echo "$mark"
uname -r; echo "$mark"
ldd --version 2>&1 | head -n 1; echo "$mark"
nproc 2>/dev/null; echo "$mark"
cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null; echo "$mark"
grep -m 1 -E '^(model name|Model|Hardware)[[:space:]]*:' /proc/cpuinfo 2>/dev/null; echo "$mark"
df -Pk "$1" 2>/dev/null | tail -n 1
"""


def collect_facts(conn: Connection) -> dict:
    """Arch, kernel, glibc, CPU model, cores, governor and free disk of the target. For an
    emulated target: the guest's arch, the emulator and its version (``emulator``), and
    the machine it runs on as ``host_arch`` / ``host_cpu`` (``cpu`` and ``glibc`` are not
    the guest's to report)."""
    folder = conn.temp_path("probe").rsplit("/", 1)[0]
    out = conn.run(["sh", "-c", _FACTS_SCRIPT, "bgnn-facts", folder], check=False).stdout
    parts = [p.strip() for p in out.split("@@bgnn-facts@@")] + [""] * 7
    arch, kernel, ldd, cores, governor, cpu, df = parts[:7]
    facts: dict = {"arch": _first(arch), "kernel": _first(kernel)}
    match = re.search(r"(\d+)\.(\d+)\s*$", _first(ldd))
    facts["glibc"] = f"{match.group(1)}.{match.group(2)}" if match else None
    facts["cores"] = int(cores) if cores.isdigit() else None
    facts["governor"] = governor or None
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpu, re.M)
    facts["cpu"] = model.group(1).strip() if model else None
    fields = df.split()
    if len(fields) >= 4 and fields[3].isdigit():
        facts["free_disk_mb"] = int(fields[3]) // 1024
    target = getattr(conn, "target", None)
    if target is not None and target.emulated and target.launcher:
        return _emulated_facts(conn, target, facts)
    return facts


def _emulated_facts(conn: Connection, target, host: dict) -> dict:
    program = target.launcher[0]
    try:
        said = conn.run([program, "--version"], check=False, timeout=30).stdout
    except (OSError, BgnnDeployError):  # not installed: run says so when it starts it
        said = ""
    first = said.strip().splitlines()[0] if said.strip() else ""
    version = re.search(r"version\s+(\S+)", first)
    name = program.rsplit("/", 1)[-1]
    return {
        "arch": target.arch,
        "emulator": f"{name} {version.group(1)}" if version else name,
        "kernel": host["kernel"],  # user-mode emulation runs on the host's kernel
        "glibc": None,
        "cores": host["cores"],
        "governor": host["governor"],
        "cpu": None,
        "host_arch": host["arch"],
        "host_cpu": host["cpu"],
        **({"free_disk_mb": host["free_disk_mb"]} if "free_disk_mb" in host else {}),
    }


def check_target(name: str | TargetProfile, *, accept_new_host_key: bool = False) -> TargetCheck:
    """Connect and read the board's facts. Connection problems raise; board problems
    (wrong arch, old glibc) are listed in ``problems``."""
    target = get_target(name)
    result = TargetCheck(target.name, reachable=False)
    with connect(target, accept_new_host_key=accept_new_host_key) as conn:
        facts = collect_facts(conn)
        result.reachable = True
        for key, value in facts.items():
            if hasattr(result, key):
                setattr(result, key, value)
    # An emulated board's host is another arch by design: the launcher bridges it.
    if not target.emulated and result.arch != target.arch:
        result.problems.append(f"the board is {result.arch}, the profile says {target.arch}")
    need = MIN_GLIBC.get(target.runtime)
    if need and result.glibc and not target.emulated:
        have = tuple(int(x) for x in result.glibc.split("."))
        if have < need:
            result.problems.append(
                f"glibc {result.glibc} is older than the {need[0]}.{need[1]} the {target.runtime} "
                "runtime needs (e.g. JetPack 4): the runner cannot run there"
            )
    if result.free_disk_mb is not None and result.free_disk_mb < 50:
        result.problems.append(f"only {result.free_disk_mb} MB free for the runner's cache")
    result.runner_ok = not result.problems
    return result
