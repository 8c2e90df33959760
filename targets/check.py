"""`bgnn-deploy targets check NAME`: what a board is, and whether the runner will run there."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from bgnn_deploy.targets.profiles import TargetProfile, get_target
from bgnn_deploy.targets.transport import Connection, connect

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
    runner_ok: bool = False
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def collect_facts(conn: Connection) -> dict:
    """Arch, kernel, glibc, CPU model, cores, governor and free disk of the target."""
    facts: dict = {"arch": _first(conn.run(["uname", "-m"]).stdout)}
    facts["kernel"] = _first(conn.run(["uname", "-r"]).stdout)
    ldd = conn.run(["ldd", "--version"], check=False)
    match = re.search(r"(\d+)\.(\d+)\s*$", _first(ldd.stdout or ldd.stderr))
    facts["glibc"] = f"{match.group(1)}.{match.group(2)}" if match else None
    cores = conn.run(["nproc"], check=False).stdout.strip()
    facts["cores"] = int(cores) if cores.isdigit() else None
    governor = conn.run(
        ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"], check=False
    )
    facts["governor"] = governor.stdout.strip() or None
    cpuinfo = conn.run(["cat", "/proc/cpuinfo"], check=False).stdout
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpuinfo, re.M)
    facts["cpu"] = model.group(1).strip() if model else None
    df = conn.run(["df", "-Pk", conn.temp_path("probe").rsplit("/", 1)[0]], check=False)
    rows = df.stdout.strip().splitlines()
    if len(rows) >= 2 and len(rows[1].split()) >= 4:
        facts["free_disk_mb"] = int(rows[1].split()[3]) // 1024
    return facts


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
