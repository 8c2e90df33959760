"""Energy probes, chosen by the target profile's ``energy`` (or ``--energy-probe``).

A probe measures mean power over a window; `run --energy` opens one window while the
board idles and one around each model's timed runs, and reports idle and active
power, energy per inference (idle subtracted, times the median latency), the sampling
rate and the number of samples.

- ``external``: a meter on the host: ``energy_command`` in the profile, run repeatedly,
  prints watts (the way to measure a Raspberry Pi 4, which has no power sensor).
- ``rapl``: Intel/AMD RAPL package energy counters (``/sys/class/powercap``) on the
  target, read at the start and end of a window (cumulative counters need no sampling).
- ``none``, and ``ina3221`` / ``rpi5-pmic`` (Jetson and Raspberry Pi 5 sensors: not
  sampled by this version): energy is reported as not available, with the reason.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from dataclasses import dataclass

from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import Connection

from bgnn_deploy.errors import ConfigError, unknown_name

__all__ = ["PROBES", "EnergyWindow", "Probe", "get_probe"]


@dataclass
class EnergyWindow:
    mean_power_w: float
    seconds: float
    samples: int

    @property
    def rate_hz(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


class Probe:
    name = "none"

    def __init__(self, target: TargetProfile):
        self.target = target

    def unavailable(self, conn: Connection) -> str | None:
        """None when the probe can measure on this target, else why not."""
        return f"target '{self.target.name}' has no energy probe (energy = \"none\")"

    def start(self, conn: Connection) -> None:
        raise NotImplementedError

    def stop(self, conn: Connection) -> EnergyWindow:
        raise NotImplementedError


class _NotSampled(Probe):
    def unavailable(self, conn: Connection) -> str | None:
        return (
            f"the '{self.name}' sensor of {self.target.name} is not sampled by this version "
            'of bgnn-deploy; an external meter (energy = "external") works'
        )


class Ina3221(_NotSampled):
    name = "ina3221"


class Rpi5Pmic(_NotSampled):
    name = "rpi5-pmic"


class ExternalMeter(Probe):
    """Runs the profile's ``energy_command`` on the host in a loop; each run prints watts."""

    name = "external"

    def __init__(self, target: TargetProfile):
        super().__init__(target)
        command = target.extra.get("energy_command")
        self.command = shlex.split(command) if isinstance(command, str) else command
        self.interval = float(target.extra.get("energy_interval_s", 0.05))
        self._samples: list[float] = []
        self._errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def unavailable(self, conn: Connection) -> str | None:
        if not self.command:
            return (
                f"target '{self.target.name}' uses an external meter but its profile has no "
                "energy_command (a command that prints watts)"
            )
        try:
            self._read()
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            return f"the meter command {shlex.join(self.command)} failed: {e}"
        return None

    def _read(self) -> float:
        done = subprocess.run(self.command, capture_output=True, text=True, timeout=10, check=True)
        return float(done.stdout.strip().split()[0])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._samples.append(self._read())
            except (OSError, ValueError, subprocess.SubprocessError) as e:
                self._errors.append(str(e))
            self._stop.wait(self.interval)

    def start(self, conn: Connection) -> None:
        self._samples, self._errors = [], []
        self._stop.clear()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self, conn: Connection) -> EnergyWindow:
        self._stop.set()
        self._thread.join(15)
        seconds = time.perf_counter() - self._started
        if not self._samples:
            raise ConfigError(f"the meter gave no readings: {'; '.join(self._errors[-2:])}")
        return EnergyWindow(sum(self._samples) / len(self._samples), seconds, len(self._samples))


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

    def stop(self, conn: Connection) -> EnergyWindow:
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
        return EnergyWindow(joules / seconds if seconds > 0 else 0.0, seconds, 2)


PROBES: dict[str, type[Probe]] = {
    "none": Probe,
    "external": ExternalMeter,
    "rapl": Rapl,
    "ina3221": Ina3221,
    "rpi5-pmic": Rpi5Pmic,
}


def get_probe(target: TargetProfile, override: str | None = None) -> Probe:
    name = override or target.energy or "none"
    if name not in PROBES:
        raise unknown_name("energy probe", name, PROBES)
    return PROBES[name](target)
