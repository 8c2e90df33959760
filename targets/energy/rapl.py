"""Intel/AMD RAPL package energy counters (``/sys/class/powercap``), read on the target.

Cumulative counters need no sampling: they are read at the start and the end of a
window (wraparound at ``max_energy_range_uj`` handled). The active window is the whole
runner invocation; `run --energy` makes the timed runs dominate it.
"""

from __future__ import annotations

import time

from bgnn_deploy.targets.energy.base import EnergyWindow, Probe, TimedWindow
from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import Connection

from bgnn_deploy.errors import ConfigError


class Rapl(Probe):
    """Package energy counters, summed over packages, read on the target."""

    name = "rapl"

    def __init__(self, target: TargetProfile):
        super().__init__(target)
        self.root = str(target.extra.get("powercap_root", "/sys/class/powercap"))
        self._files: list[str] = []
        self._start: tuple[list[int], float] = ([], 0.0)

    def _counters(self, conn: Connection) -> list[int]:
        out = conn.run(["cat", *self._files], check=False)
        values = [int(v) for v in out.stdout.split() if v.strip().isdigit()]
        if out.exit_code != 0 or len(values) != len(self._files):
            raise ConfigError(
                f"cannot read RAPL counters on {self.target.name}: {out.stderr.strip()}"
            )
        return values

    def unavailable(self, conn: Connection) -> str | None:
        found = conn.run(
            ["find", "-L", self.root, "-maxdepth", "2", "-name", "energy_uj"], check=False
        )
        files = sorted(p for p in found.stdout.split() if p.count(":") == 1 and "rapl" in p)
        if not files:
            return f"no RAPL package counters under {self.root} on {self.target.name}"
        self._files = files
        try:
            self._counters(conn)
        except ConfigError as e:
            return f"{e} (reading RAPL often needs root)"
        return None

    def start(self, conn: Connection) -> None:
        self._start = (self._counters(conn), time.perf_counter())

    def stop(self, conn: Connection, timed: TimedWindow | None = None) -> EnergyWindow:
        end, t_end = self._counters(conn), time.perf_counter()
        start, t_start = self._start
        ranges = []
        for path in self._files:  # counters wrap at max_energy_range_uj
            text = conn.run(
                ["cat", path.replace("energy_uj", "max_energy_range_uj")], check=False
            ).stdout.strip()
            ranges.append(int(text) if text.isdigit() else 2**63)
        joules = sum(((e - s) % r) / 1e6 for s, e, r in zip(start, end, ranges, strict=True))
        seconds = t_end - t_start
        power = joules / seconds if seconds > 0 else 0.0
        return EnergyWindow(power, seconds, 2, "RAPL package counters")
